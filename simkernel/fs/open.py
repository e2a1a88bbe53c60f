"""open(2), close(2) and the attribute-changing calls (ftruncate, chmod, chown, chdir, chroot).

The open flags are decided here (build_open_flags), the walk and the checks of the last component live in
namei_open.py (carved from fs/namei.c), who may change attributes in attr.py (fs/attr.c).

Linux: fs/open.c (build_open_how, build_open_flags, do_sys_openat2, vfs_open, do_dentry_open, do_truncate,
do_sys_ftruncate, chmod_common, chown_common, chdir, fchdir, chroot)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define

from simkernel.errors import KernelError
from simkernel.fs.attr import (ATTR_CTIME, ATTR_GID, ATTR_KILL_SGID, ATTR_KILL_SUID, ATTR_MODE, ATTR_UID, notify_change,
                               setattr_should_drop_sgid)
from simkernel.fs.file import FMODE_PATH, FMODE_WRITE, File, FileOperations
from simkernel.fs.file_table import alloc_file, fput
from simkernel.fs.inode import MAY_APPEND, MAY_CHDIR, MAY_EXEC, MAY_READ, MAY_WRITE, inode_permission
from simkernel.fs.namei import LOOKUP_CREATE, LOOKUP_DIRECTORY, LOOKUP_EMPTY, LOOKUP_EXCL, LOOKUP_FOLLOW, LOOKUP_OPEN, \
    d_can_lookup, filename_lookup
from simkernel.fs.path import Path
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["OpenFlags", "do_sys_open", "sys_close", "do_sys_ftruncate", "do_truncate", "do_fchmodat", "do_fchownat",
           "sys_chdir", "sys_fchdir", "sys_chroot", "build_open_flags", "build_open_how", "vfs_open", "EMPTY_FOPS",
           "mnt_want_write", "chmod_common", "chown_common"]

EMPTY_FOPS = FileOperations()
__O_SYNC = 0o4000000
__O_TMPFILE = F.O_TMPFILE & ~F.O_DIRECTORY
VALID_OPEN_FLAGS = (F.O_RDONLY | F.O_WRONLY | F.O_RDWR | F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC
                    | F.O_APPEND | F.O_NONBLOCK | F.O_DSYNC | 0o20000 | F.O_DIRECT | F.O_LARGEFILE | F.O_DIRECTORY
                    | F.O_NOFOLLOW | F.O_NOATIME | F.O_CLOEXEC | F.O_PATH | __O_SYNC | __O_TMPFILE)
O_PATH_FLAGS = F.O_DIRECTORY | F.O_NOFOLLOW | F.O_PATH | F.O_CLOEXEC



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


def _fput_unopened(f: File) -> None:
    """path_openat()'s fput() of a file whose do_dentry_open() failed: it never got FMODE_OPENED, so the last
    reference frees it without ->release.  Linux: fs/namei.c:path_openat(), fs/file_table.c:__fput()"""
    rt = f.f_inode.i_sb.kernel.ref_tracker
    if rt is not None and not rt.put(f, "file"):
        return
    f.f_count -= 1


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
    try:
        if f.f_mode & FMODE_WRITE and not special:
            mnt_want_write(path)
        if f.f_op.open is not None:
            f.f_op.open(current, inode, f)   # may replace f_op (chrdev_open)
    except KernelError:
        _fput_unopened(f)
        raise
    from simkernel.fs.file import FMODE_CAN_READ, FMODE_CAN_WRITE, FMODE_LSEEK, FMODE_READ
    if f.f_mode & FMODE_READ and f.f_op.read is not None:
        f.f_mode |= FMODE_CAN_READ
    if f.f_mode & FMODE_WRITE and f.f_op.write is not None:
        f.f_mode |= FMODE_CAN_WRITE
    if f.f_op.llseek is None:
        f.f_mode &= ~FMODE_LSEEK
    return f


def do_sys_open(current: Task, dfd: int, name: Any, flags: int, mode: int) -> int:
    """openat(2): the lowest free fd for a new open file description.

    The descriptor is reserved before the walk (get_unused_fd_flags), so a full table is EMFILE whatever
    the path.

    Raises:
        KernelError(EMFILE): no descriptor below RLIMIT_NOFILE is free.   The walk's and may_open's errno.

    Linux: fs/open.c:do_sys_openat2()
    """
    from simkernel.fs.namei_open import do_filp_open
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
    """do_truncate(): set the size through the filesystem's ->setattr (tmpfs frees the pages beyond and growing
    leaves a hole that reads as zeros, so ftruncate(fd, 1 << 40) allocates nothing; without one only i_size
    changes); a task without
    CAP_FSETID loses the file's set-id bits (dentry_needs_remove_privs(), ATTR_FORCE).

    Linux: fs/open.c:do_truncate(), fs/attr.c:notify_change()
    """
    from simkernel.fs.ramfs import file_remove_privs
    inode = dentry.d_inode
    file_remove_privs(current, inode)
    setattr = inode.i_op.setattr
    if setattr is not None:
        setattr(current, dentry, {"size": length})
        return
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


_MOVED_TO_NAMEI_OPEN = ("do_filp_open", "may_open", "vfs_prepare_mode", "mode_strip_sgid")


def __getattr__(name: str) -> Any:
    """Names carved out to namei_open.py (the fs/namei.c part of open) stay importable from here."""
    if name in _MOVED_TO_NAMEI_OPEN:
        from simkernel.fs import namei_open
        return getattr(namei_open, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
