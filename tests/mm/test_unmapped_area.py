"""Address selection: top-down and bottom-up searches, guard gaps, THP alignment, driver allocators."""

from __future__ import annotations

from typing import Any

from simkernel.fs.file import FileOperations
from simkernel.errors import KernelError
from simkernel.mm import unmapped_area as U
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_CREAT, O_RDWR
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, PROT_READ, PROT_WRITE)
from tests.helpers import kraises, raises_errno
from tests.mm.mmkit import BASE, PAGE

ANON = MAP_PRIVATE | MAP_ANONYMOUS
RW = PROT_READ | PROT_WRITE


def test_vm_unmapped_area_bottom_up_skips_stack_guard(t: Any) -> None:
    """Bottom-up search does not end a new mapping inside a stack's guard gap."""
    lo = BASE
    t.sys.mmap(lo + PAGE, PAGE, RW, ANON | MAP_FIXED | MAP_GROWSDOWN)
    info = U.VmUnmappedAreaInfo(length=PAGE, low_limit=lo, high_limit=lo + (4 << 20), topdown=False)
    assert U.vm_unmapped_area(t.mm, info) == lo + 2 * PAGE


def test_vm_unmapped_area_bottom_up_and_top_down_limits(t: Any) -> None:
    """Both searches stay inside [low_limit, high_limit) and fail with ENOMEM when nothing fits."""
    t.sys.mmap(BASE + PAGE, PAGE, RW, ANON | MAP_FIXED)
    up = U.VmUnmappedAreaInfo(length=PAGE, low_limit=BASE, high_limit=BASE + 3 * PAGE, topdown=False)
    down = U.VmUnmappedAreaInfo(length=PAGE, low_limit=BASE, high_limit=BASE + 3 * PAGE)
    assert U.vm_unmapped_area(t.mm, up) == BASE
    assert U.vm_unmapped_area(t.mm, down) == BASE + 2 * PAGE
    for info in (up, down):
        info.length = 2 * PAGE
        with kraises(E.ENOMEM):
            U.vm_unmapped_area(t.mm, info)
        info.high_limit = info.low_limit
        with kraises(E.ENOMEM):
            U.vm_unmapped_area(t.mm, info)


def test_vm_unmapped_area_low_limit_is_mmap_min_addr(t: Any) -> None:
    """The search never goes below mmap_min_addr (65536 here)."""
    info = U.VmUnmappedAreaInfo(length=PAGE, low_limit=0, high_limit=0x20000, topdown=False)
    assert U.vm_unmapped_area(t.mm, info) == 0x10000
    assert U.mmap_min_addr(t.mm) == U.CONFIG_LSM_MMAP_MIN_ADDR


def test_arch_get_unmapped_area_topdown_falls_back_bottom_up(t: Any) -> None:
    """When nothing fits below mmap_base the bottom-up search from the legacy base is used."""
    t.mm.mmap_base = 0x20000
    assert t.sys.mmap(0, 1 << 20, PROT_READ, ANON) == t.mm.mmap_legacy_base


def test_arch_get_unmapped_area_map_32bit(t: Any) -> None:
    """MAP_32BIT: a free hint below 2 GiB is honoured; more than 2 GiB can never fit."""
    assert t.sys.mmap(0x50000000, PAGE, PROT_READ, ANON | U.MAP_32BIT) == 0x50000000
    with raises_errno(E.ENOMEM):
        t.sys.mmap(0, 3 << 30, PROT_READ, ANON | U.MAP_32BIT)


def test_thp_get_unmapped_area_falls_back_without_room_for_padding(t: Any) -> None:
    """If len + 2 MiB does not fit anywhere the plain search is used (no alignment)."""
    t.mm.mmap_base = 0x10000 + (2 << 20) + PAGE
    t.mm.mmap_legacy_base = 1 << 47
    assert t.sys.mmap(0, 2 << 20, RW, ANON) == 0x10000 + PAGE


def test_thp_get_unmapped_area_hint(t: Any) -> None:
    """A free hint wins over huge page alignment (private /dev/zero uses thp_get_unmapped_area)."""
    fd = t.sys.open("/dev/zero", O_RDWR)
    assert t.sys.mmap(BASE + PAGE, 2 << 20, RW, MAP_PRIVATE, fd, 0) == BASE + PAGE


def _custom(t: Any, result: int) -> int:
    fd = t.sys.open("/tmp/c", O_CREAT | O_RDWR, 0o644)
    f = t.files.fget(fd)
    f.f_op = FileOperations(mmap=f.f_op.mmap, get_unmapped_area=lambda *a: result)
    return fd


def test_get_unmapped_area_checks_driver_result(t: Any) -> None:
    """A driver's get_unmapped_area result past TASK_SIZE is ENOMEM; an unaligned one is EINVAL."""
    with raises_errno(E.ENOMEM):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, _custom(t, 1 << 47), 0)
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, _custom(t, BASE + 1), 0)
    assert t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, _custom(t, BASE), 0) == BASE


def test_get_unmapped_area_len_above_task_size(t: Any) -> None:
    """Asking for more than TASK_SIZE is ENOMEM before anything else."""
    with kraises(E.ENOMEM):
        U.get_unmapped_area(t, None, 0, 1 << 47, 0, 0)
    with kraises(E.ENOMEM):
        U.arch_get_unmapped_area_topdown(t.mm, 0, 1 << 47, 0, 0)


def test_security_mmap_addr_user_eperm(user: Any) -> None:
    """The LSM hook refuses an address below vm.mmap_min_addr without CAP_SYS_RAWIO."""
    with kraises(E.EPERM):
        U.security_mmap_addr(user, 0)
    U.security_mmap_addr(user, 0x1000)
    assert isinstance(KernelError(E.EPERM), Exception)
