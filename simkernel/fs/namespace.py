"""Mount namespaces, the initial mount tree, and mount(2).

Linux: fs/namespace.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import DCACHE_MOUNTED, cant_mount
from simkernel.fs.mount import (MNT_INTERNAL, MNT_NODEV, MNT_NOEXEC, MNT_NOSUID, MNT_NOSYMFOLLOW, MNT_READONLY,
                                MntNamespace, VfsMount)
from simkernel.fs.namei import LOOKUP_FOLLOW, filename_lookup
from simkernel.fs.super import FileSystemType, SuperBlock
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["alloc_vfsmnt", "attach_mnt", "init_mount_tree", "do_mount", "path_mount", "kern_mount", "get_fs_type",
           "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC", "MS_REMOUNT", "MS_BIND", "MS_MOVE", "MS_REC",
           "MS_PRIVATE", "MS_SHARED", "MS_SLAVE", "MS_UNBINDABLE", "MS_NOUSER"]

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_NOUSER = 1 << 31


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


MS_NOSYMFOLLOW = 256
MNT_USER_SETTABLE_MASK = MNT_NOSUID | MNT_NODEV | MNT_NOEXEC | MNT_READONLY | MNT_NOSYMFOLLOW


def _mnt_flags(flags: int) -> int:
    """path_mount(): the per-mountpoint flags from MS_* (Simplification: no atime flags)."""
    m = 0
    if flags & MS_NOSYMFOLLOW:
        m |= MNT_NOSYMFOLLOW
    if flags & MS_RDONLY:
        m |= MNT_READONLY
    if flags & MS_NOSUID:
        m |= MNT_NOSUID
    if flags & MS_NODEV:
        m |= MNT_NODEV
    if flags & MS_NOEXEC:
        m |= MNT_NOEXEC
    return m


def _check_mnt(current: Task, mnt: VfsMount) -> bool:
    """check_mnt(): the mount belongs to the caller's mount namespace. Linux: fs/namespace.c"""
    return mnt.mnt_ns is current.nsproxy.mnt_ns


def do_mount(current: Task, source: Any, target: Any, fstype: Any, flags: int, data: Any) -> None:
    """mount(2): the target is looked up first (so a missing target is ENOENT even without privilege),
    then path_mount() decides.

    Linux: fs/namespace.c:do_mount()
    """
    path = filename_lookup(current, -100, target, LOOKUP_FOLLOW)
    path_mount(current, source, path, fstype, flags, data)


def path_mount(current: Task, source: Any, path: Any, fstype: Any, flags: int, data: Any) -> None:
    """path_mount(): CAP_SYS_ADMIN over the mount namespace (may_mount), then by flags: a remount of a bind
    mount's flags, a superblock remount, a bind mount, a propagation change, or a new mount.

    Raises:
        KernelError(EINVAL): MS_NOUSER; MS_MOVE (Simplification: not modelled).   KernelError(EPERM).
        The chosen operation's errors.

    Linux: fs/namespace.c:path_mount(), may_mount()
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.uapi.capability import CAP_SYS_ADMIN
    if flags & MS_NOUSER:
        raise KernelError(E.EINVAL)
    ns: MntNamespace = current.nsproxy.mnt_ns
    if not ns_capable(current, ns.user_ns, CAP_SYS_ADMIN):
        raise KernelError(E.EPERM, "mount needs CAP_SYS_ADMIN in the mount namespace's user namespace")
    mnt_flags = _mnt_flags(flags)
    if flags & (MS_REMOUNT | MS_BIND) == MS_REMOUNT | MS_BIND:
        _do_reconfigure_mnt(current, path, mnt_flags)
    elif flags & MS_REMOUNT:
        _do_remount(current, path, flags, mnt_flags, data)
    elif flags & MS_BIND:
        _do_loopback(current, path, source)
    elif flags & (MS_SHARED | MS_PRIVATE | MS_SLAVE | MS_UNBINDABLE):
        if path.dentry is not path.mnt.mnt_root:   # do_change_type(); Simplification: no propagation
            raise KernelError(E.EINVAL)
    elif flags & MS_MOVE:
        raise KernelError(E.EINVAL, "Simplification: MS_MOVE is not modelled")
    else:
        _do_new_mount(current, path, fstype, flags, mnt_flags, source, data)


def _open_files(k: Any) -> list[Any]:
    """Every open file: descriptors of every task and files held by mappings."""
    seen: dict[int, Any] = {}
    for t in k.tasks.values():
        files = list(t.files.fdt.values()) if t.files is not None else []
        if t.mm is not None:
            files += [v.vm_file for v in t.mm if getattr(v, "vm_file", None) is not None]
        for f in files:
            seen.setdefault(f.f_id, f)
    return list(seen.values())


def _busy_for_readonly(k: Any, sb: Any = None, mnt: Any = None) -> bool:
    """sb_prepare_remount_readonly()/mnt_make_readonly(): files open for writing (on the superblock, or
    through the mount), or unlinked files still open on the superblock, keep it writable (EBUSY).
    Linux: fs/super.c, fs/namespace.c
    """
    from simkernel.fs.file import FMODE_WRITE
    for f in _open_files(k):
        if mnt is not None and f.f_path.mnt is mnt and f.f_mode & FMODE_WRITE:
            return True
        if sb is not None and f.f_inode.i_sb is sb and (f.f_mode & FMODE_WRITE or f.f_inode.i_nlink == 0):
            return True
    return False


def _do_reconfigure_mnt(current: Task, path: Any, mnt_flags: int) -> None:
    """do_reconfigure_mnt(): MS_REMOUNT|MS_BIND changes only the mount's flags (how a bind mount becomes
    read-only).  Raises KernelError(EINVAL) unless `path` is a mount root of the caller's namespace.
    Linux: fs/namespace.c
    """
    mnt = path.mnt
    if not _check_mnt(current, mnt) or path.dentry is not mnt.mnt_root:
        raise KernelError(E.EINVAL)
    if mnt_flags & MNT_READONLY and not mnt.mnt_flags & MNT_READONLY and _busy_for_readonly(current.kernel, mnt=mnt):
        raise KernelError(E.EBUSY, "mnt_make_readonly: the mount has files open for writing")
    mnt.mnt_flags = (mnt.mnt_flags & ~MNT_USER_SETTABLE_MASK) | mnt_flags


def _do_remount(current: Task, path: Any, flags: int, mnt_flags: int, data: Any) -> None:
    """do_remount(): the superblock's flags (read-only) and the mount's.  Raises KernelError(EINVAL) unless a
    mount root, KernelError(EBUSY) going read-only with writers.  Simplification: options are not re-parsed.
    Linux: fs/namespace.c:do_remount(), fs/super.c:reconfigure_super()
    """
    from simkernel.fs.inode import SB_RDONLY
    mnt = path.mnt
    if not _check_mnt(current, mnt) or path.dentry is not mnt.mnt_root:
        raise KernelError(E.EINVAL)
    sb = mnt.mnt_sb
    if flags & MS_RDONLY and not sb.s_flags & SB_RDONLY and _busy_for_readonly(current.kernel, sb=sb):
        raise KernelError(E.EBUSY, "sb_prepare_remount_readonly: files open for writing or unlinked and open")
    sb.s_flags = (sb.s_flags | SB_RDONLY) if flags & MS_RDONLY else (sb.s_flags & ~SB_RDONLY)
    mnt.mnt_flags = (mnt.mnt_flags & ~MNT_USER_SETTABLE_MASK) | mnt_flags


def _do_loopback(current: Task, path: Any, source: Any) -> None:
    """do_loopback(): a bind mount; it copies the source mount's flags (MS_RDONLY & co. are ignored here:
    a read-only bind needs a second MS_REMOUNT|MS_BIND call).

    Raises:
        KernelError(EINVAL): no source.   The source walk's errors.   KernelError(ENOENT): cant_mount() target.
        KernelError(ENOTDIR): a directory over a non-directory or the reverse.

    Linux: fs/namespace.c:do_loopback(), clone_mnt(), graft_tree()
    """
    if not source:
        raise KernelError(E.EINVAL)
    old = filename_lookup(current, -100, source, LOOKUP_FOLLOW)
    if cant_mount(path.dentry):           # lock_mount()
        raise KernelError(E.ENOENT)
    if not _check_mnt(current, path.mnt) or not _check_mnt(current, old.mnt):
        raise KernelError(E.EINVAL)
    if S.S_ISDIR(path.dentry.d_inode.i_mode) != S.S_ISDIR(old.dentry.d_inode.i_mode):
        raise KernelError(E.ENOTDIR)
    k = current.kernel
    m = VfsMount(mnt_sb=old.mnt.mnt_sb, mnt_root=old.dentry, mnt_id=k.next_id("mnt_id", start=21),
                 mnt_flags=old.mnt.mnt_flags & ~MNT_INTERNAL)
    attach_mnt(current.nsproxy.mnt_ns, m, path.mnt, path.dentry)


def _do_new_mount(current: Task, path: Any, fstype: Any, flags: int, mnt_flags: int, source: Any,
                  data: Any) -> None:
    """do_new_mount(): find the type (ENODEV), make the superblock (its option errors, EINVAL), then attach:
    ENOENT for a dentry that may not take a mount (map_files entries since v6.12), ENOTDIR unless a
    directory.  Linux: fs/namespace.c:do_new_mount(), do_new_mount_fc(), graft_tree()
    """
    from simkernel.fs.inode import SB_RDONLY
    if not fstype:
        raise KernelError(E.EINVAL)
    k = current.kernel
    fs_type = get_fs_type(k, str(fstype))
    if fs_type is None or fs_type.mount is None:
        raise KernelError(E.ENODEV)
    sb = fs_type.mount(k, current, str(source) if source else "", flags, str(data or ""))
    if flags & MS_RDONLY:
        sb.s_flags |= SB_RDONLY
    if cant_mount(path.dentry):           # lock_mount()
        raise KernelError(E.ENOENT)
    if not S.S_ISDIR(path.dentry.d_inode.i_mode):  # graft_tree(): directory over directory only
        raise KernelError(E.ENOTDIR)
    m = alloc_vfsmnt(k, sb, mnt_flags)
    attach_mnt(current.nsproxy.mnt_ns, m, path.mnt, path.dentry)
