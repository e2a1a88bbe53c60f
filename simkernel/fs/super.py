"""Superblocks and filesystem types.

Linux: include/linux/fs.h (struct super_block, struct file_system_type), fs/super.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from attrs import define, field, frozen

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry, DentryOperations
    from simkernel.kernel.user_namespace import UserNamespace

__all__ = ["SuperBlock", "FileSystemType", "MKDEV", "MAJOR", "MINOR", "new_encode_dev", "new_decode_dev"]


def MKDEV(major: int, minor: int) -> int:
    """MKDEV() in the kernel's internal dev_t layout (include/linux/kdev_t.h)."""
    return (major << 20) | minor


def MAJOR(dev: int) -> int:
    return dev >> 20


def MINOR(dev: int) -> int:
    return dev & ((1 << 20) - 1)


def new_encode_dev(dev: int) -> int:
    """new_encode_dev(): the dev_t userspace sees in st_dev (include/linux/kdev_t.h)."""
    major, minor = MAJOR(dev), MINOR(dev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def new_decode_dev(dev: int) -> int:
    """new_decode_dev(): a userspace dev_t (mknod's argument) in the internal layout (include/linux/kdev_t.h).

    Example: makedev(1, 5) == 0x105 decodes to MKDEV(1, 5).
    """
    major = (dev & 0xFFF00) >> 8
    minor = (dev & 0xFF) | ((dev >> 12) & 0xFFF00)
    return MKDEV(major, minor)


@frozen
class FileSystemType:
    """struct file_system_type: name and mount entry point.

      init_fs_context / mount(kernel, current, source, flags, data) -> SuperBlock
    """

    name: str
    mount: Callable[..., Any] | None = None
    fs_flags: int = 0


@define(eq=False)
class SuperBlock:
    """struct super_block (include/linux/fs.h)."""

    s_dev: int
    s_type: FileSystemType = field(repr=False)
    kernel: Any = field(default=None, repr=False)   # the owning Kernel (counters, clock)
    s_id: str = ""
    s_root: Dentry = field(default=None, repr=False)  # type: ignore[assignment]
    s_d_op: DentryOperations | None = field(default=None, repr=False)
    s_fs_info: Any = field(default=None, repr=False)
    s_user_ns: UserNamespace = field(default=None, repr=False)  # type: ignore[assignment]
    s_magic: int = 0
    s_flags: int = 0
    s_blocksize: int = 4096
