"""fs/namespace.py and fs/mount.py: mount(2), bind mounts, the mount tree, mount namespaces."""

from __future__ import annotations

import pytest

from simkernel.fs import namespace as NS
from simkernel.fs.mount import MNT_INTERNAL, MNT_NODEV, MNT_NOEXEC, MNT_NOSUID, MNT_READONLY, lookup_mnt
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD, CAP_SYS_ADMIN, CLONE_NEWNS, O_CREAT, O_WRONLY
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/m")
    mkfile(k, "/tmp/f")
    return k


def P(t, path):
    return filename_lookup(t, AT_FDCWD, path, 0)


def test_init_mount_tree_root():
    """Boot: one root mount in the initial namespace, its own parent; /proc mounted on it."""
    k = boot()
    ns = k.init_mnt_ns
    assert ns.root.mnt_parent is ns.root and ns.root.mnt_ns is ns and ns.user_ns is k.init_user_ns
    assert [m.mnt_sb.s_type.name for m in ns.mounts] == ["ramfs", "proc"]


def test_do_mount_needs_cap_sys_admin(k):
    """The target is looked up first (ENOENT), then mount needs CAP_SYS_ADMIN over the namespace (EPERM),
    before the filesystem type is even looked at (host-verified)."""
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.ENOENT):
        u.sys.mount("tmpfs", "/nonexistent", "tmpfs")
    with raises_errno(E.EPERM):
        u.sys.mount("tmpfs", "/tmp/m", "nosuchfs")
    k.spawn("a", uid=1000, gid=1000, caps=[CAP_SYS_ADMIN]).sys.mount("tmpfs", "/tmp/m", "tmpfs")


def test_do_mount_errors(k):
    """Missing target ENOENT, unknown type ENODEV, a new fs on a file ENOTDIR, remount EINVAL."""
    s = k.init.sys
    with raises_errno(E.ENOENT):
        s.mount("tmpfs", "/tmp/missing", "tmpfs")
    with raises_errno(E.ENODEV):
        s.mount("x", "/tmp/m", "nosuchfs")
    with raises_errno(E.ENOTDIR):
        s.mount("tmpfs", "/tmp/f", "tmpfs")
    with raises_errno(E.EINVAL):
        s.mount("tmpfs", "/tmp", "tmpfs", NS.MS_REMOUNT)    # not a mount root


def test_do_mount_flags_become_mount_flags(k):
    """MS_RDONLY/NOSUID/NODEV/NOEXEC set the mount's flags; MS_RDONLY makes writes EROFS."""
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs", NS.MS_RDONLY | NS.MS_NOSUID | NS.MS_NODEV | NS.MS_NOEXEC)
    mnt = P(k.init, "/tmp/m").mnt
    assert mnt.mnt_flags == MNT_READONLY | MNT_NOSUID | MNT_NODEV | MNT_NOEXEC
    with raises_errno(E.EROFS):
        k.init.sys.open("/tmp/m/x", O_CREAT | O_WRONLY)


def test_do_mount_bind(k):
    """A bind mount shows the source's tree at the target; types must agree (ENOTDIR)."""
    mkdir(k, "/tmp/src")
    mkfile(k, "/tmp/src/inside")
    k.init.sys.mount("/tmp/src", "/tmp/m", "none", NS.MS_BIND)
    assert k.init.sys.listdir("/tmp/m") == ["inside"]
    assert P(k.init, "/tmp/m/inside").dentry is P(k.init, "/tmp/src/inside").dentry
    with raises_errno(E.ENOTDIR):
        k.init.sys.mount("/tmp/f", "/tmp/src", "none", NS.MS_BIND)
    with raises_errno(E.ENOENT):
        k.init.sys.mount("/tmp/nope", "/tmp/src", "none", NS.MS_BIND)


def test_do_loopback_ignores_rdonly_remount_bind_sets_it(k):
    """MS_BIND|MS_RDONLY makes a writable bind (flags are copied from the source mount); MS_REMOUNT|MS_BIND|
    MS_RDONLY on the bind's root makes it read-only; elsewhere it is EINVAL (host-verified)."""
    mkdir(k, "/tmp/src")
    k.init.sys.mount("/tmp/src", "/tmp/m", "none", NS.MS_BIND | NS.MS_RDONLY)
    k.init.sys.mkdir("/tmp/m/w")
    fd = k.init.sys.open("/tmp/m/f", O_CREAT | O_WRONLY)
    with raises_errno(E.EBUSY):
        k.init.sys.mount("none", "/tmp/m", "none", NS.MS_REMOUNT | NS.MS_BIND | NS.MS_RDONLY)
    k.init.sys.close(fd)
    with raises_errno(E.EINVAL):
        k.init.sys.mount("none", "/tmp/m/w", "none", NS.MS_REMOUNT | NS.MS_BIND | NS.MS_RDONLY)
    k.init.sys.mount("none", "/tmp/m", "none", NS.MS_REMOUNT | NS.MS_BIND | NS.MS_RDONLY)
    with raises_errno(E.EROFS):
        k.init.sys.mkdir("/tmp/m/x")
    k.init.sys.mkdir("/tmp/src/x")    # the source mount is still writable
    with raises_errno(E.EINVAL):
        k.init.sys.mount("", "/tmp/m", "none", NS.MS_BIND)


def test_do_remount_superblock_readonly(k):
    """MS_REMOUNT|MS_RDONLY on a mount root makes the superblock read-only for every mount of it."""
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    k.init.sys.mkdir("/tmp/m/d")
    with raises_errno(E.EINVAL):
        k.init.sys.mount("none", "/tmp/m/d", "none", NS.MS_REMOUNT | NS.MS_RDONLY)
    fd = k.init.sys.open("/tmp/m/f", O_CREAT | O_WRONLY)
    with raises_errno(E.EBUSY):
        k.init.sys.mount("none", "/tmp/m", "none", NS.MS_REMOUNT | NS.MS_RDONLY)
    k.init.sys.unlink("/tmp/m/f")
    k.init.sys.close(k.init.sys.open("/tmp/m/f", O_CREAT | O_WRONLY))
    k.init.sys.close(fd)                  # not open for writing any more, and its inode is freed
    k.init.sys.mount("none", "/tmp/m", "none", NS.MS_REMOUNT | NS.MS_RDONLY)
    with raises_errno(E.EROFS):
        k.init.sys.mkdir("/tmp/m/x")
    k.init.sys.mount("none", "/tmp/m", "none", NS.MS_REMOUNT)
    k.init.sys.mkdir("/tmp/m/x")


def test_path_mount_other_operations(k):
    """Propagation changes are accepted on a mount root (EINVAL elsewhere); MS_MOVE and MS_NOUSER are EINVAL;
    a new mount without a type is EINVAL."""
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    k.init.sys.mount("none", "/tmp/m", "none", NS.MS_PRIVATE)
    with raises_errno(E.EINVAL):
        k.init.sys.mount("none", "/tmp", "none", NS.MS_SHARED)
    with raises_errno(E.EINVAL):
        k.init.sys.mount("/tmp/m", "/tmp", "none", NS.MS_MOVE)
    with raises_errno(E.EINVAL):
        k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs", NS.MS_NOUSER)
    with raises_errno(E.EINVAL):
        k.init.sys.mount("tmpfs", "/tmp/m", "")


def test_do_mount_on_removed_directory_is_enoent(k):
    """A directory removed while held (dont_mount) cannot take a mount, bind or new."""
    t = k.spawn("t")
    t.sys.chdir("/tmp/m")
    k.init.sys.rmdir("/tmp/m")
    with raises_errno(E.ENOENT):
        t.sys.mount("tmpfs", ".", "tmpfs")
    mkdir(k, "/tmp/src")
    with raises_errno(E.ENOENT):
        t.sys.mount("/tmp/src", ".", "none", NS.MS_BIND)


def test_attach_mnt_and_lookup_mnt(k):
    """attach_mnt hangs a mount on (parent, mountpoint); lookup_mnt finds it in that namespace only."""
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    parent = P(k.init, "/tmp").mnt
    mp = filename_lookup(k.init, AT_FDCWD, "/tmp", 0).dentry.d_subdirs["m"]
    child = lookup_mnt(k.init_mnt_ns, parent, mp)
    assert child is not None and child.mnt_mountpoint is mp and child.mnt_parent is parent
    t = k.spawn("t")
    t.sys.unshare(CLONE_NEWNS)
    assert lookup_mnt(t.nsproxy.mnt_ns, parent, mp) is None
    assert repr(child).startswith("<mount ") and "tmpfs" in repr(child)


def test_mount_namespace_copy_is_independent(k):
    """After unshare(CLONE_NEWNS), mounts made in either namespace are invisible in the other."""
    t = k.spawn("t")
    t.sys.unshare(CLONE_NEWNS)
    t.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    t.sys.mkdir("/tmp/m/only-t")
    assert k.init.sys.listdir("/tmp/m") == []
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    k.init.sys.mkdir("/tmp/m/only-init")
    assert t.sys.listdir("/tmp/m") == ["only-t"]
    assert t.sys.getcwd() == "/"


def test_kern_mount_is_internal(k):
    """kern_mount makes an internal mount attached nowhere."""
    m = NS.kern_mount(k, P(k.init, "/tmp").mnt.mnt_sb)
    assert m.mnt_flags & MNT_INTERNAL and m.mnt_parent is m and m.mnt_ns is None


def test_get_fs_type_names(k):
    """ramfs, tmpfs and proc are registered; anything else is None."""
    assert [NS.get_fs_type(k, n).name for n in ("ramfs", "tmpfs", "proc")] == ["ramfs", "tmpfs", "proc"]
    assert NS.get_fs_type(k, "ext4") is None


def test_mount_proc_twice_and_hidepid_option(k):
    """procfs can be mounted again elsewhere; its options are procfs's business."""
    k.init.sys.mount("proc", "/tmp/m", "proc", 0, "hidepid=2")
    assert str(k.init.pid) in k.init.sys.listdir("/tmp/m")
