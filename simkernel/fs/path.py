"""struct path: a (mount, dentry) pair naming one place in the mount tree.

Linux: include/linux/path.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.fs.mount import VfsMount

__all__ = ["Path"]


@frozen(eq=False)
class Path:
    """struct path (include/linux/path.h). Two paths are equal when mount and dentry are the same objects."""

    mnt: VfsMount
    dentry: Dentry

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other.mnt is self.mnt and other.dentry is self.dentry

    def __hash__(self) -> int:
        return hash((id(self.mnt), id(self.dentry)))
