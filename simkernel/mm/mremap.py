"""mremap(2): shrink, grow in place, move (MREMAP_MAYMOVE/MREMAP_FIXED), and MREMAP_DONTUNMAP.

Since v6.17 a pure move (MREMAP_FIXED or MREMAP_DONTUNMAP with old_len == new_len) may span several VMAs;
the gaps between them are kept at the destination, and a hole at the start of the range is EFAULT, as is a
multi-VMA move involving a file with its own get_unmapped_area (private /dev/zero).
Verified on Linux 6.18.44, including for ext4 file mappings.  A never-faulted anonymous VMA takes the page
offset of its new address, so a moved range merges with compatible neighbours there.

Linux: mm/mremap.c (do_mremap, check_mremap_params, check_prep_vma, remap_move, mremap_to, mremap_at,
expand_vma, move_vma, unmap_source_vma, dontunmap_complete, shrink_vma)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.mm.mm_types import (PAGE_ALIGN, PAGE_SHIFT, TASK_SIZE, VM_ACCOUNT, VM_DONTEXPAND, VM_LOCKED,
                                   VM_LOCKED_MASK, VM_MAYSHARE, VM_PFNMAP, VM_SHARED, VmAreaStruct,
                                   offset_in_page)
from simkernel.mm.mmap import ULONG_MAX
from simkernel.mm.unmapped_area import get_unmapped_area
from simkernel.mm.vma import (find_vma, find_vma_intersection, max_map_count, vm_stat_account, vma_is_shmem,
                              vma_lookup)
from simkernel.mm.vma_merge import copy_vma, vma_merge_extend
from simkernel.mm.vma_munmap import do_vmi_munmap
from simkernel.uapi import errno as E
from simkernel.uapi.mman import MAP_FIXED, MAP_SHARED, MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["sys_mremap", "do_mremap", "VmaRemapStruct", "MREMAP_INVALID", "MREMAP_NO_RESIZE", "MREMAP_SHRINK",
           "MREMAP_EXPAND"]

MREMAP_INVALID = "invalid"
MREMAP_NO_RESIZE = "no_resize"
MREMAP_SHRINK = "shrink"
MREMAP_EXPAND = "expand"


@define(eq=False)
class VmaRemapStruct:
    """struct vma_remap_struct: one mremap request and its progress. Linux: mm/mremap.c"""

    current: Task = field(repr=False)
    addr: int
    old_len: int
    new_len: int
    flags: int
    new_addr: int
    vma: VmAreaStruct | None = field(default=None, repr=False)
    delta: int = 0
    remap_type: str = MREMAP_INVALID

    @property
    def implies_new_addr(self) -> bool:
        """vrm_implies_new_addr(): MREMAP_FIXED or MREMAP_DONTUNMAP."""
        return bool(self.flags & (MREMAP_FIXED | MREMAP_DONTUNMAP))

    def set_delta(self) -> None:
        """vrm_set_delta() and vrm_remap_type()."""
        self.delta = abs(self.old_len - self.new_len)
        if self.delta == 0:
            self.remap_type = MREMAP_NO_RESIZE
        elif self.old_len > self.new_len:
            self.remap_type = MREMAP_SHRINK
        else:
            self.remap_type = MREMAP_EXPAND


def sys_mremap(current: Task, addr: int, old_len: int, new_len: int, flags: int, new_addr: int) -> int:
    """mremap(2): returns the (possibly new) address of the mapping.

    Raises:
        KernelError(EINVAL): unknown flags; unaligned addr or new_addr; zero or too large new length;
            new_addr range past TASK_SIZE; MREMAP_FIXED/MREMAP_DONTUNMAP without MREMAP_MAYMOVE;
            MREMAP_DONTUNMAP with a size change; overlapping old and new ranges; old_len 0 on a private
            mapping; MREMAP_DONTUNMAP of a VM_DONTEXPAND/VM_PFNMAP mapping.
        KernelError(EFAULT): addr not mapped; the old range runs past its VMA (when growing or moving);
            a hole at the start of a multi-VMA move; growing a VM_DONTEXPAND/VM_PFNMAP mapping.
        KernelError(ENOMEM): cannot grow in place without MREMAP_MAYMOVE; no room; too close to
            vm.max_map_count to move.
        KernelError(EINTR): a fatal signal is pending.

    Linux: mm/mremap.c:SYSCALL_DEFINE5(mremap)
    """
    vrm = VmaRemapStruct(current=current, addr=addr & ULONG_MAX, old_len=old_len & ULONG_MAX,
                         new_len=new_len & ULONG_MAX, flags=flags & ULONG_MAX, new_addr=new_addr & ULONG_MAX)
    return do_mremap(vrm)


def check_mremap_params(vrm: VmaRemapStruct) -> None:
    """check_mremap_params(): argument checks before taking mmap_lock. Linux: mm/mremap.c"""
    mm = vrm.current.mm
    assert mm is not None
    if vrm.flags & ~(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP):
        raise KernelError(E.EINVAL)
    if offset_in_page(vrm.addr):
        raise KernelError(E.EINVAL)
    if not vrm.new_len:
        raise KernelError(E.EINVAL)
    if vrm.new_len > TASK_SIZE:
        raise KernelError(E.EINVAL)
    if not vrm.implies_new_addr:
        return
    if vrm.new_addr > TASK_SIZE - vrm.new_len:
        raise KernelError(E.EINVAL)
    if offset_in_page(vrm.new_addr):
        raise KernelError(E.EINVAL)
    if not vrm.flags & MREMAP_MAYMOVE:
        raise KernelError(E.EINVAL)
    if vrm.flags & MREMAP_DONTUNMAP and vrm.old_len != vrm.new_len:
        raise KernelError(E.EINVAL)
    if vrm.addr + vrm.old_len > vrm.new_addr and vrm.new_addr + vrm.new_len > vrm.addr:   # vrm_overlaps()
        raise KernelError(E.EINVAL)
    if mm.map_count + 2 >= max_map_count(mm) - 3:
        raise KernelError(E.ENOMEM, "mremap: too close to vm.max_map_count to move")


def do_mremap(vrm: VmaRemapStruct) -> int:
    """do_mremap(): page-align the lengths, check, then move only, or resize/move one VMA.

    Linux: mm/mremap.c:do_mremap()
    """
    current = vrm.current
    mm = current.mm
    assert mm is not None
    vrm.old_len = PAGE_ALIGN(vrm.old_len)
    vrm.new_len = PAGE_ALIGN(vrm.new_len)
    check_mremap_params(vrm)
    mm.mmap_lock.down_write_killable(current)
    try:
        if vrm.implies_new_addr and vrm.old_len == vrm.new_len:      # vrm_move_only()
            return remap_move(vrm)
        vrm.vma = vma_lookup(mm, vrm.addr)
        check_prep_vma(vrm)
        return mremap_to(vrm) if vrm.implies_new_addr else mremap_at(vrm)
    finally:
        mm.mmap_lock.up_write(current)


def check_prep_vma(vrm: VmaRemapStruct) -> None:
    """check_prep_vma(): per-VMA checks; sets delta and the remap type. Linux: mm/mremap.c"""
    vma = vrm.vma
    if vma is None:
        raise KernelError(E.EFAULT)
    vrm.set_delta()
    if not vrm.implies_new_addr:
        vrm.new_addr = vrm.addr
    if not (vrm.remap_type == MREMAP_EXPAND or vrm.implies_new_addr):      # vrm_will_map_new()
        return
    old_len, new_len = vrm.old_len, vrm.new_len
    if not old_len and not vma.vm_flags & (VM_SHARED | VM_MAYSHARE):
        raise KernelError(E.EINVAL, "mremap: cannot duplicate a private mapping (old_len 0)")
    if vrm.flags & MREMAP_DONTUNMAP and vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise KernelError(E.EINVAL)
    if vrm.remap_type == MREMAP_SHRINK:
        old_len = new_len
    if old_len > vma.vm_end - vrm.addr:
        raise KernelError(E.EFAULT)
    if new_len <= old_len:
        return
    pgoff = vma.vm_pgoff + ((vrm.addr - vma.vm_start) >> PAGE_SHIFT)
    if pgoff + (new_len >> PAGE_SHIFT) > ULONG_MAX:
        raise KernelError(E.EINVAL)
    if vma.vm_flags & (VM_DONTEXPAND | VM_PFNMAP):
        raise KernelError(E.EFAULT)


def remap_move(vrm: VmaRemapStruct) -> int:
    """remap_move(): move every VMA piece in [addr, addr + len), keeping the gaps between them.

    Linux: mm/mremap.c:remap_move()
    """
    mm = vrm.current.mm
    assert mm is not None
    start, end = vrm.addr, vrm.addr + vrm.old_len
    target_addr = vrm.new_addr
    res: int | None = None
    last_end = 0
    pos = start
    while True:
        vma = find_vma(mm, pos)
        if vma is None or vma.vm_start >= end:
            break
        addr = max(vma.vm_start, start)
        length = min(end, vma.vm_end) - addr
        if res is None and start < vma.vm_start:
            raise KernelError(E.EFAULT, "mremap: the range to move starts in a hole")
        offset = vma.vm_start - last_end if res is not None else 0
        last_end = vma.vm_end
        vrm.vma = vma
        vrm.addr = addr
        vrm.new_addr = target_addr + offset
        vrm.old_len = vrm.new_len = length
        if not _vma_multi_allowed(vma) and (res is not None or vma.vm_end < end):
            raise KernelError(E.EFAULT, "mremap: this VMA may only be moved on its own")
        check_prep_vma(vrm)
        res_vma = mremap_to(vrm)
        if res is None:
            res = res_vma
        target_addr = res_vma + vrm.new_len
        pos = last_end          # the iterator goes on after this VMA (a MREMAP_DONTUNMAP source stays)
    if res is None:
        raise KernelError(E.EFAULT)
    return res


def _vma_multi_allowed(vma: VmAreaStruct) -> bool:
    """vma_multi_allowed(): a file with its own get_unmapped_area (not shmem) might not honour MREMAP_FIXED,
    so such a VMA (a private /dev/zero mapping, say) can only be moved alone.

    Verified on Linux 6.18.44: a move spanning a private /dev/zero mapping and a hole is EFAULT, while
    ext4 (no f_op->get_unmapped_area) and shmem mappings move together.

    Linux: mm/mremap.c:vma_multi_allowed()
    """
    file = vma.vm_file
    if file is not None and not vma_is_shmem(vma):
        return file.f_op.get_unmapped_area is None
    return True


def vrm_set_new_addr(vrm: VmaRemapStruct) -> None:
    """vrm_set_new_addr(): get_unmapped_area for the destination (MAP_FIXED with MREMAP_FIXED).

    Linux: mm/mremap.c:vrm_set_new_addr()
    """
    vma = vrm.vma
    assert vma is not None
    pgoff = vma.vm_pgoff + ((vrm.addr - vma.vm_start) >> PAGE_SHIFT)
    new_addr = vrm.new_addr if vrm.implies_new_addr else 0
    map_flags = (MAP_FIXED if vrm.flags & MREMAP_FIXED else 0) | (MAP_SHARED if vma.vm_flags & VM_MAYSHARE else 0)
    vrm.new_addr = get_unmapped_area(vrm.current, vma.vm_file, new_addr, vrm.new_len, pgoff, map_flags)


def shrink_vma(vrm: VmaRemapStruct) -> None:
    """shrink_vma(): unmap the tail [addr + new_len, addr + old_len). Linux: mm/mremap.c"""
    mm = vrm.current.mm
    assert mm is not None
    do_vmi_munmap(mm, vrm.addr + vrm.new_len, vrm.delta)
    vrm.vma = vma_lookup(mm, vrm.addr)


def mremap_to(vrm: VmaRemapStruct) -> int:
    """mremap_to(): move to new_addr (unmapping what is there for MREMAP_FIXED), shrinking first if asked.

    Linux: mm/mremap.c:mremap_to()
    """
    mm = vrm.current.mm
    assert mm is not None
    if vrm.flags & MREMAP_FIXED:
        vrm.vma = None
        do_vmi_munmap(mm, vrm.new_addr, vrm.new_len)
        vrm.vma = vma_lookup(mm, vrm.addr)
        if vrm.vma is None:
            raise KernelError(E.EFAULT)
    if vrm.remap_type == MREMAP_SHRINK:
        shrink_vma(vrm)
        vrm.old_len = vrm.new_len
    vrm_set_new_addr(vrm)
    return move_vma(vrm)


def move_vma(vrm: VmaRemapStruct) -> int:
    """move_vma(): copy the VMA to new_addr, then unmap the source (or keep it, MREMAP_DONTUNMAP).

    Raises:
        KernelError(ENOMEM): map_count >= vm.max_map_count - 3.

    Linux: mm/mremap.c:move_vma(), prep_move_vma(), copy_vma_and_data()
    """
    vma = vrm.vma
    assert vma is not None and vma.vm_mm is not None
    mm = vma.vm_mm
    if mm.map_count >= max_map_count(mm) - 3:
        raise KernelError(E.ENOMEM, "mremap: too close to vm.max_map_count to move")
    may_split = getattr(vma.vm_ops, "may_split", None)
    if may_split is not None:
        if vma.vm_start != vrm.addr:
            may_split(vma, vrm.addr)
        if vma.vm_end != vrm.addr + vrm.old_len:
            may_split(vma, vrm.addr + vrm.old_len)
    new_pgoff = vma.vm_pgoff + ((vrm.addr - vma.vm_start) >> PAGE_SHIFT)
    new_vma, vma = copy_vma(vma, vrm.new_addr, vrm.new_len, new_pgoff)
    vrm.vma = vma
    hook = getattr(vma.vm_ops, "mremap", None)
    if hook is not None:
        hook(new_vma)
    _vrm_stat_account(vrm, vma, vrm.new_len)
    if vrm.flags & MREMAP_DONTUNMAP:
        _dontunmap_complete(vrm, new_vma)
    else:
        _unmap_source_vma(vrm)
    return vrm.new_addr


def _vrm_stat_account(vrm: VmaRemapStruct, vma: VmAreaStruct, nbytes: int) -> None:
    """vrm_stat_account(). Linux: mm/mremap.c"""
    mm = vma.vm_mm
    assert mm is not None
    pages = nbytes >> PAGE_SHIFT
    vm_stat_account(mm, vma.vm_flags, pages)
    if vma.vm_flags & VM_LOCKED:
        mm.locked_vm += pages


def _unmap_source_vma(vrm: VmaRemapStruct) -> None:
    """unmap_source_vma(): unmap the old range; VM_ACCOUNT is hidden during the unmap and put back on
    the parts of the source VMA that remain. Linux: mm/mremap.c"""
    mm = vrm.current.mm
    vma = vrm.vma
    assert mm is not None and vma is not None
    addr, end = vrm.addr, vrm.addr + vrm.old_len
    accountable_move = bool(vma.vm_flags & VM_ACCOUNT)
    vm_start, vm_end = vma.vm_start, vma.vm_end
    if accountable_move:
        vma.vm_flags &= ~VM_ACCOUNT
    vrm.vma = None
    try:
        do_vmi_munmap(mm, addr, vrm.old_len)
    except KernelError:
        return      # "OOM: unable to split vma, just get accounts right" (also old_len 0: nothing to unmap)
    if accountable_move:
        if vm_start < addr:
            left = find_vma(mm, vm_start)
            assert left is not None
            left.vm_flags |= VM_ACCOUNT
        if vm_end > end:
            right = find_vma_intersection(mm, end, vm_end)
            assert right is not None
            right.vm_flags |= VM_ACCOUNT


def _dontunmap_complete(vrm: VmaRemapStruct, new_vma: VmAreaStruct) -> None:
    """dontunmap_complete(): the source stays mapped, unlocked; a wholly moved source drops its anon_vma.

    Linux: mm/mremap.c:dontunmap_complete()
    """
    vma = vrm.vma
    assert vma is not None
    start, end = vrm.addr, vrm.addr + vrm.old_len
    whole = vma.vm_start == start and vma.vm_end == end
    vma.vm_flags &= ~VM_LOCKED_MASK
    if new_vma is not vma and whole:
        vma.anon_vma = None


def mremap_at(vrm: VmaRemapStruct) -> int:
    """mremap_at(): resize in place (shrink always works); grow in place or move with MREMAP_MAYMOVE.

    Linux: mm/mremap.c:mremap_at()
    """
    if vrm.remap_type == MREMAP_NO_RESIZE:
        return vrm.addr
    if vrm.remap_type == MREMAP_SHRINK:
        shrink_vma(vrm)
        return vrm.addr
    return expand_vma(vrm)


def _vma_expandable(vrm: VmaRemapStruct, vma: VmAreaStruct, delta: int) -> bool:
    """vma_expandable(): [vm_end, vm_end + delta) is free and would be a valid MAP_FIXED range."""
    mm = vma.vm_mm
    assert mm is not None
    end = vma.vm_end + delta
    if find_vma_intersection(mm, vma.vm_end, end) is not None:
        return False
    try:
        get_unmapped_area(vrm.current, None, vma.vm_start, end - vma.vm_start, 0, MAP_FIXED)
    except KernelError:
        return False
    return True


def expand_vma(vrm: VmaRemapStruct) -> int:
    """expand_vma(): grow in place when [addr, old_len) ends the VMA and the space after is free, else move.

    Linux: mm/mremap.c:expand_vma(), vrm_can_expand_in_place(), expand_vma_in_place()
    """
    vma = vrm.vma
    assert vma is not None
    if vma.vm_end - vrm.addr == vrm.old_len and _vma_expandable(vrm, vma, vrm.delta):
        merged = vma_merge_extend(vma, vrm.delta)
        if merged is None:
            raise KernelError(E.ENOMEM)
        vrm.vma = merged
        _vrm_stat_account(vrm, merged, vrm.delta)
        return vrm.addr
    if not vrm.flags & MREMAP_MAYMOVE:
        raise KernelError(E.ENOMEM)
    vrm_set_new_addr(vrm)
    return move_vma(vrm)
