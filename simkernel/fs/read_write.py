"""read(2), write(2), pread64(2), lseek(2).

Linux: fs/read_write.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.fs.file import (FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_LSEEK, FMODE_PATH, FMODE_PREAD, FMODE_READ,
                               FMODE_UNSIGNED_OFFSET, FMODE_WRITE, File)
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["ksys_read", "ksys_write", "ksys_pread64", "ksys_lseek", "vfs_read", "vfs_write", "rw_verify_area"]

MAX_RW_COUNT = 0x7FFFF000


def _fdget(current: Task, fd: int) -> File:
    f = current.files.fget(fd) if current.files is not None else None
    if f is None or f.f_mode & FMODE_PATH:
        raise KernelError(E.EBADF)
    return f


LLONG_MAX = (1 << 63) - 1


def rw_verify_area(file: File, pos: int, count: int) -> None:
    """rw_verify_area(): a negative position, or one where pos + count passes LLONG_MAX, is EINVAL (unless
    the file takes unsigned offsets, like /proc/<pid>/mem).  Linux: fs/read_write.c:rw_verify_area()
    """
    if file.f_mode & FMODE_UNSIGNED_OFFSET:
        return
    if count < 0 or pos < 0 or pos + count > LLONG_MAX:
        raise KernelError(E.EINVAL)


def vfs_read(current: Task, file: File, count: int, pos: int) -> bytes:
    """vfs_read(): EBADF unless open for reading, EISDIR for directories, EINVAL without ->read.

    Linux: fs/read_write.c:vfs_read()
    """
    if not file.f_mode & FMODE_READ:
        raise KernelError(E.EBADF)
    if not file.f_mode & FMODE_CAN_READ or file.f_op.read is None:
        raise KernelError(E.EINVAL)
    rw_verify_area(file, pos, count)
    return file.f_op.read(current, file, min(count, MAX_RW_COUNT), pos)


def vfs_write(current: Task, file: File, data: bytes, pos: int) -> int:
    """vfs_write(): EBADF unless open for writing, EINVAL without ->write. Linux: fs/read_write.c"""
    if not file.f_mode & FMODE_WRITE:
        raise KernelError(E.EBADF)
    if not file.f_mode & FMODE_CAN_WRITE or file.f_op.write is None:
        raise KernelError(E.EINVAL)
    rw_verify_area(file, pos, len(data))
    return file.f_op.write(current, file, data[:MAX_RW_COUNT], pos)


def ksys_read(current: Task, fd: int, count: int) -> bytes:
    """read(2): from f_pos, which advances. Linux: fs/read_write.c:ksys_read()"""
    f = _fdget(current, fd)
    data = vfs_read(current, f, count, f.f_pos)
    f.f_pos += len(data)
    return data


def ksys_write(current: Task, fd: int, data: bytes) -> int:
    """write(2): at f_pos (end with O_APPEND), which advances. Linux: fs/read_write.c:ksys_write()"""
    from simkernel.uapi.fcntl import O_APPEND
    f = _fdget(current, fd)
    n = vfs_write(current, f, data, f.f_pos)
    f.f_pos = f.f_inode.i_size if f.f_flags & O_APPEND else f.f_pos + n
    return n


def ksys_pread64(current: Task, fd: int, count: int, pos: int) -> bytes:
    """pread64(2): EINVAL for a negative offset (before the fd is looked at), EBADF, ESPIPE when the file
    cannot seek.  Linux: fs/read_write.c:ksys_pread64()
    """
    if pos < 0:
        raise KernelError(E.EINVAL)
    f = _fdget(current, fd)
    if not f.f_mode & FMODE_PREAD:
        raise KernelError(E.ESPIPE)
    return vfs_read(current, f, count, pos)


def generic_file_llseek_size(file: File, offset: int, whence: int, maxsize: int, eof: int) -> int:
    """generic_file_llseek_size(): the generic whences within [0, maxsize]; SEEK_DATA/SEEK_HOLE treat the
    whole file as data (data at `offset`, the hole at `eof`).

    Raises:
        KernelError(EINVAL): unknown whence, a negative result, or beyond `maxsize`.
        KernelError(ENXIO): SEEK_DATA/SEEK_HOLE at or past `eof` (offsets compared as unsigned).

    Linux: fs/read_write.c:generic_file_llseek_size(), vfs_setpos()
    """
    if whence == SEEK_SET:
        new = offset
    elif whence == SEEK_END:
        new = offset + eof
    elif whence == SEEK_CUR:
        if offset == 0:
            return file.f_pos
        new = file.f_pos + offset
    elif whence == SEEK_DATA or whence == SEEK_HOLE:
        if offset % (1 << 64) >= eof:
            raise KernelError(E.ENXIO, "lseek: SEEK_DATA/SEEK_HOLE at or past the end")
        new = offset if whence == SEEK_DATA else eof
    else:
        raise KernelError(E.EINVAL, f"lseek: unknown whence {whence}")
    if new < 0 or new > maxsize:
        raise KernelError(E.EINVAL, "lseek: the new position is negative or too large")
    file.f_pos = new
    return new


def ksys_lseek(current: Task, fd: int, offset: int, whence: int) -> int:
    """lseek(2): whence beyond SEEK_HOLE is EINVAL; a file without ->llseek cannot seek (ESPIPE); the
    filesystem's ->llseek decides the rest.

    Raises:
        KernelError(EBADF), KernelError(EINVAL), KernelError(ESPIPE), ->llseek's errno.

    Linux: fs/read_write.c:ksys_lseek(), vfs_llseek()
    """
    f = _fdget(current, fd)
    if whence not in (0, 1, 2, 3, 4):
        raise KernelError(E.EINVAL)
    if f.f_op.llseek is None or not f.f_mode & FMODE_LSEEK:
        raise KernelError(E.ESPIPE)
    return f.f_op.llseek(current, f, offset, whence)
