"""open(2), close(2) and the attribute-changing calls (ftruncate, chmod, chown, chdir, chroot).

Linux: fs/open.c, fs/namei.c (path_openat, do_open, may_open), fs/attr.c (setattr_prepare)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.file import FMODE_PATH, FMODE_WRITE, File, FileOperations
from simkernel.fs.file_table import alloc_file, fput
from simkernel.fs.inode import (MAY_APPEND, MAY_CHDIR, MAY_EXEC, MAY_OPEN, MAY_READ, MAY_WRITE,
                                inode_owner_or_capable, inode_permission)
from simkernel.fs.namei import (LAST_NORM, LOOKUP_DIRECTORY, LOOKUP_FOLLOW, NameiData,
                                filename_lookup, getname, link_path_walk, lookup_one, path_init,
                                walk_component, follow_dotdot)
from simkernel.fs.path import Path
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["do_sys_open", "do_filp_open", "may_open", "sys_close", "do_sys_ftruncate", "do_truncate",
           "do_fchmodat", "do_fchownat", "sys_chdir", "sys_fchdir", "sys_chroot", "build_open_flags", "EMPTY_FOPS"]

EMPTY_FOPS = FileOperations()
_VALID_OPEN_FLAGS = (F.O_RDONLY | F.O_WRONLY | F.O_RDWR | F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC
                     | F.O_APPEND | F.O_NONBLOCK | F.O_DSYNC | 0o4010000 | F.O_DIRECT | F.O_LARGEFILE
                     | F.O_DIRECTORY | F.O_NOFOLLOW | F.O_NOATIME | F.O_CLOEXEC | F.O_PATH | F.O_TMPFILE | 0o20000)
_O_PATH_FLAGS = F.O_DIRECTORY | F.O_NOFOLLOW | F.O_PATH | F.O_CLOEXEC


def build_open_flags(flags: int, mode: int) -> tuple[int, int, int, int]:
    """build_open_flags(): (open flags, create mode, acc_mode, lookup flags).

    Raises:
        KernelError(EINVAL): O_CREAT|O_DIRECTORY (since v6.4), O_TMPFILE without write access.

    Linux: fs/open.c:build_open_flags()
    """
    flags &= _VALID_OPEN_FLAGS
    if flags & (F.O_CREAT | (F.O_TMPFILE & ~F.O_DIRECTORY)):
        mode = (mode & S.S_IALLUGO) | S.S_IFREG
    else:
        mode = 0
    if flags & F.O_CREAT and flags & F.O_DIRECTORY and not flags & (F.O_TMPFILE & ~F.O_DIRECTORY):
        raise KernelError(E.EINVAL)
    if flags & F.O_PATH:
        flags &= _O_PATH_FLAGS
        acc_mode = 0
    else:
        acc_mode = MAY_OPEN | (MAY_READ, MAY_WRITE, MAY_READ | MAY_WRITE, MAY_READ | MAY_WRITE)[flags & F.O_ACCMODE]
        if flags & F.O_TRUNC:
            acc_mode |= MAY_WRITE
        if flags & F.O_APPEND:
            acc_mode |= MAY_APPEND
    lookup = 0
    if flags & F.O_DIRECTORY:
        lookup |= LOOKUP_DIRECTORY
    if flags & F.O_CREAT and flags & F.O_EXCL:
        flags |= F.O_NOFOLLOW
    if not flags & F.O_NOFOLLOW:
        lookup |= LOOKUP_FOLLOW
    return flags, mode, acc_mode, lookup


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
        raise KernelError(E.ENOENT)
    fmt = inode.i_mode & S.S_IFMT
    if fmt == S.S_IFLNK:
        raise KernelError(E.ELOOP)
    if fmt == S.S_IFDIR:
        if acc_mode & MAY_WRITE:
            raise KernelError(E.EISDIR)
        if acc_mode & MAY_EXEC:
            raise KernelError(E.EACCES)
    elif fmt in (S.S_IFBLK, S.S_IFCHR, S.S_IFIFO, S.S_IFSOCK):
        if fmt in (S.S_IFBLK, S.S_IFCHR) and path.mnt.mnt_flags & MNT_NODEV:
            raise KernelError(E.EACCES)
        if acc_mode & MAY_EXEC:
            raise KernelError(E.EACCES)
    elif fmt == S.S_IFREG:
        if acc_mode & MAY_EXEC and path.mnt.mnt_flags & MNT_NOEXEC:
            raise KernelError(E.EACCES)
    inode_permission(current, inode, MAY_OPEN | acc_mode)
    if flag & F.O_NOATIME and not inode_owner_or_capable(current, inode):
        raise KernelError(E.EPERM)


def _open_last(current: Task, nd: NameiData, last: str, flags: int, mode: int, trailing_slash: bool) -> bool:
    """open_last_lookups(): find or create the last component; returns True if it was created.

    Linux: fs/namei.c:open_last_lookups(), lookup_open()
    """
    from simkernel.fs.namei_ops import may_create, _mnt_want_write
    while True:
        if nd.last_type != LAST_NORM:
            if nd.last_type == 3:
                follow_dotdot(nd)
            if flags & F.O_CREAT:
                raise KernelError(E.EISDIR)
            return False
        if flags & F.O_CREAT:
            dentry = lookup_one(current, last, nd.path.dentry, 0)
            if dentry.d_inode is None:
                if trailing_slash:
                    raise KernelError(E.EISDIR)
                dir = nd.path.dentry.d_inode
                _mnt_want_write(nd.path)
                may_create(current, dir, dentry)
                if dir.i_op.create is None:
                    raise KernelError(E.EACCES)
                dir.i_op.create(current, dir, dentry, mode & ~current.fs.umask | S.S_IFREG)
                nd.path = Path(nd.path.mnt, dentry)
                return True
            if flags & F.O_EXCL:
                raise KernelError(E.EEXIST)
        follow = bool(nd.flags & LOOKUP_FOLLOW) or trailing_slash
        body = walk_component(nd, last, follow=follow)
        if body is None:
            return False
        trailing_slash = trailing_slash or body.endswith("/")
        last = link_path_walk(nd, body)
        if not last:
            return False


def do_filp_open(current: Task, dfd: int, name: Any, flags: int, mode: int) -> File:
    """do_filp_open()/path_openat(): walk, find or create, check, open.

    Linux: fs/namei.c:path_openat(), do_open(); fs/open.c:vfs_open(), do_dentry_open()
    """
    flags, mode, acc_mode, lookup = build_open_flags(flags, mode)
    if flags & (F.O_TMPFILE & ~F.O_DIRECTORY):
        raise KernelError(E.EOPNOTSUPP)
    name = getname(name)
    nd = path_init(current, dfd, name, lookup)
    last = link_path_walk(nd, name)
    created = _open_last(current, nd, last, flags, mode, name.endswith("/"))
    path = nd.path
    inode = path.dentry.d_inode
    if flags & F.O_CREAT:
        if S.S_ISDIR(inode.i_mode):
            raise KernelError(E.EISDIR)
    if lookup & LOOKUP_DIRECTORY and not S.S_ISDIR(inode.i_mode):
        raise KernelError(E.ENOTDIR)
    if flags & F.O_PATH:
        f = alloc_file(path, flags, EMPTY_FOPS, current)
        f.f_mode = FMODE_PATH
        return f
    if created:
        acc_mode = 0
        flags &= ~F.O_TRUNC
    else:
        may_open(current, path, acc_mode, flags)
        if not S.S_ISREG(inode.i_mode):
            flags &= ~F.O_TRUNC
    if acc_mode & MAY_WRITE or flags & F.O_TRUNC:
        from simkernel.fs.namei_ops import _mnt_want_write
        if S.S_ISREG(inode.i_mode) or S.S_ISDIR(inode.i_mode):
            _mnt_want_write(path)
    f = alloc_file(path, flags & ~(F.O_CREAT | F.O_EXCL | F.O_NOCTTY | F.O_TRUNC), None, current)
    if f.f_op.open is not None:
        f.f_op.open(current, inode, f)
    if flags & F.O_TRUNC:
        do_truncate(current, path.dentry, 0)
    return f


def do_sys_open(current: Task, dfd: int, name: Any, flags: int, mode: int) -> int:
    """openat(2): the lowest free fd for a new open file description.

    Raises:
        KernelError: the walk's and may_open's errno; EMFILE when the table is full.

    Linux: fs/open.c:do_sys_openat2()
    """
    f = do_filp_open(current, dfd, name, flags, mode)
    try:
        return current.files.alloc_fd(f, cloexec=bool(flags & F.O_CLOEXEC))
    except KernelError:
        fput(f)
        raise


def sys_close(current: Task, fd: int) -> None:
    """close(2). Raises KernelError(EBADF) for a closed fd. Linux: fs/open.c"""
    f = current.files.close_fd(fd)
    if f is None:
        raise KernelError(E.EBADF)
    fput(f)


def do_truncate(current: Task, dentry: Any, length: int) -> None:
    """do_truncate(): set the size; new bytes read as zeros. Linux: fs/open.c"""
    inode = dentry.d_inode
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
        KernelError(EBADF): closed fd.

    Linux: fs/open.c:do_sys_ftruncate()
    """
    if length < 0:
        raise KernelError(E.EINVAL)
    f = current.files.fget(fd)
    if f is None or f.f_mode & FMODE_PATH:
        raise KernelError(E.EBADF)
    if not S.S_ISREG(f.f_inode.i_mode) or not f.f_mode & FMODE_WRITE:
        raise KernelError(E.EINVAL)
    if f.f_flags & F.O_APPEND:
        raise KernelError(E.EPERM)
    do_truncate(current, f.f_path.dentry, length)


def _setattr_path(current: Task, path: Path) -> None:
    from simkernel.fs.namei_ops import _mnt_want_write
    _mnt_want_write(path)


def do_fchmodat(current: Task, dfd: int, name: Any, mode: int) -> None:
    """chmod(2): only the owner or CAP_FOWNER; S_ISGID is cleared for a non-member without CAP_FSETID.

    Linux: fs/open.c:chmod_common(), fs/attr.c:setattr_prepare()
    """
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.uapi.capability import CAP_FSETID
    path = filename_lookup(current, dfd, name, LOOKUP_FOLLOW)
    _setattr_path(current, path)
    inode = path.dentry.d_inode
    if not inode_owner_or_capable(current, inode):
        raise KernelError(E.EPERM, "chmod: the caller is not the owner and lacks CAP_FOWNER")
    mode &= S.S_IALLUGO
    if not current.cred.in_group_p(inode.i_gid) and not capable_wrt_inode_uidgid(current, inode, CAP_FSETID):
        mode &= ~S.S_ISGID
    inode.i_mode = (inode.i_mode & S.S_IFMT) | mode
    inode.i_ctime = inode.i_sb.kernel.current_time()


def do_fchownat(current: Task, dfd: int, name: Any, uid: int, gid: int, flag: int) -> None:
    """chown(2): changing the owner needs CAP_CHOWN; the owner may change the group to one of its own.

    Ids are the caller's namespace ids (-1 = unchanged).  Set-id bits are cleared on regular files.

    Linux: fs/open.c:chown_common(), fs/attr.c:chown_ok(), chgrp_ok()
    """
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.kernel.user_namespace import INVALID_UID, make_kgid, make_kuid
    from simkernel.uapi.capability import CAP_CHOWN
    follow = 0 if flag & F.AT_SYMLINK_NOFOLLOW else LOOKUP_FOLLOW
    path = filename_lookup(current, dfd, name, follow)
    ns = current.cred.user_ns
    kuid = make_kuid(ns, uid) if uid != -1 else INVALID_UID
    kgid = make_kgid(ns, gid) if gid != -1 else INVALID_UID
    if (uid != -1 and kuid == INVALID_UID) or (gid != -1 and kgid == INVALID_UID):
        raise KernelError(E.EINVAL)
    _setattr_path(current, path)
    inode = path.dentry.d_inode
    cred = current.cred
    if kuid != INVALID_UID and kuid != inode.i_uid:
        if not capable_wrt_inode_uidgid(current, inode, CAP_CHOWN):
            raise KernelError(E.EPERM, "chown: changing the owner needs CAP_CHOWN")
    if kgid != INVALID_UID and kgid != inode.i_gid:
        owner = cred.fsuid == inode.i_uid and (kuid == INVALID_UID or kuid == inode.i_uid)
        if not (owner and cred.in_group_p(kgid)) and not capable_wrt_inode_uidgid(current, inode, CAP_CHOWN):
            raise KernelError(E.EPERM, "chown: the group change needs ownership and membership, or CAP_CHOWN")
    if kuid != INVALID_UID:
        inode.i_uid = kuid
    if kgid != INVALID_UID:
        inode.i_gid = kgid
    if S.S_ISREG(inode.i_mode):
        inode.i_mode &= ~S.S_ISUID
        if inode.i_mode & S.S_IXGRP:
            inode.i_mode &= ~S.S_ISGID
    inode.i_ctime = inode.i_sb.kernel.current_time()


def sys_chdir(current: Task, name: Any) -> None:
    """chdir(2): a directory the caller may search. Linux: fs/open.c"""
    path = filename_lookup(current, F.AT_FDCWD, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY)
    inode_permission(current, path.dentry.d_inode, MAY_EXEC | MAY_CHDIR)
    current.fs.pwd = path


def sys_fchdir(current: Task, fd: int) -> None:
    """fchdir(2). Raises EBADF, ENOTDIR, EACCES. Linux: fs/open.c"""
    f = current.files.fget(fd)
    if f is None:
        raise KernelError(E.EBADF)
    if not S.S_ISDIR(f.f_inode.i_mode):
        raise KernelError(E.ENOTDIR)
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
    if not ns_capable(current, current.nsproxy.mnt_ns.user_ns, CAP_SYS_CHROOT):
        raise KernelError(E.EPERM, "chroot needs CAP_SYS_CHROOT")
    current.fs.root = path


