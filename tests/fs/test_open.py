"""fs/open.py: open(2) flags and checks, close, ftruncate, chmod/chown, chdir/fchdir/chroot."""

from __future__ import annotations

import attrs
import pytest

from simkernel.fs import attr as AT
from simkernel.fs import namei_open as NOP
from simkernel.fs import open as OP
from simkernel.fs.inode import MAY_APPEND, MAY_READ, MAY_WRITE, S_APPEND
from simkernel.fs.mount import MNT_NODEV, MNT_NOEXEC
from simkernel.fs.namei import LOOKUP_CREATE, LOOKUP_DIRECTORY, LOOKUP_EXCL, LOOKUP_FOLLOW, LOOKUP_OPEN, filename_lookup
from simkernel.uapi import (
    AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_SYS_CHROOT, O_APPEND,
    O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOATIME, O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TMPFILE, O_TRUNC,
    O_WRONLY, SEEK_CUR,
)
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d", 0o777)
    mkfile(k, "/tmp/d/f", 0o644)
    mkdir(k, "/tmp/d/D")
    k.init.sys.symlink("f", "/tmp/d/lf")
    k.init.sys.symlink("D", "/tmp/d/lD")
    k.init.sys.symlink("missing", "/tmp/d/dl")
    return k


def fstat_kind(t, fd):
    return oct(t.sys.fstat(fd).st_mode >> 12)


# -- build_open_flags --------------------------------------------------------------------------------------
def test_build_open_flags_intent_and_lookup():
    """O_CREAT|O_EXCL never follows the last link; O_DIRECTORY asks for a directory; O_PATH has no intent."""
    op = OP.build_open_flags(O_CREAT | O_EXCL | O_RDWR, 0o644)
    assert op.intent == LOOKUP_OPEN | LOOKUP_CREATE | LOOKUP_EXCL and not op.lookup_flags & LOOKUP_FOLLOW
    assert op.mode == 0o100644 and op.acc_mode == MAY_READ | MAY_WRITE
    op = OP.build_open_flags(O_DIRECTORY, 0o644)
    assert op.lookup_flags == LOOKUP_DIRECTORY | LOOKUP_FOLLOW and op.mode == 0
    op = OP.build_open_flags(O_PATH | O_RDWR | O_TRUNC, 0)
    assert (op.intent, op.acc_mode, op.open_flag) == (0, 0, O_PATH)
    op = OP.build_open_flags(O_WRONLY | O_APPEND | O_TRUNC | O_CLOEXEC, 0)
    assert op.acc_mode == MAY_WRITE | MAY_APPEND and not op.open_flag & O_CLOEXEC


def test_build_open_flags_creat_directory_is_einval():
    """O_CREAT|O_DIRECTORY is EINVAL since v6.4 (also through O_TMPFILE|O_CREAT); not under O_PATH."""
    with kraises(E.EINVAL):
        OP.build_open_flags(O_CREAT | O_DIRECTORY, 0o644)
    with kraises(E.EINVAL):
        OP.build_open_flags(O_TMPFILE | O_CREAT | O_RDWR, 0o644)
    assert OP.build_open_flags(O_PATH | O_CREAT | O_DIRECTORY, 0).open_flag == O_PATH | O_DIRECTORY


def test_build_open_flags_tmpfile_needs_write():
    """O_TMPFILE needs write access (EINVAL)."""
    with kraises(E.EINVAL):
        OP.build_open_flags(O_TMPFILE | O_RDONLY, 0o600)


def test_build_open_how_drops_unknown_flags_and_mode():
    """Unknown bits are dropped; the mode only matters when creating."""
    assert OP.build_open_how(0o40000000000 | O_RDONLY, 0o777) == (O_RDONLY, 0)
    assert OP.build_open_how(O_CREAT, 0o177777) == (O_CREAT, 0o7777)


# -- open: files, directories, links ------------------------------------------------------------------------
def test_do_sys_open_lowest_free_fd_and_cloexec(k):
    """The lowest free descriptor; O_CLOEXEC marks it close-on-exec."""
    t = k.spawn("t")
    a = t.sys.open("/tmp/d/f", O_RDONLY)
    b = t.sys.open("/tmp/d/f", O_RDONLY | O_CLOEXEC)
    t.sys.close(a)
    assert t.sys.open("/tmp/d/f", O_RDONLY) == a
    assert b in t.files.close_on_exec and a not in t.files.close_on_exec


def test_do_sys_open_emfile_before_the_walk(k):
    """With the table full, even a missing path gives EMFILE (the fd is reserved first)."""
    t = k.spawn("t")
    t.files.rlimit_nofile = len(t.files.fdt) + 1
    t.sys.open("/tmp/d/f", O_RDONLY)
    with raises_errno(E.EMFILE):
        t.sys.open("/tmp/d/missing", O_RDONLY)


@pytest.mark.parametrize("path,flags,err", [
    ("f/", O_RDONLY, E.ENOTDIR), ("lf/", O_RDONLY, E.ENOTDIR), ("f/", O_CREAT | O_WRONLY, E.EISDIR),
    ("n/", O_CREAT | O_WRONLY, E.EISDIR), ("D", O_WRONLY, E.EISDIR), ("D", O_RDONLY | O_TRUNC, E.EISDIR),
    ("D", O_CREAT | O_RDONLY, E.EISDIR), ("D/.", O_CREAT | O_EXCL | O_RDWR, E.EEXIST),
    ("D/.", O_CREAT | O_RDWR, E.EISDIR), ("f", O_CREAT | O_EXCL | O_RDWR, E.EEXIST),
    ("lf", O_CREAT | O_EXCL | O_RDWR, E.EEXIST), ("dl", O_CREAT | O_EXCL | O_RDWR, E.EEXIST),
    ("lf", O_NOFOLLOW, E.ELOOP), ("lf", O_CREAT | O_NOFOLLOW | O_WRONLY, E.ELOOP), ("f", O_DIRECTORY, E.ENOTDIR),
    ("lD", O_DIRECTORY | O_NOFOLLOW, E.ENOTDIR), ("missing", O_RDONLY, E.ENOENT), ("dl", O_RDONLY, E.ENOENT),
    ("f", O_CREAT | O_DIRECTORY, E.EINVAL), ("missing/x", O_CREAT | O_WRONLY, E.ENOENT),
    ("f/x", O_CREAT | O_WRONLY, E.ENOTDIR),
])
def test_do_filp_open_errors(k, path, flags, err):
    """The errno of each flag/target combination (all checked against the host kernel)."""
    with raises_errno(err):
        k.init.sys.open(f"/tmp/d/{path}", flags, 0o644)


@pytest.mark.parametrize("path,flags,kind", [
    ("lD/", O_RDONLY, "0o4"), ("D/..", O_RDONLY, "0o4"), ("lf", O_PATH | O_NOFOLLOW, "0o12"),
    ("lD", O_DIRECTORY, "0o4"), ("D", O_PATH | O_CREAT | O_DIRECTORY, "0o4"), ("f", 3, "0o10"),
    ("lf", O_CREAT | O_WRONLY, "0o10"), ("D", O_RDONLY, "0o4"),
])
def test_do_filp_open_successes(k, path, flags, kind):
    """What each successful combination opens: a directory, the link itself (O_PATH|O_NOFOLLOW), the file."""
    fd = k.init.sys.open(f"/tmp/d/{path}", flags, 0o644)
    assert fstat_kind(k.init, fd) == kind


def test_do_filp_open_creat_through_dangling_link_creates_target(k):
    """O_CREAT follows a dangling link and creates its target with the caller's umask applied."""
    k.init.sys.open("/tmp/d/dl", O_CREAT | O_WRONLY, 0o666)
    assert oct(k.init.sys.stat("/tmp/d/missing").st_mode) == "0o100644"


def test_do_filp_open_creat_existing_needs_no_dir_write(k):
    """O_CREAT on an existing file needs only the file's permission, not write access to the directory."""
    mkdir(k, "/tmp/ro", 0o755)
    mkfile(k, "/tmp/ro/x", 0o666)
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.close(u.sys.open("/tmp/ro/x", O_CREAT | O_WRONLY, 0o644))
    with raises_errno(E.EACCES):
        u.sys.open("/tmp/ro/y", O_CREAT | O_WRONLY, 0o644)


def test_do_filp_open_created_file_skips_permission(k):
    """A file created by this open opens even when its new mode denies the access asked for."""
    fd = k.spawn("u", uid=1000, gid=1000).sys.open("/tmp/d/new", O_CREAT | O_RDWR, 0o000)
    assert fd >= 0


def test_do_filp_open_trunc_truncates_and_skips_devices(k):
    """O_TRUNC empties a regular file; on a character device it is ignored."""
    k.init.sys.close(k.init.sys.open("/tmp/d/f", O_WRONLY | O_TRUNC))
    assert k.init.sys.stat("/tmp/d/f").st_size == 0
    fd = k.init.sys.open("/dev/zero", O_RDWR | O_TRUNC)
    assert k.init.sys.read(fd, 4) == b"\0\0\0\0"


def test_do_filp_open_append_writes_at_end(k):
    """O_APPEND writes at the end whatever the position; f_pos follows."""
    fd = k.init.sys.open("/tmp/d/f", O_WRONLY | O_APPEND)
    k.init.sys.lseek(fd, 0, 0)
    k.init.sys.write(fd, b"++")
    assert k.init.sys.lseek(fd, 0, SEEK_CUR) == 6
    assert k.init.sys.pread(k.init.sys.open("/tmp/d/f", O_RDONLY), 10, 0) == b"data++"


def test_do_filp_open_o_path_rules(k):
    """An O_PATH descriptor needs only search permission and cannot be read (EBADF)."""
    mkfile(k, "/tmp/d/secret", 0o000)
    u = k.spawn("u", uid=1000, gid=1000)
    fd = u.sys.open("/tmp/d/secret", O_PATH)
    with raises_errno(E.EBADF):
        u.sys.read(fd, 1)
    assert u.sys.fstat(fd).st_mode & 0o777 == 0
    with raises_errno(E.EACCES):
        u.sys.open("/tmp/d/secret", O_RDONLY)


def test_do_filp_open_noatime_owner_only(k):
    """O_NOATIME by someone who neither owns the file nor has CAP_FOWNER is EPERM."""
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EPERM):
        u.sys.open("/tmp/d/f", O_NOATIME)
    k.spawn("fo", uid=1000, gid=1000, caps=[CAP_FOWNER]).sys.open("/tmp/d/f", O_NOATIME)


def test_do_filp_open_readonly_mount(k):
    """Writing or creating on a read-only mount is EROFS; reading is fine; O_CREAT of an existing file reads."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs")
    mkfile(k, "/tmp/m/x")
    mnt = filename_lookup(k.init, AT_FDCWD, "/tmp/m", LOOKUP_FOLLOW).mnt
    mnt.mnt_flags |= 0x40   # MNT_READONLY
    for flags in (O_WRONLY, O_RDWR, O_RDONLY | O_TRUNC):
        with raises_errno(E.EROFS):
            k.init.sys.open("/tmp/m/x", flags)
    with raises_errno(E.EROFS):
        k.init.sys.open("/tmp/m/y", O_CREAT | O_WRONLY)
    with raises_errno(E.EEXIST):
        k.init.sys.open("/tmp/m/x", O_CREAT | O_EXCL | O_WRONLY)
    k.init.sys.close(k.init.sys.open("/tmp/m/x", O_CREAT | O_RDONLY))
    with raises_errno(E.EROFS):
        k.init.sys.chmod("/tmp/m/x", 0o600)
    with raises_errno(E.EROFS):
        k.init.sys.chown("/tmp/m/x", 1, 1)


def test_may_open_nodev_noexec_and_missing_driver(k):
    """A device on a nodev mount is EACCES; an unknown device number ENXIO; directories are never executed."""
    k.init.sys.mkdir("/tmp/m")
    k.init.sys.mount("tmpfs", "/tmp/m", "tmpfs", 4)   # MS_NODEV
    k.init.sys.mknod("/tmp/m/zero", 0o020666, (1 << 8) | 5)
    with raises_errno(E.EACCES):
        k.init.sys.open("/tmp/m/zero", O_RDONLY)
    k.init.sys.mknod("/tmp/d/nodrv", 0o020666, (42 << 8) | 42)
    with raises_errno(E.ENXIO):
        k.init.sys.open("/tmp/d/nodrv", O_RDONLY)
    path = filename_lookup(k.init, AT_FDCWD, "/tmp/d/D", 0)
    with kraises(E.EACCES):
        NOP.may_open(k.init, path, 1, 0)      # MAY_EXEC on a directory
    dev = filename_lookup(k.init, AT_FDCWD, "/dev/zero", 0)
    with kraises(E.EACCES):
        NOP.may_open(k.init, dev, 1, 0)       # MAY_EXEC on a device
    f = filename_lookup(k.init, AT_FDCWD, "/tmp/d/f", 0)
    f.mnt.mnt_flags |= MNT_NOEXEC
    with kraises(E.EACCES):
        NOP.may_open(k.init, f, 1, 0)
    f.mnt.mnt_flags &= ~(MNT_NOEXEC | MNT_NODEV)


def test_do_tmpfile_unnamed_file(k):
    """O_TMPFILE makes an unnamed file: link count 0, listed nowhere, "/dir/#ino (deleted)" in /proc fd."""
    t = k.spawn("t")
    fd = t.sys.open("/tmp/d", O_TMPFILE | O_RDWR, 0o640)
    st = t.sys.fstat(fd)
    assert (oct(st.st_mode), st.st_nlink) == ("0o100640", 0)
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == f"/tmp/d/#{st.st_ino} (deleted)"
    assert "#" not in "".join(t.sys.listdir("/tmp/d"))
    with raises_errno(E.ENOTDIR):
        t.sys.open("/tmp/d/f", O_TMPFILE | O_RDWR)
    with raises_errno(E.EACCES):
        k.spawn("u", uid=1000, gid=1000).sys.open("/tmp/d/D", O_TMPFILE | O_RDWR)
    ino = filename_lookup(k.init, AT_FDCWD, "/tmp/d/D", 0).dentry.d_inode
    ino.i_op = attrs.evolve(ino.i_op, tmpfile=None)
    with raises_errno(E.EOPNOTSUPP):
        t.sys.open("/tmp/d/D", O_TMPFILE | O_RDWR)


def test_may_create_in_sticky_protected_regular(k):
    """fs.protected_regular: O_CREAT of another user's existing file in a sticky world-writable dir is EACCES."""
    mkdir(k, "/tmp/s", 0o1777)
    u1, u2 = k.spawn("a", uid=1000, gid=1000), k.spawn("b", uid=2000, gid=2000)
    u1.sys.close(u1.sys.open("/tmp/s/x", O_CREAT | O_WRONLY, 0o666))
    u1.sys.chmod("/tmp/s/x", 0o666)
    u2.sys.close(u2.sys.open("/tmp/s/x", O_CREAT | O_WRONLY, 0o666))
    k.sysctl["fs.protected_regular"] = 1
    with raises_errno(E.EACCES):
        u2.sys.open("/tmp/s/x", O_CREAT | O_WRONLY, 0o666)
    u2.sys.close(u2.sys.open("/tmp/s/x", O_WRONLY))
    k.init.sys.chmod("/tmp/s", 0o1775)
    u2.sys.close(u2.sys.open("/tmp/s/x", O_CREAT | O_WRONLY, 0o666))
    k.sysctl["fs.protected_regular"] = 2
    with raises_errno(E.EACCES):
        u2.sys.open("/tmp/s/x", O_CREAT | O_WRONLY, 0o666)


def test_mode_strip_sgid_in_setgid_directory(k):
    """A new group-executable set-gid file in a set-gid directory keeps S_ISGID only for group members."""
    mkdir(k, "/tmp/g", 0o2777, 0, 3000)
    outsider = k.spawn("o", uid=1000, gid=1000)
    member = k.spawn("m", uid=1001, gid=1001, groups=[3000])
    outsider.sys.close(outsider.sys.open("/tmp/g/a", O_CREAT | O_WRONLY, 0o2775))
    member.sys.close(member.sys.open("/tmp/g/b", O_CREAT | O_WRONLY, 0o2775))
    assert oct(k.init.sys.stat("/tmp/g/a").st_mode) == "0o100755"
    assert oct(k.init.sys.stat("/tmp/g/b").st_mode) == "0o102755"
    assert k.init.sys.stat("/tmp/g/a").st_gid == 3000
    outsider.sys.mkdir("/tmp/g/sub", 0o755)
    assert oct(k.init.sys.stat("/tmp/g/sub").st_mode) == "0o42755"


# -- close / ftruncate ------------------------------------------------------------------------------------------
def test_sys_close_bad_fd(k):
    """close of a closed descriptor is EBADF."""
    with raises_errno(E.EBADF):
        k.init.sys.close(77)


def test_do_sys_ftruncate_rules(k):
    """ftruncate: EINVAL for negative lengths, read-only descriptors and directories; EBADF for O_PATH;
    an O_APPEND descriptor may truncate; an append-only inode may not."""
    s = k.init.sys
    with raises_errno(E.EINVAL):
        s.ftruncate(s.open("/tmp/d/f", O_RDWR), -1)
    with raises_errno(E.EINVAL):
        s.ftruncate(s.open("/tmp/d/f", O_RDONLY), 0)
    with raises_errno(E.EINVAL):
        s.ftruncate(s.open("/tmp/d/D", O_RDONLY), 0)
    with raises_errno(E.EBADF):
        s.ftruncate(s.open("/tmp/d/f", O_PATH), 0)
    with raises_errno(E.EBADF):
        s.ftruncate(99, 0)
    fd = s.open("/tmp/d/f", O_WRONLY | O_APPEND)
    s.ftruncate(fd, 2)
    assert s.fstat(fd).st_size == 2
    filename_lookup(k.init, AT_FDCWD, "/tmp/d/f", 0).dentry.d_inode.i_flags |= S_APPEND
    with raises_errno(E.EPERM):
        s.ftruncate(fd, 0)


def test_do_truncate_grows_with_zeros(k):
    """Growing reads back zeros; shrinking cuts."""
    s = k.init.sys
    fd = s.open("/tmp/d/f", O_RDWR)
    s.ftruncate(fd, 8)
    assert s.pread(fd, 20, 0) == b"data\0\0\0\0"
    s.ftruncate(fd, 2)
    assert s.pread(fd, 20, 0) == b"da"


# -- chmod / chown ---------------------------------------------------------------------------------------------
def test_do_fchmodat_owner_or_fowner(k):
    """chmod by the owner or CAP_FOWNER; anyone else EPERM; the file type bits are kept."""
    mkfile(k, "/tmp/d/o", 0o644, 1000, 1000)
    owner, other = k.spawn("o", uid=1000, gid=1000), k.spawn("x", uid=2000, gid=2000)
    owner.sys.chmod("/tmp/d/o", 0o600)
    with raises_errno(E.EPERM, PermissionError):
        other.sys.chmod("/tmp/d/o", 0o777)
    k.spawn("f", uid=2000, gid=2000, caps=[CAP_FOWNER]).sys.chmod("/tmp/d/o", 0o177777)
    assert oct(k.init.sys.stat("/tmp/d/o").st_mode) == "0o105777"   # S_ISGID dropped: not in group 1000


def test_do_fchmodat_sgid_needs_group_or_fsetid(k):
    """chmod g+s keeps S_ISGID for a member of the file's group or with CAP_FSETID."""
    mkfile(k, "/tmp/d/o", 0o644, 1000, 3000)
    k.spawn("o", uid=1000, gid=1000).sys.chmod("/tmp/d/o", 0o2755)
    assert oct(k.init.sys.stat("/tmp/d/o").st_mode) == "0o100755"
    k.spawn("m", uid=1000, gid=1000, groups=[3000]).sys.chmod("/tmp/d/o", 0o2755)
    assert oct(k.init.sys.stat("/tmp/d/o").st_mode) == "0o102755"
    k.spawn("c", uid=1000, gid=1000, caps=[CAP_FSETID]).sys.chmod("/tmp/d/o", 0o2700)
    assert oct(k.init.sys.stat("/tmp/d/o").st_mode) == "0o102700"


def test_do_fchmodat_follows_links(k):
    """chmod follows a final link."""
    k.init.sys.chmod("/tmp/d/lf", 0o600)
    assert oct(k.init.sys.stat("/tmp/d/f").st_mode) == "0o100600"


def test_chown_ok_and_chgrp_ok(k):
    """chown: the owner may keep its uid or pick one of its groups; any other change needs CAP_CHOWN."""
    mkfile(k, "/tmp/d/o", 0o644, 1000, 1000)
    owner = k.spawn("o", uid=1000, gid=1000, groups=[1000, 1500])
    other = k.spawn("x", uid=2000, gid=2000)
    owner.sys.chown("/tmp/d/o", 1000, -1)
    owner.sys.chown("/tmp/d/o", -1, 1500)
    with raises_errno(E.EPERM):
        owner.sys.chown("/tmp/d/o", 2000, -1)
    with raises_errno(E.EPERM):
        owner.sys.chown("/tmp/d/o", -1, 3000)
    with raises_errno(E.EPERM):
        other.sys.chown("/tmp/d/o", 1000, -1)      # even "no change" needs ownership
    with raises_errno(E.EPERM):
        other.sys.chown("/tmp/d/o", -1, 1500)
    other.sys.chown("/tmp/d/o", -1, -1)
    k.spawn("c", uid=2000, gid=2000, caps=[CAP_CHOWN]).sys.chown("/tmp/d/o", 2000, 2000)
    assert (k.init.sys.stat("/tmp/d/o").st_uid, k.init.sys.stat("/tmp/d/o").st_gid) == (2000, 2000)


@pytest.mark.parametrize("mode,who,after", [
    (0o4755, "root", "0o100755"), (0o2755, "root", "0o100755"), (0o2745, "root", "0o102745"),
    (0o6755, "owner", "0o100755"), (0o2745, "owner", "0o102745"), (0o2745, "other", "EPERM"),
    (0o4755, "other", "EPERM"), (0o1755, "other", "0o101755"),
])
def test_chown_common_kills_setid_bits(k, mode, who, after):
    """chown(-1, -1) on a non-directory clears S_ISUID, and S_ISGID per setattr_should_drop_sgid(); a caller
    who may not chmod then gets EPERM (host-verified)."""
    mkfile(k, "/tmp/d/o", mode, 1000, 1000)
    t = {"root": k.init, "owner": k.spawn("o", uid=1000, gid=1000),
         "other": k.spawn("x", uid=2000, gid=2000)}[who]
    if after == "EPERM":
        with raises_errno(E.EPERM):
            t.sys.chown("/tmp/d/o", -1, -1)
    else:
        t.sys.chown("/tmp/d/o", -1, -1)
        assert oct(k.init.sys.stat("/tmp/d/o").st_mode) == after


def test_chown_directory_keeps_setid(k):
    """Directories keep S_ISGID on chown."""
    mkdir(k, "/tmp/d/g", 0o2775)
    k.init.sys.chown("/tmp/d/g", 5, 5)
    assert oct(k.init.sys.stat("/tmp/d/g").st_mode) == "0o42775"


def test_do_fchownat_flags_and_ids(k):
    """fchownat: unknown flags EINVAL; AT_SYMLINK_NOFOLLOW changes the link; unmapped ids EINVAL."""
    with kraises(E.EINVAL):
        OP.do_fchownat(k.init, AT_FDCWD, "/tmp/d/f", 1, 1, 0x1)
    OP.do_fchownat(k.init, AT_FDCWD, "/tmp/d/lf", 7, 7, AT_SYMLINK_NOFOLLOW)
    assert k.init.sys.lstat("/tmp/d/lf").st_uid == 7 and k.init.sys.stat("/tmp/d/f").st_uid == 0
    fd = k.init.sys.open("/tmp/d/f", O_PATH)
    OP.do_fchownat(k.init, fd, "", 8, -1, AT_EMPTY_PATH)
    assert k.init.sys.stat("/tmp/d/f").st_uid == 8
    u = k.spawn("u")
    u.sys.unshare(0x10000000)   # CLONE_NEWUSER without maps: no id is mapped
    with raises_errno(E.EINVAL):
        u.sys.chown("/tmp/d/f", 0, -1)
    with raises_errno(E.EINVAL):
        u.sys.chown("/tmp/d/f", -1, 0)


def test_chmod_on_procfs_is_eperm(k):
    """chmod reaches the filesystem's ->setattr: procfs refuses mode changes (EPERM), even for root."""
    with raises_errno(E.EPERM):
        k.init.sys.chmod(f"/proc/{k.init.pid}", 0o700)


# -- chdir / fchdir / chroot ---------------------------------------------------------------------------------------
def test_sys_chdir_rules(k):
    """chdir: a directory (ENOTDIR), searchable (EACCES), existing (ENOENT); links are followed."""
    mkdir(k, "/tmp/d/priv", 0o700, 2000, 2000)
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.ENOTDIR):
        u.sys.chdir("/tmp/d/f")
    with raises_errno(E.EACCES):
        u.sys.chdir("/tmp/d/priv")
    with raises_errno(E.ENOENT):
        u.sys.chdir("/tmp/d/missing")
    u.sys.chdir("/tmp/d/lD")
    assert u.sys.getcwd() == "/tmp/d/D"


def test_sys_fchdir_rules(k):
    """fchdir: EBADF, ENOTDIR, EACCES; an O_PATH directory descriptor works."""
    mkdir(k, "/tmp/d/priv", 0o700, 2000, 2000)
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EBADF):
        u.sys.fchdir(99)
    with raises_errno(E.ENOTDIR):
        u.sys.fchdir(u.sys.open("/tmp/d/f", O_PATH))
    with raises_errno(E.EACCES):
        u.sys.fchdir(k.init.sys.open("/tmp/d/priv", O_PATH) if False else u.sys.open("/tmp/d/priv", O_PATH))
    u.sys.fchdir(u.sys.open("/tmp/d/D", O_PATH))
    assert u.sys.getcwd() == "/tmp/d/D"


def test_sys_chroot_rules(k):
    """chroot: CAP_SYS_CHROOT (EPERM), after the walk's ENOENT/ENOTDIR; the cwd is not moved."""
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.ENOENT):
        u.sys.chroot("/tmp/d/missing")
    with raises_errno(E.ENOTDIR):
        u.sys.chroot("/tmp/d/f")
    with raises_errno(E.EPERM):
        u.sys.chroot("/tmp/d")
    c = k.spawn("c", uid=1000, gid=1000, caps=[CAP_SYS_CHROOT])
    c.sys.chdir("/tmp")
    c.sys.chroot("/tmp/d")
    assert sorted(c.sys.listdir("/")) == ["D", "dl", "f", "lD", "lf"]
    with raises_errno(E.ENOENT):
        c.sys.getcwd()   # the cwd is outside the new root: glibc's getcwd says ENOENT
    c.sys.chdir("/")
    assert c.sys.getcwd() == "/"


def test_notify_change_kill_only_returns_early(k):
    """notify_change with nothing but the kill bits and no set-id bit to clear changes nothing."""
    d = filename_lookup(k.init, AT_FDCWD, "/tmp/d/f", 0).dentry
    ctime = d.d_inode.i_ctime
    AT.notify_change(k.init, d, AT.ATTR_KILL_SUID | AT.ATTR_KILL_SGID)
    assert d.d_inode.i_ctime == ctime


def test_moved_names_still_importable_from_open():
    """do_filp_open/may_open/vfs_prepare_mode/mode_strip_sgid moved to namei_open.py but import from open.py."""
    from simkernel.fs.open import do_filp_open, may_open  # noqa: F401
    assert OP.vfs_prepare_mode is NOP.vfs_prepare_mode and OP.mode_strip_sgid is NOP.mode_strip_sgid
    with pytest.raises(AttributeError):
        OP.no_such_name


def test_mnt_want_write_on_readonly_superblock(k):
    """A read-only superblock also makes writes EROFS."""
    from simkernel.fs.inode import SB_RDONLY
    path = filename_lookup(k.init, AT_FDCWD, "/tmp/d/f", 0)
    path.mnt.mnt_sb.s_flags |= SB_RDONLY
    with kraises(E.EROFS):
        OP.mnt_want_write(path)
    path.mnt.mnt_sb.s_flags &= ~SB_RDONLY
