"""The /proc/<pid>/maps parser (simkernel/cr/maps_parser.py) against lines the kernel prints."""

from __future__ import annotations

import os

import pytest

from simkernel.cr.maps_parser import MapsEntry, find_entry, parse_maps, parse_maps_line
from simkernel.cr.proc import read_text
from simkernel.uapi import MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDWR, PROT_EXEC, PROT_READ, PROT_WRITE
from tests.cr.scenarios import FIXED, at


def test_parse_maps_line_file():
    """A file line: addresses, prot, private, offset in bytes, dev as st_dev, inode, name."""
    e = parse_maps_line("7e0000000000-7e0000002000 r-xp 00001000 fd:01 20                         /tmp/f\n")
    assert e == MapsEntry(0x7E0000000000, 0x7E0000002000, PROT_READ | PROT_EXEC, False, 0x1000,
                          os.makedev(0xFD, 1), 20, "/tmp/f")
    assert e.range_name == "7e0000000000-7e0000002000" and not e.deleted


def test_parse_maps_line_anon_and_pseudo():
    """An anonymous line ends with one space after the inode; pseudo names are kept."""
    anon = parse_maps_line("7e0000080000-7e0000081000 rw-s 00000000 00:00 0 ")
    assert (anon.name, anon.dev, anon.ino, anon.shared, anon.prot) == ("", 0, 0, True, PROT_READ | PROT_WRITE)
    assert parse_maps_line("01e4f000-01e70000 rw-p 00000000 00:00 0          [heap]").name == "[heap]"


def test_parse_maps_line_escapes_and_deleted():
    """seq_file_path() escapes a newline as \\012; " (deleted)" is recognised (and is ambiguous)."""
    e = parse_maps_line("1000-2000 r--p 00000000 00:20 5    /tmp/a\\012b (deleted)")
    assert e.name == "/tmp/a\nb (deleted)" and e.deleted


@pytest.mark.parametrize("line", ["", "1000-2000 r--p", "1000-2000 r--pp 0 00:00 0", "x-2000 r--p 0 00:00 0"])
def test_parse_maps_line_rejects_malformed(line):
    """Lines without the five leading fields, or with bad ones, raise ValueError."""
    with pytest.raises(ValueError):
        parse_maps_line(line)


def test_parse_maps_matches_the_simulated_text(k):
    """Parsing the simulated kernel's maps gives back every mapping and find_entry finds exact ranges only."""
    t = k.spawn("app")
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 8192)
    t.sys.mmap(at(0), 8192, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    t.sys.mmap(at(1), 4096, PROT_READ | PROT_WRITE, MAP_SHARED | FIXED, fd, 4096)
    entries = parse_maps(read_text(t.sys, "/proc/self/maps"))
    st = t.sys.fstat(fd)
    assert [(e.start, e.offset, e.shared, e.dev, e.ino, e.name) for e in entries] == [
        (at(0), 0, False, st.st_dev, st.st_ino, "/tmp/f"), (at(1), 4096, True, st.st_dev, st.st_ino, "/tmp/f")]
    assert find_entry(entries, at(1), at(1) + 4096) is entries[1]
    assert find_entry(entries, at(0), at(0) + 4096) is None
