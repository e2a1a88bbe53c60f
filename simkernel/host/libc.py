"""Raw x86-64 Linux system calls through ctypes, for the calls `os` lacks or wraps differently.

Used in host tasks (simkernel/host/child.py).  Each wrapper makes exactly one system call through glibc's
`syscall()` and raises `OSError(errno, strerror, filename)` on failure, which Python maps to the builtin
subclass (`FileNotFoundError`, ...), as `os` does.  Raw calls rather than glibc wrappers, because:

* credential calls (setresuid, setgroups, ...) in glibc broadcast to every thread (POSIX); the kernel's, and
  the simulation's, change only the calling task;
* `os.open` forces O_CLOEXEC; the simulation's open() passes the flags through, so openat here does too;
* `os` has no getdents64, no AT_EMPTY_PATH fstatat, no readlink buffer size, no capget/capset.

Linux: arch/x86/entry/syscalls/syscall_64.tbl
"""

from __future__ import annotations

import ctypes
import os
import struct
from types import MappingProxyType
from typing import Any, Mapping

__all__ = [
    "NR", "syscall", "openat", "newfstatat", "readlinkat", "getdents64", "mmap", "munmap", "mprotect",
    "mremap", "capget", "capset", "prctl", "mount", "umount2", "unshare", "setgroups", "execve", "exit_thread",
]

NR: Mapping[str, int] = MappingProxyType({
    "exit": 60, "setuid": 105, "setgid": 106, "setreuid": 113, "setregid": 114, "setgroups": 116,
    "setresuid": 117, "setresgid": 119, "setfsuid": 122, "setfsgid": 123, "capget": 125, "capset": 126,
    "prctl": 157, "mount": 165, "umount2": 166, "getdents64": 217, "openat": 257, "newfstatat": 262,
    "readlinkat": 267, "unshare": 272, "mmap": 9, "mprotect": 10, "munmap": 11, "mremap": 25, "execve": 59,
})

_libc = ctypes.CDLL(None, use_errno=True)
_syscall = _libc.syscall
_syscall.restype = ctypes.c_long

# struct stat (arch/x86/include/uapi/asm/stat.h, x86-64): 144 bytes
_STAT = struct.Struct("<QQQIIIiQqqqqqqqqq24x")
# struct linux_dirent64 header: d_ino, d_off, d_reclen, d_type (include/linux/dirent.h)
_DIRENT64 = struct.Struct("<QqHB")
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_U64 = (1 << 64) - 1


def _arg(value: Any) -> Any:
    """One syscall argument as a 64-bit C value (ints wrap to signed long; buffers pass as pointers)."""
    if isinstance(value, int):
        value &= _U64
        return ctypes.c_long(value - (1 << 64) if value >> 63 else value)
    return value


def syscall(name: str, *args: Any, filename: Any = None) -> int:
    """Make one raw system call; return its non-negative result or raise OSError with the Linux errno."""
    ctypes.set_errno(0)
    ret = _syscall(ctypes.c_long(NR[name]), *(_arg(a) for a in args))
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), *(() if filename is None else (filename,)))
    return ret


def _path(path: str | bytes) -> bytes:
    return os.fsencode(path)


def openat(dir_fd: int, path: str, flags: int, mode: int) -> int:
    """openat(2) with `flags` exactly as given (no O_CLOEXEC added, unlike os.open)."""
    return syscall("openat", dir_fd, ctypes.c_char_p(_path(path)), flags, mode, filename=path)


def newfstatat(dir_fd: int, path: str, flags: int) -> os.stat_result:
    """fstatat(2) with raw AT_* flags (AT_EMPTY_PATH works), decoded into os.stat_result as os.stat does."""
    buf = ctypes.create_string_buffer(_STAT.size)
    syscall("newfstatat", dir_fd, ctypes.c_char_p(_path(path)), buf, flags, filename=path)
    (dev, ino, nlink, mode, uid, gid, _pad, rdev, size, blksize, blocks,
     at, atn, mt, mtn, ct, ctn) = _STAT.unpack(buf.raw)
    return os.stat_result(
        (mode, ino, dev, nlink, uid, gid, size, at, mt, ct),
        {"st_atime": at + atn * 1e-9, "st_mtime": mt + mtn * 1e-9, "st_ctime": ct + ctn * 1e-9,
         "st_atime_ns": at * 10**9 + atn, "st_mtime_ns": mt * 10**9 + mtn, "st_ctime_ns": ct * 10**9 + ctn,
         "st_blksize": blksize, "st_blocks": blocks, "st_rdev": rdev})


def readlinkat(dir_fd: int, path: str, bufsiz: int) -> bytes:
    """readlinkat(2) into a `bufsiz`-byte buffer: the (possibly truncated) bytes, no terminator."""
    buf = ctypes.create_string_buffer(max(bufsiz, 1))
    n = syscall("readlinkat", dir_fd, ctypes.c_char_p(_path(path)), buf, bufsiz, filename=path)
    return buf.raw[:n]


def getdents64(fd: int, count: int) -> list[tuple[str, int, int, int]]:
    """One getdents64(2) call: [(name, d_ino, d_type, d_off), ...]; [] at end of directory.

    Example: a 32 KiB buffer on /proc/self/map_files yields ('.', ino, 4, 1), ('..', ino, 4, 2), then one
    ('7e0000000000-7e0000001000', ino, 10, 3) per file-backed VMA (d_type 10 = DT_LNK).
    """
    buf = ctypes.create_string_buffer(max(count, 1))
    n = syscall("getdents64", fd, buf, count)
    raw, out, pos = buf.raw[:n], [], 0
    while pos < n:
        ino, off, reclen, dtype = _DIRENT64.unpack_from(raw, pos)
        name = raw[pos + _DIRENT64.size: pos + reclen].split(b"\0", 1)[0]
        out.append((os.fsdecode(name), ino, dtype, off))
        pos += reclen
    return out


def mmap(addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    """mmap(2); returns the address as an int (MAP_FIXED_NOREPLACE and every other flag passed through)."""
    return syscall("mmap", addr, length, prot, flags, fd, offset) & _U64


def munmap(addr: int, length: int) -> None:
    syscall("munmap", addr, length)


def mprotect(addr: int, length: int, prot: int) -> None:
    syscall("mprotect", addr, length, prot)


def mremap(old_addr: int, old_size: int, new_size: int, flags: int, new_addr: int) -> int:
    return syscall("mremap", old_addr, old_size, new_size, flags, new_addr) & _U64


def _cap_header() -> ctypes.Array[ctypes.c_uint32]:
    hdr = (ctypes.c_uint32 * 2)()
    hdr[0], hdr[1] = _LINUX_CAPABILITY_VERSION_3, 0  # pid 0: the calling task
    return hdr


def capget() -> tuple[int, int, int]:
    """capget(2) of the calling task with _LINUX_CAPABILITY_VERSION_3: (effective, permitted, inheritable)."""
    data = (ctypes.c_uint32 * 6)()  # struct __user_cap_data_struct[2] = {eff, perm, inh} x 2
    syscall("capget", _cap_header(), data)
    return tuple(data[i] | (data[i + 3] << 32) for i in range(3))  # type: ignore[return-value]


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) of the calling task from three 64-bit masks (split into the two 32-bit words)."""
    data = (ctypes.c_uint32 * 6)()
    for i, mask in enumerate((effective, permitted, inheritable)):
        data[i], data[i + 3] = mask & 0xFFFFFFFF, (mask >> 32) & 0xFFFFFFFF
    syscall("capset", _cap_header(), data)


def prctl(option: int, arg2: Any = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2); `arg2` may be bytes (PR_SET_NAME) and is then passed as a pointer."""
    if isinstance(arg2, (bytes, str)):
        arg2 = ctypes.c_char_p(os.fsencode(arg2))
    return syscall("prctl", option, arg2, arg3, arg4, arg5)


def mount(source: str, target: str, fstype: str, flags: int, data: str) -> None:
    syscall("mount", ctypes.c_char_p(_path(source)), ctypes.c_char_p(_path(target)),
            ctypes.c_char_p(fstype.encode()), flags, ctypes.c_char_p(data.encode() if data else None),
            filename=target)


def umount2(target: str, flags: int) -> None:
    syscall("umount2", ctypes.c_char_p(_path(target)), flags, filename=target)


def unshare(flags: int) -> None:
    syscall("unshare", flags)


def setgroups(groups: tuple[int, ...]) -> None:
    """setgroups(2) for the calling task only (glibc's wrapper would apply it to every thread)."""
    arr = (ctypes.c_uint32 * max(len(groups), 1))(*groups)
    syscall("setgroups", len(groups), arr)


def execve(path: str, argv: tuple[str, ...], envp: tuple[str, ...]) -> None:
    """execve(2) exactly as given (an empty argv is passed as such, unlike os.execve); returns only on error."""
    def vec(items: tuple[str, ...]) -> Any:
        return (ctypes.c_char_p * (len(items) + 1))(*(os.fsencode(i) for i in items), None)
    syscall("execve", ctypes.c_char_p(_path(path)), vec(argv), vec(envp), filename=path)


def exit_thread(status: int) -> None:
    """exit(2) (not exit_group): the calling task ends; other threads of its process keep running."""
    syscall("exit", status)
