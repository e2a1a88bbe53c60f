"""struct inode, its operation table, and the generic permission checks.

Linux: include/linux/fs.h (struct inode, struct inode_operations), fs/inode.c, fs/namei.c (permission
checks), fs/stat.c (generic_fillattr)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from attrs import define, field, fields, frozen

from simkernel.errors import KernelError
from simkernel.kernel.capability import capable_wrt_inode_uidgid
from simkernel.security import lsm
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S
from simkernel.uapi.capability import CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER

if TYPE_CHECKING:
    from simkernel.fs.super import SuperBlock

__all__ = ["Inode", "InodeOperations", "Kstat", "MAY_EXEC", "MAY_WRITE", "MAY_READ", "MAY_APPEND", "MAY_ACCESS",
           "MAY_OPEN", "MAY_CHDIR", "MAY_NOT_BLOCK", "S_PRIVATE", "S_DEAD", "S_APPEND", "S_IMMUTABLE", "SB_RDONLY",
           "new_inode",
           "inode_init_owner", "acl_permission_check", "generic_permission", "inode_permission",
           "inode_owner_or_capable", "generic_fillattr"]

MAY_EXEC = 0x00000001
MAY_WRITE = 0x00000002
MAY_READ = 0x00000004
_MAY_RWX = MAY_READ | MAY_WRITE | MAY_EXEC
MAY_APPEND = 0x00000008
MAY_ACCESS = 0x00000010
MAY_OPEN = 0x00000020
MAY_CHDIR = 0x00000040
MAY_NOT_BLOCK = 0x00000080

# i_flags
S_APPEND = 0x4      # append-only file (chattr +a)
S_IMMUTABLE = 0x8   # immutable file (chattr +i)
S_PRIVATE = 0x200   # inode is fs-internal (shmem kernel files)
SB_RDONLY = 1       # super_block s_flags
S_DEAD = 0x10       # removed, but still open directory


@frozen
class InodeOperations:
    """struct inode_operations: each slot is a callable or None (the kernel's NULL).

    Signatures (current first where the C function reads `current`):
      lookup(current, dir, dentry, flags) -> Dentry | None
      get_link(current, dentry, inode, nd) -> str | None       (None after nd_jump_link)
      permission(current, inode, mask) -> None                 (raises KernelError)
      getattr(current, path, kstat) -> None                    (fills Kstat)
      readlink(current, dentry, buflen) -> bytes
      setattr(current, dentry, attrs) -> None
      create(current, dir, dentry, mode) / mkdir(current, dir, dentry, mode) / mknod(..., mode, rdev)
      unlink(current, dir, dentry) / rmdir(current, dir, dentry) / symlink(current, dir, dentry, target)
      link(current, old_dentry, dir, new_dentry) / rename(current, old_dir, old_dentry, new_dir, new_dentry)
      tmpfile(current, dir, parent_dentry, mode, linkable=True) -> Dentry   (O_TMPFILE)
    """

    lookup: Callable[..., Any] | None = None
    get_link: Callable[..., Any] | None = None
    permission: Callable[..., Any] | None = None
    getattr: Callable[..., Any] | None = None
    readlink: Callable[..., Any] | None = None
    setattr: Callable[..., Any] | None = None
    create: Callable[..., Any] | None = None
    mkdir: Callable[..., Any] | None = None
    mknod: Callable[..., Any] | None = None
    unlink: Callable[..., Any] | None = None
    rmdir: Callable[..., Any] | None = None
    symlink: Callable[..., Any] | None = None
    link: Callable[..., Any] | None = None
    rename: Callable[..., Any] | None = None
    tmpfile: Callable[..., Any] | None = None


empty_iops = InodeOperations()   # what new_inode() starts every inode with (fs/inode.c: static empty_iops)


@define(eq=False)
class Inode:
    """struct inode (include/linux/fs.h).

    Ids are kernel ids.  Times are nanoseconds from the kernel's deterministic clock.
    For symlinks of an in-memory fs `i_link` holds the target; a tmpfs regular file keeps its pages in
    `i_private` (simkernel/fs/ramfs.py RamfsFileInfo, shmem's ShmemInodeInfo).
    """

    i_ino: int
    i_mode: int
    i_sb: SuperBlock = field(repr=False)
    i_uid: int = 0
    i_gid: int = 0
    i_nlink: int = 1
    i_size: int = 0
    i_rdev: int = 0
    i_atime: int = 0
    i_mtime: int = 0
    i_ctime: int = 0
    i_flags: int = 0
    i_blkbits: int = 12
    i_blocks: int | None = None   # 512-byte blocks; None: derived from i_size (filesystems that do not count)
    i_op: InodeOperations = field(default=empty_iops, repr=False)
    i_fop: Any = field(default=None, repr=False)
    i_link: str | None = field(default=None, repr=False)
    i_private: Any = field(default=None, repr=False)
    i_writecount: int = field(default=0, repr=False)
    i_mmap_writable: int = field(default=0, repr=False)

    @property
    def i_dev(self) -> int:
        return self.i_sb.s_dev

    def __repr__(self) -> str:
        return f"<inode {self.i_ino} mode={self.i_mode:o} sb={self.i_sb.s_id}>"


assert tuple(a.name for a in fields(Inode))[:11] == (
    "i_ino", "i_mode", "i_sb", "i_uid", "i_gid", "i_nlink", "i_size", "i_rdev", "i_atime", "i_mtime", "i_ctime"), \
    "new_inode() passes these fields by position"


@define(eq=False)
class Kstat:
    """struct kstat: what getattr reports, before it becomes a stat buffer (include/linux/stat.h)."""

    ino: int = 0
    dev: int = 0
    mode: int = 0
    nlink: int = 0
    uid: int = 0
    gid: int = 0
    rdev: int = 0
    size: int = 0
    atime: int = 0
    mtime: int = 0
    ctime: int = 0
    blksize: int = 4096
    blocks: int = 0

    def is_dir(self) -> bool:
        return S.S_ISDIR(self.mode)


def new_inode(sb: SuperBlock) -> Inode:
    """new_inode(): a fresh inode on `sb`, numbered by get_next_ino(), times = now. Linux: fs/inode.c"""
    k = sb.kernel
    now = k.current_time()
    # i_ino, i_mode, i_sb, i_uid, i_gid, i_nlink, i_size, i_rdev, i_atime, i_mtime, i_ctime, by position:
    # keyword arguments cost twice as much, and procfs makes an inode per listed map_files entry
    return Inode(k.get_next_ino(), 0, sb, 0, 0, 1, 0, 0, now, now, now)


def inode_init_owner(current: Any, inode: Inode, dir: Inode | None, mode: int) -> None:
    """inode_init_owner(): owner = fsuid; group = fsgid, or the directory's group under a set-gid directory.

    A new directory inherits S_ISGID from a set-gid parent.  Linux: fs/inode.c:inode_init_owner()
    """
    inode.i_uid = current.cred.fsuid
    if dir is not None and dir.i_mode & S.S_ISGID:
        inode.i_gid = dir.i_gid
        if S.S_ISDIR(mode):
            mode |= S.S_ISGID
    else:
        inode.i_gid = current.cred.fsgid
    inode.i_mode = mode


def acl_permission_check(current: Any, inode: Inode, mask: int) -> bool:
    """acl_permission_check(): the owner/group/other class bits. Linux: fs/namei.c:acl_permission_check()"""
    cred = current.cred
    mode = inode.i_mode
    if cred.fsuid == inode.i_uid:
        mode >>= 6
    elif cred.in_group_p(inode.i_gid):
        mode >>= 3
    return not mask & ~mode & _MAY_RWX


def generic_permission(current: Any, inode: Inode, mask: int) -> None:
    """generic_permission(): DAC bits, then CAP_DAC_READ_SEARCH / CAP_DAC_OVERRIDE over the inode's ids.

    Directories: read/search is overridden by CAP_DAC_READ_SEARCH, anything by CAP_DAC_OVERRIDE.  Files:
    read alone by CAP_DAC_READ_SEARCH; read/write by CAP_DAC_OVERRIDE; exec by CAP_DAC_OVERRIDE only when
    some exec bit is set.

    Raises:
        KernelError(EACCES): no class bit and no capability allows `mask`.

    Linux: fs/namei.c:generic_permission()
    """
    if acl_permission_check(current, inode, mask):
        return
    if S.S_ISDIR(inode.i_mode):
        if not mask & MAY_WRITE and capable_wrt_inode_uidgid(current, inode, CAP_DAC_READ_SEARCH):
            return
        if capable_wrt_inode_uidgid(current, inode, CAP_DAC_OVERRIDE):
            return
        raise KernelError(E.EACCES, _dac_explain(current, inode, mask))
    mask &= MAY_READ | MAY_WRITE | MAY_EXEC
    if mask == MAY_READ and capable_wrt_inode_uidgid(current, inode, CAP_DAC_READ_SEARCH):
        return
    if (not mask & MAY_EXEC or inode.i_mode & S.S_IXUGO) and capable_wrt_inode_uidgid(current, inode,
                                                                                       CAP_DAC_OVERRIDE):
        return
    raise KernelError(E.EACCES, _dac_explain(current, inode, mask))


def _dac_explain(current: Any, inode: Inode, mask: int) -> str:
    want = "".join(c for bit, c in ((MAY_READ, "r"), (MAY_WRITE, "w"), (MAY_EXEC, "x")) if mask & bit)
    return (f"generic_permission: mode {inode.i_mode & 0o7777:04o} owner {inode.i_uid}:{inode.i_gid} does not "
            f"grant '{want}' to fsuid {current.cred.fsuid} fsgid {current.cred.fsgid}, and the caller lacks "
            f"CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH")


def inode_permission(current: Any, inode: Inode, mask: int) -> None:
    """inode_permission(): read-only checks, then ->permission or generic_permission, then the LSM hook.

    Raises:
        KernelError(EROFS): write to a read-only superblock.
        KernelError(EACCES) or the ->permission method's errno.

    Linux: fs/namei.c:inode_permission()
    """
    if mask & MAY_WRITE:
        if inode.i_sb.s_flags & SB_RDONLY and (
                S.S_ISREG(inode.i_mode) or S.S_ISDIR(inode.i_mode) or S.S_ISLNK(inode.i_mode)):
            raise KernelError(E.EROFS, "inode_permission: write access on a read-only filesystem")
        if inode.i_flags & S_IMMUTABLE:
            raise KernelError(E.EPERM, "inode_permission: write access to an immutable inode")
    permission = inode.i_op.permission
    if permission is not None:
        permission(current, inode, mask)
    else:
        generic_permission(current, inode, mask)
    lsm.security_inode_permission(current, inode, mask)    # looked up per call: a patch of it is seen


def inode_owner_or_capable(current: Any, inode: Inode) -> bool:
    """inode_owner_or_capable(): fsuid owns the inode, or CAP_FOWNER over its ids. Linux: fs/inode.c"""
    return current.cred.fsuid == inode.i_uid or capable_wrt_inode_uidgid(current, inode, CAP_FOWNER)


def generic_fillattr(inode: Inode, stat: Kstat) -> None:
    """generic_fillattr(): copy the inode's attributes into a kstat. Linux: fs/stat.c"""
    stat.dev = inode.i_sb.s_dev
    stat.ino = inode.i_ino
    stat.mode = inode.i_mode
    stat.nlink = inode.i_nlink
    stat.uid = inode.i_uid
    stat.gid = inode.i_gid
    stat.rdev = inode.i_rdev
    stat.size = inode.i_size
    stat.atime = inode.i_atime
    stat.mtime = inode.i_mtime
    stat.ctime = inode.i_ctime
    stat.blksize = 1 << inode.i_blkbits
    if inode.i_blocks is not None:
        stat.blocks = inode.i_blocks
    else:
        stat.blocks = (inode.i_size + 511) // 512 if S.S_ISREG(inode.i_mode) else 0
