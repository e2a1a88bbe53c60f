"""fs/stat.py: stat/lstat/fstat/fstatat and readlink."""

from __future__ import annotations

import pytest

from simkernel.fs import stat as ST
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_DIRECTORY, O_PATH, O_RDONLY
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d")
    mkfile(k, "/tmp/d/f", 0o640, 1000, 1000, data=b"12345")
    k.init.sys.symlink("abcdefghij", "/tmp/d/l")
    k.init.sys.symlink("f", "/tmp/d/lf")
    return k


def test_vfs_fstatat_fields(k):
    """stat reports mode, ids, size, links, blocks (pages of data), blksize; lstat the link itself."""
    st = k.init.sys.stat("/tmp/d/f")
    assert (oct(st.st_mode), st.st_uid, st.st_gid, st.st_size, st.st_nlink, st.st_blocks, st.st_blksize) == \
        ("0o100640", 1000, 1000, 5, 1, 8, 4096)
    assert k.init.sys.stat("/tmp/d/lf").st_ino == st.st_ino
    lst = k.init.sys.lstat("/tmp/d/lf")
    assert (oct(lst.st_mode), lst.st_size) == ("0o120777", 1)


def test_vfs_fstatat_times_are_deterministic(k):
    """Times come from the kernel clock: nanoseconds and seconds agree."""
    st = k.init.sys.stat("/tmp/d/f")
    assert st.st_mtime_ns // 10**9 == int(st.st_mtime) and st.st_ctime_ns >= st.st_mtime_ns


def test_vfs_fstatat_flags(k):
    """fstatat: unknown flags EINVAL (before the walk); AT_EMPTY_PATH stats the descriptor itself."""
    with kraises(E.EINVAL):
        ST.vfs_fstatat(k.init, AT_FDCWD, "", 0x1)
    fd = k.init.sys.open("/tmp/d/lf", O_PATH | 0o400000)   # O_NOFOLLOW: the link itself
    assert oct(k.init.sys.fstatat(fd, "", AT_EMPTY_PATH).st_mode) == "0o120777"
    with raises_errno(E.ENOENT):
        k.init.sys.fstatat(fd, "", 0)
    assert k.init.sys.fstatat(AT_FDCWD, "/tmp/d/lf", AT_SYMLINK_NOFOLLOW).st_size == 1


def test_vfs_fstat_o_path_and_bad_fd(k):
    """fstat works on O_PATH descriptors; a closed one is EBADF."""
    fd = k.init.sys.open("/tmp/d/f", O_PATH)
    assert k.init.sys.fstat(fd).st_size == 5
    assert k.init.sys.stat(fd).st_size == 5
    with raises_errno(E.EBADF):
        k.init.sys.fstat(99)


def test_cp_new_stat_maps_ids_into_caller_namespace(k):
    """Ids unmapped in the caller's user namespace read as the overflow ids (65534)."""
    t = k.spawn("t")
    t.sys.unshare(0x10000000)   # CLONE_NEWUSER, no maps
    st = t.sys.stat("/tmp/d/f")
    assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_cp_new_stat_device_numbers(k):
    """st_rdev of /dev/zero is makedev(1, 5); st_dev encodes the anonymous superblock device."""
    st = k.init.sys.stat("/dev/zero")
    assert st.st_rdev == 0x105 and oct(st.st_mode) == "0o20666"


@pytest.mark.parametrize("bufsiz,text", [(1, "a"), (5, "abcde"), (10, "abcdefghij"), (11, "abcdefghij"),
                                         (4096, "abcdefghij")])
def test_do_readlinkat_truncates_to_bufsiz(k, bufsiz, text):
    """readlink copies at most bufsiz bytes, without a NUL."""
    assert k.init.sys.readlink("/tmp/d/l", bufsiz=bufsiz) == text


def test_do_readlinkat_errors(k):
    """readlink: bufsiz <= 0 EINVAL (before the walk), a non-link EINVAL, missing ENOENT, "" on a file fd ENOENT."""
    s = k.init.sys
    with raises_errno(E.EINVAL):
        s.readlink("/tmp/d/missing", bufsiz=0)
    with raises_errno(E.EINVAL):
        s.readlink("/tmp/d/f")
    with raises_errno(E.EINVAL):
        s.readlink("/tmp/d")
    with raises_errno(E.ENOENT):
        s.readlink("/tmp/d/missing")
    with raises_errno(E.ENOTDIR):
        s.readlink("/tmp/d/lf/")
    with raises_errno(E.ENOENT):
        s.readlink("/tmp/d/l/")
    fd = s.open("/tmp/d/f", O_RDONLY)
    with raises_errno(E.ENOENT):
        s.readlink("", dir_fd=fd)
    fd = s.open("/tmp/d/l", O_PATH | 0o400000)
    assert s.readlink("", dir_fd=fd) == "abcdefghij"
    fd = s.open("/tmp/d", O_RDONLY | O_DIRECTORY)
    assert s.readlink("lf", dir_fd=fd) == "f"


def test_vfs_readlink_procfs_uses_get_link(k):
    """A procfs link without ->readlink is read through ->get_link (/proc/self)."""
    assert k.init.sys.readlink("/proc/self") == str(k.init.pid)
    d = filename_lookup(k.init, AT_FDCWD, "/proc/self", 0).dentry
    assert ST.vfs_readlink(k.init, d, 1) == str(k.init.pid)[:1].encode()
    f = filename_lookup(k.init, AT_FDCWD, "/tmp/d/f", 0).dentry
    with kraises(E.EINVAL):
        ST.vfs_readlink(k.init, f, 10)


def test_readlink_of_fd_after_unlink_says_deleted(k):
    """/proc/<pid>/fd/N of an unlinked file reads "<path> (deleted)"."""
    t = k.spawn("t")
    fd = t.sys.open("/tmp/d/f", O_RDONLY)
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == "/tmp/d/f"
    k.init.sys.unlink("/tmp/d/f")
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == "/tmp/d/f (deleted)"
