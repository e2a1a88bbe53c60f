"""lib/vsprintf.py: the kernel's sscanf for integer conversions (the pre-4.16 map_files name parser)."""

from __future__ import annotations

import doctest

import pytest

import simkernel.lib.vsprintf as V
from simkernel.lib.vsprintf import simple_strtoull, sscanf, vsscanf


@pytest.mark.parametrize("text,want", [
    ("7f00-7f01", [0x7F00, 0x7F01]),
    (" \t7f00-\n 7f01", [0x7F00, 0x7F01]),            # whitespace before every conversion
    ("0x7f00-0X7f01", [0x7F00, 0x7F01]),               # 0x stripped for base 16
    ("7f00-7f01zzz", [0x7F00, 0x7F01]),                # trailing junk ignored
    ("1" + "0" * 16 + "7f00-7f01", [0x7F00, 0x7F01]),  # overflow wraps modulo 2**64
    ("7F00-7F01", [0x7F00, 0x7F01]),
    ("7f00 -7f01", [0x7F00]),                          # a literal must match at once
    ("+7f00-7f01", []), ("-1000", []), ("", []), ("7f00-", [0x7F00]), ("7f00--1", [0x7F00]),
    ("\xa07f00-1", []),                                # U+00A0 is c2 a0 in UTF-8: 0xc2 is not a space
])
def test_sscanf_lx_dash_lx(text: str, want: list[int]) -> None:
    """The %lx-%lx cases of reference §4.2."""
    assert sscanf(text, "%lx-%lx") == want


def test_sscanf_bytes_latin1_nbsp_is_space() -> None:
    """A raw 0xa0 byte is white space in the kernel's ctype table."""
    assert sscanf(b"\xa0" + b"10-20", "%lx-%lx") == [0x10, 0x20]


def test_vsscanf_other_conversions() -> None:
    """%d with a sign, %u, %o, %i's radix detection, %% and width qualifiers (h, hh, ll, z)."""
    assert vsscanf(b"-12 7 17 0x1f 010 9", "%d %u %o %i %i %i") == [(-12) & 0xFFFFFFFF, 7, 0o17, 0x1F, 8, 9]
    assert vsscanf(b"%5", "%%%d") == [5]
    assert vsscanf(b"x5", "%%%d") == []
    assert vsscanf(b"70000 300 5 6", "%hu %hhu %llu %zu") == [70000 & 0xFFFF, 300 & 0xFF, 5, 6]
    assert vsscanf(b"12", "%d") == [12] and vsscanf(b"12 ", "%d ") == [12]
    assert vsscanf(b"9", "%o") == [] and vsscanf(b"a", "%d") == [] and vsscanf(b"1", "%d%d") == [1]
    with pytest.raises(ValueError):
        vsscanf(b"1", "%f")


def test_simple_strtoull_radix() -> None:
    """base 0 picks 16 for 0x with a hex digit, 8 for a leading 0, else 10."""
    assert simple_strtoull(b"0x1f", 0, 0) == (0x1F, 4)
    assert simple_strtoull(b"0xg", 0, 0) == (0, 1)
    assert simple_strtoull(b"017", 0, 0) == (0o17, 3)
    assert simple_strtoull(b"19", 0, 0) == (19, 2)
    assert simple_strtoull(b"0x", 0, 16) == (0, 2)


def test_vsprintf_doctests() -> None:
    """The module's examples run."""
    assert doctest.testmod(V).failed == 0
