"""Choosing addresses: the mmap layout of a new mm and the search for a free range.

x86-64 with ASLR off (what `setarch -R` and randomize_va_space=0 give): the top-down allocator searches below
`mm.mmap_base = PAGE_ALIGN(TASK_SIZE - gap)`, gap = the stack rlimit plus the stack guard gap, clamped to
[128 MiB, TASK_SIZE/6*5]; with an unlimited stack rlimit the legacy bottom-up layout starts at TASK_SIZE/3.
On the reference host (8 MiB stack) mmap_base is 0x7ffff7fff000 and ld.so ends exactly there.

Carved from: arch/x86/mm/mmap.c (arch_pick_mmap_layout, mmap_base), arch/x86/kernel/sys_x86_64.c
(arch_get_unmapped_area[_topdown]), mm/mmap.c (vm_unmapped_area, unmapped_area[_topdown],
__get_unmapped_area), mm/huge_memory.c (__thp_get_unmapped_area)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define

from simkernel.errors import KernelError
from simkernel.mm.mm_types import (DEFAULT_MAP_WINDOW, PAGE_ALIGN, PAGE_SIZE, TASK_SIZE, VM_GROWSDOWN,
                                   VM_STARTGAP_FLAGS, MmStruct, VmAreaStruct, offset_in_page)
from simkernel.mm.vma import find_vma, vma_prev
from simkernel.uapi import errno as E
from simkernel.uapi.mman import MAP_FIXED, MAP_SHARED

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["arch_pick_mmap_layout", "mmap_base", "get_unmapped_area", "mm_get_unmapped_area",
           "vm_unmapped_area", "VmUnmappedAreaInfo", "thp_get_unmapped_area", "vm_start_gap", "vm_end_gap", "mmap_min_addr",
           "security_mmap_addr", "STACK_GUARD_GAP", "RLIM_STACK_DEFAULT", "RLIM_INFINITY", "SIZE_128M",
           "PMD_SIZE", "CONFIG_LSM_MMAP_MIN_ADDR", "TASK_UNMAPPED_BASE", "MAP_32BIT", "MAP_ABOVE4G"]

RLIM_INFINITY = (1 << 64) - 1
RLIM_STACK_DEFAULT = 8 << 20          # _STK_LIM
STACK_GUARD_GAP = 256 * PAGE_SIZE     # stack_guard_gap (1 MiB)
SIZE_128M = 128 << 20
PMD_SIZE = 2 << 20
TASK_UNMAPPED_BASE = PAGE_ALIGN(DEFAULT_MAP_WINDOW // 3)
# The reference host is built with CONFIG_SECURITY_SELINUX, so mmap_min_addr (used to round hints) is
# max(vm.mmap_min_addr, CONFIG_LSM_MMAP_MIN_ADDR); the capability check uses vm.mmap_min_addr alone.
CONFIG_LSM_MMAP_MIN_ADDR = 65536
MAP_32BIT = 0x40
MAP_ABOVE4G = 0x80


def mmap_min_addr(mm: MmStruct) -> int:
    """mmap_min_addr: vm.mmap_min_addr raised to CONFIG_LSM_MMAP_MIN_ADDR. Linux: security/min_addr.c"""
    return max(mm.kernel.sysctl["vm.mmap_min_addr"], CONFIG_LSM_MMAP_MIN_ADDR)


def mmap_base(task_size: int, rlim_stack: int) -> int:
    """mmap_base(): the top of the top-down area, below the stack and its gap (rnd = 0).

    Example: task_size 0x7ffffffff000 with an 8 MiB stack: the gap 9 MiB is raised to 128 MiB, so the base
    is 0x7ffff7fff000.

    Linux: arch/x86/mm/mmap.c:mmap_base()
    """
    gap = rlim_stack
    pad = STACK_GUARD_GAP          # + stack_maxrandom_size(), 0 without PF_RANDOMIZE
    if gap + pad <= RLIM_INFINITY:  # "Values close to RLIM_INFINITY can overflow."
        gap += pad
    gap_min, gap_max = SIZE_128M, (task_size // 6) * 5
    gap = max(gap_min, min(gap, gap_max))
    return PAGE_ALIGN(task_size - gap)


def arch_pick_mmap_layout(mm: MmStruct, rlim_stack: int = RLIM_STACK_DEFAULT) -> None:
    """arch_pick_mmap_layout(): top-down below mmap_base, or legacy bottom-up for an unlimited stack.

    Simplification: ASLR is off (no random factor), as on a host with randomize_va_space=0 or under
    `setarch -R`; the personality ADDR_COMPAT_LAYOUT and vm.legacy_va_layout are not modelled.

    Linux: arch/x86/mm/mmap.c:arch_pick_mmap_layout()
    """
    task_size = DEFAULT_MAP_WINDOW      # task_size_64bit(0)
    mm.mmap_legacy_base = PAGE_ALIGN(task_size // 3)
    legacy = rlim_stack == RLIM_INFINITY
    mm.topdown = not legacy
    mm.mmap_base = mm.mmap_legacy_base if legacy else mmap_base(task_size, rlim_stack)


def security_mmap_addr(current: Task, addr: int) -> None:
    """security_mmap_addr(): mapping below vm.mmap_min_addr needs CAP_SYS_RAWIO (commoncap), then any LSM.

    Raises:
        KernelError(EPERM): addr < vm.mmap_min_addr without CAP_SYS_RAWIO.

    Linux: security/security.c:security_mmap_addr()
    """
    from simkernel.security.lsm import security_mmap_addr as hook
    hook(current, addr)


def vm_start_gap(vma: VmAreaStruct) -> int:
    """vm_start_gap(): a stack VMA keeps stack_guard_gap free below it. Linux: include/linux/mm.h"""
    start = vma.vm_start
    if vma.vm_flags & VM_GROWSDOWN:
        start = max(0, start - STACK_GUARD_GAP)
    return start


def vm_end_gap(vma: VmAreaStruct) -> int:
    """vm_end_gap(): no VM_GROWSUP on x86, so just vm_end. Linux: include/linux/mm.h"""
    return vma.vm_end


@define
class VmUnmappedAreaInfo:
    """struct vm_unmapped_area_info (include/linux/mm.h)."""

    length: int
    low_limit: int
    high_limit: int
    topdown: bool = True
    align_mask: int = 0
    align_offset: int = 0
    start_gap: int = 0


def _area_highest(mm: MmStruct, lo: int, hi: int, size: int) -> int | None:
    """mas_empty_area_rev(lo, hi - 1, size): the end of the highest free range of `size` in [lo, hi)."""
    if hi <= lo or hi - lo < size:
        return None
    below = mm.mm_rb.iter_back_below(hi)     # VMAs starting below hi, highest first
    top = hi
    v = next(below, None)
    while True:
        if v is not None and v.vm_end >= top:
            top = min(top, v.vm_start)
            if top - lo < size:
                return None
            v = next(below, None)
            continue
        bottom = max(lo, v.vm_end if v is not None else 0)
        if top - bottom >= size:
            return top
        if v is None or v.vm_start <= lo:
            return None
        top = v.vm_start
        v = next(below, None)


def _area_lowest(mm: MmStruct, lo: int, hi: int, size: int) -> int | None:
    """mas_empty_area(lo, hi - 1, size): the start of the lowest free range of `size` in [lo, hi)."""
    if hi <= lo or hi - lo < size:
        return None
    rb = mm.mm_rb
    bottom = lo
    above = rb.iter_from(lo)                 # VMAs ending above lo, lowest first
    w = rb.find_le(lo)
    if w is not None and w.vm_end > lo:      # the VMA covering lo: the search starts at its end
        bottom = w.vm_end
        next(above)
    while True:
        v = next(above, None)
        top = min(hi, v.vm_start if v is not None else hi)
        if top - bottom >= size and bottom < hi:
            return bottom
        if v is None or v.vm_end >= hi:
            return None
        bottom = max(bottom, v.vm_end)


def vm_unmapped_area(mm: MmStruct, info: VmUnmappedAreaInfo) -> int:
    """vm_unmapped_area(): the highest (top-down) or lowest free range that fits, honouring stack gaps.

    Simplification: the search walks the sorted VMAs from the limit instead of the maple tree's gap
    metadata, so it is O(VMAs passed) rather than O(log n).

    Raises:
        KernelError(ENOMEM): no free range fits.

    Linux: mm/mmap.c:vm_unmapped_area(), unmapped_area(), unmapped_area_topdown()
    """
    length = info.length + info.align_mask + info.start_gap
    low_limit = max(info.low_limit, mmap_min_addr(mm))
    high_limit = info.high_limit
    while True:
        if info.topdown:
            last = _area_highest(mm, low_limit, high_limit, length)
            if last is None:
                raise KernelError(E.ENOMEM)
            gap = last - info.length
            gap -= (gap - info.align_offset) & info.align_mask
            tmp = find_vma(mm, last)
            if tmp is not None and tmp.vm_flags & VM_STARTGAP_FLAGS:
                if vm_start_gap(tmp) < last:
                    high_limit = vm_start_gap(tmp)
                    continue
            else:
                prev = vma_prev(mm, tmp) if tmp is not None else mm.mm_rb.last()
                if prev is not None and vm_end_gap(prev) > gap:
                    high_limit = prev.vm_start
                    continue
            return gap
        first = _area_lowest(mm, low_limit, high_limit, length)
        if first is None:
            raise KernelError(E.ENOMEM)
        gap = first + info.start_gap
        gap += (info.align_offset - gap) & info.align_mask
        tmp = find_vma(mm, first)
        if tmp is not None and tmp.vm_flags & VM_STARTGAP_FLAGS:
            if vm_start_gap(tmp) < gap + length - 1:
                low_limit = tmp.vm_end
                continue
        else:
            prev = vma_prev(mm, tmp) if tmp is not None else mm.mm_rb.last()
            if prev is not None and vm_end_gap(prev) > gap:
                low_limit = vm_end_gap(prev)
                continue
        return gap


def _hint_fits(mm: MmStruct, addr: int, length: int, end: int) -> bool:
    vma = find_vma(mm, addr)
    return end - length >= addr and (vma is None or addr + length <= vm_start_gap(vma))


def arch_get_unmapped_area(mm: MmStruct, addr: int, length: int, pgoff: int, flags: int) -> int:
    """arch_get_unmapped_area(): bottom-up from the legacy base (or the MAP_32BIT window).

    Linux: arch/x86/kernel/sys_x86_64.c:arch_get_unmapped_area()
    """
    if flags & MAP_FIXED:
        return addr
    if flags & MAP_32BIT:
        begin, end = 0x40000000, 0x80000000
    else:
        begin, end = mm.mmap_legacy_base, DEFAULT_MAP_WINDOW
    if length > end:
        raise KernelError(E.ENOMEM)
    if addr:
        addr = PAGE_ALIGN(addr)
        if _hint_fits(mm, addr, length, end):
            return addr
    return vm_unmapped_area(mm, VmUnmappedAreaInfo(length=length, low_limit=begin, high_limit=end,
                                                   topdown=False, align_offset=pgoff << 12))


def arch_get_unmapped_area_topdown(mm: MmStruct, addr: int, length: int, pgoff: int, flags: int) -> int:
    """arch_get_unmapped_area_topdown(): the hint if free, else the highest gap below mmap_base.

    Falls back to the bottom-up search when the top-down one finds nothing.

    Linux: arch/x86/kernel/sys_x86_64.c:arch_get_unmapped_area_topdown()
    """
    if length > TASK_SIZE:
        raise KernelError(E.ENOMEM)
    if flags & MAP_FIXED:
        return addr
    if not flags & MAP_32BIT:
        if addr:
            addr &= ~(PAGE_SIZE - 1)
            if addr <= TASK_SIZE - length and _hint_fits(mm, addr, length, TASK_SIZE):
                return addr
        low = (1 << 32) if flags & MAP_ABOVE4G else PAGE_SIZE
        try:
            return vm_unmapped_area(mm, VmUnmappedAreaInfo(length=length, low_limit=low,
                                                           high_limit=mm.mmap_base,
                                                           align_offset=pgoff << 12))
        except KernelError:
            pass
    return arch_get_unmapped_area(mm, addr, length, pgoff, flags)


def mm_get_unmapped_area(mm: MmStruct, file: File | None, addr: int, length: int, pgoff: int,
                         flags: int) -> int:
    """mm_get_unmapped_area(): the top-down or bottom-up allocator as the layout says. Linux: mm/mmap.c"""
    if mm.topdown:
        return arch_get_unmapped_area_topdown(mm, addr, length, pgoff, flags)
    return arch_get_unmapped_area(mm, addr, length, pgoff, flags)


def __thp_get_unmapped_area(mm: MmStruct, file: File | None, addr: int, length: int, off: int,
                            flags: int) -> int:
    """__thp_get_unmapped_area(): PMD-align by asking for len + 2 MiB; 0 when it does not apply.

    Linux: mm/huge_memory.c:__thp_get_unmapped_area()
    """
    size = PMD_SIZE
    off_end = off + length
    off_align = (off + size - 1) & ~(size - 1)
    if off_end <= off_align or off_end - off_align < size:
        return 0
    len_pad = length + size
    try:
        ret = mm_get_unmapped_area(mm, file, addr, len_pad, off >> 12, flags)
    except KernelError:
        return 0
    if ret == addr:
        return addr
    off_sub = (off - ret) & (size - 1)
    if mm.topdown and not off_sub:
        return ret + size
    return ret + off_sub


def thp_get_unmapped_area(current: Task, file: File | None, addr: int, length: int, pgoff: int,
                          flags: int) -> int:
    """thp_get_unmapped_area(): a huge-page aligned area when the range can hold one, else the plain one.

    Linux: mm/huge_memory.c:thp_get_unmapped_area()
    """
    mm = current.mm
    assert mm is not None
    ret = __thp_get_unmapped_area(mm, file, addr, length, pgoff << 12, flags)
    if ret:
        return ret
    return mm_get_unmapped_area(mm, file, addr, length, pgoff, flags)


def get_unmapped_area(current: Task, file: File | None, addr: int, length: int, pgoff: int, flags: int,
                      vm_flags: int = 0) -> int:
    """__get_unmapped_area(): pick (or check, for MAP_FIXED) where [addr, addr + len) goes.

    A file's f_op->get_unmapped_area is used when it has one; shared anonymous memory goes through shmem's,
    which without huge pages is the plain allocator; private anonymous mappings whose length is a
    multiple of 2 MiB, without a hint, are PMD-aligned (CONFIG_TRANSPARENT_HUGEPAGE, since v6.7).

    Raises:
        KernelError(ENOMEM): len > TASK_SIZE, no room, or the result would pass TASK_SIZE.
        KernelError(EINVAL): a MAP_FIXED address that is not page-aligned.
        KernelError(EPERM): below vm.mmap_min_addr without CAP_SYS_RAWIO.

    Linux: mm/mmap.c:__get_unmapped_area()
    """
    mm = current.mm
    assert mm is not None
    if length > TASK_SIZE:
        raise KernelError(E.ENOMEM)
    get_area: Any = None
    if file is not None:
        get_area = file.f_op.get_unmapped_area
    if file is None:
        pgoff = 0
    if get_area is not None:
        addr = get_area(current, file, addr, length, pgoff, flags)
    elif file is None and not flags & MAP_SHARED and not addr and length % PMD_SIZE == 0:
        addr = thp_get_unmapped_area(current, None, addr, length, 0, flags)
    else:
        addr = mm_get_unmapped_area(mm, file, addr, length, pgoff, flags)
    if addr > TASK_SIZE - length:
        raise KernelError(E.ENOMEM)
    if offset_in_page(addr):
        raise KernelError(E.EINVAL)
    security_mmap_addr(current, addr)
    return addr

