"""Directory-changing system calls: mkdir, rmdir, unlink, rename, link, symlink, mknod.

Carved from fs/namei.c (the second half of that file); the walk itself is in namei.py.

Linux: fs/namei.c (may_create, may_delete, vfs_mkdir, vfs_unlink, vfs_rename, ..., do_*at)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import DCACHE_MOUNTED, Dentry
from simkernel.fs.inode import MAY_EXEC, MAY_WRITE, Inode, inode_permission
from simkernel.fs.namei import (LAST_DOT, LAST_DOTDOT, LAST_NORM, LOOKUP_FOLLOW, filename_lookup, filename_parentat, lookup_one)
from simkernel.fs.path import Path
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["may_create", "may_delete", "check_sticky", "filename_create", "do_mkdirat", "do_rmdir",
           "do_unlinkat", "do_renameat2", "do_linkat", "do_symlinkat", "do_mknodat", "vfs_create"]


def _mnt_want_write(path: Path) -> None:
    """mnt_want_write(): EROFS on a read-only mount. Linux: fs/namespace.c"""
    from simkernel.fs.mount import MNT_READONLY
    if path.mnt.mnt_flags & MNT_READONLY:
        raise KernelError(E.EROFS)


def may_create(current: Task, dir: Inode, child: Dentry) -> None:
    """may_create(): the name is free and the directory is writable and searchable.

    Raises:
        KernelError(EEXIST): the name exists.   KernelError(ENOENT): the directory was removed.
        KernelError(EACCES): no write+search permission on the directory.

    Linux: fs/namei.c:may_create()
    """
    if child.d_inode is not None:
        raise KernelError(E.EEXIST)
    from simkernel.fs.inode import S_DEAD
    if dir.i_flags & S_DEAD:
        raise KernelError(E.ENOENT)
    inode_permission(current, dir, MAY_WRITE | MAY_EXEC)


def check_sticky(current: Task, dir: Inode, inode: Inode) -> bool:
    """check_sticky(): in a sticky directory only the file's or directory's owner (or CAP_FOWNER) may remove.

    Linux: fs/namei.c:__check_sticky()
    """
    from simkernel.fs.inode import inode_owner_or_capable
    if not dir.i_mode & S.S_ISVTX:
        return False
    fsuid = current.cred.fsuid
    if inode.i_uid == fsuid or dir.i_uid == fsuid:
        return False
    return not inode_owner_or_capable(current, inode)


def may_delete(current: Task, dir: Inode, victim: Dentry, isdir: bool) -> None:
    """may_delete(): the victim exists, the directory is writable, sticky rules, types agree.

    Raises:
        KernelError(ENOENT), KernelError(EACCES), KernelError(EPERM) (sticky, append-only),
        KernelError(ENOTDIR) (rmdir of a file), KernelError(EISDIR) (unlink of a directory),
        KernelError(EBUSY) (a mountpoint).

    Linux: fs/namei.c:may_delete()
    """
    inode = victim.d_inode
    if inode is None:
        raise KernelError(E.ENOENT)
    inode_permission(current, dir, MAY_WRITE | MAY_EXEC)
    if check_sticky(current, dir, inode):
        raise KernelError(E.EPERM, "sticky directory: only the owner of the file or of the directory may remove")
    if isdir:
        if not S.S_ISDIR(inode.i_mode):
            raise KernelError(E.ENOTDIR)
        if victim.d_parent is victim:
            raise KernelError(E.EBUSY)
    elif S.S_ISDIR(inode.i_mode):
        raise KernelError(E.EISDIR)


def filename_create(current: Task, dfd: int, name: Any, want_dir: bool = False) -> tuple[Path, Dentry]:
    """filename_create(): parent path + a negative dentry for the new name.

    Raises:
        KernelError(EEXIST): the last component is "." or ".." or "/" (cannot be created), or exists.
        KernelError(ENOENT): a trailing slash on a non-directory create.

    Linux: fs/namei.c:filename_create()
    """
    parent, last, last_type = filename_parentat(current, dfd, name)
    if last_type != LAST_NORM:
        raise KernelError(E.EEXIST)
    _mnt_want_write(parent)
    dentry = lookup_one(current, last, parent.dentry, 0)
    if dentry.d_inode is not None:
        raise KernelError(E.EEXIST)
    if str(name).endswith("/") and not want_dir:
        raise KernelError(E.ENOENT)
    return parent, dentry


def vfs_create(current: Task, dir: Inode, dentry: Dentry, mode: int) -> None:
    """vfs_create(): may_create + ->create. Linux: fs/namei.c"""
    may_create(current, dir, dentry)
    if dir.i_op.create is None:
        raise KernelError(E.EACCES)
    dir.i_op.create(current, dir, dentry, mode)


def do_mkdirat(current: Task, dfd: int, name: Any, mode: int) -> None:
    """mkdir(2): mode & ~umask & 01777.

    Linux: fs/namei.c:do_mkdirat(), vfs_mkdir()
    """
    parent, dentry = filename_create(current, dfd, name, want_dir=True)
    dir = parent.dentry.d_inode
    may_create(current, dir, dentry)
    if dir.i_op.mkdir is None:
        raise KernelError(E.EPERM)
    dir.i_op.mkdir(current, dir, dentry, mode & ~current.fs.umask & 0o1777)


def do_mknodat(current: Task, dfd: int, name: Any, mode: int, dev: int) -> None:
    """mknod(2): regular files, fifos and (with CAP_MKNOD) devices.

    Raises:
        KernelError(EPERM): a device node without CAP_MKNOD.   KernelError(EINVAL): a bad file type.

    Linux: fs/namei.c:do_mknodat(), vfs_mknod()
    """
    from simkernel.kernel.capability import capable
    from simkernel.uapi.capability import CAP_MKNOD
    fmt = mode & S.S_IFMT
    if fmt == 0:
        mode |= S.S_IFREG
        fmt = S.S_IFREG
    if fmt not in (S.S_IFREG, S.S_IFCHR, S.S_IFBLK, S.S_IFIFO, S.S_IFSOCK):
        raise KernelError(E.EINVAL)
    parent, dentry = filename_create(current, dfd, name)
    dir = parent.dentry.d_inode
    may_create(current, dir, dentry)
    if fmt in (S.S_IFCHR, S.S_IFBLK) and not capable(current, CAP_MKNOD):
        raise KernelError(E.EPERM)
    mode = (mode & S.S_IFMT) | (mode & ~current.fs.umask & 0o7777)
    if fmt == S.S_IFREG:
        dir.i_op.create(current, dir, dentry, mode)
    else:
        dir.i_op.mknod(current, dir, dentry, mode, dev)


def do_symlinkat(current: Task, target: Any, dfd: int, name: Any) -> None:
    """symlink(2). Linux: fs/namei.c:do_symlinkat(), vfs_symlink()"""
    from simkernel.fs.namei import getname
    target = getname(target)
    parent, dentry = filename_create(current, dfd, name)
    dir = parent.dentry.d_inode
    may_create(current, dir, dentry)
    if dir.i_op.symlink is None:
        raise KernelError(E.EPERM)
    dir.i_op.symlink(current, dir, dentry, target)


def _lookup_victim(current: Task, dfd: int, name: Any, isdir: bool) -> tuple[Path, Dentry]:
    parent, last, last_type = filename_parentat(current, dfd, name)
    if last_type != LAST_NORM:
        if not isdir:
            raise KernelError(E.EISDIR)
        raise KernelError({LAST_DOTDOT: E.ENOTEMPTY, LAST_DOT: E.EINVAL}.get(last_type, E.EBUSY))
    _mnt_want_write(parent)
    dentry = lookup_one(current, last, parent.dentry, 0)
    if dentry.d_inode is None:
        raise KernelError(E.ENOENT)
    if not isdir and str(name).endswith("/") and not S.S_ISDIR(dentry.d_inode.i_mode):
        raise KernelError(E.ENOTDIR)
    return parent, dentry


def do_rmdir(current: Task, dfd: int, name: Any) -> None:
    """rmdir(2).

    Raises (besides the walk's): EINVAL for ".", ENOTEMPTY for "..", EBUSY for "/" or a mountpoint,
    ENOTDIR, ENOTEMPTY.

    Linux: fs/namei.c:do_rmdir(), vfs_rmdir()
    """
    parent, dentry = _lookup_victim(current, dfd, name, isdir=True)
    dir = parent.dentry.d_inode
    may_delete(current, dir, dentry, isdir=True)
    if dentry.d_flags & DCACHE_MOUNTED:
        raise KernelError(E.EBUSY)
    dir.i_op.rmdir(current, dir, dentry)


def do_unlinkat(current: Task, dfd: int, name: Any) -> None:
    """unlink(2). Linux: fs/namei.c:do_unlinkat(), vfs_unlink()"""
    parent, dentry = _lookup_victim(current, dfd, name, isdir=False)
    dir = parent.dentry.d_inode
    may_delete(current, dir, dentry, isdir=False)
    if dentry.d_flags & DCACHE_MOUNTED:
        raise KernelError(E.EBUSY)
    if dir.i_op.unlink is None:
        raise KernelError(E.EPERM)
    dir.i_op.unlink(current, dir, dentry)


def _is_ancestor(a: Dentry, d: Dentry) -> bool:
    while True:
        if d is a:
            return True
        if d.d_parent is d:
            return False
        d = d.d_parent


def do_renameat2(current: Task, olddfd: int, oldname: Any, newdfd: int, newname: Any, flags: int) -> None:
    """rename(2) (flags 0 only).

    Raises: EXDEV across mounts; EBUSY/EINVAL for "." and ".."; EINVAL moving a directory below itself;
    ENOTDIR/EISDIR when the types disagree; ENOTEMPTY over a non-empty directory; may_delete/may_create's.

    Linux: fs/namei.c:do_renameat2(), vfs_rename()
    """
    if flags:
        raise KernelError(E.EINVAL)
    old_parent, old_last, old_type = filename_parentat(current, olddfd, oldname)
    new_parent, new_last, new_type = filename_parentat(current, newdfd, newname)
    if old_parent.mnt is not new_parent.mnt:
        raise KernelError(E.EXDEV)
    if old_type != LAST_NORM or new_type != LAST_NORM:
        raise KernelError(E.EBUSY)
    _mnt_want_write(old_parent)
    old = lookup_one(current, old_last, old_parent.dentry, 0)
    if old.d_inode is None:
        raise KernelError(E.ENOENT)
    new = lookup_one(current, new_last, new_parent.dentry, 0)
    if old is new:
        return
    is_dir = S.S_ISDIR(old.d_inode.i_mode)
    if not is_dir and (str(oldname).endswith("/") or str(newname).endswith("/")):
        raise KernelError(E.ENOTDIR)
    if _is_ancestor(old, new_parent.dentry):
        raise KernelError(E.EINVAL)
    old_dir, new_dir = old_parent.dentry.d_inode, new_parent.dentry.d_inode
    may_delete(current, old_dir, old, is_dir)
    if new.d_inode is None:
        may_create(current, new_dir, new)
    else:
        if new.d_inode is old.d_inode:
            return
        may_delete(current, new_dir, new, is_dir)
        if is_dir and any(c.d_inode is not None and c.d_hashed for c in new.d_subdirs.values()):
            raise KernelError(E.ENOTEMPTY)
    if is_dir and old_dir is not new_dir:
        inode_permission(current, old.d_inode, MAY_WRITE)
    if old.d_flags & DCACHE_MOUNTED or new.d_flags & DCACHE_MOUNTED:
        raise KernelError(E.EBUSY)
    old_dir.i_op.rename(current, old_dir, old, new_dir, new)


def _may_linkat(current: Task, inode: Inode) -> None:
    """may_linkat(): fs.protected_hardlinks (on): own the file, or may read and write it, or CAP_FOWNER.

    Linux: fs/namei.c:may_linkat(), safe_hardlink_source()
    """
    from simkernel.fs.inode import MAY_READ, inode_owner_or_capable
    if inode_owner_or_capable(current, inode):
        return
    if S.S_ISREG(inode.i_mode) and not inode.i_mode & S.S_ISUID and not (
            inode.i_mode & (S.S_ISGID | S.S_IXGRP)) == (S.S_ISGID | S.S_IXGRP):
        try:
            inode_permission(current, inode, MAY_READ | MAY_WRITE)
            return
        except KernelError:
            pass
    raise KernelError(E.EPERM, "fs.protected_hardlinks: the caller neither owns nor may read+write the source")


def do_linkat(current: Task, olddfd: int, oldname: Any, newdfd: int, newname: Any, flags: int) -> None:
    """link(2): no directories (EPERM), same mount (EXDEV), protected_hardlinks.

    Linux: fs/namei.c:do_linkat(), vfs_link()
    """
    if flags & ~(F.AT_SYMLINK_FOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL)
    old = filename_lookup(current, olddfd, oldname, LOOKUP_FOLLOW if flags & F.AT_SYMLINK_FOLLOW else 0)
    parent, dentry = filename_create(current, newdfd, newname)
    if old.mnt is not parent.mnt:
        raise KernelError(E.EXDEV)
    inode = old.dentry.d_inode
    _may_linkat(current, inode)
    dir = parent.dentry.d_inode
    may_create(current, dir, dentry)
    if S.S_ISDIR(inode.i_mode):
        raise KernelError(E.EPERM)
    if inode.i_nlink == 0:
        raise KernelError(E.ENOENT)
    if dir.i_op.link is None:
        raise KernelError(E.EPERM)
    dir.i_op.link(current, old.dentry, dir, dentry)
