"""Opening a path: the last steps of open(2), carved from fs/namei.c (path_openat and its helpers).

`do_filp_open()` walks with `link_path_walk()` to the last component, `open_last_lookups()` finds or creates
it (following a trailing link unless O_NOFOLLOW), then `do_open()` checks O_EXCL, directories, `may_open()`,
calls `vfs_open()` and truncates — in that order, because the order decides the errno userspace sees:
`open("dir/.", O_CREAT|O_EXCL)` is EEXIST but `open("dir/.", O_CREAT)` is EISDIR, and O_CREAT on an existing
file needs no write permission on its directory.

Linux: fs/namei.c (may_open, may_o_create, may_create_in_sticky, lookup_open, open_last_lookups, do_open,
do_tmpfile, path_openat, do_filp_open, vfs_prepare_mode), fs/inode.c (mode_strip_sgid)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.attr import in_group_or_capable
from simkernel.fs.file import FMODE_PATH, File
from simkernel.fs.file_table import alloc_file
from simkernel.fs.inode import MAY_EXEC, MAY_OPEN, MAY_WRITE, Inode, inode_owner_or_capable, inode_permission
from simkernel.fs.namei import (IS_DEADDIR, LAST_NORM, LOOKUP_DIRECTORY, LOOKUP_FOLLOW, WALK_TRAILING, NameiData,
                                d_can_lookup, getname, handle_dots, link_path_walk, lookup_dcache, lookup_slow,
                                path_init, path_lookupat, step_into)
from simkernel.fs.open import (EMPTY_FOPS, OpenFlags, __O_TMPFILE, _mnt_is_readonly, build_open_flags, do_truncate,
                               mnt_want_write, vfs_open)
from simkernel.fs.path import Path
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["do_filp_open", "may_open", "vfs_prepare_mode", "mode_strip_sgid"]


def mode_strip_sgid(current: Task, dir: Inode, mode: int) -> int:
    """mode_strip_sgid(): a new group-executable set-gid file in a set-gid directory keeps S_ISGID only if the
    creator is in the directory's group (or has CAP_FSETID).  Linux: fs/inode.c:mode_strip_sgid()
    """
    if mode & (S.S_ISGID | S.S_IXGRP) != (S.S_ISGID | S.S_IXGRP):
        return mode
    if S.S_ISDIR(mode) or not dir.i_mode & S.S_ISGID:
        return mode
    if in_group_or_capable(current, dir, dir.i_gid):
        return mode
    return mode & ~S.S_ISGID


def vfs_prepare_mode(current: Task, dir: Inode, mode: int, mask_perms: int, type_: int) -> int:
    """vfs_prepare_mode(): strip S_ISGID as mode_strip_sgid() says, then the umask, then the allowed bits.

    Linux: fs/namei.c:vfs_prepare_mode()
    """
    mode = mode_strip_sgid(current, dir, mode)
    mode &= ~current.fs.umask
    mode &= mask_perms & ~S.S_IFMT
    return mode | (type_ & S.S_IFMT)


def may_open(current: Task, path: Path, acc_mode: int, flag: int) -> None:
    """may_open(): the file type rules, then inode_permission(MAY_OPEN | access).

    Raises:
        KernelError(ELOOP): a symlink (O_NOFOLLOW on a link).  KernelError(EISDIR): a directory for write.
        KernelError(EACCES): exec of a directory/device, a device on a nodev mount, permission.
        KernelError(EPERM): O_NOATIME by a non-owner.

    Linux: fs/namei.c:may_open()
    """
    from simkernel.fs.mount import MNT_NODEV, MNT_NOEXEC
    inode = path.dentry.d_inode
    if inode is None:
        raise KernelError(E.ENOENT, "may_open: the file does not exist")
    fmt = inode.i_mode & S.S_IFMT
    if fmt == S.S_IFLNK:
        raise KernelError(E.ELOOP, "may_open: the last component is a symlink (O_NOFOLLOW)")
    if fmt == S.S_IFDIR:
        if acc_mode & MAY_WRITE:
            raise KernelError(E.EISDIR, "may_open: a directory cannot be opened for writing")
        if acc_mode & MAY_EXEC:
            raise KernelError(E.EACCES, "may_open: a directory cannot be opened for execution")
    elif fmt in (S.S_IFBLK, S.S_IFCHR, S.S_IFIFO, S.S_IFSOCK):
        if fmt in (S.S_IFBLK, S.S_IFCHR) and path.mnt.mnt_flags & MNT_NODEV:
            raise KernelError(E.EACCES, "may_open: a device node on a nodev mount")
        if acc_mode & MAY_EXEC:
            raise KernelError(E.EACCES, "may_open: a device, FIFO or socket cannot be opened for execution")
    elif fmt == S.S_IFREG:
        if acc_mode & MAY_EXEC and path.mnt.mnt_flags & MNT_NOEXEC:
            raise KernelError(E.EACCES, "may_open: execution from a noexec mount")
    inode_permission(current, inode, MAY_OPEN | acc_mode)
    if flag & F.O_NOATIME and not inode_owner_or_capable(current, inode):
        raise KernelError(E.EPERM, "may_open: O_NOATIME by a caller that neither owns the file nor has CAP_FOWNER")


def _may_o_create(current: Task, dir: Path) -> None:
    """may_o_create(): write and search permission on the directory. Linux: fs/namei.c"""
    inode_permission(current, dir.dentry.d_inode, MAY_WRITE | MAY_EXEC)


def _may_create_in_sticky(nd: NameiData, inode: Inode) -> None:
    """may_create_in_sticky(): fs.protected_regular / fs.protected_fifos forbid O_CREAT on an existing file of
    another user in a sticky directory (world-writable; group-writable too at level 2).

    Raises:
        KernelError(EACCES).

    Linux: fs/namei.c:may_create_in_sticky()
    """
    sysctl = nd.current.kernel.sysctl
    fifos, regular = sysctl["fs.protected_fifos"], sysctl["fs.protected_regular"]
    fifo = inode.i_mode & S.S_IFMT == S.S_IFIFO
    if ((not fifos and fifo) or (not regular and S.S_ISREG(inode.i_mode))
            or not nd.dir_mode & S.S_ISVTX or inode.i_uid == nd.dir_uid or inode.i_uid == nd.current.cred.fsuid):
        return
    if nd.dir_mode & 0o002 or (nd.dir_mode & 0o020 and ((fifos >= 2 and fifo)
                                                         or (regular >= 2 and S.S_ISREG(inode.i_mode)))):
        raise KernelError(E.EACCES, "fs.protected_regular/fifos: O_CREAT of another user's file in a sticky dir")


def _lookup_open(current: Task, nd: NameiData, op: OpenFlags, got_write: bool) -> tuple[Any, bool]:
    """lookup_open(): find the last component, creating it for O_CREAT; returns (dentry, created).

    The permission to create is decided before the filesystem's ->lookup runs, but reported only when the
    name turns out not to exist: O_CREAT on an existing file needs no write permission on its directory.

    Linux: fs/namei.c:lookup_open()
    """
    dir = nd.path.dentry
    dir_inode = dir.d_inode
    if IS_DEADDIR(dir_inode):
        raise KernelError(E.ENOENT, "open: the directory was removed")
    dentry = lookup_dcache(current, nd.last, dir, nd.flags)
    if dentry is not None and dentry.d_inode is not None:
        return dentry, False
    open_flag = op.open_flag
    mode = op.mode
    create_error: KernelError | None = None
    if open_flag & F.O_CREAT:
        mode = vfs_prepare_mode(current, dir_inode, mode, mode, mode)
        if got_write:
            try:
                _may_o_create(current, nd.path)
            except KernelError as err:
                create_error = err
        else:
            create_error = KernelError(E.EROFS, "O_CREAT on a read-only mount or filesystem")
    if create_error is not None:
        open_flag &= ~F.O_CREAT
    if dentry is None:
        dentry = lookup_slow(current, nd.last, dir, nd.flags)
    if dentry.d_inode is None and open_flag & F.O_CREAT:
        if dir_inode.i_op.create is None:
            raise KernelError(E.EACCES, "O_CREAT: the filesystem cannot create files here (no ->create)")
        dir_inode.i_op.create(current, dir_inode, dentry, mode)
        return dentry, True
    if create_error is not None and dentry.d_inode is None:
        raise create_error
    return dentry, False


def _open_last_lookups(current: Task, nd: NameiData, op: OpenFlags) -> tuple[str | None, bool]:
    """open_last_lookups(): the last component of an open; returns (link body to walk next, created).

    Raises:
        KernelError(EISDIR): O_CREAT with a trailing slash.   lookup_open()'s and step_into()'s errors.

    Linux: fs/namei.c:open_last_lookups()
    """
    nd.flags |= op.intent
    if nd.last_type != LAST_NORM:
        handle_dots(nd, nd.last_type)
        return None, False
    if not op.open_flag & F.O_CREAT:
        if nd.last_slash:
            nd.flags |= LOOKUP_FOLLOW | LOOKUP_DIRECTORY
        dentry = lookup_dcache(current, nd.last, nd.path.dentry, nd.flags)
        if dentry is not None:
            return step_into(nd, WALK_TRAILING, dentry), False
    elif nd.last_slash:
        raise KernelError(E.EISDIR, "open: a trailing slash names a directory")
    got_write = False
    if op.open_flag & (F.O_CREAT | F.O_TRUNC | F.O_WRONLY | F.O_RDWR):
        got_write = not _mnt_is_readonly(nd.path)
    dentry, created = _lookup_open(current, nd, op, got_write)
    if created:
        nd.path = Path(nd.path.mnt, dentry)
        return None, True
    return step_into(nd, WALK_TRAILING, dentry), False


def _do_open(current: Task, nd: NameiData, op: OpenFlags, created: bool) -> File:
    """do_open(): O_EXCL/EISDIR/ENOTDIR, may_open(), vfs_open(), then O_TRUNC.

    Linux: fs/namei.c:do_open(), handle_truncate()
    """
    open_flag = op.open_flag
    path = nd.path
    inode = path.dentry.d_inode
    if open_flag & F.O_CREAT:
        if open_flag & F.O_EXCL and not created:
            raise KernelError(E.EEXIST, "O_CREAT|O_EXCL: the file exists")
        if S.S_ISDIR(inode.i_mode):
            raise KernelError(E.EISDIR, "O_CREAT on a directory")
        _may_create_in_sticky(nd, inode)
    if nd.flags & LOOKUP_DIRECTORY and not d_can_lookup(path.dentry):
        raise KernelError(E.ENOTDIR, "O_DIRECTORY: not a directory")
    truncate = False
    acc_mode = op.acc_mode
    if created:
        open_flag &= ~F.O_TRUNC
        acc_mode = 0
    elif S.S_ISREG(inode.i_mode) and open_flag & F.O_TRUNC:
        mnt_want_write(path)
        truncate = True
    may_open(current, path, acc_mode, open_flag)
    f = vfs_open(current, path, open_flag)
    if truncate:
        do_truncate(current, path.dentry, 0)
    return f


def _do_tmpfile(current: Task, nd: NameiData, name: str, op: OpenFlags) -> File:
    """do_tmpfile()/vfs_tmpfile(): an unnamed regular file in a directory (O_TMPFILE).

    Raises:
        KernelError(EACCES): no write+search permission on the directory.
        KernelError(EOPNOTSUPP): the filesystem has no ->tmpfile.

    Linux: fs/namei.c:do_tmpfile(), vfs_tmpfile()
    """
    nd.flags |= LOOKUP_DIRECTORY
    path = path_lookupat(nd, name)
    mnt_want_write(path)
    dir = path.dentry.d_inode
    inode_permission(current, dir, MAY_WRITE | MAY_EXEC)
    tmpfile = getattr(dir.i_op, "tmpfile", None)
    if tmpfile is None:
        raise KernelError(E.EOPNOTSUPP, "O_TMPFILE: the filesystem has no ->tmpfile")
    mode = vfs_prepare_mode(current, dir, op.mode, op.mode, op.mode)
    dentry = tmpfile(current, dir, path.dentry, mode, linkable=not op.open_flag & F.O_EXCL)
    fpath = Path(path.mnt, dentry)
    may_open(current, fpath, 0, op.open_flag)
    return vfs_open(current, fpath, op.open_flag)


def do_filp_open(current: Task, dfd: int, name: Any, flags: int, mode: int) -> File:
    """do_filp_open()/path_openat(): walk, find or create, check, open.

    Linux: fs/namei.c:path_openat(), do_o_path(), do_tmpfile(); fs/open.c:vfs_open()
    """
    op = build_open_flags(flags, mode)
    if current.fail_nth and should_fail(current, "alloc", "getname"):
        raise KernelError(E.ENOMEM, "getname(): no memory for the path name (fail-nth)")
    name = getname(name)
    if current.fail_nth and should_fail(current, "alloc", "alloc_empty_file"):   # path_openat(), before the walk
        raise KernelError(E.ENOMEM, "alloc_empty_file(): no memory for the struct file (fail-nth)")
    nd = path_init(current, dfd, name, op.lookup_flags)
    if op.open_flag & __O_TMPFILE:
        return _do_tmpfile(current, nd, name, op)
    if op.open_flag & F.O_PATH:
        path = path_lookupat(nd, name)
        f = alloc_file(path, op.open_flag, EMPTY_FOPS, current)
        f.f_mode = FMODE_PATH
        return f
    s: str | None = name
    created = False
    while s is not None:
        link_path_walk(nd, s)
        s, created = _open_last_lookups(current, nd, op)
    return _do_open(current, nd, op, created)
