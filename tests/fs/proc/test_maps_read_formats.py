"""The bytes read(2) returns from /proc/<pid>/maps equal the text show_map_vma() prints line by line.

The read path (seq_read -> maps_cursor -> show_map_vma with its per-read line formats) takes shortcuts the
text path does not: a whole-line format per file, reused while the addresses have at least 8 hex digits, the
offset as many digits and the line the same length.  These tests put lines on both sides of every such
boundary and compare the two paths byte for byte, at several read sizes.
"""

from __future__ import annotations

import simkernel
from simkernel.fs.proc.task_mmu import render_maps
from simkernel.uapi import (MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDONLY, O_RDWR, PROT_EXEC,
                            PROT_NONE, PROT_READ, PROT_WRITE)

PAGE = 4096


def _read_all(t, count: int) -> bytes:
    fd = t.sys.open(f"/proc/{t.pid}/maps", O_RDONLY)
    chunks = []
    try:
        while True:
            b = t.sys.read(fd, count)
            if not b:
                return b"".join(chunks)
            chunks.append(b)
    finally:
        t.sys.close(fd)


def _mixed_task():
    k = simkernel.Kernel()
    t = k.spawn("fmt")
    s = t.sys
    fds = []
    for name in ("/tmp/plain", "/tmp/pct%s%d%%", "/tmp/new\nline", "/tmp/" + "long" * 20):
        fd = s.open(name, O_CREAT | O_RDWR, 0o644)
        s.ftruncate(fd, 1 << 44)
        fds.append(fd)
    protections = (PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_NONE)
    # addresses with 5, 7, 8 and 9 hex digits, and VMAs across the 0x10000000 and 0x100000000 boundaries
    starts = [0x10000, 0x1000000 - 4 * PAGE, 0x10000000 - 4 * PAGE, 0x100000000 - 4 * PAGE, 0x7e0000000000]
    # offsets of 1 to 11 hex digits (vm_pgoff of 0 to 8 digits), both directions
    pgoffs = [0, 1, 0xf, 0x10, 0xfff, 0x1000, 0xffff, 0x10000, 0x123456, 0x12345678, 0x3, 0x10000, 0x7]
    i = 0
    for base in starts:
        for j in range(8):
            fd = fds[i % len(fds)] if j != 5 else -1
            flags = (MAP_SHARED if j % 2 else MAP_PRIVATE) | MAP_FIXED | (MAP_ANONYMOUS if fd < 0 else 0)
            s.mmap(base + j * PAGE, PAGE, protections[j % 4], flags, fd, 0 if fd < 0 else pgoffs[i % len(pgoffs)] * PAGE)
            i += 1
    # one big VMA whose end has more digits than its start (0xfffff000 -> 0x100001000)
    s.mmap(0x200000000 - PAGE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fds[0], 0x10 * PAGE)
    named = s.mmap(0x300000000, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0)
    t.mm.mm_rb.find_le(named).anon_name = "[anon:x%s]"
    return t


def test_read_path_equals_text_path_at_every_width() -> None:
    t = _mixed_task()
    want = render_maps(t.mm, t.fs.root).encode("utf-8", "surrogateescape")
    assert b"/tmp/new\\012line" in want and b"[anon:x%s]" in want and b"%s%d%%" in want
    for count in (1, 7, 80, 4095, 4096, 65536, 1 << 20):
        assert _read_all(t, count) == want, count


def test_read_path_pread_at_every_offset_sample() -> None:
    t = _mixed_task()
    want = render_maps(t.mm, t.fs.root).encode("utf-8", "surrogateescape")
    fd = t.sys.open(f"/proc/{t.pid}/maps", O_RDONLY)
    try:
        for off in range(0, len(want) + 10, 97):
            assert t.sys.pread(fd, 150, off) == want[off:off + 150], off
    finally:
        t.sys.close(fd)


def test_read_path_after_rename_prints_the_new_name() -> None:
    """The line formats last one read(2): a rename between two reads shows in the second."""
    k = simkernel.Kernel()
    t = k.spawn("ren")
    s = t.sys
    fd = s.open("/tmp/before", O_CREAT | O_RDWR, 0o644)
    s.ftruncate(fd, 400 * PAGE)
    for i in range(200):
        s.mmap(0x7e0000000000 + 2 * i * PAGE, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 2 * i * PAGE)
    m = s.open(f"/proc/{t.pid}/maps", O_RDONLY)
    first = s.read(m, 65536)
    assert b"/tmp/before\n" in first and len(first) <= 4096
    s.rename("/tmp/before", "/tmp/after")
    rest = b""
    while True:
        b = s.read(m, 65536)
        if not b:
            break
        rest += b
    s.close(m)
    assert b"/tmp/before" not in rest and rest.count(b"/tmp/after\n") == 200 - first.count(b"\n")


def test_read_path_zero_padding_when_the_line_length_matches() -> None:
    """Lines of one file whose unpadded digits add up to the length the reused format expects, but which
    need zeros elsewhere: a start below 0x10000000 with an end of 9 digits after a line of 8 + 8 digits, and
    an offset of one digit fewer with an end of one digit more.  The length alone would not tell them apart.
    """
    k = simkernel.Kernel()
    t = k.spawn("pad")
    s = t.sys
    fd = s.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    s.ftruncate(fd, 1 << 40)
    flags = MAP_SHARED | MAP_FIXED
    s.mmap(0x10000, PAGE, PROT_READ, flags, fd, 0)
    s.mmap(0x1000000, 0x100000000 - 0x1000000, PROT_READ, flags, fd, 0)    # 01000000-100000000
    s.mmap(0xfffffe000, PAGE, PROT_READ, flags, fd, 0x10 * PAGE)            # offset 00010000
    s.mmap(0xffffff000, 2 * PAGE, PROT_READ, flags, fd, 0x1 * PAGE)         # ffffff000-1000001000, 00001000
    got = _read_all(t, 65536)
    assert got == render_maps(t.mm, t.fs.root).encode()
    assert b"\n01000000-100000000 r--s 00000000 " in got
    assert b"\nffffff000-1000001000 r--s 00001000 " in got
