"""struct inode, its operation table, and the generic permission checks.

Linux: include/linux/fs.h (struct inode, struct inode_operations), fs/inode.c, fs/namei.c (permission
checks), fs/stat.c (generic_fillattr)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from attrs import define, field, frozen

from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.super import SuperBlock

__all__ = ["Inode", "InodeOperations", "Kstat", "MAY_EXEC", "MAY_WRITE", "MAY_READ", "MAY_APPEND", "MAY_ACCESS",
           "MAY_OPEN", "MAY_CHDIR", "MAY_NOT_BLOCK", "S_PRIVATE", "S_DEAD"]

MAY_EXEC = 0x00000001
MAY_WRITE = 0x00000002
MAY_READ = 0x00000004
MAY_APPEND = 0x00000008
MAY_ACCESS = 0x00000010
MAY_OPEN = 0x00000020
MAY_CHDIR = 0x00000040
MAY_NOT_BLOCK = 0x00000080

# i_flags
S_PRIVATE = 0x200   # inode is fs-internal (shmem kernel files)
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


@define(eq=False)
class Inode:
    """struct inode (include/linux/fs.h).

    Ids are kernel ids.  Times are nanoseconds from the kernel's deterministic clock.
    For symlinks of an in-memory fs `i_link` holds the target; regular files keep bytes in `i_data`.
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
    i_op: InodeOperations = field(factory=InodeOperations, repr=False)
    i_fop: Any = field(default=None, repr=False)
    i_link: str | None = field(default=None, repr=False)
    i_data: bytearray | None = field(default=None, repr=False)
    i_private: Any = field(default=None, repr=False)
    i_writecount: int = field(default=0, repr=False)
    i_mmap_writable: int = field(default=0, repr=False)

    @property
    def i_dev(self) -> int:
        return self.i_sb.s_dev

    def __repr__(self) -> str:
        return f"<inode {self.i_ino} mode={self.i_mode:o} sb={self.i_sb.s_id}>"


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
