"""Directory-changing system calls: mkdir, rmdir, unlink, rename, link, symlink, mknod.

Carved from fs/namei.c (the second half of that file); the walk itself is in namei.py.  Each call walks to
the parent (`filename_parentat`), rejects "." / ".." / "/" as the kernel does for that call, looks the last
name up, and only then runs the `may_*` checks, so the errno of the first failing check is the kernel's.

Linux: fs/namei.c (may_create, may_delete, filename_create, vfs_mkdir, vfs_unlink, vfs_rename, do_*at)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import DCACHE_MOUNTED, Dentry, dont_mount
from simkernel.fs.inode import MAY_EXEC, MAY_READ, MAY_WRITE, S_APPEND, S_IMMUTABLE, Inode, inode_permission
from simkernel.fs.namei import (IS_DEADDIR, LAST_DOT, LAST_DOTDOT, LAST_NORM, LAST_ROOT, LOOKUP_EMPTY,
                                LOOKUP_FOLLOW, NameiData, filename_lookup, filename_parentat_nd, getname, lookup_one)
from simkernel.fs.namei_open import vfs_prepare_mode
from simkernel.fs.open import mnt_want_write
from simkernel.fs.path import Path
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["may_create", "may_delete", "check_sticky", "filename_create", "do_mkdirat", "do_rmdir",
           "do_unlinkat", "do_renameat2", "do_linkat", "do_symlinkat", "do_mknodat", "vfs_create", "may_linkat",
           "lock_rename_trap"]

# kept for callers of the old private name
_mnt_want_write = mnt_want_write


def may_create(current: Task, dir: Inode, child: Dentry) -> None:
    """may_create(): the name is free, the directory alive, writable and searchable.

    Raises:
        KernelError(EEXIST): the name exists.   KernelError(ENOENT): the directory was removed.
        KernelError(EACCES): no write+search permission on the directory.

    Linux: fs/namei.c:may_create()
    """
    if child.d_inode is not None:
        raise KernelError(E.EEXIST)
    if IS_DEADDIR(dir):
        raise KernelError(E.ENOENT)
    inode_permission(current, dir, MAY_WRITE | MAY_EXEC)


def check_sticky(current: Task, dir: Inode, inode: Inode) -> bool:
    """check_sticky(): in a sticky directory only the file's or directory's owner (or CAP_FOWNER) may remove.

    Linux: include/linux/fs.h:check_sticky(), fs/namei.c:__check_sticky()
    """
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.uapi.capability import CAP_FOWNER
    if not dir.i_mode & S.S_ISVTX:
        return False
    fsuid = current.cred.fsuid
    if inode.i_uid == fsuid or dir.i_uid == fsuid:
        return False
    return not capable_wrt_inode_uidgid(current, inode, CAP_FOWNER)


def may_delete(current: Task, dir: Inode, victim: Dentry, isdir: bool) -> None:
    """may_delete(): the victim exists, the directory is writable, sticky rules, types agree.

    Raises (in this order):
        KernelError(ENOENT), KernelError(EACCES), KernelError(EPERM) (append-only directory, sticky,
        append-only or immutable victim), KernelError(ENOTDIR) (rmdir of a file), KernelError(EBUSY) (a root),
        KernelError(EISDIR) (unlink of a directory), KernelError(ENOENT) (the directory was removed).

    Linux: fs/namei.c:may_delete()
    """
    inode = victim.d_inode
    if inode is None:
        raise KernelError(E.ENOENT)
    inode_permission(current, dir, MAY_WRITE | MAY_EXEC)
    if dir.i_flags & S_APPEND:
        raise KernelError(E.EPERM)
    if check_sticky(current, dir, inode):
        raise KernelError(E.EPERM, "sticky directory: only the owner of the file or of the directory may remove")
    if inode.i_flags & (S_APPEND | S_IMMUTABLE):
        raise KernelError(E.EPERM)
    if isdir:
        if not S.S_ISDIR(inode.i_mode):
            raise KernelError(E.ENOTDIR)
        if victim.d_parent is victim:
            raise KernelError(E.EBUSY)
    elif S.S_ISDIR(inode.i_mode):
        raise KernelError(E.EISDIR)
    if IS_DEADDIR(dir):
        raise KernelError(E.ENOENT)


def _is_local_mountpoint(dentry: Dentry) -> bool:
    return bool(dentry.d_flags & DCACHE_MOUNTED)


def _filename_create_nd(current: Task, dfd: int, name: Any, want_dir: bool) -> tuple[NameiData, Dentry]:
    nd = filename_parentat_nd(current, dfd, name)
    if nd.last_type != LAST_NORM:   # "foo/.", "foo/..", "/"
        raise KernelError(E.EEXIST)
    try:   # do not fail yet on a read-only mount: the other errors win
        mnt_want_write(nd.path)
        err2 = None
    except KernelError as err:
        err2 = err
    dentry = lookup_one(current, nd.last, nd.path.dentry, 0)
    if dentry.d_inode is not None:
        raise KernelError(E.EEXIST)
    if nd.last_slash and not want_dir:   # "foo/" for a file: you asked for a (non-existent) directory
        raise KernelError(E.ENOENT)
    if err2 is not None:
        raise err2
    return nd, dentry


def filename_create(current: Task, dfd: int, name: Any, want_dir: bool = False) -> tuple[Path, Dentry]:
    """filename_create(): parent path + a negative dentry for the new name.

    Raises:
        KernelError(EEXIST): the last component is "." or ".." or "/" (cannot be created), or exists.
        KernelError(ENOENT): a trailing slash on a non-directory create.
        KernelError(EROFS): a read-only mount (only after the errors above).

    Linux: fs/namei.c:filename_create()
    """
    nd, dentry = _filename_create_nd(current, dfd, name, want_dir)
    return nd.path, dentry


def vfs_create(current: Task, dir: Inode, dentry: Dentry, mode: int) -> None:
    """vfs_create(): may_create + ->create with the mode vfs_prepare_mode() leaves. Linux: fs/namei.c"""
    may_create(current, dir, dentry)
    if dir.i_op.create is None:
        raise KernelError(E.EACCES)
    mode = vfs_prepare_mode(current, dir, mode, S.S_IALLUGO, S.S_IFREG)
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
    mode = vfs_prepare_mode(current, dir, mode, S.S_IRWXUGO | S.S_ISVTX, 0)
    dir.i_op.mkdir(current, dir, dentry, mode)


def do_mknodat(current: Task, dfd: int, name: Any, mode: int, dev: int) -> None:
    """mknod(2): regular files, fifos, sockets and (with CAP_MKNOD) devices.

    Raises:
        KernelError(EPERM): S_IFDIR, or a device node without CAP_MKNOD.   KernelError(EINVAL): a bad type.

    Linux: fs/namei.c:may_mknod(), do_mknodat(), vfs_mknod()
    """
    from simkernel.kernel.capability import capable
    from simkernel.uapi.capability import CAP_MKNOD
    fmt = mode & S.S_IFMT
    if fmt == S.S_IFDIR:
        raise KernelError(E.EPERM)
    if fmt not in (0, S.S_IFREG, S.S_IFCHR, S.S_IFBLK, S.S_IFIFO, S.S_IFSOCK):
        raise KernelError(E.EINVAL)
    parent, dentry = filename_create(current, dfd, name)
    dir = parent.dentry.d_inode
    if fmt in (0, S.S_IFREG):
        vfs_create(current, dir, dentry, mode)
        return
    may_create(current, dir, dentry)
    if fmt in (S.S_IFCHR, S.S_IFBLK) and not capable(current, CAP_MKNOD):
        raise KernelError(E.EPERM)
    if dir.i_op.mknod is None:
        raise KernelError(E.EPERM)
    mode = vfs_prepare_mode(current, dir, mode, mode, mode)
    from simkernel.fs.super import new_decode_dev
    dir.i_op.mknod(current, dir, dentry, mode, new_decode_dev(dev) if fmt in (S.S_IFCHR, S.S_IFBLK) else 0)


def do_symlinkat(current: Task, target: Any, dfd: int, name: Any) -> None:
    """symlink(2): an empty target is ENOENT (getname). Linux: fs/namei.c:do_symlinkat(), vfs_symlink()"""
    target = getname(target)
    parent, dentry = filename_create(current, dfd, name)
    dir = parent.dentry.d_inode
    may_create(current, dir, dentry)
    if dir.i_op.symlink is None:
        raise KernelError(E.EPERM)
    dir.i_op.symlink(current, dir, dentry, target)


def do_rmdir(current: Task, dfd: int, name: Any) -> None:
    """rmdir(2).

    Raises (besides the walk's): ENOTEMPTY for "..", EINVAL for ".", EBUSY for "/"; EROFS; ENOENT;
    may_delete()'s; EPERM without ->rmdir; EBUSY for a mountpoint; ENOTEMPTY.

    Linux: fs/namei.c:do_rmdir(), vfs_rmdir()
    """
    nd = filename_parentat_nd(current, dfd, name)
    if nd.last_type == LAST_DOTDOT:
        raise KernelError(E.ENOTEMPTY)
    if nd.last_type == LAST_DOT:
        raise KernelError(E.EINVAL)
    if nd.last_type == LAST_ROOT:
        raise KernelError(E.EBUSY)
    mnt_want_write(nd.path)
    dentry = lookup_one(current, nd.last, nd.path.dentry, 0)
    if dentry.d_inode is None:
        raise KernelError(E.ENOENT)
    dir = nd.path.dentry.d_inode
    may_delete(current, dir, dentry, isdir=True)
    if dir.i_op.rmdir is None:
        raise KernelError(E.EPERM)
    if _is_local_mountpoint(dentry):
        raise KernelError(E.EBUSY)
    dir.i_op.rmdir(current, dir, dentry)
    from simkernel.fs.inode import S_DEAD
    dentry_inode = dentry.d_inode
    if dentry_inode is not None:
        dentry_inode.i_flags |= S_DEAD
    dont_mount(dentry)


def do_unlinkat(current: Task, dfd: int, name: Any) -> None:
    """unlink(2).

    Raises (besides the walk's): EISDIR for ".", ".." or "/"; EROFS; with a trailing slash ENOENT/EISDIR/
    ENOTDIR before any permission check; may_delete()'s; EPERM without ->unlink; EBUSY for a mountpoint.

    Linux: fs/namei.c:do_unlinkat(), vfs_unlink()
    """
    nd = filename_parentat_nd(current, dfd, name)
    if nd.last_type != LAST_NORM:
        raise KernelError(E.EISDIR)
    mnt_want_write(nd.path)
    dentry = lookup_one(current, nd.last, nd.path.dentry, 0)
    if nd.last_slash or dentry.d_inode is None:   # "slashes:"
        if dentry.d_inode is None:
            raise KernelError(E.ENOENT)
        raise KernelError(E.EISDIR if S.S_ISDIR(dentry.d_inode.i_mode) else E.ENOTDIR)
    dir = nd.path.dentry.d_inode
    may_delete(current, dir, dentry, isdir=False)
    if dir.i_op.unlink is None:
        raise KernelError(E.EPERM)
    if _is_local_mountpoint(dentry):
        raise KernelError(E.EBUSY)
    dir.i_op.unlink(current, dir, dentry)
    dont_mount(dentry)


def lock_rename_trap(p1: Dentry, p2: Dentry) -> Dentry | None:
    """lock_rename(p1=new parent, p2=old parent)'s "trap": the child of one parent that is an ancestor of (or
    is) the other parent; None when the parents are the same or unrelated.

    `rename(old, new)` is EINVAL when old is the trap (a directory moved below itself) and ENOTEMPTY when new
    is the trap (the target is an ancestor of the source).

    Linux: fs/namei.c:lock_rename(), lock_two_directories()
    """
    if p1 is p2:
        return None
    p = p1
    while True:
        r = p.d_parent
        if r is p2:
            return p
        if r is p:
            break
        p = r
    q = p2
    while True:
        r = q.d_parent
        if r is p1:
            return q
        if r is q or r is p:
            break
        q = r
    return None


def do_renameat2(current: Task, olddfd: int, oldname: Any, newdfd: int, newname: Any, flags: int) -> None:
    """rename(2) (flags 0 only).

    Raises, in the kernel's order: EXDEV across mounts; EBUSY for "."/".."/"/" on either side; EROFS; ENOENT
    for a missing source; ENOTDIR for a trailing slash on a non-directory source or target; EINVAL moving
    a directory below itself; ENOTEMPTY onto an ancestor of the source; then vfs_rename(): may_delete of
    the source, may_create or may_delete of the target, write permission on a directory that changes parent,
    EBUSY for mountpoints, ENOTEMPTY over a non-empty directory.

    Linux: fs/namei.c:do_renameat2(), vfs_rename()
    """
    if flags:
        raise KernelError(E.EINVAL)
    old_nd = filename_parentat_nd(current, olddfd, oldname)
    new_nd = filename_parentat_nd(current, newdfd, newname)
    old_parent, new_parent = old_nd.path, new_nd.path
    if old_parent.mnt is not new_parent.mnt:
        raise KernelError(E.EXDEV)
    if old_nd.last_type != LAST_NORM or new_nd.last_type != LAST_NORM:
        raise KernelError(E.EBUSY)
    mnt_want_write(old_parent)
    trap = lock_rename_trap(new_parent.dentry, old_parent.dentry)
    old = lookup_one(current, old_nd.last, old_parent.dentry, 0)
    if old.d_inode is None:
        raise KernelError(E.ENOENT)
    new = lookup_one(current, new_nd.last, new_parent.dentry, 0)
    is_dir = S.S_ISDIR(old.d_inode.i_mode)
    if not is_dir and (old_nd.last_slash or new_nd.last_slash):
        raise KernelError(E.ENOTDIR)
    if old is trap:
        raise KernelError(E.EINVAL)
    if new is trap:
        raise KernelError(E.ENOTEMPTY)
    _vfs_rename(current, old_parent.dentry.d_inode, old, new_parent.dentry.d_inode, new)


def _vfs_rename(current: Task, old_dir: Inode, old: Dentry, new_dir: Inode, new: Dentry) -> None:
    """vfs_rename(). Linux: fs/namei.c:vfs_rename()"""
    source, target = old.d_inode, new.d_inode
    if source is target:
        return
    is_dir = S.S_ISDIR(source.i_mode)
    may_delete(current, old_dir, old, is_dir)
    if target is None:
        may_create(current, new_dir, new)
    else:
        may_delete(current, new_dir, new, is_dir)
    if old_dir.i_op.rename is None:
        raise KernelError(E.EPERM)
    if new_dir is not old_dir and is_dir:
        inode_permission(current, source, MAY_WRITE)
    if _is_local_mountpoint(old) or _is_local_mountpoint(new):
        raise KernelError(E.EBUSY)
    old_dir.i_op.rename(current, old_dir, old, new_dir, new)
    if target is not None:
        dont_mount(new)


def may_linkat(current: Task, inode: Inode) -> None:
    """may_linkat(): with fs.protected_hardlinks, link only files you own (or CAP_FOWNER), or regular files
    without set-id-exec bits that you may read and write (safe_hardlink_source()).

    Raises:
        KernelError(EPERM).

    Linux: fs/namei.c:may_linkat(), safe_hardlink_source()
    """
    from simkernel.fs.inode import inode_owner_or_capable
    if not current.kernel.sysctl["fs.protected_hardlinks"]:
        return
    if _safe_hardlink_source(current, inode) or inode_owner_or_capable(current, inode):
        return
    raise KernelError(E.EPERM, "fs.protected_hardlinks: the caller neither owns nor may read+write the source")


def _safe_hardlink_source(current: Task, inode: Inode) -> bool:
    mode = inode.i_mode
    if not S.S_ISREG(mode) or mode & S.S_ISUID or mode & (S.S_ISGID | S.S_IXGRP) == (S.S_ISGID | S.S_IXGRP):
        return False
    try:
        inode_permission(current, inode, MAY_READ | MAY_WRITE)
    except KernelError:
        return False
    return True


def do_linkat(current: Task, olddfd: int, oldname: Any, newdfd: int, newname: Any, flags: int) -> None:
    """link(2)/linkat(2): the source is not followed unless AT_SYMLINK_FOLLOW.

    Raises, in order: EINVAL (flags); ENOENT (AT_EMPTY_PATH without CAP_DAC_READ_SEARCH); the source walk's;
    filename_create()'s; EXDEV (another mount); may_linkat()'s EPERM; may_create()'s; EPERM (append-only or
    immutable source, no ->link, a directory); ENOENT (a source with no links left).

    Linux: fs/namei.c:do_linkat(), vfs_link()
    """
    from simkernel.kernel.capability import capable
    from simkernel.uapi.capability import CAP_DAC_READ_SEARCH
    if flags & ~(F.AT_SYMLINK_FOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL)
    if flags & F.AT_EMPTY_PATH and not capable(current, CAP_DAC_READ_SEARCH):
        raise KernelError(E.ENOENT)
    how = LOOKUP_FOLLOW if flags & F.AT_SYMLINK_FOLLOW else 0
    if flags & F.AT_EMPTY_PATH:
        how |= LOOKUP_EMPTY
    old = filename_lookup(current, olddfd, oldname, how)
    parent, dentry = filename_create(current, newdfd, newname)
    if old.mnt is not parent.mnt:
        raise KernelError(E.EXDEV)
    inode = old.dentry.d_inode
    may_linkat(current, inode)
    dir = parent.dentry.d_inode
    may_create(current, dir, dentry)
    if dir.i_sb is not inode.i_sb:
        raise KernelError(E.EXDEV)
    if inode.i_flags & (S_APPEND | S_IMMUTABLE):
        raise KernelError(E.EPERM)
    if dir.i_op.link is None:
        raise KernelError(E.EPERM)
    if S.S_ISDIR(inode.i_mode):
        raise KernelError(E.EPERM)
    if inode.i_nlink == 0 and not getattr(inode, "i_linkable", False):
        raise KernelError(E.ENOENT)
    dir.i_op.link(current, old.dentry, dir, dentry)
