"""fs/ramfs.py: the tmpfs-like filesystem (sizes, blocks, offsets, set-id clearing, mount options)."""

from __future__ import annotations

import pytest

from simkernel.fs import ramfs as RF
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD, CAP_FSETID, O_CREAT, O_RDWR, O_TRUNC, O_WRONLY, SEEK_SET
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    k.init.sys.mkdir("/tmp/t")
    k.init.sys.mount("tmpfs", "/tmp/t", "tmpfs")
    return k


def st(k, path):
    s = k.init.sys.lstat(path)
    return (oct(s.st_mode), s.st_nlink, s.st_size, s.st_blocks)


def test_tmpfs_root_defaults(k):
    """A fresh tmpfs root: 1777, size 40, 2 links, inode 1."""
    s = k.init.sys.stat("/tmp/t")
    assert (oct(s.st_mode), s.st_size, s.st_nlink, s.st_ino) == ("0o41777", 40, 2, 1)


def test_directory_size_counts_entries(k):
    """Directory size is 40 + 20 per entry: create, link, mkdir add; unlink, rmdir, rename out remove."""
    s = k.init.sys
    s.mkdir("/tmp/t/d")
    mkfile(k, "/tmp/t/d/a")
    s.link("/tmp/t/d/a", "/tmp/t/d/b")
    s.mkdir("/tmp/t/d/sub")
    assert st(k, "/tmp/t/d")[1:3] == (3, 100)
    s.unlink("/tmp/t/d/a")
    s.rename("/tmp/t/d/b", "/tmp/t/b")
    s.rmdir("/tmp/t/d/sub")
    assert st(k, "/tmp/t/d")[1:3] == (2, 40)
    mkfile(k, "/tmp/t/c")
    s.rename("/tmp/t/c", "/tmp/t/b")   # over an existing name
    assert st(k, "/tmp/t")[2] == 40 + 2 * 20


def test_blocks_count_pages_with_data(k):
    """st_blocks counts 4 KiB pages written; a sparse grow allocates none; shrinking frees whole pages."""
    s = k.init.sys
    fd = s.open("/tmp/t/f", O_CREAT | O_RDWR, 0o644)
    s.write(fd, b"hello")
    assert st(k, "/tmp/t/f")[2:] == (5, 8)
    s.ftruncate(fd, 3 * 4096)
    assert st(k, "/tmp/t/f")[2:] == (3 * 4096, 8)
    s.lseek(fd, 2 * 4096 + 10, SEEK_SET)
    s.write(fd, b"x")
    assert st(k, "/tmp/t/f")[3] == 16
    s.ftruncate(fd, 100)
    assert st(k, "/tmp/t/f")[2:] == (100, 8)
    assert s.pread(fd, 200, 0) == b"hello" + bytes(95)


@pytest.mark.parametrize("off,whence,res", [
    (0, 3, 0), (5, 3, 5), (4096, 3, 8192), (9000, 3, E.ENXIO), (0, 4, 4096), (8192, 4, 9000),
    (9000, 4, E.ENXIO), (-1, 3, E.ENXIO),
])
def test_shmem_file_llseek_data_hole(k, off, whence, res):
    """SEEK_DATA/SEEK_HOLE over pages 0 and 2 of a 9000-byte file."""
    s = k.init.sys
    fd = s.open("/tmp/t/f", O_CREAT | O_RDWR, 0o644)
    s.write(fd, b"a")
    s.ftruncate(fd, 9000)
    s.lseek(fd, 8192, SEEK_SET)
    s.write(fd, b"b")
    if off >= 9000 or off < 0:
        with raises_errno(res):
            s.lseek(fd, off, whence)
    else:
        assert s.lseek(fd, off, whence) == res


def test_symlink_blocks_by_length(k):
    """Bodies under 128 bytes live in the inode; 128 and more take a page."""
    k.init.sys.symlink("x" * 127, "/tmp/t/s")
    k.init.sys.symlink("x" * 128, "/tmp/t/l")
    assert (st(k, "/tmp/t/s")[2:], st(k, "/tmp/t/l")[2:]) == ((127, 0), (128, 8))


@pytest.mark.parametrize("mode,caps,groups,after", [
    (0o4777, None, (), "0o100777"), (0o2777, None, (0,), "0o100777"), (0o2767, None, (), "0o100767"),
    (0o2767, None, (0,), "0o102767"), (0o4777, [CAP_FSETID], (), "0o104777"), (0o6777, None, (), "0o100777"),
])
def test_file_remove_privs_on_write(k, mode, caps, groups, after):
    """A write by a task without CAP_FSETID clears S_ISUID, and S_ISGID when group-executable or when the
    writer is not in the file's group."""
    mkfile(k, "/tmp/t/f", mode)
    u = k.spawn("w", uid=1000, gid=1000, groups=groups, caps=caps)
    fd = u.sys.open("/tmp/t/f", O_WRONLY)
    u.sys.write(fd, b"z")
    assert st(k, "/tmp/t/f")[0] == after


def test_file_remove_privs_on_truncate_and_otrunc(k):
    """ftruncate and O_TRUNC by a task without CAP_FSETID clear S_ISUID too; root keeps it."""
    mkfile(k, "/tmp/t/f", 0o4777)
    u = k.spawn("w", uid=1000, gid=1000)
    u.sys.close(u.sys.open("/tmp/t/f", O_WRONLY | O_TRUNC))
    assert st(k, "/tmp/t/f")[0] == "0o100777"
    k.init.sys.chmod("/tmp/t/f", 0o4777)
    k.init.sys.ftruncate(k.init.sys.open("/tmp/t/f", O_WRONLY), 0)
    assert st(k, "/tmp/t/f")[0] == "0o104777"


def test_mount_options(k):
    """tmpfs mode=/uid=/gid= set the root; unknown options and bad numbers are EINVAL; ramfs ignores them."""
    s = k.init.sys
    s.mkdir("/tmp/t/a")
    s.mount("tmpfs", "/tmp/t/a", "tmpfs", 0, "mode=0710,uid=5,gid=6,size=1M")
    r = s.stat("/tmp/t/a")
    assert (oct(r.st_mode), r.st_uid, r.st_gid) == ("0o40710", 5, 6)
    for data in ("bogus=1", "mode=abc", "uid=x"):
        with raises_errno(E.EINVAL):
            s.mount("tmpfs", "/tmp/t/a", "tmpfs", 0, data)
    s.mkdir("/tmp/t/b")
    s.mount("ramfs", "/tmp/t/b", "ramfs", 0, "bogus=1,mode=700,,")
    assert oct(s.stat("/tmp/t/b").st_mode) == "0o40700"


def test_offset_allocation_and_removal(k):
    """Offsets are handed out from 3 upward; removal frees the slot; simple_offset_empty sees positives only."""
    s = k.init.sys
    s.mkdir("/tmp/t/d")
    for n in "abc":
        mkfile(k, f"/tmp/t/d/{n}")
    d = filename_lookup(k.init, AT_FDCWD, "/tmp/t/d", 0).dentry
    ctx = d.d_inode.i_private
    assert sorted(ctx.by_offset) == [3, 4, 5] and [c.d_name for c in ctx.children] == ["c", "b", "a"]
    s.unlink("/tmp/t/d/b")
    assert sorted(ctx.by_offset) == [3, 5] and not RF.simple_offset_empty(d)
    a = ctx.by_offset[3]
    RF.simple_offset_remove(d.d_inode, a)
    RF.simple_offset_remove(d.d_inode, a)   # twice: nothing left to remove
    assert sorted(ctx.by_offset) == [5] and a.d_fsdata == 0
    assert RF.simple_offset_empty(a)        # not a directory


def test_huge_sparse_file_costs_nothing(k):
    """ftruncate to 1 TiB and a write near the end use two pages; a read or write past LLONG_MAX is EINVAL."""
    s = k.init.sys
    fd = s.open("/tmp/t/big", O_CREAT | O_RDWR, 0o644)
    s.ftruncate(fd, 1 << 40)
    s.lseek(fd, (1 << 40) - 2, SEEK_SET)
    s.write(fd, b"xyz")
    assert st(k, "/tmp/t/big")[2:] == ((1 << 40) + 1, 16)
    assert s.pread(fd, 5, (1 << 40) - 3) == b"\0xyz"
    s.lseek(fd, RF.MAX_LFS_FILESIZE, SEEK_SET)
    with raises_errno(E.EINVAL):                 # rw_verify_area: pos + count passes LLONG_MAX
        s.write(fd, b"a")
    with raises_errno(E.EINVAL):
        s.read(fd, 1)
    s.lseek(fd, RF.MAX_LFS_FILESIZE - 3, SEEK_SET)
    assert s.write(fd, b"abc") == 3
    with raises_errno(E.EINVAL):
        s.pread(fd, 10, RF.MAX_LFS_FILESIZE - 5)


def test_truncate_zeroes_the_tail_of_the_last_page(k):
    """Shrinking inside a page and growing again reads zeros where the old bytes were."""
    s = k.init.sys
    fd = s.open("/tmp/t/f", O_CREAT | O_RDWR, 0o644)
    s.write(fd, b"abcdef")
    s.ftruncate(fd, 2)
    s.ftruncate(fd, 6)
    assert s.pread(fd, 10, 0) == b"ab\0\0\0\0"


def test_generic_file_read_past_end_and_holes(k):
    """Reads stop at i_size; a hole left by a sparse grow reads zeros."""
    s = k.init.sys
    fd = s.open("/tmp/t/f", O_CREAT | O_RDWR, 0o644)
    s.ftruncate(fd, 10)
    assert s.pread(fd, 100, 0) == bytes(10) and s.pread(fd, 5, 20) == b""


def test_generic_file_llseek_bounds(k):
    """generic_file_llseek: SEEK_CUR 0 reports f_pos; beyond MAX_LFS_FILESIZE or bad whence EINVAL."""
    mkfile(k, "/tmp/t/f")
    f = k.init.files.fget(k.init.sys.open("/tmp/t/f", O_RDWR))
    assert RF.generic_file_llseek(k.init, f, 0, 1) == 0
    with kraises(E.EINVAL):
        RF.generic_file_llseek(k.init, f, RF.MAX_LFS_FILESIZE + 1, 0)
    with kraises(E.EINVAL):
        RF.generic_file_llseek(k.init, f, 0, 9)


def test_chrdev_open_and_rdev(k):
    """A character device opens through the kernel's device table; st_rdev round-trips makedev()."""
    k.init.sys.mknod("/tmp/t/z", 0o020666, (1 << 8) | 5)
    fd = k.init.sys.open("/tmp/t/z", O_RDWR)
    assert k.init.sys.read(fd, 2) == b"\0\0" and k.init.sys.stat("/tmp/t/z").st_rdev == 0x105


def test_ramfs_fill_super_numbers_per_superblock(k):
    """Each superblock numbers its inodes from 1; anonymous device numbers differ."""
    k.init.sys.mkdir("/tmp/u")
    k.init.sys.mount("tmpfs", "/tmp/u", "tmpfs")
    a, b = k.init.sys.stat("/tmp/t"), k.init.sys.stat("/tmp/u")
    assert (a.st_ino, b.st_ino) == (1, 1) and a.st_dev != b.st_dev
    mkdir(k, "/tmp/u/x")
    assert k.init.sys.stat("/tmp/u/x").st_ino == 2


def test_ramfs_setattr_copies_ids(k):
    """->setattr copies uid/gid/mode and resizes."""
    mkfile(k, "/tmp/t/f")
    d = filename_lookup(k.init, AT_FDCWD, "/tmp/t/f", 0).dentry
    RF.ramfs_setattr(k.init, d, {"uid": 7, "gid": 8, "mode": 0o100600, "size": 2})
    i = d.d_inode
    assert (i.i_uid, i.i_gid, oct(i.i_mode), i.i_size) == (7, 8, "0o100600", 2)
    assert k.init.sys.pread(k.init.sys.open("/tmp/t/f", 0), 10, 0) == b"da"
