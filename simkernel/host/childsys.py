"""The os-shaped system calls as a host task really makes them (runs inside the task, on its own thread).

`ChildSys` has the method names and signatures of `simkernel.syscalls.Sys` (tests/host/test_bridge.py holds
them together) except fork, clone, execve and exit, which need the RPC channel and live in
simkernel/host/child.py.  Where `os` makes the same system call the simulation models, it is used as is; where
it would differ (O_CLOEXEC added by os.open, credential changes broadcast to all threads by glibc, calls `os`
lacks), simkernel/host/libc.py makes the raw call.
"""

from __future__ import annotations

import os
import threading
from typing import Sequence

from simkernel.host import libc
from simkernel.uapi import fcntl as F

__all__ = ["ChildSys"]

_READLINK_BUF = 4096  # as simkernel.syscalls: CPython's os.readlink() passes a MAXPATHLEN buffer


def _dfd(dir_fd: int | None) -> int:
    return F.AT_FDCWD if dir_fd is None else dir_fd


class ChildSys:
    """System calls of the calling host task; results and exceptions exactly as `os` gives them."""

    __slots__ = ()

    # -- files -------------------------------------------------------------------------------------
    def open(self, path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        """openat(2) with `flags` as given (os.open would add O_CLOEXEC)."""
        return libc.openat(_dfd(dir_fd), path, flags, mode)

    def close(self, fd: int) -> None:
        os.close(fd)

    def read(self, fd: int, n: int) -> bytes:
        return os.read(fd, n)

    def write(self, fd: int, data: bytes) -> int:
        return os.write(fd, bytes(data))

    def pread(self, fd: int, n: int, offset: int) -> bytes:
        return os.pread(fd, n, offset)

    def lseek(self, fd: int, pos: int, how: int) -> int:
        return os.lseek(fd, pos, how)

    def ftruncate(self, fd: int, length: int) -> None:
        os.ftruncate(fd, length)

    def stat(self, path: str | int, *, dir_fd: int | None = None, follow_symlinks: bool = True) -> os.stat_result:
        if isinstance(path, int):
            return os.fstat(path)
        return os.stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

    def lstat(self, path: str, *, dir_fd: int | None = None) -> os.stat_result:
        return os.lstat(path, dir_fd=dir_fd)

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def fstatat(self, dir_fd: int, path: str, flags: int = 0) -> os.stat_result:
        """fstatat(2) with raw AT_* flags (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW); not in `os`."""
        return libc.newfstatat(dir_fd, path, flags)

    def readlink(self, path: str, *, dir_fd: int | None = None, bufsiz: int = _READLINK_BUF) -> str:
        """readlinkat(2) into a `bufsiz` buffer: the text cut to it, no NUL."""
        return os.fsdecode(libc.readlinkat(_dfd(dir_fd), path, bufsiz))

    def listdir(self, path: str = ".") -> list[str]:
        return os.listdir(path)

    def getdents(self, fd: int, count: int) -> list[tuple[str, int, int, int]]:
        """One getdents64(2) call: [(name, d_ino, d_type, d_off), ...]; [] at the end of the directory."""
        return libc.getdents64(fd, count)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        os.mkdir(path, mode)

    def rmdir(self, path: str) -> None:
        os.rmdir(path)

    def unlink(self, path: str) -> None:
        os.unlink(path)

    def remove(self, path: str) -> None:
        os.unlink(path)

    def rename(self, src: str, dst: str) -> None:
        os.rename(src, dst)

    def link(self, src: str, dst: str) -> None:
        os.link(src, dst)  # link(2): linkat(AT_FDCWD, src, AT_FDCWD, dst, 0), no AT_SYMLINK_FOLLOW

    def symlink(self, src: str, dst: str) -> None:
        os.symlink(src, dst)

    def mknod(self, path: str, mode: int = 0o600, device: int = 0) -> None:
        os.mknod(path, mode, device)

    def chmod(self, path: str, mode: int) -> None:
        os.chmod(path, mode)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid)

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def fchdir(self, fd: int) -> None:
        os.fchdir(fd)

    def chroot(self, path: str) -> None:
        os.chroot(path)

    def getcwd(self) -> str:
        return os.getcwd()

    def mount(self, source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
        libc.mount(source, target, fstype, flags, data)

    # -- memory ------------------------------------------------------------------------------------
    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0) -> int:
        return libc.mmap(addr, length, prot, flags, fd, offset)

    def munmap(self, addr: int, length: int) -> None:
        libc.munmap(addr, length)

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        libc.mprotect(addr, length, prot)

    def mremap(self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0) -> int:
        return libc.mremap(old_addr, old_size, new_size, flags, new_addr)

    def memfd_create(self, name: str, flags: int = 0) -> int:
        return os.memfd_create(name, flags)

    # -- processes ---------------------------------------------------------------------------------
    def waitpid(self, pid: int, options: int) -> tuple[int, int]:
        return os.waitpid(pid, options)

    def unshare(self, flags: int) -> None:
        libc.unshare(flags)

    # -- ids and credentials (set* are raw: they change this task only, as in the kernel) ----------
    def getpid(self) -> int:
        return os.getpid()

    def gettid(self) -> int:
        return threading.get_native_id()

    def getppid(self) -> int:
        return os.getppid()

    def getuid(self) -> int:
        return os.getuid()

    def geteuid(self) -> int:
        return os.geteuid()

    def getgid(self) -> int:
        return os.getgid()

    def getegid(self) -> int:
        return os.getegid()

    def getresuid(self) -> tuple[int, int, int]:
        return os.getresuid()

    def getresgid(self) -> tuple[int, int, int]:
        return os.getresgid()

    def getgroups(self) -> list[int]:
        return os.getgroups()

    def setuid(self, uid: int) -> None:
        libc.syscall("setuid", uid)

    def setgid(self, gid: int) -> None:
        libc.syscall("setgid", gid)

    def setreuid(self, ruid: int, euid: int) -> None:
        libc.syscall("setreuid", ruid, euid)

    def setregid(self, rgid: int, egid: int) -> None:
        libc.syscall("setregid", rgid, egid)

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        libc.syscall("setresuid", ruid, euid, suid)

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        libc.syscall("setresgid", rgid, egid, sgid)

    def setfsuid(self, fsuid: int) -> int:
        """setfsuid(2): returns the previous fsuid, never fails (as the kernel)."""
        return libc.syscall("setfsuid", fsuid)

    def setfsgid(self, fsgid: int) -> int:
        return libc.syscall("setfsgid", fsgid)

    def setgroups(self, groups: Sequence[int]) -> None:
        libc.setgroups(tuple(groups))

    def capget(self) -> tuple[int, int, int]:
        """capget(2) of this task: (effective, permitted, inheritable) as 64-bit masks."""
        return libc.capget()

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        libc.capset(effective, permitted, inheritable)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return libc.prctl(option, arg2, arg3, arg4, arg5)
