"""The kernel selftests proc-self-map-files-001 and -002, reproduced against the simulation (reference §11).

Both map one page of /dev/zero PROT_NONE, MAP_PRIVATE (the VMA gets vm_file = /dev/zero) and readlink()
/proc/self/map_files names into a 64-byte buffer: `pass` names must resolve, `fail` names must give exactly
ENOENT.  001 lets the kernel choose the address; 002 (the >= v6.1 form) walks up from address 0 in page
steps below 1 MiB with MAP_FIXED until a mapping succeeds, which makes the smallest address (and the "0-..."
name with its leading-zero exemption) reachable when vm.mmap_min_addr allows it.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest

import simkernel
from simkernel.uapi import MAP_FIXED, MAP_PRIVATE, O_RDONLY, PAGE_SIZE, PROT_NONE

VA_MAX = 1 << 20


def _readlink64(t: Any, path: str) -> str:
    return t.sys.readlink(path, bufsiz=64)


def selftest_pass(t: Any, fmt: str, a: int, b: int) -> None:
    """pass(): the readlink must succeed (the selftest exits 1 otherwise)."""
    _readlink64(t, fmt % (a, b))


def selftest_fail(t: Any, fmt: str, a: int, b: int) -> None:
    """fail(): the readlink must fail with ENOENT, nothing else."""
    try:
        _readlink64(t, fmt % (a, b))
    except OSError as err:
        assert err.errno == errno.ENOENT, f"{fmt % (a, b)!r}: {err!r}"
        return
    raise AssertionError(f"{fmt % (a, b)!r} resolved")


def run_checks(t: Any, a: int, b: int) -> None:
    """The common body of both selftests (64-bit names)."""
    selftest_pass(t, "/proc/self/map_files/%lx-%lx".replace("%lx", "%x"), a, b)
    for fmt in ("/proc/self/map_files/ %x-%x", "/proc/self/map_files/%x -%x", "/proc/self/map_files/%x- %x",
                "/proc/self/map_files/%x-%x ", "/proc/self/map_files/0%x-%x", "/proc/self/map_files/%x-0%x",
                "/proc/self/map_files/10000000000000000%x-%x", "/proc/self/map_files/%x-10000000000000000%x"):
        selftest_fail(t, fmt, a, b)


def selftest_001(t: Any) -> int:
    """proc-self-map-files-001: a kernel-chosen address. Returns the exit status (0 = pass)."""
    fd = t.sys.open("/dev/zero", O_RDONLY)
    p = t.sys.mmap(0, PAGE_SIZE, PROT_NONE, MAP_PRIVATE, fd, 0)
    run_checks(t, p, p + PAGE_SIZE)
    return 0


def selftest_002(t: Any) -> tuple[int, int]:
    """proc-self-map-files-002: the lowest address mmap allows. Returns (exit status, address)."""
    fd = t.sys.open("/dev/zero", O_RDONLY)
    va = 0
    while va < VA_MAX:
        try:
            p = t.sys.mmap(va, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_FIXED, fd, 0)
        except OSError:
            va += PAGE_SIZE
            continue
        if p == va:
            break
        va += PAGE_SIZE
    else:
        return 1, -1   # "error: mmap doesn't like you"
    run_checks(t, va, va + PAGE_SIZE)
    return 0, va


@pytest.mark.parametrize("uid", [0, 65534])
def test_selftest_001_passes(uid: int) -> None:
    """proc-self-map-files-001 passes as root and as nobody (readlink needs no capability)."""
    k = simkernel.Kernel()
    t = k.spawn("selftest", uid=uid, gid=uid)
    assert selftest_001(t) == 0


def test_selftest_002_root_maps_address_zero() -> None:
    """As root (CAP_SYS_RAWIO passes vm.mmap_min_addr=4096, as on the host) the walk stops at 0; "0-1000"
    resolves, "00-1000", "0-01000" and "0-1000 " do not; "-1000" resolves too (zero digits parse as 0)."""
    k = simkernel.Kernel()
    t = k.spawn("selftest")
    assert selftest_002(t) == (0, 0)
    assert _readlink64(t, "/proc/self/map_files/0-1000") == "/dev/zero"
    assert _readlink64(t, "/proc/self/map_files/-1000") == "/dev/zero"
    for bad in ("00-1000", "0-01000", "0-1000 ", "0-"):
        with pytest.raises(FileNotFoundError):
            _readlink64(t, f"/proc/self/map_files/{bad}")


def test_selftest_002_nobody_starts_at_mmap_min_addr() -> None:
    """As nobody the lowest mapping is at vm.mmap_min_addr (0x1000), where the checks pass."""
    k = simkernel.Kernel()
    t = k.spawn("selftest", uid=65534, gid=65534)
    assert selftest_002(t) == (0, 0x1000)


def test_selftest_002_nobody_with_mmap_min_addr_zero() -> None:
    """With vm.mmap_min_addr=0 even nobody maps page 0 and the "0-1000" checks pass."""
    k = simkernel.Kernel()
    k.sysctl["vm.mmap_min_addr"] = 0
    t = k.spawn("selftest", uid=65534, gid=65534)
    assert selftest_002(t) == (0, 0)


def test_selftest_002_nobody_at_address_zero_is_refused_by_mmap() -> None:
    """As nobody, address 0 stays refused (EPERM from mmap_min_addr needs CAP_SYS_RAWIO): the walk goes on."""
    k = simkernel.Kernel()
    t = k.spawn("selftest", uid=65534, gid=65534)
    fd = t.sys.open("/dev/zero", O_RDONLY)
    with pytest.raises(PermissionError):
        t.sys.mmap(0, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_FIXED, fd, 0)
    assert selftest_002(t) == (0, 0x1000)


def test_selftest_checks_fail_on_wrong_range() -> None:
    """The harness itself is strict: checking a range that is not mapped makes pass() fail."""
    k = simkernel.Kernel()
    t = k.spawn("selftest")
    with pytest.raises(FileNotFoundError):
        run_checks(t, 0x10000, 0x11000)
