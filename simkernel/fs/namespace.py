"""Mount namespaces, the initial mount tree, and mount(2).

Linux: fs/namespace.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import DCACHE_MOUNTED, cant_mount
from simkernel.fs.mount import MntNamespace, VfsMount, MNT_NODEV, MNT_NOEXEC, MNT_NOSUID, MNT_READONLY
from simkernel.fs.namei import LOOKUP_FOLLOW, filename_lookup
from simkernel.fs.super import FileSystemType, SuperBlock
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["alloc_vfsmnt", "attach_mnt", "init_mount_tree", "do_mount", "kern_mount", "get_fs_type",
           "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_REMOUNT", "MS_BIND", "MS_REC"]

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384


def alloc_vfsmnt(kernel: Any, sb: SuperBlock, flags: int = 0) -> VfsMount:
    """alloc_vfsmnt(): a detached mount of `sb`. Linux: fs/namespace.c"""
    m = VfsMount(mnt_sb=sb, mnt_root=sb.s_root, mnt_id=kernel.next_id("mnt_id", start=21), mnt_flags=flags)
    m.mnt_parent = m
    m.mnt_mountpoint = sb.s_root
    return m


def kern_mount(kernel: Any, sb: SuperBlock) -> VfsMount:
    """kern_mount(): an internal mount attached nowhere (shm_mnt, pipe_mnt). Linux: fs/namespace.c"""
    from simkernel.fs.mount import MNT_INTERNAL
    return alloc_vfsmnt(kernel, sb, MNT_INTERNAL)


def attach_mnt(ns: MntNamespace, mnt: VfsMount, parent: VfsMount, mountpoint: Any) -> None:
    """attach_mnt(): hang `mnt` on (parent, mountpoint). Linux: fs/namespace.c"""
    mnt.mnt_parent = parent
    mnt.mnt_mountpoint = mountpoint
    mnt.mnt_ns = ns
    mountpoint.d_flags |= DCACHE_MOUNTED
    ns.mount_hashtable[(parent, mountpoint)] = mnt
    ns.mounts.append(mnt)


def init_mount_tree(kernel: Any) -> MntNamespace:
    """init_mount_tree(): the root filesystem and the initial mount namespace. Linux: fs/namespace.c"""
    from simkernel.fs.ramfs import ramfs_fill_super
    sb = ramfs_fill_super(kernel, "rootfs")
    root = alloc_vfsmnt(kernel, sb)
    ns = MntNamespace(root=root, user_ns=kernel.init_user_ns, ns_id=kernel.next_id("mnt_ns"))
    root.mnt_ns = ns
    ns.mounts.append(root)
    return ns


def get_fs_type(kernel: Any, name: str) -> FileSystemType | None:
    """get_fs_type(): the registered filesystem called `name`. Linux: fs/filesystems.c"""
    from simkernel.fs.ramfs import RAMFS_TYPE, TMPFS_TYPE
    types: dict[str, FileSystemType] = {"ramfs": RAMFS_TYPE, "tmpfs": TMPFS_TYPE}
    try:
        from simkernel.fs.proc.root import PROC_FS_TYPE
        types["proc"] = PROC_FS_TYPE
    except ImportError:  # pragma: no cover - procfs is part of the package
        pass
    return types.get(name)


def _mnt_flags(flags: int) -> int:
    m = 0
    if flags & MS_RDONLY:
        m |= MNT_READONLY
    if flags & MS_NOSUID:
        m |= MNT_NOSUID
    if flags & MS_NODEV:
        m |= MNT_NODEV
    if flags & MS_NOEXEC:
        m |= MNT_NOEXEC
    return m


def do_mount(current: Task, source: Any, target: Any, fstype: Any, flags: int, data: Any) -> None:
    """mount(2): new mounts of ramfs/tmpfs/proc, and bind mounts.

    Order: CAP_SYS_ADMIN in the mount namespace's owner namespace (may_mount), then the target walk,
    then the dentry may take a mount (map_files entries may not since v6.12: ENOENT), then the type.

    Raises:
        KernelError(EPERM): no CAP_SYS_ADMIN.  KernelError(ENOENT): cant_mount() target.
        KernelError(ENODEV): unknown filesystem type.  KernelError(EINVAL): bad data options.

    Linux: fs/namespace.c:path_mount(), do_new_mount(), do_loopback(), may_mount()
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.uapi.capability import CAP_SYS_ADMIN
    ns: MntNamespace = current.nsproxy.mnt_ns
    if not ns_capable(current, ns.user_ns, CAP_SYS_ADMIN):
        raise KernelError(E.EPERM, "mount needs CAP_SYS_ADMIN in the mount namespace's user namespace")
    path = filename_lookup(current, -100, target, LOOKUP_FOLLOW)
    k = current.kernel
    if flags & MS_REMOUNT:
        raise KernelError(E.EINVAL)
    if flags & MS_BIND:
        old = filename_lookup(current, -100, source, LOOKUP_FOLLOW)
        if cant_mount(path.dentry):
            raise KernelError(E.ENOENT)
        if S.S_ISDIR(path.dentry.d_inode.i_mode) != S.S_ISDIR(old.dentry.d_inode.i_mode):
            raise KernelError(E.ENOTDIR)
        m = VfsMount(mnt_sb=old.mnt.mnt_sb, mnt_root=old.dentry, mnt_id=k.next_id("mnt_id", start=21),
                     mnt_flags=_mnt_flags(flags))
        attach_mnt(ns, m, path.mnt, path.dentry)
        return
    fs_type = get_fs_type(k, str(fstype))
    if fs_type is None or fs_type.mount is None:
        raise KernelError(E.ENODEV)
    sb = fs_type.mount(k, current, str(source) if source else "", flags, str(data or ""))
    if cant_mount(path.dentry):           # lock_mount()
        raise KernelError(E.ENOENT)
    if not S.S_ISDIR(path.dentry.d_inode.i_mode):  # graft_tree(): directory over directory only
        raise KernelError(E.ENOTDIR)
    m = alloc_vfsmnt(k, sb, _mnt_flags(flags))
    attach_mnt(ns, m, path.mnt, path.dentry)


