"""The kernel's sscanf(), for the integer conversions: what map_files used to parse names until v4.16.

The kernel's vsscanf() differs from C's in ways map_files made visible (reference §4.2): whitespace in the
input is skipped before every integer conversion; a base-16 number may start with "0x"; digits are consumed
greedily and an overflow silently wraps; a literal character in the format must match exactly; whatever
follows the last conversion is ignored.  Input is bytes, classified with the kernel's Latin-1 ctype table
(so 0xa0, NO-BREAK SPACE, is white space; only ASCII digits are digits).

Supported conversions: %d %i %u %x %X %o with the h, hh, l, ll, z qualifiers; `*` and field widths are not
(map_files never used them).

    >>> sscanf(b"7f00-7f01", "%lx-%lx")
    [32512, 32513]
    >>> sscanf(b" 0x7f00- 7f01junk", "%lx-%lx")
    [32512, 32513]
    >>> sscanf(b"7f00 -7f01", "%lx-%lx")
    [32512]

Linux: lib/vsprintf.c:vsscanf(), simple_strtoull(); lib/kstrtox.c:_parse_integer_fixup_radix(),
_parse_integer(); lib/ctype.c
"""

from __future__ import annotations

__all__ = ["sscanf", "vsscanf", "simple_strtoull", "isspace", "isxdigit"]

_SPACE = frozenset(b" \t\n\v\f\r\xa0")
_XDIGIT = frozenset(b"0123456789abcdefABCDEF")
_BITS = {"H": 8, "h": 16, None: 32, "l": 64, "L": 64, "z": 64}


def isspace(c: int) -> bool:
    """isspace() of lib/ctype.c (_S: the six ASCII spaces and 0xa0). Linux: include/linux/ctype.h"""
    return c in _SPACE


def isxdigit(c: int) -> bool:
    """isxdigit(): 0-9, a-f, A-F. Linux: include/linux/ctype.h"""
    return c in _XDIGIT


def _digit(c: int, base: int) -> int:
    if 48 <= c <= 57:
        v = c - 48
    elif 97 <= c <= 102 or 65 <= c <= 70:
        v = (c | 0x20) - 87
    else:
        return -1
    return v if v < base else -1


def simple_strtoull(buf: bytes, i: int, base: int) -> tuple[int, int]:
    """simple_strtoull(): (value mod 2**64, index after the digits); "0x" skipped for base 16 (or 0).

    Overflow is not reported: the value wraps, as the kernel's does.

    Linux: lib/vsprintf.c:simple_strtoull(), lib/kstrtox.c:_parse_integer_fixup_radix()
    """
    if base == 0:
        if buf[i:i + 1] == b"0":
            base = 16 if buf[i + 1:i + 2] in (b"x", b"X") and i + 2 < len(buf) and isxdigit(buf[i + 2]) else 8
        else:
            base = 10
    if base == 16 and buf[i:i + 1] == b"0" and buf[i + 1:i + 2] in (b"x", b"X"):
        i += 2
    value = 0
    while i < len(buf):
        d = _digit(buf[i], base)
        if d < 0:
            break
        value = (value * base + d) & ((1 << 64) - 1)
        i += 1
    return value, i


def vsscanf(buf: bytes, fmt: str) -> list[int]:
    """vsscanf(): the values converted before the first mismatch (C returns their count).

    Linux: lib/vsprintf.c:vsscanf()
    """
    out: list[int] = []
    f = fmt.encode()
    i = j = 0
    while j < len(f):
        if isspace(f[j]):
            while j < len(f) and isspace(f[j]):
                j += 1
            while i < len(buf) and isspace(buf[i]):
                i += 1
        if j >= len(f):
            break
        if f[j] != 0x25:                        # a literal: must match exactly
            if i >= len(buf) or f[j] != buf[i]:
                break
            i += 1
            j += 1
            continue
        j += 1
        qualifier = None
        if j < len(f) and f[j:j + 1] in (b"h", b"l", b"z"):
            qualifier = chr(f[j])
            j += 1
            if qualifier in "hl" and f[j:j + 1] == qualifier.encode():
                qualifier = qualifier.upper()
                j += 1
        if j >= len(f) or i >= len(buf):
            break
        conv = chr(f[j])
        j += 1
        if conv == "%":
            if buf[i] != 0x25:
                break
            i += 1
            continue
        base = {"x": 16, "X": 16, "o": 8, "d": 10, "u": 10, "i": 0}.get(conv)
        if base is None:
            raise ValueError(f"vsscanf: unsupported conversion %{conv}")
        signed = conv in "di"
        while i < len(buf) and isspace(buf[i]):
            i += 1
        start = i
        neg = signed and i < len(buf) and buf[i] == 0x2D
        first = buf[i + 1] if neg and i + 1 < len(buf) else (buf[i] if i < len(buf) else 0)
        ok = {16: isxdigit(first), 8: 48 <= first <= 55, 10: 48 <= first <= 57, 0: 48 <= first <= 57}[base]
        if not first or not ok:
            break
        value, i = simple_strtoull(buf, start + (1 if neg else 0), base)
        bits = _BITS[qualifier]
        if neg:
            value = -value
        out.append(value & ((1 << bits) - 1))
    return out


def sscanf(buf: bytes | str, fmt: str) -> list[int]:
    """sscanf(): vsscanf() of `buf` (a str is taken as its UTF-8 bytes, as a path name reaches the kernel)."""
    if isinstance(buf, str):
        buf = buf.encode("utf-8", "surrogateescape")
    return vsscanf(buf, fmt)
