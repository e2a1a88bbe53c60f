"""Scenarios about the names in map_files: the sscanf grammar (v3.3-4.15), the strict parser of v4.16, the
leading-zero rule of v4.17, and the 2026 order (the name is checked before any permission).

Linux: fs/proc/base.c:dname_to_vma_addr(), proc_map_files_lookup(); lib/vsprintf.c:vsscanf()
"""

from __future__ import annotations

from typing import Any

from simkernel.scenarios.observe import BASE, FIXED, PAGE, Obs, Observation, make_file, mf, rng, spawn
from simkernel.scenarios.registry import scenario
from simkernel.uapi import CAP_DAC_READ_SEARCH, MAP_PRIVATE, O_RDONLY, PROT_NONE, PROT_READ

__all__ = ["name_variants"]

A, B = BASE, BASE + 2 * PAGE


def name_variants() -> list[tuple[str, str]]:
    """(label, name) for the file mapping [A, B): the canonical name and the forms the parsers disagree on."""
    a, b = f"{A:x}", f"{B:x}"
    big = "1" + "0" * 16
    return [
        ("canonical", f"{a}-{b}"),
        ("uppercase", f"{A:X}-{B:X}"),
        ("space before", f" {a}-{b}"),
        ("space after dash", f"{a}- {b}"),
        ("tab and newline", f"\t{a}-\n{b}"),
        ("space before dash", f"{a} -{b}"),
        ("trailing space", f"{a}-{b} "),
        ("trailing junk", f"{a}-{b}junk"),
        ("0x prefixes", f"0x{a}-0X{b}"),
        ("leading zero start", f"0{a}-{b}"),
        ("leading zero end", f"{a}-0{b}"),
        ("overflow wraps", f"{big}{a}-{b}"),
        ("plus sign", f"+{a}-{b}"),
        ("double dash", f"{a}--{b}"),
        ("no end", f"{a}-"),
    ]


def _target(k: Any, d: str, uid: int = 1000) -> Any:
    make_file(k, f"{d}/f", 4 * PAGE)
    t = spawn(k, "target", uid=uid)
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(A, B - A, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    t.sys.close(fd)
    return t


@scenario("names")
def scenario_names(k: Any, d: str) -> list[Observation]:
    """Root readlinks every name variant of one mapping: sscanf accepts whitespace, "0x", junk and wrap-around.

    v3.3-4.15 (sscanf, 640708a2cff7): whitespace before each number, 0x, leading zeros, trailing junk and
    overflow resolve; "a -b", "+a-b", "a--b", "a-" do not.  v4.16 (ac7f1061c2c1): only the leading zeros
    still resolve.  v4.17+: only the canonical name, in any case.

    Sources: fs/proc/base.c:dname_to_vma_addr() of 3.4.4, 4.16.13, 4.17.0 and 6.18; lib/vsprintf.c:vsscanf().
    """
    o = Obs()
    t = _target(k, d)
    root = spawn(k, "observer")
    for label, name in name_variants():
        o.do(f"readlink {label}", root.sys.readlink, mf(t, name))
    return o.items


@scenario("address-zero-names")
def scenario_address_zero(k: Any, d: str) -> list[Observation]:
    """A mapping at address 0 (root, CAP_SYS_RAWIO): "0-1000" resolves; "00-1000" only before v4.17.

    The v4.17 rule refuses a leading "0" unless it is the whole number ("0-..." and "...-0" stay valid).
    "-1000" (no digits before the dash) parses as start 0 in the strict parser; sscanf needs a digit.

    Sources: fs/proc/base.c:dname_to_vma_addr(); tools/testing/selftests/proc/proc-self-map-files-002.c.
    """
    o = Obs()
    t = spawn(k, "zero")
    fd = t.sys.open("/dev/zero", O_RDONLY)
    o.do("mmap at 0", lambda: hex(t.sys.mmap(0, PAGE, PROT_NONE, MAP_PRIVATE | 0x10, fd, 0)))
    for name in ("0-1000", "00-1000", "0-01000", "000-1000", "-1000", "0x0-0x1000", " 0-1000"):
        o.do(f"readlink {name!r}", t.sys.readlink, f"/proc/self/map_files/{name}")
    return o.items


@scenario("malformed-name-without-permission")
def scenario_malformed_without_permission(k: Any, d: str) -> list[Observation]:
    """Which comes first, the name or the permission?  An observer that may reach the directory but fails the
    ptrace check looks up a malformed and a well-formed name.

    Before the 2026 back-port of 6650527444da the ptrace check ran first (EACCES for both); 6.18.44 parses
    the name first (ENOENT for the malformed one).  Before v4.3 the CAP_SYS_ADMIN gate answers first.

    Sources: fs/proc/base.c:proc_map_files_lookup() of 6.18.2 and of the 2026 back-port (reference §8.1).
    """
    o = Obs()
    t = _target(k, d)
    w = spawn(k, "other", uid=1001, caps=[CAP_DAC_READ_SEARCH])
    good = rng(A, B)
    for label, name in (("well-formed", good), ("leading zero", "0" + good), ("junk", "junk"),
                        ("absent range", rng(B, B + PAGE))):
        o.do(f"lstat {label}", lambda n=name: oct(w.sys.lstat(mf(t, n)).st_mode))
    return o.items
