"""fs/namei.py: the path walk (getname, path_init, link_path_walk, lookup_last, symlinks, dots, mounts)."""

from __future__ import annotations

import pytest

from simkernel.fs import namei as N
from simkernel.fs.dcache import DentryOperations, d_lookup
from simkernel.fs.mount import MNT_NOSYMFOLLOW
from simkernel.uapi import (
    AT_FDCWD, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, O_DIRECTORY, O_PATH, O_RDONLY,
)
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d")
    mkdir(k, "/tmp/d/sub")
    mkfile(k, "/tmp/d/f")
    mkfile(k, "/tmp/d/sub/g")
    k.init.sys.symlink("f", "/tmp/d/lf")
    k.init.sys.symlink("sub", "/tmp/d/ld")
    k.init.sys.symlink("nowhere", "/tmp/d/dl")
    return k


def look(t, path, flags=N.LOOKUP_FOLLOW, dfd=AT_FDCWD):
    return N.filename_lookup(t, dfd, path, flags)


# -- getname ------------------------------------------------------------------------------------------
def test_getname_empty_is_enoent():
    """An empty path is ENOENT unless LOOKUP_EMPTY."""
    with kraises(E.ENOENT):
        N.getname("")
    assert N.getname("", N.LOOKUP_EMPTY) == ""


def test_getname_path_max_is_enametoolong():
    """4095 bytes fit with the NUL; 4096 are ENAMETOOLONG."""
    assert len(N.getname("/" * 4095)) == 4095
    with kraises(E.ENAMETOOLONG):
        N.getname("/" * 4096)


def test_getname_not_a_string_is_efault():
    """A bad user pointer (not str/bytes) is EFAULT."""
    with kraises(E.EFAULT):
        N.getname(1234)


def test_getname_bytes_and_nul():
    """Bytes are decoded (surrogateescape) and the C string ends at the first NUL."""
    assert N.getname(b"/tmp\xff") == "/tmp\udcff"
    assert N.getname("/tmp\0/junk") == "/tmp"


# -- path_init ------------------------------------------------------------------------------------------
def test_path_init_bad_dfd_is_ebadf(k):
    """A relative path against a closed descriptor is EBADF."""
    with kraises(E.EBADF):
        look(k.init, "f", dfd=99)


def test_path_init_file_dfd_is_enotdir(k):
    """A relative path against a non-directory descriptor is ENOTDIR; an empty path is allowed."""
    fd = k.init.sys.open("/tmp/d/f", O_RDONLY)
    with kraises(E.ENOTDIR):
        look(k.init, "x", dfd=fd)
    assert look(k.init, "", N.LOOKUP_EMPTY, dfd=fd).dentry.d_name == "f"


def test_path_init_o_path_dfd_walks(k):
    """An O_PATH descriptor of a directory is a valid starting point (fdget_raw)."""
    fd = k.init.sys.open("/tmp/d", O_PATH | O_DIRECTORY)
    assert look(k.init, "sub/g", dfd=fd).dentry.d_name == "g"


def test_path_init_absolute_ignores_dfd(k):
    """An absolute path ignores dfd, even a bad one."""
    assert look(k.init, "/tmp/d/f", dfd=12345).dentry.d_name == "f"


# -- permission per component ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode,ok", [(0o700, False), (0o711, True), (0o755, True), (0o750, False), (0o701, True),
                                     (0o744, False)])
def test_may_lookup_needs_search_on_every_component(k, mode, ok):
    """Each directory walked through needs exec (search) permission for the caller's class."""
    mkdir(k, "/tmp/p", mode, 2000, 2000)
    mkdir(k, "/tmp/p/in", 0o755, 2000, 2000)
    t = k.spawn("u", uid=1000, gid=1000)
    if ok:
        assert t.sys.stat("/tmp/p/in").st_uid == 2000
    else:
        with raises_errno(E.EACCES, PermissionError):
            t.sys.stat("/tmp/p/in")


def test_may_lookup_checks_directory_of_last_component(k):
    """Even the directory holding the last name must be searchable: stat("dir/x") is EACCES, not ENOENT."""
    mkdir(k, "/tmp/p", 0o600, 2000, 2000)
    t = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EACCES):
        t.sys.stat("/tmp/p/missing")


def test_may_lookup_dot_needs_search_on_cwd(k):
    """stat(".") walks one component: the cwd itself must be searchable."""
    mkdir(k, "/tmp/p", 0o755, 1000, 1000)
    t = k.spawn("u", uid=1000, gid=1000)
    t.sys.chdir("/tmp/p")
    k.init.sys.chmod("/tmp/p", 0o600)
    with raises_errno(E.EACCES):
        t.sys.stat(".")
    with raises_errno(E.EACCES):
        t.sys.stat("x")


def test_may_lookup_group_class_decides_for_members(k):
    """A member of the directory's group uses the group bits (0705: group has none, other has r-x)."""
    mkdir(k, "/tmp/p", 0o705, 2000, 2000)
    member = k.spawn("m", uid=1001, gid=1001, groups=[2000])
    other = k.spawn("o", uid=1000, gid=1000)
    with raises_errno(E.EACCES):
        member.sys.listdir("/tmp/p")
    assert other.sys.listdir("/tmp/p") == []


@pytest.mark.parametrize("cap", [CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE])
def test_may_lookup_dac_caps_override_search(k, cap):
    """CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE walk through a 0000 directory."""
    mkdir(k, "/tmp/p", 0o000, 2000, 2000)
    mkfile(k, "/tmp/p/f", 0o644, 2000, 2000)
    t = k.spawn("c", uid=1000, gid=1000, caps=[cap])
    assert t.sys.stat("/tmp/p/f").st_size == 4
    assert t.sys.listdir("/tmp/p") == ["f"]


def test_may_lookup_root_without_caps_is_denied(k):
    """uid 0 without capabilities is just another owner/other class."""
    mkdir(k, "/tmp/p", 0o700, 2000, 2000)
    t = k.spawn("r0", caps=[])
    with raises_errno(E.EACCES):
        t.sys.stat("/tmp/p/x")


# -- symlinks ------------------------------------------------------------------------------------------
def test_lookup_last_follows_only_with_lookup_follow(k):
    """The final link is followed with LOOKUP_FOLLOW; without it the link itself is found."""
    assert look(k.init, "/tmp/d/lf").dentry.d_name == "f"
    assert look(k.init, "/tmp/d/lf", 0).dentry.d_name == "lf"


def test_link_path_walk_follows_links_in_the_middle(k):
    """A link that is not the last component is always followed."""
    assert look(k.init, "/tmp/d/ld/g", 0).dentry.d_name == "g"


def test_lookup_last_directory_alone_does_not_follow(k):
    """LOOKUP_DIRECTORY without LOOKUP_FOLLOW stops on the link: ENOTDIR."""
    with kraises(E.ENOTDIR):
        look(k.init, "/tmp/d/ld", N.LOOKUP_DIRECTORY)


def test_lookup_last_trailing_slash_follows_and_needs_directory(k):
    """A trailing slash follows the final link and requires a directory."""
    assert look(k.init, "/tmp/d/ld/", 0).dentry.d_name == "sub"
    with kraises(E.ENOTDIR):
        look(k.init, "/tmp/d/lf/", 0)
    with kraises(E.ENOTDIR):
        look(k.init, "/tmp/d/f/")
    with kraises(E.ENOENT):
        look(k.init, "/tmp/d/dl/")


def test_lookup_dangling_link(k):
    """A dangling final link is ENOENT when followed, the link itself otherwise."""
    with kraises(E.ENOENT):
        look(k.init, "/tmp/d/dl")
    assert look(k.init, "/tmp/d/dl", 0).dentry.d_name == "dl"


def test_pick_link_absolute_body_restarts_at_root(k):
    """An absolute body restarts the walk at the task's root."""
    k.init.sys.symlink("/tmp/d/sub", "/tmp/abs")
    assert look(k.init, "/tmp/abs/g").dentry.d_name == "g"
    k.init.sys.symlink("///", "/tmp/slashes")
    assert look(k.init, "/tmp/slashes") == k.init.fs.root


def test_pick_link_relative_body_from_link_directory(k):
    """A relative body is walked from the directory holding the link, with its own "..": nested links too."""
    k.init.sys.symlink("../../d/ld", "/tmp/d/sub/up")
    assert look(k.init, "/tmp/d/sub/up/g").dentry.d_name == "g"
    k.init.sys.symlink("d/ld/", "/tmp/dl2")
    assert look(k.init, "/tmp/dl2").dentry.d_name == "sub"


def _chain(k, n, target="end"):
    mkdir(k, "/tmp/c")
    mkfile(k, "/tmp/c/end")
    k.init.sys.symlink(target, f"/tmp/c/l{n}")
    for i in range(n - 1, -1, -1):
        k.init.sys.symlink(f"l{i + 1}", f"/tmp/c/l{i}")


def test_pick_link_40_links_then_eloop(k):
    """40 links in one walk are followed; the 41st is ELOOP."""
    _chain(k, 40)
    assert look(k.init, "/tmp/c/l1").dentry.d_name == "end"   # 40 links
    with kraises(E.ELOOP):
        look(k.init, "/tmp/c/l0")                                # 41 links


def test_pick_link_count_is_per_walk_not_per_link(k):
    """Links met in different components add up in one walk."""
    mkdir(k, "/tmp/c")
    mkdir(k, "/tmp/c/dir")
    k.init.sys.symlink("dir", "/tmp/c/k20")
    for i in range(19, -1, -1):
        k.init.sys.symlink(f"k{i + 1}", f"/tmp/c/k{i}")
    assert look(k.init, "/tmp/c/k1/../k1/.").dentry.d_name == "dir"      # 20 + 20
    with kraises(E.ELOOP):
        look(k.init, "/tmp/c/k0/../k1/.")                                # 21 + 20


def test_pick_link_self_loop_is_eloop(k):
    """A link to itself loops until the limit; lstat sees the link."""
    k.init.sys.symlink("self", "/tmp/self")
    with raises_errno(E.ELOOP):
        k.init.sys.stat("/tmp/self")
    assert k.init.sys.lstat("/tmp/self").st_size == 4


def test_pick_link_no_symlinks_flag(k):
    """LOOKUP_NO_SYMLINKS (RESOLVE_NO_SYMLINKS) refuses any link with ELOOP."""
    with kraises(E.ELOOP):
        look(k.init, "/tmp/d/ld/g", N.LOOKUP_NO_SYMLINKS)


def test_pick_link_nosymfollow_mount(k):
    """A link on a nosymfollow mount is not followed (ELOOP)."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    k.init.sys.symlink("/tmp", "/tmp/m/l")
    mnt = look(k.init, "/tmp/m").mnt
    mnt.mnt_flags |= MNT_NOSYMFOLLOW
    with kraises(E.ELOOP):
        look(k.init, "/tmp/m/l")


def test_may_follow_link_protected_symlinks(k):
    """With fs.protected_symlinks, another user's link in a sticky world-writable dir is EACCES (as last)."""
    u1, u2 = k.spawn("a", uid=1000, gid=1000), k.spawn("b", uid=2000, gid=2000)
    u1.sys.symlink("/tmp/d/f", "/tmp/link")
    assert u2.sys.stat("/tmp/link").st_size == 4
    k.sysctl["fs.protected_symlinks"] = 1
    with raises_errno(E.EACCES):
        u2.sys.stat("/tmp/link")
    assert u1.sys.stat("/tmp/link").st_size == 4          # the owner follows
    assert u2.sys.lstat("/tmp/link").st_uid == 1000       # not followed: no check
    k.init.sys.chown("/tmp", 1000, -1)                    # the directory's owner owns the link
    assert u2.sys.stat("/tmp/link").st_size == 4


# -- dots and mounts ------------------------------------------------------------------------------------------
def test_follow_dotdot_at_root_stays(k):
    """".." of the root is the root."""
    assert look(k.init, "/../../..") == k.init.fs.root
    assert look(k.init, "/tmp/../..").dentry is k.init.fs.root.dentry


def test_follow_dotdot_stops_at_chroot(k):
    """After chroot, ".." never climbs above the new root."""
    t = k.spawn("j")
    t.sys.chroot("/tmp/d")
    assert sorted(t.sys.listdir("/..")) == ["dl", "f", "ld", "lf", "sub"]
    assert t.sys.stat("/../sub/g").st_size == 4


def test_follow_dotdot_climbs_out_of_mounts(k):
    """".." at a mount's root goes to the mountpoint's parent, in the parent mount."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    k.init.sys.mkdir("/tmp/m/in")
    assert look(k.init, "/tmp/m/in/../..").dentry.d_name == "tmp"
    assert look(k.init, "/tmp/m/..") == look(k.init, "/tmp")


def test_follow_dotdot_no_xdev(k):
    """LOOKUP_NO_XDEV refuses to cross a mount, down or up (EXDEV)."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    with kraises(E.EXDEV):
        look(k.init, "/tmp/m", N.LOOKUP_NO_XDEV)
    nd = N.path_init(k.init, AT_FDCWD, "/", N.LOOKUP_NO_XDEV)
    nd.path = look(k.init, "/tmp/m")
    with kraises(E.EXDEV):
        N.path_lookupat(nd, "..")


def test_follow_dotdot_beneath(k):
    """LOOKUP_BENEATH: ".." at the walk's root is EXDEV; so is an absolute jump."""
    nd = N.path_init(k.init, AT_FDCWD, "..", N.LOOKUP_BENEATH)
    nd.root = nd.path
    with kraises(E.EXDEV):
        N.path_lookupat(nd, "..")
    nd = N.path_init(k.init, AT_FDCWD, "x", N.LOOKUP_BENEATH)
    with kraises(E.EXDEV):
        N.nd_jump_root(nd)


def test_traverse_mounts_steps_onto_the_top_mount(k):
    """A mountpoint's dentry leads to the mounted root; stacked mounts to the top one."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    k.init.sys.mkdir("/tmp/m/a")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    assert k.init.sys.listdir("/tmp/m") == []
    assert look(k.init, "/tmp/m/..").dentry.d_name == "tmp"


def test_walk_component_dot_and_trailing_dot(k):
    """"." stays; "f/." is ENOTDIR (f is walked as a directory); "sub/." is sub."""
    assert look(k.init, "/tmp/d/sub/.").dentry.d_name == "sub"
    with kraises(E.ENOTDIR):
        look(k.init, "/tmp/d/f/.")
    with kraises(E.ENOTDIR):
        look(k.init, "/tmp/d/f/x")


def test_lookup_name_too_long(k):
    """A component of 256 bytes is ENAMETOOLONG on ramfs; 255 is an ordinary miss."""
    with kraises(E.ENAMETOOLONG):
        look(k.init, "/tmp/" + "a" * 256)
    with kraises(E.ENOENT):
        look(k.init, "/tmp/" + "a" * 255)


def test_lookup_slow_in_removed_directory_is_enoent(k):
    """A lookup in a removed directory (IS_DEADDIR) is ENOENT."""
    t = k.spawn("t")
    t.sys.chdir("/tmp/d/sub")
    k.init.sys.unlink("/tmp/d/sub/g")
    k.init.sys.rmdir("/tmp/d/sub")
    with raises_errno(E.ENOENT):
        t.sys.stat("anything")


# -- dcache interplay ----------------------------------------------------------------------------------------
def test_lookup_dcache_revalidate_false_looks_up_again(k):
    """A dentry whose ->d_revalidate says invalid is dropped and looked up afresh."""
    parent = look(k.init, "/tmp/d").dentry
    old = d_lookup(parent, "f")
    calls = []

    def reval(current, dentry, flags):
        calls.append(dentry.d_name)
        return False
    old.d_op = DentryOperations(d_revalidate=reval)
    found = N.lookup_one(k.init, "f", parent, 0)
    assert calls == ["f"] and found is not old and found.d_inode is None   # ramfs forgot it: negative


def test_lookup_one_missing_lookup_op_is_enotdir(k):
    """A "directory" without ->lookup cannot be walked into (ENOTDIR)."""
    f = look(k.init, "/tmp/d/f").dentry
    with kraises(E.ENOTDIR):
        N.lookup_slow(k.init, "x", f, 0)


def test_nd_jump_link_flags(k):
    """Magic links: LOOKUP_NO_MAGICLINKS is ELOOP, scoped or NO_XDEV across mounts is EXDEV."""
    target = look(k.init, "/proc")
    nd = N.path_init(k.init, AT_FDCWD, "/", N.LOOKUP_NO_MAGICLINKS)
    with kraises(E.ELOOP):
        N.nd_jump_link(nd, target)
    nd = N.path_init(k.init, AT_FDCWD, "/", N.LOOKUP_NO_XDEV)
    with kraises(E.EXDEV):
        N.nd_jump_link(nd, target)
    nd = N.path_init(k.init, AT_FDCWD, "/", N.LOOKUP_IN_ROOT)
    with kraises(E.EXDEV):
        N.nd_jump_link(nd, target)
    nd = N.path_init(k.init, AT_FDCWD, "/", 0)
    N.nd_jump_link(nd, target)
    assert nd.path == target and nd.last_type == N.LAST_BIND


def test_magic_link_walk_through_proc_fd(k):
    """/proc/<pid>/fd/N jumps to the open file, even after it was unlinked."""
    t = k.spawn("t")
    fd = t.sys.open("/tmp/d/sub", O_RDONLY | O_DIRECTORY)
    assert t.sys.stat(f"/proc/{t.pid}/fd/{fd}/g").st_size == 4
    t.sys.unlink("/tmp/d/f")
    fd2 = t.sys.open("/tmp/d/ld", O_RDONLY)
    assert t.sys.stat(f"/proc/{t.pid}/fd/{fd2}").st_nlink == 2


def test_nd_jump_root_no_xdev_from_another_mount(k):
    """An absolute link read on another mount with LOOKUP_NO_XDEV is EXDEV."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    nd = N.path_init(k.init, AT_FDCWD, "x", N.LOOKUP_NO_XDEV)
    nd.path = look(k.init, "/tmp/m")
    with kraises(E.EXDEV):
        N.nd_jump_root(nd)


# -- parent walks ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path,last,typ,slash", [
    ("/tmp/d/f", "f", N.LAST_NORM, False), ("/tmp/d/x//", "x", N.LAST_NORM, True),
    ("/tmp/d/.", ".", N.LAST_DOT, False), ("/tmp/d/..", "..", N.LAST_DOTDOT, False),
    ("/", "", N.LAST_ROOT, False), ("///", "", N.LAST_ROOT, False), ("f", "f", N.LAST_NORM, False),
])
def test_filename_parentat_types(k, path, last, typ, slash):
    """The last component, its type and whether a slash follows it."""
    nd = N.filename_parentat_nd(k.init, AT_FDCWD, path)
    assert (nd.last, nd.last_type, nd.last_slash) == (last, typ, slash)
    assert N.filename_parentat(k.init, AT_FDCWD, path)[1:] == (last, typ)


def test_filename_parentat_walks_links_in_the_middle(k):
    """The parent walk follows links before the last component, never the last."""
    parent, last, _ = N.filename_parentat(k.init, AT_FDCWD, "/tmp/d/ld/lf")
    assert (parent.dentry.d_name, last) == ("sub", "lf")


def test_user_path_at_is_filename_lookup(k):
    """user_path_at() resolves like filename_lookup()."""
    assert N.user_path_at(k.init, AT_FDCWD, "/tmp/d/lf", N.LOOKUP_FOLLOW) == look(k.init, "/tmp/d/lf")


def test_walk_component_by_name(k):
    """walk_component(name=...) steps one name from nd.path."""
    nd = N.path_init(k.init, AT_FDCWD, "/tmp/d", 0)
    nd.path = look(k.init, "/tmp/d")
    assert N.walk_component(nd, 0, name="sub") is None and nd.path.dentry.d_name == "sub"
    assert N.walk_component(nd, 0, name="..") is None and nd.path.dentry.d_name == "d"
    assert N.walk_component(nd, N.WALK_TRAILING, name="lf") is None and nd.path.dentry.d_name == "lf"
