"""Directory reading: getdents64 and the dir_context a filesystem's ->iterate_shared fills.

Positions are the filesystem's own cookies: `ctx.pos` is the position of the next entry to emit, and every
record's `d_off` is the position to resume *after* it (filldir64 stores each position into the previous
record; the last record gets the final ctx.pos).

Linux: fs/readdir.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.inode import S_DEAD
from simkernel.mm.memory import might_fault
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.file import File

__all__ = ["DirContext", "dir_emit", "dir_emit_dots", "iterate_dir", "sys_getdents64", "dirent64_reclen"]

_DIRENT64_NAME_OFFSET = 19  # offsetof(struct linux_dirent64, d_name)


def dirent64_reclen(name: str) -> int:
    """The record length of one linux_dirent64: header + name + NUL, rounded up to 8 bytes.

    Example: "." takes 24 bytes, "7f0000000000-7f0000001000" (25 chars) takes 48.
    """
    n = _DIRENT64_NAME_OFFSET + (len(name) if name.isascii() else len(name.encode("utf-8", "surrogateescape"))) + 1
    return (n + 7) & ~7


@define(eq=False)
class DirContext:
    """struct dir_context + struct getdents_callback64: the user buffer being filled."""

    pos: int
    count: int
    entries: list[list[Any]] = field(factory=list)
    error: int = 0
    current: Any = field(default=None, repr=False)
    # set by iterate_dir() when the lock validator or the scheduler is on: each record copied to the user
    # buffer is then a might_fault() (one attribute test per record otherwise)
    fault_check: bool = field(default=False, repr=False)

    def emit(self, name: str, ino: int, d_type: int) -> bool:
        """filldir64(): append one record; False when it does not fit (EINVAL if it is the first).

        Each record written (and the previous record's d_off) is a copy to user memory, so a might_fault()
        (mm/memory.py) when the validator or the scheduler is on: copy_to_user()/__put_user() in v3.3; since
        v5.1 unsafe_put_user() in a user_access block, where a fault still takes the mmap lock.

        Linux: fs/readdir.c:filldir64()
        """
        reclen = dirent64_reclen(name)
        self.error = E.EINVAL  # only returned if nothing fits
        if reclen > self.count:
            return False
        if self.fault_check:
            might_fault(self.current)   # the record is copied to user memory
        if self.entries:
            self.entries[-1][3] = self.pos   # previous record resumes at this entry
        self.entries.append([name, ino, d_type, 0])
        self.count -= reclen
        self.error = 0
        return True


def dir_emit(ctx: DirContext, name: str, ino: int, d_type: int) -> bool:
    """dir_emit(): hand one entry at ctx.pos to the buffer. Linux: include/linux/fs.h"""
    return ctx.emit(name, ino, d_type)


def dir_emit_dots(file: File, ctx: DirContext) -> bool:
    """dir_emit_dots(): "." at position 0 and ".." at position 1. Linux: include/linux/fs.h"""
    from simkernel.uapi.stat import DT_DIR
    if ctx.pos == 0:
        if not dir_emit(ctx, ".", file.f_inode.i_ino, DT_DIR):
            return False
        ctx.pos = 1
    if ctx.pos == 1:
        parent = file.f_path.dentry.d_parent
        ino = parent.d_inode.i_ino if parent.d_inode is not None else 0
        if not dir_emit(ctx, "..", ino, DT_DIR):
            return False
        ctx.pos = 2
    return True


def iterate_dir(current: Any, file: File, ctx: DirContext) -> None:
    """iterate_dir(): lock, check the directory still exists, call ->iterate_shared, store f_pos.

    The directory's i_rwsem is taken shared only when the lock validator is on (Lockdep.i_rwsem()), to
    record its place in the lock order.  Simplification: the kernel takes it killably (down_read_killable,
    EINTR with a fatal signal pending); the model checks no signal here.

    Raises:
        KernelError(ENOTDIR): the file has no ->iterate_shared.
        KernelError(ENOENT): the directory was removed (S_DEAD).

    Linux: fs/readdir.c:iterate_dir()
    """
    iterate = file.f_op.iterate_shared
    if iterate is None:
        raise KernelError(E.ENOTDIR)
    inode = file.f_inode
    if inode.i_flags & S_DEAD:
        raise KernelError(E.ENOENT)
    ctx.pos = file.f_pos
    ctx.current = current
    k = current.kernel
    ld = k.lockdep
    ctx.fault_check = ld is not None or k.sched is not None
    if ld is None:
        iterate(current, file, ctx)
    else:    # inode_lock_shared(): ->iterate_shared runs under the directory's i_rwsem (for the validator)
        sem = ld.i_rwsem(inode)
        sem.down_read(current)
        try:
            iterate(current, file, ctx)
        finally:
            sem.up_read(current)
    file.f_pos = ctx.pos


def sys_getdents64(current: Any, fd: int, count: int) -> list[tuple[str, int, int, int]]:
    """getdents64(2): as many records as fit in `count` bytes; [] at the end.

    Raises:
        KernelError(EBADF): fd is not open (or opened with O_PATH).
        KernelError(ENOTDIR): not a directory.
        KernelError(EINVAL): the buffer cannot hold the next record.
        whatever ->iterate_shared raises, when nothing was emitted yet in this call.

    Linux: fs/readdir.c:SYSCALL_DEFINE3(getdents64)
    """
    from simkernel.fs.file import FMODE_PATH
    f = current.files.fget(fd) if current.files is not None else None
    if f is None or f.f_mode & FMODE_PATH:
        raise KernelError(E.EBADF)
    if count < 0:
        raise KernelError(E.EINVAL)
    ctx = DirContext(pos=f.f_pos, count=count)
    try:
        iterate_dir(current, f, ctx)
    except KernelError:
        if not ctx.entries:
            raise
        f.f_pos = ctx.pos  # an error after some records: the records win
    if ctx.entries:
        ctx.entries[-1][3] = ctx.pos
        return [(n, i, t, o) for n, i, t, o in ctx.entries]
    if ctx.error:
        raise KernelError(ctx.error)
    return []
