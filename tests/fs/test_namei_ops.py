"""fs/namei_ops.py: mkdir, mknod, symlink, rmdir, unlink, rename, link and their checks."""

from __future__ import annotations

import attrs
import pytest

from simkernel.fs import namei_ops as NO
from simkernel.fs.inode import S_APPEND, S_IMMUTABLE
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW, CAP_DAC_READ_SEARCH, CAP_FOWNER, O_PATH
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d")
    mkfile(k, "/tmp/d/f")
    mkdir(k, "/tmp/d/sub")
    return k


def inode(k, path):
    return filename_lookup(k.init, AT_FDCWD, path, 0).dentry.d_inode


# -- mkdir / mknod / symlink ------------------------------------------------------------------------------
def test_do_mkdirat_applies_umask_and_keeps_sticky(k):
    """mkdir mode is mode & ~umask & 01777 (no set-id bits)."""
    k.init.sys.mkdir("/tmp/d/a", 0o7777)
    assert oct(k.init.sys.stat("/tmp/d/a").st_mode) == "0o41755"


def test_do_mkdirat_existing_dot_root_are_eexist(k):
    """mkdir of an existing name, of "x/." or "x/..", or of "/" is EEXIST."""
    for path in ("/tmp/d/f", "/tmp/d/sub", "/tmp/d/.", "/tmp/d/..", "/", "/tmp/d/f/"):
        with raises_errno(E.EEXIST, FileExistsError):
            k.init.sys.mkdir(path)


def test_do_mkdirat_trailing_slash_allowed(k):
    """mkdir("n/") creates n."""
    k.init.sys.mkdir("/tmp/d/n//")
    assert k.init.sys.stat("/tmp/d/n").st_nlink == 2
    assert k.init.sys.stat("/tmp/d").st_nlink == 4


def test_do_mkdirat_needs_write_and_search(k):
    """Creating needs write+search on the directory (EACCES); a missing parent is ENOENT."""
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EACCES, PermissionError):
        u.sys.mkdir("/tmp/d/x")
    with raises_errno(E.ENOENT):
        u.sys.mkdir("/tmp/nope/x")
    with raises_errno(E.ENOTDIR):
        u.sys.mkdir("/tmp/d/f/x")


def test_do_mkdirat_in_removed_directory_is_enoent(k):
    """mkdir relative to a removed cwd is ENOENT."""
    t = k.spawn("t")
    t.sys.chdir("/tmp/d/sub")
    k.init.sys.rmdir("/tmp/d/sub")
    with raises_errno(E.ENOENT):
        t.sys.mkdir("x")


def test_do_mkdirat_readonly_mount_after_eexist(k):
    """On a read-only mount an existing name still says EEXIST; a new one EROFS."""
    k.init.sys.mkdir("/tmp/ro")
    k.init.sys.mount("tmpfs", "/tmp/ro", "tmpfs", 1)   # MS_RDONLY
    with raises_errno(E.EEXIST):
        k.init.sys.mkdir("/tmp/ro/.")
    with raises_errno(E.EROFS):
        k.init.sys.mkdir("/tmp/ro/x")
    with raises_errno(E.EROFS):
        k.init.sys.unlink("/tmp/ro/x")


def test_do_mknodat_types(k):
    """mknod: S_IFDIR is EPERM, an unknown type EINVAL, 0 means a regular file, fifos are allowed."""
    s = k.init.sys
    with raises_errno(E.EPERM):
        s.mknod("/tmp/d/x", 0o040755)
    with raises_errno(E.EINVAL):
        s.mknod("/tmp/d/x", 0o170644)
    s.mknod("/tmp/d/r", 0o644)
    assert oct(s.stat("/tmp/d/r").st_mode) == "0o100644"
    s.mknod("/tmp/d/p", 0o010666)
    assert oct(s.stat("/tmp/d/p").st_mode) == "0o10644"
    s.mknod("/tmp/d/sock", 0o140600)
    with raises_errno(E.ENOENT):
        s.mknod("/tmp/d/y/", 0o644)


def test_do_mknodat_device_needs_cap_mknod(k):
    """A device node needs CAP_MKNOD (EPERM), checked after may_create; rdev is decoded from makedev()."""
    u = k.spawn("u", uid=1000, gid=1000)
    mkdir(k, "/tmp/w", 0o777)
    with raises_errno(E.EPERM):
        u.sys.mknod("/tmp/w/null", 0o020666, (1 << 8) | 3)
    with raises_errno(E.EACCES):
        u.sys.mknod("/tmp/d/null", 0o020666, (1 << 8) | 3)
    k.init.sys.mknod("/tmp/w/null", 0o020666, (1 << 8) | 3)
    assert k.init.sys.stat("/tmp/w/null").st_rdev == 0x103
    assert inode(k, "/tmp/w/null").i_rdev == (1 << 20) | 3


def test_do_symlinkat_rules(k):
    """symlink: an empty target is ENOENT, an existing name EEXIST, "x/" ENOENT; size is the target length."""
    s = k.init.sys
    with raises_errno(E.ENOENT):
        s.symlink("", "/tmp/d/e")
    with raises_errno(E.EEXIST):
        s.symlink("x", "/tmp/d/f")
    with raises_errno(E.ENOENT):
        s.symlink("x", "/tmp/d/n/")
    s.symlink("target", "/tmp/d/l")
    st = s.lstat("/tmp/d/l")
    assert (oct(st.st_mode), st.st_size, st.st_blocks) == ("0o120777", 6, 0)
    s.symlink("y" * 200, "/tmp/d/long")
    assert s.lstat("/tmp/d/long").st_blocks == 8
    with raises_errno(E.ENAMETOOLONG):
        s.symlink("z" * 4096, "/tmp/d/huge")


def test_do_symlinkat_longest_body(k):
    """The longest body getname() accepts (4095 bytes) fits tmpfs's one page with its NUL."""
    k.init.sys.symlink("z" * 4095, "/tmp/d/big")
    assert k.init.sys.lstat("/tmp/d/big").st_size == 4095


def _strip_op(k, path, **none):
    ino = inode(k, path)
    ino.i_op = attrs.evolve(ino.i_op, **{name: None for name in none})


def test_vfs_create_without_create_op_is_eacces(k):
    """A directory without ->create refuses regular files with EACCES (vfs_create, lookup_open)."""
    _strip_op(k, "/tmp/d", create=1)
    with raises_errno(E.EACCES):
        k.init.sys.mknod("/tmp/d/x", 0o644)
    with raises_errno(E.EACCES):
        k.init.sys.open("/tmp/d/x", 0o101, 0o644)


# -- unlink / rmdir ---------------------------------------------------------------------------------------
def test_do_unlinkat_dots_and_root_are_eisdir(k):
    """unlink of ".", ".." or "/" is EISDIR."""
    for path in ("/tmp/d/.", "/tmp/d/..", "/"):
        with raises_errno(E.EISDIR, IsADirectoryError):
            k.init.sys.unlink(path)


def test_do_unlinkat_trailing_slash(k):
    """A trailing slash: missing ENOENT, directory EISDIR, anything else ENOTDIR, before permission checks."""
    k.init.sys.symlink("sub", "/tmp/d/ld")
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.ENOTDIR):
        u.sys.unlink("/tmp/d/f/")
    with raises_errno(E.EISDIR):
        u.sys.unlink("/tmp/d/sub/")
    with raises_errno(E.ENOTDIR):
        u.sys.unlink("/tmp/d/ld/")
    with raises_errno(E.ENOENT):
        u.sys.unlink("/tmp/d/missing/")


def test_do_unlinkat_directory_and_permission(k):
    """unlink of a directory is EISDIR after the permission check; a non-writable parent is EACCES."""
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EACCES):
        u.sys.unlink("/tmp/d/sub")
    with raises_errno(E.EISDIR):
        k.init.sys.unlink("/tmp/d/sub")
    with raises_errno(E.EACCES):
        u.sys.unlink("/tmp/d/f")


def test_do_unlinkat_updates_links_and_deleted_name(k):
    """unlink drops the link count; an open file lives on and its /proc fd link says " (deleted)"."""
    t = k.spawn("t")
    fd = t.sys.open("/tmp/d/f", 0)
    k.init.sys.link("/tmp/d/f", "/tmp/d/f2")
    assert t.sys.fstat(fd).st_nlink == 2
    k.init.sys.unlink("/tmp/d/f")
    assert t.sys.fstat(fd).st_nlink == 1
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == "/tmp/d/f (deleted)"
    k.init.sys.unlink("/tmp/d/f2")
    assert t.sys.fstat(fd).st_nlink == 0
    assert t.sys.read(fd, 10) == b"data"


def test_do_unlinkat_mountpoint_is_ebusy(k):
    """A mountpoint cannot be unlinked or removed (EBUSY)."""
    k.init.sys.mount("tmpfs", "/tmp/d/sub", "tmpfs")
    with raises_errno(E.EBUSY):
        k.init.sys.rmdir("/tmp/d/sub")
    mkfile(k, "/tmp/d/g")
    k.init.sys.mount("/tmp/d/f", "/tmp/d/g", "none", 4096)   # MS_BIND file over file
    with raises_errno(E.EBUSY):
        k.init.sys.unlink("/tmp/d/g")


def test_do_rmdir_special_names(k):
    """rmdir: ".." ENOTEMPTY, "." EINVAL, "/" EBUSY, a file ENOTDIR, non-empty ENOTEMPTY."""
    s = k.init.sys
    with raises_errno(E.ENOTEMPTY):
        s.rmdir("/tmp/d/..")
    with raises_errno(E.EINVAL):
        s.rmdir("/tmp/d/.")
    with raises_errno(E.EBUSY):
        s.rmdir("/")
    with raises_errno(E.ENOTDIR):
        s.rmdir("/tmp/d/f")
    with raises_errno(E.ENOTEMPTY):
        s.rmdir("/tmp")
    with raises_errno(E.ENOENT):
        s.rmdir("/tmp/d/missing")
    s.rmdir("/tmp/d/sub/")
    assert s.stat("/tmp/d").st_nlink == 2


def test_do_rmdir_of_chroot_root_is_ebusy(k):
    """rmdir of the caller's root (a root dentry of the walk) reports EBUSY through may_delete's IS_ROOT."""
    t = k.spawn("t")
    t.sys.chroot("/tmp/d")
    with raises_errno(E.EBUSY):
        t.sys.rmdir("/")


def test_do_rmdir_removed_dir_is_dead(k):
    """A removed directory held as cwd: creation there is ENOENT, and it cannot take a mount."""
    t = k.spawn("t")
    t.sys.chdir("/tmp/d/sub")
    k.init.sys.rmdir("/tmp/d/sub")
    with raises_errno(E.ENOENT):
        t.sys.open("x", 0o100, 0o644)
    with raises_errno(E.ENOENT):
        t.sys.mount("tmpfs", ".", "tmpfs")


# -- sticky ---------------------------------------------------------------------------------------------
def test_check_sticky_owner_rules(k):
    """In a sticky directory: the file's owner, the directory's owner and CAP_FOWNER may remove; others EPERM."""
    mkdir(k, "/tmp/s", 0o1777, 3000, 3000)
    u1, u2 = k.spawn("u1", uid=1000, gid=1000), k.spawn("u2", uid=2000, gid=2000)
    dirowner = k.spawn("d", uid=3000, gid=3000)
    fowner = k.spawn("f", uid=4000, gid=4000, caps=[CAP_FOWNER])
    for i in range(4):
        u1.sys.close(u1.sys.open(f"/tmp/s/{i}", 0o101, 0o666))
    with raises_errno(E.EPERM, PermissionError):
        u2.sys.unlink("/tmp/s/0")
    with raises_errno(E.EPERM):
        u2.sys.rename("/tmp/s/0", "/tmp/s/x")
    u1.sys.unlink("/tmp/s/0")
    dirowner.sys.unlink("/tmp/s/1")
    fowner.sys.unlink("/tmp/s/2")
    k.init.sys.chmod("/tmp/s", 0o777)
    u2.sys.unlink("/tmp/s/3")


def test_may_delete_append_and_immutable(k):
    """An append-only directory or an append-only/immutable victim cannot lose names (EPERM)."""
    inode(k, "/tmp/d/f").i_flags |= S_IMMUTABLE
    with raises_errno(E.EPERM):
        k.init.sys.unlink("/tmp/d/f")
    inode(k, "/tmp/d/f").i_flags &= ~S_IMMUTABLE
    inode(k, "/tmp/d").i_flags |= S_APPEND
    with raises_errno(E.EPERM):
        k.init.sys.unlink("/tmp/d/f")


# -- rename ---------------------------------------------------------------------------------------------
def test_do_renameat2_flags_are_einval(k):
    """renameat2 flags are not modelled: EINVAL."""
    with kraises(E.EINVAL):
        NO.do_renameat2(k.init, AT_FDCWD, "/tmp/d/f", AT_FDCWD, "/tmp/d/g", 1)


def test_do_renameat2_traps(k):
    """A directory moved below itself is EINVAL; onto an ancestor of the source is ENOTEMPTY."""
    mkdir(k, "/tmp/d/sub/c")
    with raises_errno(E.EINVAL):
        k.init.sys.rename("/tmp/d", "/tmp/d/sub/x")
    with raises_errno(E.EINVAL):
        k.init.sys.rename("/tmp/d", "/tmp/d/sub")
    with raises_errno(E.ENOTEMPTY):
        k.init.sys.rename("/tmp/d/sub/c", "/tmp/d")
    with raises_errno(E.ENOTEMPTY):
        k.init.sys.rename("/tmp/d/f", "/tmp")   # a file onto an ancestor: the trap wins over EISDIR


def test_lock_rename_trap_cases(k):
    """The trap is the child of one parent on the way to the other; None for equal or unrelated parents."""
    mkdir(k, "/tmp/d/sub/c")
    mkdir(k, "/tmp/e")
    d = filename_lookup(k.init, AT_FDCWD, "/tmp/d", 0).dentry
    sub = filename_lookup(k.init, AT_FDCWD, "/tmp/d/sub", 0).dentry
    c = filename_lookup(k.init, AT_FDCWD, "/tmp/d/sub/c", 0).dentry
    e = filename_lookup(k.init, AT_FDCWD, "/tmp/e", 0).dentry
    assert NO.lock_rename_trap(d, d) is None
    assert NO.lock_rename_trap(c, d) is sub
    assert NO.lock_rename_trap(d, c) is sub
    assert NO.lock_rename_trap(e, c) is None


def test_do_renameat2_type_mismatch(k):
    """A file onto a directory is EISDIR; a directory onto a file ENOTDIR; onto a non-empty dir ENOTEMPTY."""
    mkdir(k, "/tmp/d/e")
    mkdir(k, "/tmp/d/full")
    mkfile(k, "/tmp/d/full/x")
    with raises_errno(E.EISDIR):
        k.init.sys.rename("/tmp/d/f", "/tmp/d/e")
    with raises_errno(E.ENOTDIR):
        k.init.sys.rename("/tmp/d/e", "/tmp/d/f")
    with raises_errno(E.ENOTEMPTY):
        k.init.sys.rename("/tmp/d/e", "/tmp/d/full")
    k.init.sys.rename("/tmp/d/e", "/tmp/d/sub")   # over an empty directory
    assert sorted(k.init.sys.listdir("/tmp/d")) == ["f", "full", "sub"]


def test_do_renameat2_trailing_slashes(k):
    """A non-directory with a trailing slash on either side is ENOTDIR, even renamed onto itself."""
    with raises_errno(E.ENOTDIR):
        k.init.sys.rename("/tmp/d/f", "/tmp/d/f/")
    with raises_errno(E.ENOTDIR):
        k.init.sys.rename("/tmp/d/f/", "/tmp/d/g")
    k.init.sys.rename("/tmp/d/sub/", "/tmp/d/sub2/")
    assert k.init.sys.stat("/tmp/d/sub2").st_nlink == 2


def test_do_renameat2_dots_exdev_enoent(k):
    """"."/".." on either side is EBUSY; across mounts EXDEV (checked first); a missing source ENOENT."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    with raises_errno(E.EBUSY):
        k.init.sys.rename("/tmp/d/.", "/tmp/d/x")
    with raises_errno(E.EBUSY):
        k.init.sys.rename("/tmp/d/f", "/tmp/d/..")
    with raises_errno(E.EXDEV):
        k.init.sys.rename("/tmp/d/missing", "/tmp/m/x")
    with raises_errno(E.ENOENT):
        k.init.sys.rename("/tmp/d/missing", "/tmp/d/x")
    with raises_errno(E.EBUSY):
        k.init.sys.rename("/tmp/m", "/tmp/m2")


def test_do_renameat2_same_inode_is_a_noop(k):
    """Two hard links of one inode: rename succeeds and both names stay."""
    k.init.sys.link("/tmp/d/f", "/tmp/d/f2")
    k.init.sys.rename("/tmp/d/f", "/tmp/d/f2")
    assert sorted(k.init.sys.listdir("/tmp/d")) == ["f", "f2", "sub"]
    k.init.sys.rename("/tmp/d/f", "/tmp/d/f")


def test_do_renameat2_directory_to_other_parent_needs_write_on_it(k):
    """Moving a directory to another parent needs write permission on the directory itself ("..")."""
    mkdir(k, "/tmp/w", 0o777)
    mkdir(k, "/tmp/w/x", 0o777)
    mkdir(k, "/tmp/w/rootdir", 0o755)
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EACCES):
        u.sys.rename("/tmp/w/rootdir", "/tmp/w/x/rootdir")
    u.sys.rename("/tmp/w/rootdir", "/tmp/w/rootdir2")


def test_do_renameat2_updates_link_counts(k):
    """A directory moved between parents moves one link; replacing a directory target removes it."""
    mkdir(k, "/tmp/e")
    k.init.sys.rename("/tmp/d/sub", "/tmp/e/sub")
    assert (k.init.sys.stat("/tmp/d").st_nlink, k.init.sys.stat("/tmp/e").st_nlink) == (2, 3)
    mkdir(k, "/tmp/e/sub2")
    t = k.spawn("t")
    t.sys.chdir("/tmp/e/sub2")
    k.init.sys.rename("/tmp/e/sub", "/tmp/e/sub2")
    assert k.init.sys.stat("/tmp/e").st_nlink == 3
    with raises_errno(E.ENOENT):
        t.sys.open("new", 0o100, 0o644)


# -- link -----------------------------------------------------------------------------------------------
def test_do_linkat_rules(k):
    """link: a directory EPERM, an existing name EEXIST, "x/" ENOENT, a symlink is linked itself."""
    s = k.init.sys
    with raises_errno(E.EPERM):
        s.link("/tmp/d/sub", "/tmp/d/sub2")
    with raises_errno(E.EEXIST):
        s.link("/tmp/d/f", "/tmp/d/sub")
    with raises_errno(E.ENOENT):
        s.link("/tmp/d/f", "/tmp/d/n/")
    with raises_errno(E.ENOENT):
        s.link("/tmp/d/missing", "/tmp/d/n")
    s.symlink("f", "/tmp/d/l")
    s.link("/tmp/d/l", "/tmp/d/l2")
    assert oct(s.lstat("/tmp/d/l2").st_mode) == "0o120777"


def test_do_linkat_flags(k):
    """linkat: unknown flags EINVAL, AT_SYMLINK_FOLLOW follows, AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH."""
    k.init.sys.symlink("f", "/tmp/d/l")
    with kraises(E.EINVAL):
        NO.do_linkat(k.init, AT_FDCWD, "/tmp/d/f", AT_FDCWD, "/tmp/d/x", 0x8)
    NO.do_linkat(k.init, AT_FDCWD, "/tmp/d/l", AT_FDCWD, "/tmp/d/x", AT_SYMLINK_FOLLOW)
    assert k.init.sys.lstat("/tmp/d/x").st_nlink == 2
    u = k.spawn("u", uid=1000, gid=1000, caps=[])
    fd = k.init.sys.open("/tmp/d/f", O_PATH)
    with kraises(E.ENOENT):
        NO.do_linkat(u, AT_FDCWD, "", AT_FDCWD, "/tmp/d/y", AT_EMPTY_PATH)
    NO.do_linkat(k.init, fd, "", AT_FDCWD, "/tmp/d/y", AT_EMPTY_PATH)
    assert k.init.sys.stat("/tmp/d/y").st_nlink == 3
    r = k.spawn("r", uid=1000, gid=1000, caps=[CAP_DAC_READ_SEARCH])   # inherits fd; not the owner
    with kraises(E.EPERM):
        NO.do_linkat(r, fd, "", AT_FDCWD, "/tmp/d/z", AT_EMPTY_PATH)


def test_do_linkat_exdev_and_unlinked_source(k):
    """link across mounts is EXDEV; linking an open file with no names left is ENOENT."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    with raises_errno(E.EXDEV):
        k.init.sys.link("/tmp/d/f", "/tmp/m/f")
    fd = k.init.sys.open("/tmp/d/f", O_PATH)
    k.init.sys.unlink("/tmp/d/f")
    with kraises(E.ENOENT):
        NO.do_linkat(k.init, fd, "", AT_FDCWD, "/tmp/d/back", AT_EMPTY_PATH)


@pytest.mark.parametrize("mode,owner,ok", [
    (0o600, 0, False), (0o644, 0, False), (0o666, 0, True), (0o4777, 0, False), (0o2777, 0, False),
    (0o2767, 0, True), (0o600, 1000, True),
])
def test_may_linkat_protected_hardlinks(k, mode, owner, ok):
    """fs.protected_hardlinks: own the source, or a plain regular file you may read and write."""
    mkdir(k, "/tmp/w", 0o777)
    mkfile(k, "/tmp/w/src", mode, owner, owner)
    u = k.spawn("u", uid=1000, gid=1000)
    if ok:
        u.sys.link("/tmp/w/src", "/tmp/w/dst")
    else:
        with raises_errno(E.EPERM):
            u.sys.link("/tmp/w/src", "/tmp/w/dst")


def test_may_linkat_off_and_fowner(k):
    """With fs.protected_hardlinks = 0, or CAP_FOWNER, any source may be linked."""
    mkdir(k, "/tmp/w", 0o777)
    mkfile(k, "/tmp/w/src", 0o600)
    u = k.spawn("u", uid=1000, gid=1000)
    f = k.spawn("f", uid=1000, gid=1000, caps=[CAP_FOWNER])
    f.sys.link("/tmp/w/src", "/tmp/w/dst1")
    k.sysctl["fs.protected_hardlinks"] = 0
    u.sys.link("/tmp/w/src", "/tmp/w/dst2")


def test_do_linkat_append_only_source(k):
    """An append-only or immutable source cannot get new names (EPERM)."""
    inode(k, "/tmp/d/f").i_flags |= S_APPEND
    with raises_errno(E.EPERM):
        k.init.sys.link("/tmp/d/f", "/tmp/d/g")


def test_vfs_ops_missing_in_directory_are_eperm(k):
    """A directory whose filesystem lacks mkdir/mknod/symlink/link/unlink/rmdir/rename refuses with EPERM."""
    mkdir(k, "/tmp/d/sub/x")
    mkfile(k, "/tmp/d/g")
    _strip_op(k, "/tmp/d", mkdir=1, mknod=1, symlink=1, link=1, unlink=1, rmdir=1, rename=1)
    s = k.init.sys
    for call, args in ((s.mkdir, ("/tmp/d/n",)), (s.mknod, ("/tmp/d/n", 0o010644)), (s.symlink, ("a", "/tmp/d/n")),
                       (s.link, ("/tmp/d/f", "/tmp/d/n")), (s.unlink, ("/tmp/d/f",)), (s.rmdir, ("/tmp/d/sub/x/..",)),
                       (s.rename, ("/tmp/d/f", "/tmp/d/n"))):
        with raises_errno(E.ENOTEMPTY if call.__name__ == "rmdir" else E.EPERM):
            call(*args)
    _strip_op(k, "/tmp/d/sub", rmdir=1)
    with raises_errno(E.EPERM):
        s.rmdir("/tmp/d/sub/x")
