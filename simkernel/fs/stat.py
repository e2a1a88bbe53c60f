"""stat(2) family and readlink(2).

Linux: fs/stat.c
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.inode import Kstat, generic_fillattr
from simkernel.fs.namei import LOOKUP_EMPTY, LOOKUP_FOLLOW, filename_lookup
from simkernel.fs.path import Path
from simkernel.fs.super import new_encode_dev
from simkernel.mm.memory import might_fault
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["vfs_getattr", "vfs_fstatat", "vfs_fstat", "cp_new_stat", "do_readlinkat", "vfs_readlink"]


def vfs_getattr(current: Task, path: Path) -> Kstat:
    """vfs_getattr(): ->getattr or generic_fillattr. Linux: fs/stat.c"""
    inode = path.dentry.d_inode
    stat = Kstat()
    if inode.i_op.getattr is not None:
        inode.i_op.getattr(current, path, stat)
    else:
        generic_fillattr(inode, stat)
    return stat


def cp_new_stat(current: Task, stat: Kstat) -> os.stat_result:
    """cp_new_stat(): a kstat as the caller sees it (ids mapped into its user namespace, munged).

    Linux: fs/stat.c:cp_new_stat()
    """
    from simkernel.kernel.user_namespace import from_kgid_munged, from_kuid_munged
    ns = current.cred.user_ns
    sec = lambda ns_: ns_ // 1_000_000_000  # noqa: E731
    return os.stat_result((
        stat.mode, stat.ino, new_encode_dev(stat.dev), stat.nlink,
        from_kuid_munged(ns, stat.uid), from_kgid_munged(ns, stat.gid), stat.size,
        sec(stat.atime), sec(stat.mtime), sec(stat.ctime),
        stat.atime / 1e9, stat.mtime / 1e9, stat.ctime / 1e9,
        stat.atime, stat.mtime, stat.ctime,
        stat.blksize, stat.blocks, new_encode_dev(stat.rdev),
    ))


def vfs_fstatat(current: Task, dfd: int, name: Any, flags: int) -> os.stat_result:
    """newfstatat(2) (and stat/lstat): AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH.

    Raises:
        KernelError(EINVAL): unknown flags.   The walk's errno otherwise.

    Linux: fs/stat.c:vfs_statx()
    """
    if flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH | 0x800 | 0x6000):   # AT_NO_AUTOMOUNT, AT_STATX_*
        raise KernelError(E.EINVAL)
    lookup = 0 if flags & F.AT_SYMLINK_NOFOLLOW else LOOKUP_FOLLOW
    if flags & F.AT_EMPTY_PATH:
        lookup |= LOOKUP_EMPTY
    path = filename_lookup(current, dfd, name, lookup)
    return cp_new_stat(current, vfs_getattr(current, path))


def vfs_fstat(current: Task, fd: int) -> os.stat_result:
    """fstat(2): works on O_PATH descriptors too. Raises KernelError(EBADF). Linux: fs/stat.c"""
    f = current.files.fget(fd)
    if f is None:
        raise KernelError(E.EBADF)
    return cp_new_stat(current, vfs_getattr(current, f.f_path))


def vfs_readlink(current: Task, dentry: Any, buflen: int) -> bytes:
    """vfs_readlink(): ->readlink if the inode has one (procfs), else the link body, cut to buflen.

    Raises:
        KernelError(EINVAL): not a symlink.

    Linux: fs/namei.c:vfs_readlink()
    """
    inode = dentry.d_inode
    if (inode.i_mode & S.S_IFMT) != S.S_IFLNK:     # !S_ISLNK()
        raise KernelError(E.EINVAL)
    readlink = inode.i_op.readlink
    if readlink is not None:
        return readlink(current, dentry, buflen)
    body = inode.i_link
    if body is None:
        body = inode.i_op.get_link(current, dentry, inode, None)
    might_fault(current)    # readlink_copy(): copy_to_user()
    return body.encode("utf-8", "surrogateescape")[:buflen]


def do_readlinkat(current: Task, dfd: int, name: Any, bufsiz: int) -> bytes:
    """readlinkat(2): an empty name reads the link an O_PATH fd points at.

    Raises:
        KernelError(EINVAL): bufsiz <= 0, or the target is not a symlink.
        KernelError(ENOENT): empty name on a non-link fd ... and the walk's errno.

    Linux: fs/stat.c:do_readlinkat()
    """
    if bufsiz <= 0:
        raise KernelError(E.EINVAL)
    path = filename_lookup(current, dfd, name, LOOKUP_EMPTY)
    inode = path.dentry.d_inode
    if inode is None:
        raise KernelError(E.ENOENT)
    if (inode.i_mode & S.S_IFMT) != S.S_IFLNK and inode.i_op.readlink is None:     # !S_ISLNK()
        raise KernelError(E.ENOENT if name == "" else E.EINVAL)
    return vfs_readlink(current, path.dentry, bufsiz)
