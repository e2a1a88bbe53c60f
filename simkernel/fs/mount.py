"""Mounts and mount namespaces.

Linux: fs/mount.h (struct mount, struct mnt_namespace), include/linux/mount.h (struct vfsmount), fs/namespace.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.fs.super import SuperBlock
    from simkernel.kernel.user_namespace import UserNamespace

__all__ = ["VfsMount", "MntNamespace", "lookup_mnt", "MNT_NOSUID", "MNT_NODEV", "MNT_NOEXEC", "MNT_READONLY",
           "MNT_INTERNAL", "MNT_NOSYMFOLLOW"]

MNT_NOSUID = 0x01
MNT_NODEV = 0x02
MNT_NOEXEC = 0x04
MNT_NOSYMFOLLOW = 0x80
MNT_READONLY = 0x40
MNT_INTERNAL = 0x4000


@define(eq=False)
class VfsMount:
    """struct mount + struct vfsmount: a superblock attached at a mountpoint."""

    mnt_sb: SuperBlock = field(repr=False)
    mnt_root: Dentry = field(repr=False)
    mnt_id: int = 0
    mnt_flags: int = 0
    mnt_parent: VfsMount = field(default=None, repr=False)  # type: ignore[assignment]
    mnt_mountpoint: Dentry = field(default=None, repr=False)  # type: ignore[assignment]
    mnt_ns: MntNamespace | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"<mount {self.mnt_id} {self.mnt_sb.s_type.name}>"


@define(eq=False)
class MntNamespace:
    """struct mnt_namespace: the root mount and the mount hash (parent mount, mountpoint) -> child.

    The hash is keyed by the objects themselves (identity-hashed), never by id().
    """

    root: VfsMount = field(repr=False)
    user_ns: UserNamespace = field(repr=False)
    mount_hashtable: dict[tuple[VfsMount, Dentry], VfsMount] = field(factory=dict, repr=False)
    mounts: list[VfsMount] = field(factory=list, repr=False)
    ns_id: int = 0


def lookup_mnt(ns: MntNamespace, mnt: VfsMount, dentry: Dentry) -> VfsMount | None:
    """lookup_mnt(): the mount on top of (mnt, dentry), or None. Linux: fs/namespace.c"""
    return ns.mount_hashtable.get((mnt, dentry))
