"""fs/libfs.py: simple_lookup, simple_offset cookies, offset_readdir and offset_dir_llseek."""

from __future__ import annotations

import pytest

from simkernel.fs import libfs as LF
from simkernel.fs.dcache import d_alloc
from simkernel.fs.namei import filename_lookup
from simkernel.fs.readdir import DirContext
from simkernel.uapi import AT_FDCWD, O_DIRECTORY, O_RDONLY
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d")
    for n in "abc":
        mkfile(k, f"/tmp/d/{n}")
    return k


def test_simple_lookup_negative_and_too_long(k):
    """A miss is hashed negative; a name over NAME_MAX is ENAMETOOLONG."""
    d = filename_lookup(k.init, AT_FDCWD, "/tmp/d", 0).dentry
    new = d_alloc(d, "zz")
    assert LF.simple_lookup(k.init, d.d_inode, new, 0) is None and new.d_hashed and new.d_inode is None
    with kraises(E.ENAMETOOLONG):
        LF.simple_lookup(k.init, d.d_inode, d_alloc(d, "x" * (LF.NAME_MAX + 1)), 0)


def test_offset_readdir_resumes_by_cookie(k):
    """Each call resumes at ctx.pos; a full buffer leaves ctx.pos at the entry that did not fit."""
    f = k.init.files.fget(k.init.sys.open("/tmp/d", O_RDONLY | O_DIRECTORY))
    ctx = DirContext(pos=0, count=24 * 3)
    LF.offset_readdir(k.init, f, ctx)
    assert [e[0] for e in ctx.entries] == [".", "..", "c"] and ctx.pos == 4
    ctx = DirContext(pos=4, count=4096)
    LF.offset_readdir(k.init, f, ctx)
    assert [e[0] for e in ctx.entries] == ["b", "a"] and ctx.pos == LF.DIR_OFFSET_EOD
    ctx = DirContext(pos=LF.DIR_OFFSET_EOD, count=4096)
    LF.offset_readdir(k.init, f, ctx)
    assert ctx.entries == []


def test_offset_readdir_empty_directory_ends(k):
    """An empty directory goes from the dots straight to EOD."""
    mkdir(k, "/tmp/e")
    f = k.init.files.fget(k.init.sys.open("/tmp/e", O_RDONLY | O_DIRECTORY))
    ctx = DirContext(pos=2, count=4096)
    LF.offset_readdir(k.init, f, ctx)
    assert ctx.entries == [] and ctx.pos == LF.DIR_OFFSET_EOD


def test_offset_dir_llseek(k):
    """SEEK_SET/SEEK_CUR only, never negative."""
    f = k.init.files.fget(k.init.sys.open("/tmp/d", O_RDONLY | O_DIRECTORY))
    assert LF.offset_dir_llseek(k.init, f, 7, 0) == 7 and LF.offset_dir_llseek(k.init, f, 1, 1) == 8
    for off, whence in ((-9, 1), (0, 2), (LF.MAX_LFS_FILESIZE + 1, 0)):
        with kraises(E.EINVAL):
            LF.offset_dir_llseek(k.init, f, off, whence)


def test_simple_offset_add_counts_up(k):
    """Offsets come from the directory's counter; removal does not reuse them."""
    ctx = filename_lookup(k.init, AT_FDCWD, "/tmp/d", 0).dentry.d_inode.i_private
    assert ctx.next_offset == 6
    k.init.sys.unlink("/tmp/d/c")
    mkfile(k, "/tmp/d/c")
    assert sorted(ctx.by_offset) == [3, 4, 6] and ctx.next_offset == 7
