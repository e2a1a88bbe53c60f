"""open(2), close(2) and the attribute-changing calls (ftruncate, chmod, chown, chdir, chroot).

open follows fs/namei.c:path_openat(): `link_path_walk()` to the last component, `open_last_lookups()`
(find or create it, follow a trailing link unless O_NOFOLLOW), then `do_open()` (O_EXCL, directory checks,
`may_open()`, `vfs_open()`, truncation) — in that order, because the order decides the errno userspace sees:
`open("dir/.", O_CREAT|O_EXCL)` is EEXIST but `open("dir/.", O_CREAT)` is EISDIR.

Linux: fs/open.c, fs/namei.c (path_openat, open_last_lookups, lookup_open, do_open, may_open),
fs/attr.c (setattr_prepare, notify_change)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define

from simkernel.errors import KernelError
from simkernel.fs.file import FMODE_PATH, FMODE_WRITE, File, FileOperations
from simkernel.fs.file_table import alloc_file, fput
from simkernel.fs.inode import (MAY_APPEND, MAY_CHDIR, MAY_EXEC, MAY_OPEN, MAY_READ, MAY_WRITE, Inode,
                                inode_owner_or_capable, inode_permission)
from simkernel.fs.namei import (IS_DEADDIR, LAST_NORM, LOOKUP_CREATE, LOOKUP_DIRECTORY, LOOKUP_EMPTY, LOOKUP_EXCL,
                                LOOKUP_FOLLOW, LOOKUP_OPEN, WALK_TRAILING, NameiData, d_can_lookup, filename_lookup,
                                getname, handle_dots, link_path_walk, lookup_dcache, lookup_slow, path_init,
                                path_lookupat, step_into)
from simkernel.fs.path import Path
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["OpenFlags", "do_sys_open", "do_filp_open", "may_open", "sys_close", "do_sys_ftruncate", "do_truncate",
           "do_fchmodat", "do_fchownat", "sys_chdir", "sys_fchdir", "sys_chroot", "build_open_flags",
           "build_open_how", "vfs_prepare_mode", "mode_strip_sgid", "in_group_or_capable",
           "setattr_should_drop_sgid", "notify_change", "EMPTY_FOPS", "mnt_want_write"]

EMPTY_FOPS = FileOperations()
__O_SYNC = 0o4000000
__O_TMPFILE = F.O_TMPFILE & ~F.O_DIRECTORY
VALID_OPEN_FLAGS = (F.O_RDONLY | F.O_WRONLY | F.O_RDWR | F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC
                    | F.O_APPEND | F.O_NONBLOCK | F.O_DSYNC | 0o20000 | F.O_DIRECT | F.O_LARGEFILE | F.O_DIRECTORY
                    | F.O_NOFOLLOW | F.O_NOATIME | F.O_CLOEXEC | F.O_PATH | __O_SYNC | __O_TMPFILE)
O_PATH_FLAGS = F.O_DIRECTORY | F.O_NOFOLLOW | F.O_PATH | F.O_CLOEXEC

# struct iattr ia_valid bits (include/linux/fs.h)
ATTR_MODE, ATTR_UID, ATTR_GID, ATTR_SIZE = 1, 2, 4, 8
ATTR_CTIME, ATTR_FORCE, ATTR_KILL_SUID, ATTR_KILL_SGID = 64, 512, 2048, 4096


def mnt_want_write(path: Path) -> None:
    """mnt_want_write(): EROFS on a read-only mount or superblock. Linux: fs/namespace.c"""
    from simkernel.fs.inode import SB_RDONLY
    from simkernel.fs.mount import MNT_READONLY
    if path.mnt.mnt_flags & MNT_READONLY or path.mnt.mnt_sb.s_flags & SB_RDONLY:
        raise KernelError(E.EROFS, "mnt_want_write: the mount or filesystem is read-only")


def _mnt_is_readonly(path: Path) -> bool:
    try:
        mnt_want_write(path)
    except KernelError:
        return True
    return False


@define(frozen=True)
class OpenFlags:
    """struct open_flags: what build_open_flags() decided (fs/internal.h)."""

    open_flag: int
    mode: int
    acc_mode: int
    intent: int
    lookup_flags: int


def build_open_how(flags: int, mode: int) -> tuple[int, int]:
    """build_open_how(): open(2)/openat(2) silently drop unknown flags, and every flag but O_PATH_FLAGS
    from an O_PATH open (so O_PATH|O_CREAT|O_DIRECTORY is not EINVAL).  Linux: fs/open.c
    """
    flags &= VALID_OPEN_FLAGS
    mode &= S.S_IALLUGO
    if flags & F.O_PATH:
        flags &= O_PATH_FLAGS
    if not flags & (F.O_CREAT | __O_TMPFILE):
        mode = 0
    return flags, mode


def build_open_flags(flags: int, mode: int) -> OpenFlags:
    """build_open_flags(): the open intent, access mode and lookup flags of an open(2).

    Raises:
        KernelError(EINVAL): O_CREAT|O_DIRECTORY (since v6.4, commit 43b450632676), O_TMPFILE without
            O_DIRECTORY or without write access.

    Linux: fs/open.c:build_open_flags()
    """
    flags, mode = build_open_how(flags, mode)
    acc_mode = (MAY_READ, MAY_WRITE, MAY_READ | MAY_WRITE, MAY_READ | MAY_WRITE)[flags & F.O_ACCMODE]
    flags &= ~F.O_CLOEXEC
    if flags & (F.O_CREAT | __O_TMPFILE):
        mode = mode | S.S_IFREG
    if flags & (F.O_DIRECTORY | F.O_CREAT) == F.O_DIRECTORY | F.O_CREAT:
        raise KernelError(E.EINVAL, "O_CREAT|O_DIRECTORY is invalid since v6.4")
    if flags & __O_TMPFILE:
        if not flags & F.O_DIRECTORY or not acc_mode & MAY_WRITE:
            raise KernelError(E.EINVAL, "O_TMPFILE needs O_DIRECTORY and write access")
    if flags & F.O_PATH:
        acc_mode = 0
    if flags & __O_SYNC:
        flags |= F.O_DSYNC
    open_flag = flags
    if flags & F.O_TRUNC:
        acc_mode |= MAY_WRITE
    if flags & F.O_APPEND:
        acc_mode |= MAY_APPEND
    intent = 0 if flags & F.O_PATH else LOOKUP_OPEN
    if flags & F.O_CREAT:
        intent |= LOOKUP_CREATE
        if flags & F.O_EXCL:
            intent |= LOOKUP_EXCL
            flags |= F.O_NOFOLLOW
    lookup = LOOKUP_DIRECTORY if flags & F.O_DIRECTORY else 0
    if not flags & F.O_NOFOLLOW:
        lookup |= LOOKUP_FOLLOW
    return OpenFlags(open_flag=open_flag, mode=mode, acc_mode=acc_mode, intent=intent, lookup_flags=lookup)


def in_group_or_capable(current: Task, inode: Inode, gid: int) -> bool:
    """in_group_or_capable(): a member of `gid`, or CAP_FSETID over the inode. Linux: fs/inode.c"""
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.uapi.capability import CAP_FSETID
    return current.cred.in_group_p(gid) or capable_wrt_inode_uidgid(current, inode, CAP_FSETID)


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


def vfs_open(current: Task, path: Path, flags: int) -> File:
    """vfs_open()/do_dentry_open(): a struct file; write access needs a writable mount; ->open runs.

    Raises:
        KernelError(EROFS): FMODE_WRITE on a read-only mount (not for devices, fifos, sockets).
        Whatever the file's ->open raises.

    Linux: fs/open.c:vfs_open(), do_dentry_open()
    """
    inode = path.dentry.d_inode
    f = alloc_file(path, flags & ~(F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC), None, current)
    special = inode.i_mode & S.S_IFMT in (S.S_IFCHR, S.S_IFBLK, S.S_IFIFO, S.S_IFSOCK)
    if f.f_mode & FMODE_WRITE and not special:
        mnt_want_write(path)
    if f.f_op.open is not None:
        f.f_op.open(current, inode, f)   # may replace f_op (chrdev_open)
    from simkernel.fs.file import FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_LSEEK, FMODE_READ
    if f.f_mode & FMODE_READ and f.f_op.read is not None:
        f.f_mode |= FMODE_CAN_READ
    if f.f_mode & FMODE_WRITE and f.f_op.write is not None:
        f.f_mode |= FMODE_CAN_WRITE
    if f.f_op.llseek is None:
        f.f_mode &= ~FMODE_LSEEK
    return f


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
    name = getname(name)
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


def do_sys_open(current: Task, dfd: int, name: Any, flags: int, mode: int) -> int:
    """openat(2): the lowest free fd for a new open file description.

    The descriptor is reserved before the walk (get_unused_fd_flags), so a full table is EMFILE whatever
    the path.

    Raises:
        KernelError(EMFILE): no descriptor below RLIMIT_NOFILE is free.   The walk's and may_open's errno.

    Linux: fs/open.c:do_sys_openat2()
    """
    fd = current.files.get_unused_fd()
    f = do_filp_open(current, dfd, name, flags, mode)
    return current.files.alloc_fd(f, cloexec=bool(flags & F.O_CLOEXEC), start=fd)


def sys_close(current: Task, fd: int) -> None:
    """close(2). Raises KernelError(EBADF) for a closed fd. Linux: fs/open.c"""
    f = current.files.close_fd(fd)
    if f is None:
        raise KernelError(E.EBADF, f"close: descriptor {fd} is not open")
    fput(f)


def do_truncate(current: Task, dentry: Any, length: int) -> None:
    """do_truncate(): set the size through the filesystem's ->setattr (else bytes are cut or zero-extended);
    a task without CAP_FSETID loses the file's set-id bits (dentry_needs_remove_privs(), ATTR_FORCE).

    Linux: fs/open.c:do_truncate(), fs/attr.c:notify_change()
    """
    from simkernel.fs.ramfs import file_remove_privs
    inode = dentry.d_inode
    file_remove_privs(current, inode)
    setattr = inode.i_op.setattr
    if setattr is not None:
        setattr(current, dentry, {"size": length})
        return
    if inode.i_data is not None:
        if length < len(inode.i_data):
            del inode.i_data[length:]
        else:
            inode.i_data.extend(bytes(length - len(inode.i_data)))
    inode.i_size = length
    now = inode.i_sb.kernel.current_time()
    inode.i_mtime = inode.i_ctime = now


def do_sys_ftruncate(current: Task, fd: int, length: int) -> None:
    """ftruncate(2).

    Raises:
        KernelError(EINVAL): negative length, not a regular file, or not open for writing.
        KernelError(EBADF): closed fd (or O_PATH).
        KernelError(EPERM): an append-only *inode* (chattr +a); an O_APPEND descriptor may truncate.

    Linux: fs/open.c:do_sys_ftruncate()
    """
    from simkernel.fs.inode import S_APPEND
    if length < 0:
        raise KernelError(E.EINVAL)
    f = current.files.fget(fd)
    if f is None or f.f_mode & FMODE_PATH:
        raise KernelError(E.EBADF)
    if not S.S_ISREG(f.f_inode.i_mode) or not f.f_mode & FMODE_WRITE:
        raise KernelError(E.EINVAL)
    if f.f_inode.i_flags & S_APPEND:
        raise KernelError(E.EPERM)
    do_truncate(current, f.f_path.dentry, length)


def setattr_should_drop_sgid(current: Task, inode: Inode) -> bool:
    """setattr_should_drop_sgid(): S_ISGID goes on a chown when the file is group-executable, or when the
    caller is neither in the file's group nor has CAP_FSETID.  Linux: fs/attr.c (since v6.2)
    """
    mode = inode.i_mode
    if not mode & S.S_ISGID:
        return False
    if mode & S.S_IXGRP:
        return True
    return not in_group_or_capable(current, inode, inode.i_gid)


def notify_change(current: Task, dentry: Any, valid: int, mode: int = 0, uid: int = -1, gid: int = -1) -> None:
    """notify_change() + setattr_prepare() + setattr_copy(): change mode/owner with the kernel's checks.

    ATTR_KILL_SUID/ATTR_KILL_SGID become a mode change first, so a caller that may not chmod the file cannot
    make a chown that has to clear a set-id bit.

    Raises:
        KernelError(EPERM): chown_ok()/chgrp_ok() fail, or a mode change by a non-owner without CAP_FOWNER.

    Linux: fs/attr.c:notify_change(), setattr_prepare(), chown_ok(), chgrp_ok(), setattr_copy()
    """
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.uapi.capability import CAP_CHOWN
    inode = dentry.d_inode
    cur_mode = inode.i_mode
    if valid & ATTR_KILL_SUID and cur_mode & S.S_ISUID:
        valid |= ATTR_MODE
        mode = cur_mode & ~S.S_ISUID
    if valid & ATTR_KILL_SGID and cur_mode & S.S_ISGID:
        if not valid & ATTR_MODE:
            valid |= ATTR_MODE
            mode = cur_mode
        mode &= ~S.S_ISGID
    if not valid & ~(ATTR_KILL_SUID | ATTR_KILL_SGID):
        return
    fsuid = current.cred.fsuid
    if not valid & ATTR_FORCE:
        if valid & ATTR_UID and not ((fsuid == inode.i_uid and uid == inode.i_uid)
                                     or capable_wrt_inode_uidgid(current, inode, CAP_CHOWN)):
            raise KernelError(E.EPERM, "chown_ok(): changing the owner needs CAP_CHOWN")
        if valid & ATTR_GID and not ((fsuid == inode.i_uid and (gid == inode.i_gid or current.cred.in_group_p(gid)))
                                     or capable_wrt_inode_uidgid(current, inode, CAP_CHOWN)):
            raise KernelError(E.EPERM, "chgrp_ok(): the owner may pick only one of its groups; else CAP_CHOWN")
        if valid & ATTR_MODE:
            if not inode_owner_or_capable(current, inode):
                raise KernelError(E.EPERM, "setattr_prepare(): a mode change needs ownership or CAP_FOWNER")
            if not in_group_or_capable(current, inode, gid if valid & ATTR_GID else inode.i_gid):
                mode &= ~S.S_ISGID
    attrs: dict[str, int] = {}
    if valid & ATTR_UID:
        attrs["uid"] = uid
    if valid & ATTR_GID:
        attrs["gid"] = gid
    if valid & ATTR_MODE:
        if not in_group_or_capable(current, inode, gid if valid & ATTR_GID else inode.i_gid):   # setattr_copy_mode()
            mode &= ~S.S_ISGID
        attrs["mode"] = (inode.i_mode & S.S_IFMT) | (mode & ~S.S_IFMT)
    setattr_op = inode.i_op.setattr
    if setattr_op is not None:   # procfs refuses mode changes here (proc_setattr: EPERM)
        setattr_op(current, dentry, attrs)
    else:   # simple_setattr() -> setattr_copy()
        for key, value in attrs.items():
            setattr(inode, f"i_{key}", value)
    inode.i_ctime = inode.i_sb.kernel.current_time()


def chmod_common(current: Task, path: Path, mode: int) -> None:
    """chmod_common(): mnt_want_write, then notify_change(ATTR_MODE). Linux: fs/open.c"""
    mnt_want_write(path)
    inode = path.dentry.d_inode
    notify_change(current, path.dentry, ATTR_MODE | ATTR_CTIME,
                  mode=(mode & S.S_IALLUGO) | (inode.i_mode & ~S.S_IALLUGO))


def do_fchmodat(current: Task, dfd: int, name: Any, mode: int) -> None:
    """chmod(2): only the owner or CAP_FOWNER; S_ISGID is cleared for a non-member without CAP_FSETID.

    Linux: fs/open.c:do_fchmodat(), chmod_common(); fs/attr.c:setattr_prepare()
    """
    path = filename_lookup(current, dfd, name, LOOKUP_FOLLOW)
    chmod_common(current, path, mode)


def chown_common(current: Task, path: Path, uid: int, gid: int) -> None:
    """chown_common(): ids in the caller's user namespace (-1 = unchanged); non-directories lose S_ISUID and,
    per setattr_should_drop_sgid(), S_ISGID.

    Raises:
        KernelError(EINVAL): an id with no mapping.   notify_change()'s EPERM.

    Linux: fs/open.c:chown_common()
    """
    from simkernel.kernel.user_namespace import INVALID_UID, make_kgid, make_kuid
    ns = current.cred.user_ns
    valid = ATTR_CTIME
    kuid = kgid = -1
    if uid not in (-1, 0xFFFFFFFF):
        kuid = make_kuid(ns, uid)
        if kuid == INVALID_UID:
            raise KernelError(E.EINVAL)
        valid |= ATTR_UID
    if gid not in (-1, 0xFFFFFFFF):
        kgid = make_kgid(ns, gid)
        if kgid == INVALID_UID:
            raise KernelError(E.EINVAL)
        valid |= ATTR_GID
    inode = path.dentry.d_inode
    if not S.S_ISDIR(inode.i_mode):
        valid |= ATTR_KILL_SUID
        if setattr_should_drop_sgid(current, inode):
            valid |= ATTR_KILL_SGID
    notify_change(current, path.dentry, valid, uid=kuid, gid=kgid)


def do_fchownat(current: Task, dfd: int, name: Any, uid: int, gid: int, flag: int) -> None:
    """fchownat(2): the owner may change the group to one of its own; anything else needs CAP_CHOWN.

    Raises:
        KernelError(EINVAL): unknown flags, unmapped ids.   KernelError(EROFS).   KernelError(EPERM).

    Linux: fs/open.c:do_fchownat(), chown_common(); fs/attr.c:chown_ok(), chgrp_ok()
    """
    if flag & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL)
    lookup = 0 if flag & F.AT_SYMLINK_NOFOLLOW else LOOKUP_FOLLOW
    if flag & F.AT_EMPTY_PATH:
        lookup |= LOOKUP_EMPTY
    path = filename_lookup(current, dfd, name, lookup)
    mnt_want_write(path)
    chown_common(current, path, uid, gid)


def sys_chdir(current: Task, name: Any) -> None:
    """chdir(2): a directory the caller may search. Linux: fs/open.c"""
    path = filename_lookup(current, F.AT_FDCWD, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY)
    inode_permission(current, path.dentry.d_inode, MAY_EXEC | MAY_CHDIR)
    current.fs.pwd = path


def sys_fchdir(current: Task, fd: int) -> None:
    """fchdir(2): O_PATH descriptors too. Raises EBADF, ENOTDIR, EACCES. Linux: fs/open.c"""
    f = current.files.fget(fd)
    if f is None:
        raise KernelError(E.EBADF, f"fchdir: descriptor {fd} is not open")
    if not d_can_lookup(f.f_path.dentry):
        raise KernelError(E.ENOTDIR, f"fchdir: descriptor {fd} is not a directory")
    inode_permission(current, f.f_inode, MAY_EXEC | MAY_CHDIR)
    current.fs.pwd = f.f_path


def sys_chroot(current: Task, name: Any) -> None:
    """chroot(2): search permission, then CAP_SYS_CHROOT in the caller's user namespace.

    Linux: fs/open.c:SYSCALL_DEFINE1(chroot)
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.uapi.capability import CAP_SYS_CHROOT
    path = filename_lookup(current, F.AT_FDCWD, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY)
    inode_permission(current, path.dentry.d_inode, MAY_EXEC | MAY_CHDIR)
    if not ns_capable(current, current.cred.user_ns, CAP_SYS_CHROOT):
        raise KernelError(E.EPERM, "chroot needs CAP_SYS_CHROOT")
    current.fs.root = path
