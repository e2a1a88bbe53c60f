"""Unit tests of simkernel/fs/proc/seq.py: seq_file reads of procfs text files (Linux: fs/seq_file.c)."""

from __future__ import annotations

from simkernel.fs.proc.seq import SEQ_PAGE_SIZE, SeqFile, seq_lseek, seq_read, single_cursor, traverse
from simkernel.uapi import EINVAL, ESRCH, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, O_RDONLY, PROT_READ
from tests.fs.proc.prockit import BASE, PAGE, setup
from tests.helpers import kraises, raises_errno


class _File:
    def __init__(self, m: SeqFile) -> None:
        self.private_data = m
        self.f_pos = 0
        m.file = self


def _records(n: int, width: int):
    """A cursor over n records of `width` bytes each (the last byte a newline)."""
    def cursor(current, m, index):
        if index >= n:
            return None
        return (b"%05d" % index).ljust(width - 1, b".") + b"\n", index + 1
    return cursor


def test_seq_read_returns_whole_records_up_to_a_page() -> None:
    """A big read returns only the whole records that fit in one page."""
    f = _File(SeqFile(cursor=_records(100, 100)))
    got = seq_read(None, f, 1 << 20, 0)
    assert len(got) == 4000 and got.endswith(b"\n")
    assert seq_read(None, f, 1 << 20, 4000)[:5] == b"00040"


def test_seq_read_small_reads_drain_the_buffer() -> None:
    """Reads smaller than a record are served from the buffer, then the next record follows."""
    f = _File(SeqFile(cursor=_records(3, 10)))
    parts, pos = [], 0
    while True:
        b = seq_read(None, f, 4, pos)
        if not b:
            break
        parts.append(b)
        pos += len(b)
    assert b"".join(parts) == b"00000....\n00001....\n00002....\n"
    assert [len(p) for p in parts] == [4, 4, 4, 4, 4, 4, 4, 2]   # a drained buffer is refilled in the same call


def test_seq_read_big_record_grows_the_buffer() -> None:
    """A record larger than a page doubles the buffer until it fits and comes back whole."""
    f = _File(SeqFile(cursor=_records(2, 3 * SEQ_PAGE_SIZE)))
    got = seq_read(None, f, 1 << 20, 0)
    assert len(got) == 3 * SEQ_PAGE_SIZE and f.private_data.size == 4 * SEQ_PAGE_SIZE


def test_seq_read_skips_empty_records_and_zero_count() -> None:
    """Empty records are skipped; a read of 0 bytes returns nothing."""
    def cursor(current, m, index):
        return None if index > 2 else ((b"" if index < 2 else b"x\n"), index + 1)
    f = _File(SeqFile(cursor=cursor))
    assert seq_read(None, f, 0, 0) == b""
    assert seq_read(None, f, 10, 0) == b"x\n"


def test_seq_read_at_other_position_traverses() -> None:
    """pread at an offset inside a record re-renders up to it (traverse)."""
    f = _File(SeqFile(cursor=_records(5, 10)))
    assert seq_read(None, f, 6, 13) == b"01....\n"[:6]
    assert seq_read(None, f, 4, 19) == b"\n000"
    traverse(None, f.private_data, 0)
    assert f.private_data.index == 0
    m = f.private_data
    traverse(None, m, 20)
    assert (m.index, m.count) == (2, 0)
    traverse(None, m, 1000)
    assert m.index == 5


def test_seq_read_traverse_grows_buffer() -> None:
    """traverse() past a record bigger than the buffer grows it (Eoverflow, then again)."""
    f = _File(SeqFile(cursor=_records(2, 2 * SEQ_PAGE_SIZE)))
    assert len(seq_read(None, f, 10, 2 * SEQ_PAGE_SIZE + 5)) == 10


def test_seq_read_error_after_copy_is_dropped() -> None:
    """An error after some bytes were copied is not reported; the next read reports it."""
    from simkernel.errors import KernelError

    def cursor(current, m, index):
        if index == 0:
            return b"ab\n", 1
        raise KernelError(ESRCH)
    f = _File(SeqFile(cursor=cursor))
    assert seq_read(None, f, 2, 0) == b"ab"
    assert seq_read(None, f, 10, 2) == b"\n"
    with kraises(ESRCH):
        seq_read(None, f, 10, 3)
    with kraises(ESRCH):
        seq_read(None, f, 10, 5)     # the traverse itself fails: position reset, error reported
    assert f.private_data.read_pos == 0


def test_seq_lseek_rules() -> None:
    """SEEK_SET and SEEK_CUR only, never negative; seeking re-renders up to the offset."""
    f = _File(SeqFile(cursor=single_cursor(lambda current: "hello\n")))
    assert seq_lseek(None, f, 2, 0) == 2
    assert seq_lseek(None, f, 1, 1) == 3
    assert seq_read(None, f, 10, 3) == b"lo\n"
    for off, wh in ((0, 2), (-9, 1), (-1, 0)):
        with kraises(EINVAL):
            seq_lseek(None, f, off, wh)
    assert seq_lseek(None, f, 3, 0) == 3     # the same position: nothing re-rendered


def test_maps_read_is_page_limited() -> None:
    """One read of a maps text bigger than a page returns at most a page of whole lines; reads go on."""
    s = setup()
    for i in range(200):
        s.t.sys.mmap(BASE + (64 + 2 * i) * PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
    fd = s.t.sys.open("/proc/self/maps", O_RDONLY)
    first = s.t.sys.read(fd, 1 << 20)
    assert len(first) <= 4096 and first.endswith(b"\n")
    rest = b""
    while True:
        b = s.t.sys.read(fd, 1 << 20)
        if not b:
            break
        assert len(b) <= 4096
        rest += b
    assert (first + rest).count(b"\n") == len(list(s.t.mm))


def test_maps_read_after_munmap_does_not_repeat() -> None:
    """Positions are addresses: a VMA unmapped between reads is not shown and none repeats."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/maps", O_RDONLY)
    lines = []
    first = s.root.sys.read(fd, 80)
    s.t.sys.munmap(BASE + 4 * PAGE, PAGE)
    rest = b""
    while True:
        b = s.root.sys.read(fd, 1 << 16)
        if not b:
            break
        rest += b
    lines = (first + rest).decode().splitlines()
    assert len(lines) == len(set(lines)) == 2


def test_maps_read_after_reap_is_esrch() -> None:
    """maps of a reaped task: ESRCH from m_start once the buffer is empty."""
    s = setup()
    p = s.k.spawn("parent")
    t = s.k.spawn("child", parent=p)
    fd = s.root.sys.open(f"/proc/{t.pid}/maps", O_RDONLY)
    t.sys.exit(0)
    assert s.root.sys.read(fd, 100) == b""
    p.sys.waitpid(t.pid, 0)
    s.root.sys.lseek(fd, 0, 0)
    with raises_errno(ESRCH):
        s.root.sys.read(fd, 100)
