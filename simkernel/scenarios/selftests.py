"""The kernel selftests proc-self-map-files-001 and -002 as scenarios (reference §11).

Both map one page of /dev/zero PROT_NONE, MAP_PRIVATE (the VMA keeps vm_file = /dev/zero) and readlink()
/proc/self/map_files names into a 64-byte buffer: `pass` names must resolve, `fail` names must fail with
exactly ENOENT; the first violation makes the test exit 1.  They were added with v4.17 and pass from then on;
on the sscanf releases (v3.3-4.15) the whitespace, leading-zero and overflow names resolve, on v4.16 the
leading-zero names do, and before v4.3 an unprivileged caller cannot readlink its own entries at all.

Linux: tools/testing/selftests/proc/proc-self-map-files-001.c, proc-self-map-files-002.c (the >= 6.1 form)
"""

from __future__ import annotations

import errno
from typing import Any

from simkernel.errors import KernelBug
from simkernel.scenarios.observe import Obs, Observation, spawn
from simkernel.scenarios.registry import scenario
from simkernel.uapi import MAP_FIXED, MAP_PRIVATE, O_RDONLY, PROT_NONE

__all__ = ["selftest_checks", "selftest_001", "selftest_002", "PASS_FORMAT", "FAIL_FORMATS"]

PAGE = 4096
VA_MAX = 1 << 20
PASS_FORMAT = "/proc/self/map_files/%x-%x"
FAIL_FORMATS = ("/proc/self/map_files/ %x-%x", "/proc/self/map_files/%x -%x", "/proc/self/map_files/%x- %x",
                "/proc/self/map_files/%x-%x ", "/proc/self/map_files/0%x-%x", "/proc/self/map_files/%x-0%x",
                "/proc/self/map_files/10000000000000000%x-%x", "/proc/self/map_files/%x-10000000000000000%x")


def _readlink64(t: Any, path: str) -> str | int:
    """readlink into a 64-byte buffer: the text, or the errno (an oops counts as "no answer", -1)."""
    try:
        return str(t.sys.readlink(path, bufsiz=64))
    except OSError as err:
        return err.errno or 0
    except KernelBug:
        return -1


def selftest_checks(t: Any, a: int, b: int) -> tuple[int, str]:
    """The body both selftests share: (exit status, the first failing check or "" when all pass)."""
    got = _readlink64(t, PASS_FORMAT % (a, b))
    if isinstance(got, int):
        return 1, f"pass {PASS_FORMAT[21:]!r}: {errno.errorcode.get(got, got)}"
    for fmt in FAIL_FORMATS:
        got = _readlink64(t, fmt % (a, b))
        if got != errno.ENOENT:
            what = "resolved" if isinstance(got, str) else errno.errorcode.get(got, str(got))
            return 1, f"fail {fmt[21:]!r}: {what}"
    return 0, ""


def selftest_001(t: Any) -> tuple[int, str]:
    """proc-self-map-files-001: a kernel-chosen address. Returns (exit status, first failing check)."""
    fd = t.sys.open("/dev/zero", O_RDONLY)
    p = t.sys.mmap(0, PAGE, PROT_NONE, MAP_PRIVATE, fd, 0)
    return selftest_checks(t, p, p + PAGE)


def selftest_002(t: Any) -> tuple[int, str, int]:
    """proc-self-map-files-002: the lowest address mmap allows, walking up from 0 in pages below 1 MiB.

    Returns (exit status, first failing check, address or -1 when nothing could be mapped).
    """
    fd = t.sys.open("/dev/zero", O_RDONLY)
    va = 0
    while va < VA_MAX:
        try:
            if t.sys.mmap(va, PAGE, PROT_NONE, MAP_PRIVATE | MAP_FIXED, fd, 0) == va:
                break
        except OSError:
            pass
        va += PAGE
    else:
        return 1, "error: mmap doesn't like you", -1
    status, why = selftest_checks(t, va, va + PAGE)
    return status, why, va


def _observe(o: Obs, status: int, why: str) -> None:
    o.add("exit status", status)
    o.add("first failing check", why or "-")


@scenario("selftest-001")
def scenario_selftest_001(k: Any, d: str) -> list[Observation]:
    """proc-self-map-files-001 as root: passes from v4.17; sscanf releases resolve " a-b", v4.16 "0a-b".

    Sources: tools/testing/selftests/proc/proc-self-map-files-001.c; fs/proc/base.c:dname_to_vma_addr().
    """
    o = Obs()
    _observe(o, *selftest_001(spawn(k, "selftest")))
    return o.items


@scenario("selftest-001-nobody")
def scenario_selftest_001_nobody(k: Any, d: str) -> list[Observation]:
    """proc-self-map-files-001 as uid 65534: also needs v4.3's "readlink without CAP_SYS_ADMIN" (bdb4d100afe9).

    Sources: the selftest; fs/proc/base.c:proc_map_files_lookup() (the CAP_SYS_ADMIN gate of v3.3-4.2).
    """
    o = Obs()
    _observe(o, *selftest_001(spawn(k, "selftest", uid=65534)))
    return o.items


@scenario("selftest-002")
def scenario_selftest_002(k: Any, d: str) -> list[Observation]:
    """proc-self-map-files-002 as root: the lowest mapping is at 0 (CAP_SYS_RAWIO), so "0-1000" must resolve
    and "00-1000" must not -- the leading-zero rule of v4.17 with its lone-zero exemption.

    Sources: tools/testing/selftests/proc/proc-self-map-files-002.c; security/commoncap.c:cap_mmap_addr().
    """
    o = Obs()
    status, why, va = selftest_002(spawn(k, "selftest"))
    _observe(o, status, why)
    o.add("lowest address", hex(va) if va >= 0 else "none")
    return o.items
