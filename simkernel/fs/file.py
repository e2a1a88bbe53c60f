"""struct file: an open file description, and its operation table.

Linux: include/linux/fs.h (struct file, struct file_operations, FMODE_*), fs/file_table.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from attrs import define, field, frozen

if TYPE_CHECKING:
    from simkernel.fs.inode import Inode
    from simkernel.fs.path import Path
    from simkernel.kernel.cred import Cred

__all__ = ["File", "FileOperations", "FMODE_READ", "FMODE_WRITE", "FMODE_LSEEK", "FMODE_PREAD", "FMODE_PWRITE",
           "FMODE_EXEC", "FMODE_UNSIGNED_OFFSET", "FMODE_PATH", "FMODE_CAN_READ", "FMODE_CAN_WRITE", "OPEN_FMODE"]

FMODE_READ = 0x1
FMODE_WRITE = 0x2
FMODE_LSEEK = 0x4
FMODE_PREAD = 0x8
FMODE_PWRITE = 0x10
FMODE_EXEC = 0x20
FMODE_UNSIGNED_OFFSET = 0x2000   # /proc/<pid>/mem: positions above LLONG_MAX are addresses
FMODE_PATH = 0x4000
FMODE_CAN_READ = 0x20000
FMODE_CAN_WRITE = 0x40000


def OPEN_FMODE(flags: int) -> int:
    """OPEN_FMODE(): O_RDONLY/O_WRONLY/O_RDWR -> FMODE_READ/FMODE_WRITE bits (include/linux/fs.h)."""
    return (flags + 1) & 3


@frozen
class FileOperations:
    """struct file_operations: each slot a callable or None.

      open(current, inode, file) -> None
      read(current, file, count, pos) -> bytes          (pos is the offset; caller advances f_pos)
      write(current, file, data, pos) -> int
      llseek(current, file, offset, whence) -> int
      iterate_shared(current, file, ctx) -> None          (fills a DirContext)
      mmap(current, file, vma) -> None
      get_unmapped_area(current, file, addr, len, pgoff, flags) -> int
      release(inode, file) -> None
    """

    open: Callable[..., Any] | None = None
    read: Callable[..., Any] | None = None
    write: Callable[..., Any] | None = None
    llseek: Callable[..., Any] | None = None
    iterate_shared: Callable[..., Any] | None = None
    mmap: Callable[..., Any] | None = None
    get_unmapped_area: Callable[..., Any] | None = None
    release: Callable[..., Any] | None = None


@define(eq=False)
class File:
    """struct file (include/linux/fs.h).  `f_count` counts fd-table slots, VMAs and other holders."""

    f_path: Path = field(repr=False)
    f_inode: Inode = field(repr=False)
    f_op: FileOperations = field(repr=False)
    f_mode: int = 0
    f_flags: int = 0
    f_pos: int = 0
    f_count: int = 1
    f_cred: Cred | None = field(default=None, repr=False)
    private_data: Any = field(default=None, repr=False)
    f_id: int = 0

    def __repr__(self) -> str:
        return f"<file {self.f_id} {self.f_path.dentry.d_name!r} mode={self.f_mode:#x} flags={self.f_flags:#o}>"
