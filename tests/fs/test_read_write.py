"""fs/read_write.py: read, write, pread, lseek."""

from __future__ import annotations

import pytest

from simkernel.fs import read_write as RW
from simkernel.fs.file import FMODE_READ
from simkernel.uapi import O_APPEND, O_CREAT, O_DIRECTORY, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkfile(k, "/tmp/f", 0o666, data=b"hello world")
    return k


def test_ksys_read_advances_position(k):
    """read returns at most n bytes from f_pos and advances it; b"" at the end."""
    s = k.init.sys
    fd = s.open("/tmp/f", O_RDONLY)
    assert (s.read(fd, 5), s.read(fd, 100), s.read(fd, 10)) == (b"hello", b" world", b"")


def test_ksys_read_bad_descriptors(k):
    """read: EBADF for a closed, O_PATH or write-only descriptor; EISDIR on a directory; EINVAL for n < 0."""
    s = k.init.sys
    with raises_errno(E.EBADF):
        s.read(55, 1)
    with raises_errno(E.EBADF):
        s.read(s.open("/tmp/f", O_PATH), 1)
    with raises_errno(E.EBADF):
        s.read(s.open("/tmp/f", O_WRONLY), 1)
    with raises_errno(E.EISDIR, IsADirectoryError):
        s.read(s.open("/tmp", O_RDONLY | O_DIRECTORY), 1)
    with raises_errno(E.EINVAL):
        s.read(s.open("/tmp/f", O_RDONLY), -1)


def test_vfs_read_without_read_op_is_einval(k):
    """A file opened for reading whose f_op has no ->read is EINVAL (FMODE_CAN_READ unset)."""
    fd = k.init.sys.open(f"/proc/{k.init.pid}/map_files", O_RDONLY | O_DIRECTORY)
    f = k.init.files.fget(fd)
    f.f_mode = FMODE_READ
    with kraises(E.EINVAL):
        RW.vfs_read(k.init, f, 1, 0)


def test_ksys_write_and_errors(k):
    """write at f_pos (holes read as zeros); EBADF on a read-only descriptor; EINVAL without ->write."""
    s = k.init.sys
    fd = s.open("/tmp/f", O_RDWR)
    s.lseek(fd, 20, SEEK_SET)
    assert s.write(fd, b"!") == 1
    assert s.pread(fd, 30, 0) == b"hello world" + bytes(9) + b"!"
    with raises_errno(E.EBADF):
        s.write(s.open("/tmp/f", O_RDONLY), b"x")
    fd = s.open(f"/proc/{k.init.pid}/comm", O_RDONLY)
    f = k.init.files.fget(fd)
    f.f_mode |= 0x2   # FMODE_WRITE without a write op
    with raises_errno(E.EINVAL):
        s.write(fd, b"x")


def test_ksys_write_o_append_moves_position_to_end(k):
    """With O_APPEND, every write lands at the end and f_pos follows."""
    s = k.init.sys
    fd = s.open("/tmp/f", O_WRONLY | O_APPEND)
    s.lseek(fd, 0, SEEK_SET)
    s.write(fd, b"!!")
    assert s.lseek(fd, 0, SEEK_CUR) == 13


def test_ksys_pread64_rules(k):
    """pread: EINVAL for a negative offset before EBADF; reads without moving f_pos; ESPIPE if not preadable."""
    s = k.init.sys
    with raises_errno(E.EINVAL):
        s.pread(777, 1, -1)
    with raises_errno(E.EBADF):
        s.pread(777, 1, 0)
    fd = s.open("/tmp/f", O_RDONLY)
    assert s.pread(fd, 5, 6) == b"world" and s.lseek(fd, 0, SEEK_CUR) == 0
    k.init.files.fget(fd).f_mode &= ~0x8   # FMODE_PREAD (a stream)
    with raises_errno(E.ESPIPE):
        s.pread(fd, 1, 0)


@pytest.mark.parametrize("offset,whence,result", [
    (3, SEEK_SET, 3), (-1, SEEK_END, 10), (100, SEEK_SET, 100), (0, SEEK_END, 11), (-12, SEEK_END, E.EINVAL),
    (-1, SEEK_SET, E.EINVAL), (0, 5, E.EINVAL), (0, 3, 0), (11, 3, E.ENXIO), (0, 4, 11),
])
def test_ksys_lseek_regular_file(k, offset, whence, result):
    """lseek on a tmpfs file: SET/CUR/END, SEEK_DATA/SEEK_HOLE, EINVAL for a negative result or bad whence."""
    fd = k.init.sys.open("/tmp/f", O_RDONLY)
    if result in (E.EINVAL, E.ENXIO):
        with raises_errno(result):
            k.init.sys.lseek(fd, offset, whence)
    else:
        assert k.init.sys.lseek(fd, offset, whence) == result


def test_ksys_lseek_without_llseek_is_espipe(k):
    """A file without ->llseek cannot seek (ESPIPE); an O_PATH descriptor is EBADF."""
    s = k.init.sys
    s.mknod("/tmp/fifo", 0o010644)
    fd = s.open("/tmp/fifo", O_RDONLY)
    with raises_errno(E.ESPIPE):
        s.lseek(fd, 0, SEEK_SET)
    with raises_errno(E.EBADF):
        s.lseek(s.open("/tmp/f", O_PATH), 0, SEEK_SET)


def test_ksys_lseek_dev_zero_stays_at_zero(k):
    """/dev/zero reads zeros and seeks nowhere (null_lseek)."""
    fd = k.init.sys.open("/dev/zero", O_RDWR)
    assert k.init.sys.read(fd, 3) == b"\0\0\0"
    assert k.init.sys.lseek(fd, 100, SEEK_SET) == 0
    assert k.init.sys.write(fd, b"abc") == 3


def test_vfs_read_count_is_capped(k):
    """A huge count is capped at MAX_RW_COUNT and returns what there is."""
    fd = k.init.sys.open("/tmp/f", O_RDONLY)
    assert k.init.sys.read(fd, 1 << 40) == b"hello world"


def test_write_creates_then_reads_back(k):
    """A new file written in pieces reads back whole."""
    s = k.init.sys
    fd = s.open("/tmp/g", O_CREAT | O_RDWR, 0o600)
    for piece in (b"a", b"bc", b"def"):
        s.write(fd, piece)
    assert s.pread(fd, 100, 0) == b"abcdef"
    assert s.write(fd, b"") == 0
