"""fs/readdir.py: getdents64 buffers, positions and errors (with tmpfs's ordering from fs/ramfs.py)."""

from __future__ import annotations

import pytest

from simkernel.fs import readdir as RD
from simkernel.fs.ramfs import DIR_OFFSET_EOD
from simkernel.uapi import DT_DIR, DT_LNK, DT_REG, O_DIRECTORY, O_PATH, O_RDONLY, SEEK_CUR, SEEK_END, SEEK_SET
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile, names
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d")
    for n in ("a", "b", "c"):
        mkfile(k, f"/tmp/d/{n}")
    return k


def opendir(k, path="/tmp/d"):
    return k.init.sys.open(path, O_RDONLY | O_DIRECTORY)


def test_dirent64_reclen_examples():
    """Header 19 bytes + name + NUL, rounded up to 8: "." and names up to 4 bytes take 24."""
    assert [RD.dirent64_reclen(n) for n in (".", "..", "abcd", "abcde", "a" * 25)] == [24, 24, 24, 32, 48]


def test_sys_getdents64_lists_newest_first_with_offsets(k):
    """tmpfs order: ".", "..", then newest first; d_off is the next entry's offset, the last EOD."""
    batch = k.init.sys.getdents(opendir(k), 4096)
    assert names(batch) == [".", "..", "c", "b", "a"]
    assert [off for *_x, off in batch] == [1, 5, 4, 3, DIR_OFFSET_EOD]
    assert [t for _n, _i, t, _o in batch] == [DT_DIR, DT_DIR, DT_REG, DT_REG, DT_REG]


def test_sys_getdents64_small_buffer_one_per_call(k):
    """A 24-byte buffer holds one record per call; 23 bytes hold none: EINVAL."""
    fd = opendir(k)
    with raises_errno(E.EINVAL):
        k.init.sys.getdents(fd, 23)
    calls = []
    while True:
        batch = k.init.sys.getdents(fd, 24)
        if not batch:
            break
        calls.append(names(batch))
    assert calls == [["."], [".."], ["c"], ["b"], ["a"]]
    assert k.init.sys.getdents(fd, 1) == []   # at the end nothing is asked to fit


def test_sys_getdents64_resumes_after_rename_and_unlink(k):
    """A renamed entry moves to the head with a new offset; a re-created name is newest."""
    s = k.init.sys
    s.rename("/tmp/d/b", "/tmp/d/z")
    s.unlink("/tmp/d/a")
    mkfile(k, "/tmp/d/a")
    batch = s.getdents(opendir(k), 4096)
    assert names(batch) == [".", "..", "a", "z", "c"]
    assert [off for *_x, off in batch] == [1, 7, 6, 5, DIR_OFFSET_EOD]


def test_sys_getdents64_rename_over_keeps_target_offset(k):
    """Renaming onto an existing name gives the moved entry the replaced entry's offset."""
    s = k.init.sys
    s.rename("/tmp/d/c", "/tmp/d/a")
    batch = s.getdents(opendir(k), 4096)
    assert names(batch) == [".", "..", "a", "b"]
    assert [off for *_x, off in batch] == [1, 3, 4, DIR_OFFSET_EOD]


def test_sys_getdents64_lseek_back_to_a_cookie(k):
    """lseek to a d_off resumes at that entry; to 0 restarts; past the end (EOD) lists nothing."""
    s = k.init.sys
    fd = opendir(k)
    first = s.getdents(fd, 48)
    assert names(first) == [".", ".."]
    cookie = first[-1][3]
    assert names(s.getdents(fd, 4096)) == ["c", "b", "a"]
    s.lseek(fd, cookie, SEEK_SET)
    assert names(s.getdents(fd, 4096)) == ["c", "b", "a"]
    assert s.lseek(fd, 0, SEEK_CUR) == DIR_OFFSET_EOD
    s.lseek(fd, 0, SEEK_SET)
    assert len(s.getdents(fd, 4096)) == 5


def test_sys_getdents64_position_below_every_offset_restarts_list(k):
    """A position between 3 and the smallest live offset finds no entry at or below it: the list restarts."""
    s = k.init.sys
    s.unlink("/tmp/d/a")                       # offset 3 is gone
    fd = opendir(k)
    s.lseek(fd, 3, SEEK_SET)
    assert names(s.getdents(fd, 4096)) == ["c", "b"]


def test_offset_dir_llseek_rules(k):
    """Directory lseek: SEEK_SET/SEEK_CUR to non-negative positions; SEEK_END/DATA/HOLE and negatives EINVAL."""
    s = k.init.sys
    fd = opendir(k)
    assert s.lseek(fd, 2**40, SEEK_SET) == 2**40
    assert s.lseek(fd, -2**40 + 5, SEEK_CUR) == 5
    for off, whence in ((0, SEEK_END), (0, 3), (0, 4), (-1, SEEK_SET), (-6, SEEK_CUR)):
        with raises_errno(E.EINVAL):
            s.lseek(fd, off, whence)


def test_sys_getdents64_errors(k):
    """EBADF for a closed or O_PATH descriptor, ENOTDIR for a file, ENOENT for a removed directory."""
    s = k.init.sys
    with raises_errno(E.EBADF):
        s.getdents(99, 4096)
    with raises_errno(E.EBADF):
        s.getdents(s.open("/tmp/d", O_PATH), 4096)
    with raises_errno(E.ENOTDIR):
        s.getdents(s.open("/tmp/d/a", O_RDONLY), 4096)
    mkdir(k, "/tmp/gone")
    fd = opendir(k, "/tmp/gone")
    s.rmdir("/tmp/gone")
    with raises_errno(E.ENOENT):
        s.getdents(fd, 4096)
    with kraises(E.EINVAL):
        RD.sys_getdents64(k.init, opendir(k), -1)


def test_sys_getdents64_empty_directory(k):
    """An empty directory lists only the dots; ".." of a mount root is the root itself."""
    mkdir(k, "/tmp/e")
    batch = k.init.sys.getdents(opendir(k, "/tmp/e"), 4096)
    assert names(batch) == [".", ".."] and batch[-1][3] == DIR_OFFSET_EOD
    root = k.init.sys.getdents(opendir(k, "/"), 4096)
    assert root[0][1] == root[1][1]


def test_sys_getdents64_d_types(k):
    """d_type is DT_DIR/DT_REG/DT_LNK from the inode mode."""
    k.init.sys.mkdir("/tmp/d/sub")
    k.init.sys.symlink("a", "/tmp/d/l")
    types = {n: t for n, _i, t, _o in k.init.sys.getdents(opendir(k), 4096)}
    assert (types["sub"], types["l"], types["a"]) == (DT_DIR, DT_LNK, DT_REG)


def test_iterate_dir_error_after_records_keeps_records(k):
    """An error from ->iterate_shared after some records were emitted returns the records."""
    fd = opendir(k)
    f = k.init.files.fget(fd)
    inner = f.f_op.iterate_shared

    def failing(current, file, ctx):
        inner(current, file, ctx)
        from simkernel.errors import KernelError
        raise KernelError(E.EIO)
    import attrs
    f.f_op = attrs.evolve(f.f_op, iterate_shared=failing)
    assert len(k.init.sys.getdents(fd, 4096)) == 5
    with raises_errno(E.EIO):
        k.init.sys.getdents(fd, 4096)


def test_listdir_matches_getdents(k):
    """os.listdir-shaped listdir: every name, no dots, in getdents order."""
    assert k.init.sys.listdir("/tmp/d") == ["c", "b", "a"]
    with raises_errno(E.ENOTDIR):
        k.init.sys.listdir("/tmp/d/a")


def test_dir_emit_dots_positions(k):
    """dir_emit_dots emits "." at 0 and ".." at 1, and stops when the buffer is full."""
    fd = opendir(k)
    f = k.init.files.fget(fd)
    ctx = RD.DirContext(pos=0, count=24)
    assert not RD.dir_emit_dots(f, ctx) and ctx.pos == 1 and names(ctx.entries) == ["."]
    ctx = RD.DirContext(pos=1, count=0)
    assert not RD.dir_emit_dots(f, ctx) and ctx.pos == 1


def test_read_on_directory_is_eisdir(k):
    """read(2) on a tmpfs directory is EISDIR (generic_read_dir)."""
    with raises_errno(E.EISDIR):
        k.init.sys.read(opendir(k), 10)
