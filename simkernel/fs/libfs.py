"""Helpers shared by in-memory filesystems, carved from fs/ramfs.py along the kernel's own split (fs/libfs.c).

* `simple_lookup`: a miss is a negative dentry (names over 255 bytes are ENAMETOOLONG);
* the "simple_offset" directory: every entry has a stable offset from a per-directory cyclic counter starting
  at 3, and the directory keeps its d_children list newest first (a new dentry goes to the head; a renamed
  one moves to the head of its new directory);
* `offset_readdir`: ".", "..", then from the entry at ctx.pos (the last offset at or below it) along
  d_children; the end is DIR_OFFSET_EOD, 2147483647 as observed on v6.18 (getdents d_off, lseek SEEK_CUR);
* `offset_dir_llseek`: SEEK_SET/SEEK_CUR only.

Example: a, b, c created in that order list as c, b, a with offsets 5, 4, 3; `d_off` of ".." is 5.

Linux: fs/libfs.c (simple_lookup, simple_offset_add/remove/rename, simple_offset_empty, offset_readdir,
offset_iterate_dir, offset_dir_lookup, find_positive_dentry, offset_dir_llseek, generic_read_dir),
fs/dcache.c (d_alloc, __d_move: the d_children order)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.dcache import d_add
from simkernel.fs.readdir import dir_emit, dir_emit_dots
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.fs.file import File
    from simkernel.fs.inode import Inode

__all__ = ["OffsetCtx", "simple_lookup", "simple_offset_add", "simple_offset_remove", "simple_offset_empty",
           "offset_readdir", "offset_dir_llseek", "generic_read_dir", "NAME_MAX", "DIR_OFFSET_FIRST",
           "DIR_OFFSET_MIN", "DIR_OFFSET_EOD", "MAX_LFS_FILESIZE"]

NAME_MAX = 255
MAX_LFS_FILESIZE = (1 << 63) - 1
DIR_OFFSET_FIRST = 2             # find the first real entry
DIR_OFFSET_MIN = 3               # the lowest offset handed out
DIR_OFFSET_EOD = 2147483647      # end of directory (observed on v6.18: getdents d_off and lseek(SEEK_CUR))


@define(eq=False)
class OffsetCtx:
    """struct offset_ctx + the directory's d_children list (fs/libfs.c simple_offset_*).

    `children` is d_children order: newest first.  `by_offset` is the maple tree: offset -> dentry.
    """

    next_offset: int = DIR_OFFSET_MIN
    by_offset: dict[int, Any] = field(factory=dict)
    children: list[Any] = field(factory=list)


def _offsets(dir: Inode) -> OffsetCtx:
    if dir.i_private is None:
        dir.i_private = OffsetCtx()
    return dir.i_private


def simple_offset_add(dir: Inode, dentry: Dentry) -> None:
    """simple_offset_add(): the next offset of the directory's cyclic counter. Linux: fs/libfs.c"""
    ctx = _offsets(dir)
    off = ctx.next_offset
    ctx.next_offset += 1
    ctx.by_offset[off] = dentry
    dentry.d_fsdata = off


def simple_offset_remove(dir: Inode, dentry: Dentry) -> None:
    """simple_offset_remove(). Linux: fs/libfs.c"""
    off = dentry.d_fsdata
    if not off:
        return
    ctx = _offsets(dir)
    if ctx.by_offset.get(off) is dentry:
        del ctx.by_offset[off]
    dentry.d_fsdata = 0


def simple_offset_empty(dentry: Dentry) -> bool:
    """simple_offset_empty(): no positive child (True for a non-directory). Linux: fs/libfs.c"""
    inode = dentry.d_inode
    if inode is None or not S.S_ISDIR(inode.i_mode):
        return True
    return not _offsets(inode).by_offset


def _link_child(dir: Inode, dentry: Dentry) -> None:
    """d_alloc()/__d_move(): the dentry goes to the head of the directory's d_children."""
    ctx = _offsets(dir)
    if dentry in ctx.children:
        ctx.children.remove(dentry)
    ctx.children.insert(0, dentry)


def _unlink_child(dir: Inode, dentry: Dentry) -> None:
    ctx = _offsets(dir)
    if dentry in ctx.children:
        ctx.children.remove(dentry)


def simple_lookup(current: Any, dir: Inode, dentry: Dentry, flags: int) -> Dentry | None:
    """simple_lookup(): a miss in an in-memory fs is a negative dentry.

    Raises:
        KernelError(ENAMETOOLONG): the name is longer than NAME_MAX (255 bytes).

    Linux: fs/libfs.c:simple_lookup()
    """
    if len(dentry.d_name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise KernelError(E.ENAMETOOLONG)
    d_add(dentry, None)
    return None


def offset_readdir(current: Any, file: File, ctx: Any) -> None:
    """offset_readdir(): ".", "..", then from the entry at ctx.pos (the last offset at or below it) along
    d_children; ctx.pos ends at DIR_OFFSET_EOD.

    Linux: fs/libfs.c:offset_readdir(), offset_iterate_dir(), offset_dir_lookup(), find_positive_dentry()
    """
    if not dir_emit_dots(file, ctx):
        return
    if ctx.pos == DIR_OFFSET_EOD:
        return
    offs = _offsets(file.f_inode)
    children = offs.children
    if not children:
        ctx.pos = DIR_OFFSET_EOD
        return
    start = 0
    if ctx.pos != DIR_OFFSET_FIRST:
        below = [o for o in offs.by_offset if DIR_OFFSET_MIN <= o <= ctx.pos]
        if below:
            start = children.index(offs.by_offset[max(below)])
    for d in children[start:]:
        ctx.pos = d.d_fsdata
        if not dir_emit(ctx, d.d_name, d.d_inode.i_ino, S.dt_type(d.d_inode.i_mode)):
            return
    ctx.pos = DIR_OFFSET_EOD


def offset_dir_llseek(current: Any, file: File, offset: int, whence: int) -> int:
    """offset_dir_llseek(): SEEK_SET and SEEK_CUR to any non-negative position; nothing else.

    Raises:
        KernelError(EINVAL): SEEK_END/SEEK_DATA/SEEK_HOLE, or a negative result.

    Linux: fs/libfs.c:offset_dir_llseek()
    """
    if whence == F.SEEK_CUR:
        offset += file.f_pos
    elif whence != F.SEEK_SET:
        raise KernelError(E.EINVAL)
    if offset < 0 or offset > MAX_LFS_FILESIZE:
        raise KernelError(E.EINVAL)
    file.f_pos = offset
    return offset


def generic_read_dir(current: Any, file: File, count: int, pos: int) -> bytes:
    """generic_read_dir(): read(2) on a directory. Linux: fs/libfs.c"""
    raise KernelError(E.EISDIR, "generic_read_dir: read(2) on a directory; directories are read with getdents64")
