"""The syscall boundary: `task.sys`, shaped like Python's `os` module on Linux.

Every method runs one system call as its task (`current`), advances the kernel clock, and turns a
`KernelError` into the `OSError` subclass `os` raises on Linux for that errno, with `.filename` set as `os`
sets it.  Nothing else in the package raises OSError.  The kernel functions behind each call are named as in
Linux (`sys_openat` lives in simkernel/fs/open.py as `do_sys_open`, ...).

Example:
    >>> import simkernel
    >>> from simkernel.uapi import O_CREAT, O_RDWR, PROT_READ, MAP_PRIVATE
    >>> t = simkernel.Kernel().spawn("app", uid=1000, gid=1000)
    >>> fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644); t.sys.ftruncate(fd, 8192)
    >>> addr = t.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0)
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Sequence

from simkernel.errors import KernelError, oserror_from_errno
from simkernel.fs.d_path import sys_getcwd
from simkernel.fs.exec import do_execve
from simkernel.fs.namei_ops import do_linkat, do_mkdirat, do_mknodat, do_renameat2, do_rmdir, do_symlinkat, do_unlinkat
from simkernel.fs.namespace import do_mount
from simkernel.fs.open import (do_fchmodat, do_fchownat, do_sys_ftruncate, do_sys_open, sys_chdir, sys_chroot,
                               sys_close, sys_fchdir)
from simkernel.fs.read_write import ksys_lseek, ksys_pread64, ksys_read, ksys_write
from simkernel.fs.readdir import sys_getdents64
from simkernel.fs.stat import do_readlinkat, vfs_fstat, vfs_fstatat
from simkernel.kernel.capability import sys_capget, sys_capset
from simkernel.kernel.exit import do_exit, do_group_exit, kernel_waitid_wait4
from simkernel.kernel.fork import ksys_unshare, sys_clone, sys_fork
from simkernel.kernel.groups import sys_getgroups, sys_setgroups
from simkernel.kernel.sys import (sys_getegid, sys_geteuid, sys_getgid, sys_getpid, sys_getppid, sys_getresgid,
                                  sys_getresuid, sys_gettid, sys_getuid, sys_prctl, sys_setfsgid, sys_setfsuid,
                                  sys_setgid, sys_setregid, sys_setresgid, sys_setresuid, sys_setreuid, sys_setuid)
from simkernel.machine import CLOCK_STEP_NS
from simkernel.mm.memfd import sys_memfd_create
from simkernel.mm.mmap import ksys_mmap_pgoff, sys_munmap
from simkernel.mm.mprotect import do_mprotect_pkey
from simkernel.mm.mremap import sys_mremap
from simkernel.uapi import fcntl as F

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["Sys"]

# CPython's opendir(): open(path, O_RDONLY|O_NDELAY|O_DIRECTORY|O_LARGEFILE|O_CLOEXEC), getdents64 with 32 KiB
_LISTDIR_FLAGS = F.O_RDONLY | F.O_NONBLOCK | F.O_DIRECTORY | F.O_LARGEFILE | F.O_CLOEXEC
_LISTDIR_BUF = 32768
# CPython's os.readlink() passes a MAXPATHLEN (4096) buffer
_READLINK_BUF = 4096
_FS_ENCODING = sys.getfilesystemencoding()     # what os.fsdecode() decodes with ("utf-8" on Linux)


def _run_with_work(work: list[Any], name: str, fn: Callable[..., Any], current: Task, hook: Any,
                   args: tuple[Any, ...]) -> Any:
    """The syscall with entry/exit work around it (syscall_enter_from_user_mode / syscall_exit_to_user_mode:
    kernel/entry/common.c): each work item's syscall_enter() first, syscall_exit(errno) last, in reverse."""
    for w in work:
        w.syscall_enter(current, name)
    errno = 0
    try:
        return fn(current, *args) if hook is None else hook(name, fn, current, *args)
    except KernelError as err:
        errno = err.errno
        raise
    finally:
        for w in reversed(work):
            w.syscall_exit(current, name, errno)


class Sys:
    """System calls of one task. Methods mirror `os` (names, arguments, results, exceptions)."""

    __slots__ = ("task",)

    def __init__(self, task: Task) -> None:
        self.task = task

    def _call(self, name: str, fn: Callable[..., Any], *args: Any, filename: Any = None,
              filename2: Any = None) -> Any:
        """Run one syscall: tick the clock, call the kernel, translate the errno at the boundary."""
        current = self.task
        k = current.kernel
        k.clock_ns += CLOCK_STEP_NS         # k.tick(), written out
        if current.state != "running":
            raise RuntimeError(f"{current!r} is not running ({current.state}); it cannot make system calls")
        hook = k.hooks.get("syscall")
        work = k.syscall_work
        try:
            if work:
                result = _run_with_work(work, name, fn, current, hook, args)
            else:
                result = fn(current, *args) if hook is None else hook(name, fn, current, *args)
        except KernelError as err:
            if err.errno >= 512:
                raise RuntimeError(f"kernel-internal errno {err.errno} escaped {name}()") from err
            raise oserror_from_errno(err.errno, filename, filename2, err.explain) from None
        return result

    # -- files -------------------------------------------------------------------------------------
    def open(self, path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        return self._call("open", do_sys_open, _dfd(dir_fd), path, flags, mode, filename=path)

    def close(self, fd: int) -> None:
        self._call("close", sys_close, fd)

    def read(self, fd: int, n: int) -> bytes:
        return self._call("read", ksys_read, fd, n)

    def write(self, fd: int, data: bytes) -> int:
        return self._call("write", ksys_write, fd, bytes(data))

    def pread(self, fd: int, n: int, offset: int) -> bytes:
        return self._call("pread", ksys_pread64, fd, n, offset)

    def lseek(self, fd: int, pos: int, how: int) -> int:
        return self._call("lseek", ksys_lseek, fd, pos, how)

    def ftruncate(self, fd: int, length: int) -> None:
        self._call("ftruncate", do_sys_ftruncate, fd, length)

    def stat(self, path: str | int, *, dir_fd: int | None = None, follow_symlinks: bool = True) -> os.stat_result:
        if isinstance(path, int):
            return self.fstat(path)
        flags = 0 if follow_symlinks else F.AT_SYMLINK_NOFOLLOW
        return self._call("stat", vfs_fstatat, _dfd(dir_fd), path, flags, filename=path)

    def lstat(self, path: str, *, dir_fd: int | None = None) -> os.stat_result:
        return self.stat(path, dir_fd=dir_fd, follow_symlinks=False)

    def fstat(self, fd: int) -> os.stat_result:
        return self._call("fstat", vfs_fstat, fd)

    def fstatat(self, dir_fd: int, path: str, flags: int = 0) -> os.stat_result:
        """fstatat(2) with raw AT_* flags (AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW); not in `os`."""
        return self._call("fstatat", vfs_fstatat, dir_fd, path, flags, filename=path)

    def readlink(self, path: str, *, dir_fd: int | None = None, bufsiz: int = _READLINK_BUF) -> str:
        """readlink(2); `bufsiz` (an extension) is the user buffer size: the text is cut to it, no NUL."""
        raw = self._call("readlink", do_readlinkat, F.AT_FDCWD if dir_fd is None else dir_fd, path, bufsiz,
                         filename=path)
        return raw.decode(_FS_ENCODING, "surrogateescape")     # os.fsdecode() of bytes

    def listdir(self, path: str = ".") -> list[str]:
        """os.listdir(): opendir + getdents64(32 KiB) until empty + close; without "." and "..".

        As glibc's readdir(), ENOENT from getdents64 (a directory removed while open) ends the listing
        instead of failing it.
        """
        fd = self._call("openat", do_sys_open, F.AT_FDCWD, path, _LISTDIR_FLAGS, 0, filename=path)
        names: list[str] = []
        try:
            while True:
                try:
                    batch = self._call("getdents64", sys_getdents64, fd, _LISTDIR_BUF, filename=path)
                except FileNotFoundError:
                    break
                if not batch:
                    break
                names.extend(n for n, _ino, _t, _off in batch if n not in (".", ".."))
        finally:
            self._call("close", sys_close, fd)
        return names

    def getdents(self, fd: int, count: int) -> list[tuple[str, int, int, int]]:
        """One getdents64(2) call: [(name, d_ino, d_type, d_off), ...]; [] at the end of the directory."""
        return self._call("getdents64", sys_getdents64, fd, count)

    def mkdir(self, path: str, mode: int = 0o777) -> None:
        self._call("mkdir", do_mkdirat, F.AT_FDCWD, path, mode, filename=path)

    def rmdir(self, path: str) -> None:
        self._call("rmdir", do_rmdir, F.AT_FDCWD, path, filename=path)

    def unlink(self, path: str) -> None:
        self._call("unlink", do_unlinkat, F.AT_FDCWD, path, filename=path)

    remove = unlink

    def rename(self, src: str, dst: str) -> None:
        self._call("rename", do_renameat2, F.AT_FDCWD, src, F.AT_FDCWD, dst, 0, filename=src, filename2=dst)

    def link(self, src: str, dst: str) -> None:
        self._call("link", do_linkat, F.AT_FDCWD, src, F.AT_FDCWD, dst, 0, filename=src, filename2=dst)

    def symlink(self, src: str, dst: str) -> None:
        self._call("symlink", do_symlinkat, src, F.AT_FDCWD, dst, filename=src, filename2=dst)

    def mknod(self, path: str, mode: int = 0o600, device: int = 0) -> None:
        self._call("mknod", do_mknodat, F.AT_FDCWD, path, mode, device, filename=path)

    def chmod(self, path: str, mode: int) -> None:
        self._call("chmod", do_fchmodat, F.AT_FDCWD, path, mode, filename=path)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._call("chown", do_fchownat, F.AT_FDCWD, path, uid, gid, 0, filename=path)

    def chdir(self, path: str) -> None:
        self._call("chdir", sys_chdir, path, filename=path)

    def fchdir(self, fd: int) -> None:
        self._call("fchdir", sys_fchdir, fd)

    def chroot(self, path: str) -> None:
        self._call("chroot", sys_chroot, path, filename=path)

    def getcwd(self) -> str:
        """os.getcwd(): glibc turns the kernel's "(unreachable)/..." (a cwd outside the root) into ENOENT."""
        text = self._call("getcwd", sys_getcwd)
        if not text.startswith("/"):
            raise oserror_from_errno(2)
        return text

    def mount(self, source: str, target: str, fstype: str, flags: int = 0, data: str = "") -> None:
        self._call("mount", do_mount, source, target, fstype, flags, data, filename=target)

    # -- memory ------------------------------------------------------------------------------------
    def mmap(self, addr: int, length: int, prot: int, flags: int, fd: int = -1, offset: int = 0) -> int:
        return self._call("mmap", ksys_mmap_pgoff, addr, length, prot, flags, fd, offset)

    def munmap(self, addr: int, length: int) -> None:
        self._call("munmap", sys_munmap, addr, length)

    def mprotect(self, addr: int, length: int, prot: int) -> None:
        self._call("mprotect", do_mprotect_pkey, addr, length, prot)

    def mremap(self, old_addr: int, old_size: int, new_size: int, flags: int = 0, new_addr: int = 0) -> int:
        return self._call("mremap", sys_mremap, old_addr, old_size, new_size, flags, new_addr)

    def memfd_create(self, name: str, flags: int = 0) -> int:
        return self._call("memfd_create", sys_memfd_create, name, flags)

    # -- processes ---------------------------------------------------------------------------------
    def fork(self) -> Task:
        return self._call("fork", sys_fork)

    def clone(self, flags: int) -> Task:
        return self._call("clone", sys_clone, flags)

    def execve(self, path: str, argv: Sequence[str] = (), envp: Sequence[str] = ()) -> None:
        self._call("execve", do_execve, path, tuple(argv), tuple(envp), filename=path)

    def exit(self, status: int = 0) -> None:
        """exit(2): this thread ends (for a single-threaded process, the process)."""
        self._call("exit", do_exit, (status & 0xFF) << 8)

    def exit_group(self, status: int = 0) -> None:
        """exit_group(2), what `os._exit` calls: every thread of the process ends."""
        self._call("exit_group", do_group_exit, (status & 0xFF) << 8)

    def waitpid(self, pid: int, options: int) -> tuple[int, int]:
        return self._call("waitpid", kernel_waitid_wait4, pid, options)

    def unshare(self, flags: int) -> None:
        self._call("unshare", ksys_unshare, flags)

    # -- ids and credentials -----------------------------------------------------------------------
    def getpid(self) -> int:
        return self._call("getpid", sys_getpid)

    def gettid(self) -> int:
        return self._call("gettid", sys_gettid)

    def getppid(self) -> int:
        return self._call("getppid", sys_getppid)

    def getuid(self) -> int:
        return self._call("getuid", sys_getuid)

    def geteuid(self) -> int:
        return self._call("geteuid", sys_geteuid)

    def getgid(self) -> int:
        return self._call("getgid", sys_getgid)

    def getegid(self) -> int:
        return self._call("getegid", sys_getegid)

    def getresuid(self) -> tuple[int, int, int]:
        return self._call("getresuid", sys_getresuid)

    def getresgid(self) -> tuple[int, int, int]:
        return self._call("getresgid", sys_getresgid)

    def getgroups(self) -> list[int]:
        return self._call("getgroups", sys_getgroups)

    def setuid(self, uid: int) -> None:
        self._call("setuid", sys_setuid, uid)

    def setgid(self, gid: int) -> None:
        self._call("setgid", sys_setgid, gid)

    def setreuid(self, ruid: int, euid: int) -> None:
        self._call("setreuid", sys_setreuid, ruid, euid)

    def setregid(self, rgid: int, egid: int) -> None:
        self._call("setregid", sys_setregid, rgid, egid)

    def setresuid(self, ruid: int, euid: int, suid: int) -> None:
        self._call("setresuid", sys_setresuid, ruid, euid, suid)

    def setresgid(self, rgid: int, egid: int, sgid: int) -> None:
        self._call("setresgid", sys_setresgid, rgid, egid, sgid)

    def setfsuid(self, fsuid: int) -> int:
        """setfsuid(2): returns the previous fsuid, never fails (as the kernel)."""
        return self._call("setfsuid", sys_setfsuid, fsuid)

    def setfsgid(self, fsgid: int) -> int:
        return self._call("setfsgid", sys_setfsgid, fsgid)

    def setgroups(self, groups: Sequence[int]) -> None:
        self._call("setgroups", sys_setgroups, tuple(groups))

    def capget(self) -> tuple[int, int, int]:
        """capget(2) of this task: (effective, permitted, inheritable) as 64-bit masks."""
        return self._call("capget", sys_capget, 0)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        self._call("capset", sys_capset, 0, effective, permitted, inheritable)

    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
        return self._call("prctl", sys_prctl, option, arg2, arg3, arg4, arg5)


def _dfd(dir_fd: int | None) -> int:
    return F.AT_FDCWD if dir_fd is None else dir_fd


