"""VMA lookup, split, merge and unmap: the address-space tree operations.

The tree is `mm.mm_rb`, a SortedKeyList keyed by `vm_start` standing in for the maple tree, so lookups are
O(log n).  Every insertion and removal goes through `vma_iter_store()`/`vma_iter_remove()`, which keep
`mm.map_count` equal to the number of VMAs.  Merging follows Linux 6.18 exactly as far as userspace can see
it: two VMAs merge when they touch, have the same flags (VM_SOFTDIRTY ignored), the same `struct file`
object, contiguous page offsets and compatible anon_vmas, and neither is VM_SPECIAL; a VMA with a
`vm_ops->close` is never removed by a merge.

Linux: mm/vma.c (is_mergeable_vma, vma_merge_new_range, vma_merge_existing_range, vma_modify, __split_vma,
vms_gather_munmap_vmas, do_vmi_munmap, copy_vma), mm/mmap.c (find_vma, find_vma_prev), include/linux/mm.h
(vma_lookup, find_exact_vma, vma_set_anonymous, vma_is_anonymous)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, evolve, field

from simkernel.errors import KernelError
from simkernel.mm.mm_types import (PAGE_ALIGN, PAGE_SHIFT, TASK_SIZE, VM_ACCOUNT, VM_EXEC, VM_LOCKED,
                                   VM_MAYWRITE, VM_SHARED, VM_SOFTDIRTY, VM_SPECIAL, VM_STACK, VM_WRITE,
                                   MmStruct, VmAreaStruct, offset_in_page, vma_pages)
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.file import File

__all__ = ["find_vma", "find_vma_prev", "vma_lookup", "find_exact_vma", "find_vma_intersection", "vma_next",
           "vma_prev", "vma_set_anonymous", "vma_is_anonymous", "vma_is_shmem", "vm_area_alloc", "vm_area_dup",
           "vma_iter_store", "vma_iter_remove", "vma_set_range", "vma_link", "remove_vma", "split_vma",
           "__split_vma", "VmaMergeStruct", "vma_merge_new_range", "vma_merge_existing_range", "vma_expand",
           "vma_modify_flags", "vma_merge_extend", "copy_vma", "vms_gather_munmap_vmas",
           "vms_complete_munmap_vmas", "do_vmi_align_munmap", "do_vmi_munmap", "vm_stat_account",
           "is_exec_mapping", "is_stack_mapping", "is_data_mapping", "vma_is_shared_maywrite",
           "max_map_count", "validate_mm"]

ULONG_MAX = (1 << 64) - 1


def max_map_count(mm: MmStruct) -> int:
    """sysctl_max_map_count (vm.max_map_count)."""
    return mm.kernel.sysctl["vm.max_map_count"]


# -- lookups ------------------------------------------------------------------------------------------

def _index_at_or_before(mm: MmStruct, addr: int) -> int:
    """Index of the last VMA with vm_start <= addr (-1 if none)."""
    return mm.mm_rb.bisect_key_right(addr) - 1


def find_vma(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """find_vma(): the first VMA with vm_end > addr (it may start above addr), or None.

    Linux: mm/mmap.c:find_vma()
    """
    rb = mm.mm_rb
    i = _index_at_or_before(mm, addr)
    if i >= 0 and rb[i].vm_end > addr:
        return rb[i]
    if i + 1 < len(rb):
        return rb[i + 1]
    return None


def find_vma_prev(mm: MmStruct, addr: int) -> tuple[VmAreaStruct | None, VmAreaStruct | None]:
    """find_vma_prev(): (find_vma(addr), the VMA before it). Linux: mm/mmap.c:find_vma_prev()"""
    rb = mm.mm_rb
    i = _index_at_or_before(mm, addr)
    if i >= 0 and rb[i].vm_end > addr:
        return rb[i], (rb[i - 1] if i > 0 else None)
    nxt = rb[i + 1] if i + 1 < len(rb) else None
    return nxt, (rb[i] if i >= 0 else None)


def vma_lookup(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """vma_lookup(): the VMA containing addr, or None. Linux: include/linux/mm.h:vma_lookup()"""
    i = _index_at_or_before(mm, addr)
    if i >= 0:
        vma = mm.mm_rb[i]
        if vma.vm_end > addr:
            return vma
    return None


def find_exact_vma(mm: MmStruct, vm_start: int, vm_end: int) -> VmAreaStruct | None:
    """find_exact_vma(): the VMA that is exactly [vm_start, vm_end), or None.

    Example: with one VMA 400000-452000, (0x400000, 0x452000) finds it; (0x400000, 0x451000) does not.

    Linux: include/linux/mm.h:find_exact_vma()
    """
    vma = vma_lookup(mm, vm_start)
    if vma is not None and (vma.vm_start != vm_start or vma.vm_end != vm_end):
        vma = None
    return vma


def find_vma_intersection(mm: MmStruct, start: int, end: int) -> VmAreaStruct | None:
    """find_vma_intersection(): the first VMA overlapping [start, end). Linux: mm/mmap.c"""
    vma = find_vma(mm, start)
    if vma is not None and vma.vm_start < end:
        return vma
    return None


def vma_next(mm: MmStruct, vma: VmAreaStruct) -> VmAreaStruct | None:
    """The VMA after `vma` in the tree (adjacent or not)."""
    rb = mm.mm_rb
    i = _index_of(mm, vma)
    return rb[i + 1] if i + 1 < len(rb) else None


def vma_prev(mm: MmStruct, vma: VmAreaStruct) -> VmAreaStruct | None:
    """The VMA before `vma` in the tree (adjacent or not)."""
    i = _index_of(mm, vma)
    return mm.mm_rb[i - 1] if i > 0 else None


def _index_of(mm: MmStruct, vma: VmAreaStruct) -> int:
    i = mm.mm_rb.bisect_key_left(vma.vm_start)
    assert i < len(mm.mm_rb) and mm.mm_rb[i] is vma, f"{vma!r} is not in the tree"
    return i


# -- anonymous / shmem ------------------------------------------------------------------------------

def vma_set_anonymous(vma: VmAreaStruct) -> None:
    """vma_set_anonymous(): vm_ops = NULL; vm_file is left as it was. Linux: include/linux/mm.h"""
    vma.vm_ops = None


def vma_is_anonymous(vma: VmAreaStruct) -> bool:
    """vma_is_anonymous(): no vm_ops (a private /dev/zero mapping counts, its vm_file notwithstanding).

    Linux: include/linux/mm.h:vma_is_anonymous()
    """
    return vma.vm_ops is None


def vma_is_shmem(vma: VmAreaStruct) -> bool:
    """vma_is_shmem(): mapped through shmem's vm_ops (tmpfs, memfd, shared anonymous). Linux: mm/shmem.c"""
    return getattr(vma.vm_ops, "name", None) in ("shmem_vm_ops", "shmem_anon_vm_ops")


def vma_is_shared_maywrite(vma: VmAreaStruct) -> bool:
    """is_shared_maywrite(vm_flags): VM_SHARED and VM_MAYWRITE both set. Linux: include/linux/mm.h"""
    return (vma.vm_flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE)


# -- allocation and the tree ----------------------------------------------------------------------

def vm_area_alloc(mm: MmStruct) -> VmAreaStruct:
    """vm_area_alloc(): an empty, detached, anonymous VMA of `mm`. Linux: mm/vma_init.c"""
    return VmAreaStruct(vm_start=0, vm_end=0, vm_flags=0, vm_mm=mm)


def vm_area_dup(orig: VmAreaStruct) -> VmAreaStruct:
    """vm_area_dup(): a detached copy of every field (the caller takes the file reference).

    Linux: mm/vma_init.c:vm_area_dup()
    """
    return evolve(orig, detached=True)


def vma_iter_store(mm: MmStruct, vma: VmAreaStruct) -> None:
    """vma_iter_store() + mm->map_count++: put a detached VMA into the tree. Linux: mm/vma.h"""
    assert vma.detached, f"{vma!r} is already in a tree"
    assert vma.vm_start < vma.vm_end and not offset_in_page(vma.vm_start | vma.vm_end), vma
    vma.vm_mm = mm
    mm.mm_rb.add(vma)
    vma.detached = False
    mm.map_count = len(mm.mm_rb)


def vma_iter_remove(mm: MmStruct, vma: VmAreaStruct) -> None:
    """Take a VMA out of the tree (vma_iter_clear + vma_mark_detached + mm->map_count--)."""
    del mm.mm_rb[_index_of(mm, vma)]
    vma.detached = True
    mm.map_count = len(mm.mm_rb)


def vma_set_range(vma: VmAreaStruct, start: int, end: int, pgoff: int) -> None:
    """vma_set_range(): move a VMA's bounds, re-keying it in the tree when vm_start changes. Linux: mm/vma.h"""
    mm = vma.vm_mm
    if not vma.detached and start != vma.vm_start:
        vma_iter_remove(mm, vma)
        vma.vm_start, vma.vm_end, vma.vm_pgoff = start, end, pgoff
        vma_iter_store(mm, vma)
    else:
        vma.vm_start, vma.vm_end, vma.vm_pgoff = start, end, pgoff


def _link_file(vma: VmAreaStruct) -> None:
    """__vma_link_file(): a shared writable mapping counts in mapping->i_mmap_writable. Linux: mm/vma.c"""
    if vma.vm_file is not None and vma_is_shared_maywrite(vma):
        vma.vm_file.f_inode.i_mmap_writable += 1


def _unlink_file(vma: VmAreaStruct) -> None:
    """__remove_shared_vm_struct(): undo _link_file. Linux: mm/vma.c"""
    if vma.vm_file is not None and vma_is_shared_maywrite(vma):
        vma.vm_file.f_inode.i_mmap_writable -= 1


def vma_link(mm: MmStruct, vma: VmAreaStruct) -> None:
    """vma_link(): insert a new VMA and link it to its file's mapping. Linux: mm/vma.c:vma_link()"""
    vma_iter_store(mm, vma)
    _link_file(vma)


def remove_vma(vma: VmAreaStruct, closed: bool = False) -> None:
    """remove_vma(): ->close unless already done, then drop the file reference. Linux: mm/vma.c"""
    from simkernel.fs.file_table import fput
    close = getattr(vma.vm_ops, "close", None)
    if not closed and close is not None:
        close(vma)
    if vma.vm_file is not None:
        fput(vma.vm_file)


def _vm_ops_open(vma: VmAreaStruct) -> None:
    fn = getattr(vma.vm_ops, "open", None)
    if fn is not None:
        fn(vma)


def validate_mm(mm: MmStruct) -> None:
    """validate_mm(): the tree is sorted, non-overlapping, page-aligned and map_count matches.

    Linux: mm/vma.c:validate_mm() (CONFIG_DEBUG_VM_MAPLE_TREE)
    """
    prev_end = 0
    for vma in mm.mm_rb:
        assert not vma.detached and vma.vm_mm is mm, vma
        assert prev_end <= vma.vm_start < vma.vm_end, vma
        assert not offset_in_page(vma.vm_start | vma.vm_end), vma
        prev_end = vma.vm_end
    assert mm.map_count == len(mm.mm_rb), (mm.map_count, len(mm.mm_rb))


# -- accounting -------------------------------------------------------------------------------------

def is_exec_mapping(flags: int) -> bool:
    """Executable code area: VM_EXEC without VM_WRITE or VM_STACK. Linux: mm/internal.h"""
    return (flags & (VM_EXEC | VM_WRITE | VM_STACK)) == VM_EXEC


def is_stack_mapping(flags: int) -> bool:
    """Stack area (VM_GROWSDOWN on x86). Linux: mm/internal.h"""
    return (flags & VM_STACK) == VM_STACK


def is_data_mapping(flags: int) -> bool:
    """Data area: private, writable, not stack. Linux: mm/internal.h"""
    return (flags & (VM_WRITE | VM_SHARED | VM_STACK)) == VM_WRITE


def vm_stat_account(mm: MmStruct, flags: int, npages: int) -> None:
    """vm_stat_account(): total_vm and the exec/stack/data split of /proc/<pid>/status. Linux: mm/mmap.c"""
    mm.total_vm += npages
    if is_exec_mapping(flags):
        mm.exec_vm += npages
    elif is_stack_mapping(flags):
        mm.stack_vm += npages
    elif is_data_mapping(flags):
        mm.data_vm += npages
    mm.hiwater_vm = max(mm.hiwater_vm, mm.total_vm)


# -- splitting --------------------------------------------------------------------------------------

def __split_vma(vma: VmAreaStruct, addr: int, new_below: bool) -> VmAreaStruct:
    """__split_vma(): cut `vma` at addr; the new VMA is the part below (new_below) or above. No map_count check.

    Returns the new VMA; `vma` keeps the other part.

    Raises:
        KernelError: whatever vm_ops->may_split refuses with.

    Linux: mm/vma.c:__split_vma()
    """
    from simkernel.fs.file_table import get_file
    assert vma.vm_start < addr < vma.vm_end, (vma, hex(addr))
    may_split = getattr(vma.vm_ops, "may_split", None)
    if may_split is not None:
        may_split(vma, addr)
    new = vm_area_dup(vma)
    if new_below:
        new.vm_end = addr
    else:
        new.vm_start = addr
        new.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
    if new.vm_file is not None:
        get_file(new.vm_file)
    _vm_ops_open(new)
    if new_below:
        vma_set_range(vma, addr, vma.vm_end, vma.vm_pgoff + ((addr - new.vm_start) >> PAGE_SHIFT))
    else:
        vma.vm_end = addr
    vma_link(vma.vm_mm, new)
    return new


def split_vma(vma: VmAreaStruct, addr: int, new_below: bool) -> VmAreaStruct:
    """split_vma(): __split_vma() unless the mm already holds vm.max_map_count VMAs.

    Raises:
        KernelError(ENOMEM): map_count >= vm.max_map_count.

    Linux: mm/vma.c:split_vma()
    """
    if vma.vm_mm.map_count >= max_map_count(vma.vm_mm):
        raise KernelError(E.ENOMEM, "split_vma: map_count would pass vm.max_map_count")
    return __split_vma(vma, addr, new_below)


# -- merging ----------------------------------------------------------------------------------------

@define(eq=False)
class VmaMergeStruct:
    """struct vma_merge_struct: a proposed range [start, end) with the attributes it would have.

    `vma` is the VMA being modified (existing-range merges) or the VMA to expand (new-range merges).
    Linux: mm/vma.h
    """

    mm: MmStruct = field(repr=False)
    prev: VmAreaStruct | None
    next: VmAreaStruct | None
    vma: VmAreaStruct | None
    start: int
    end: int
    pgoff: int
    flags: int
    file: File | None = field(default=None, repr=False)
    anon_vma: Any = field(default=None, repr=False)
    anon_name: str | None = None

    @classmethod
    def for_vma(cls, vma: VmAreaStruct, prev: VmAreaStruct | None, start: int, end: int,
                flags: int | None = None) -> VmaMergeStruct:
        """VMG_VMA_STATE(): the attributes of `vma` over [start, end). Linux: mm/vma.h"""
        return cls(mm=vma.vm_mm, prev=prev, next=None, vma=vma, start=start, end=end,
                   pgoff=vma.vm_pgoff + ((start - vma.vm_start) >> PAGE_SHIFT),
                   flags=vma.vm_flags if flags is None else flags, file=vma.vm_file, anon_vma=vma.anon_vma,
                   anon_name=vma.anon_name)


def _is_mergeable_vma(vmg: VmaMergeStruct, vma: VmAreaStruct) -> bool:
    """is_mergeable_vma(): same flags but VM_SOFTDIRTY, same file object, same anon name. Linux: mm/vma.c

    Simplification: no mempolicies or userfaultfd contexts exist, so they always compare equal.
    """
    if (vma.vm_flags ^ vmg.flags) & ~VM_SOFTDIRTY:
        return False
    if vma.vm_file is not vmg.file:
        return False
    return vma.anon_name == vmg.anon_name


def _anon_chain_singular(vma: VmAreaStruct | None) -> bool:
    return vma is None or vma.anon_vma is None or getattr(vma.anon_vma, "degree", 1) <= 1


def _is_mergeable_anon_vma(a1: Any, a2: Any, vma: VmAreaStruct | None) -> bool:
    """is_mergeable_anon_vma(): either side has none (and vma's chain is singular), or the same one.

    Linux: mm/vma.c:is_mergeable_anon_vma()
    """
    if (a1 is None or a2 is None) and (vma is None or _anon_chain_singular(vma)):
        return True
    return a1 is a2


def _can_vma_merge_before(vmg: VmaMergeStruct) -> bool:
    """can_vma_merge_before(): the range can be joined in front of vmg.next. Linux: mm/vma.c"""
    nxt = vmg.next
    assert nxt is not None
    pglen = (vmg.end - vmg.start) >> PAGE_SHIFT
    return (_is_mergeable_vma(vmg, nxt) and _is_mergeable_anon_vma(vmg.anon_vma, nxt.anon_vma, nxt)
            and nxt.vm_pgoff == vmg.pgoff + pglen)


def _can_vma_merge_after(vmg: VmaMergeStruct) -> bool:
    """can_vma_merge_after(): the range can be joined behind vmg.prev. Linux: mm/vma.c"""
    prev = vmg.prev
    assert prev is not None
    return (_is_mergeable_vma(vmg, prev) and _is_mergeable_anon_vma(vmg.anon_vma, prev.anon_vma, prev)
            and prev.vm_pgoff + vma_pages(prev) == vmg.pgoff)


def _can_vma_merge_left(vmg: VmaMergeStruct) -> bool:
    return vmg.prev is not None and vmg.prev.vm_end == vmg.start and _can_vma_merge_after(vmg)


def _can_vma_merge_right(vmg: VmaMergeStruct, can_merge_left: bool) -> bool:
    nxt = vmg.next
    if nxt is None or vmg.end != nxt.vm_start or not _can_vma_merge_before(vmg):
        return False
    if not can_merge_left:
        return True
    assert vmg.prev is not None
    return _is_mergeable_anon_vma(vmg.prev.anon_vma, nxt.anon_vma, None)


def _can_merge_remove_vma(vma: VmAreaStruct) -> bool:
    """can_merge_remove_vma(): only VMAs without ->close may disappear in a merge. Linux: mm/vma.c"""
    return getattr(vma.vm_ops, "close", None) is None


def _dup_anon_vma(dst: VmAreaStruct, src: VmAreaStruct) -> None:
    """dup_anon_vma(): the surviving VMA inherits src's anon_vma if it has none. Linux: mm/vma.c"""
    if src.anon_vma is not None and dst.anon_vma is None:
        dst.anon_vma = src.anon_vma


def _merge_remove(vma: VmAreaStruct) -> None:
    """vma_complete()'s removal of a VMA swallowed by a merge: unlink, drop the file reference."""
    from simkernel.fs.file_table import fput
    _unlink_file(vma)
    vma_iter_remove(vma.vm_mm, vma)
    if vma.vm_file is not None:
        fput(vma.vm_file)


def vma_expand(vmg: VmaMergeStruct) -> VmAreaStruct:
    """vma_expand(): grow vmg.vma to [vmg.start, vmg.end), swallowing vmg.next when it ends there.

    Linux: mm/vma.c:vma_expand()
    """
    vma, nxt = vmg.vma, vmg.next
    assert vma is not None
    remove_next = nxt is not None and nxt is not vma and vmg.end == nxt.vm_end
    if remove_next:
        assert nxt is not None
        _dup_anon_vma(vma, nxt)
        _merge_remove(nxt)
    vma_set_range(vma, vmg.start, vmg.end, vmg.pgoff)
    return vma


def vma_merge_new_range(vmg: VmaMergeStruct) -> VmAreaStruct | None:
    """vma_merge_new_range(): place a new range [start, end) by expanding a neighbour, or None.

    Cases: expand prev, expand next backwards, or expand prev over the range and swallow next.
    VM_SPECIAL ranges never merge.

    Linux: mm/vma.c:vma_merge_new_range()
    """
    prev, nxt = vmg.prev, vmg.next
    start, end, pgoff = vmg.start, vmg.end, vmg.pgoff
    pglen = (end - start) >> PAGE_SHIFT
    if vmg.flags & VM_SPECIAL or (prev is None and nxt is None):
        return None
    can_merge_left = _can_vma_merge_left(vmg)
    can_merge_right = _can_vma_merge_right(vmg, can_merge_left)
    if can_merge_right:
        assert nxt is not None
        vmg.end = nxt.vm_end
        vmg.vma = nxt
        vmg.pgoff = nxt.vm_pgoff - pglen
    if can_merge_left:
        assert prev is not None
        vmg.start = prev.vm_start
        vmg.vma = prev
        vmg.pgoff = prev.vm_pgoff
        if can_merge_right and not _can_merge_remove_vma(nxt):  # type: ignore[arg-type]
            vmg.end = end
    if vmg.vma is not None:
        return vma_expand(vmg)
    vmg.start, vmg.end, vmg.pgoff = start, end, pgoff
    return None


def vma_merge_existing_range(vmg: VmaMergeStruct) -> VmAreaStruct | None:
    """vma_merge_existing_range(): after [start, end) of vmg.vma changes attributes, join it to a neighbour.

    Only a range touching an end of the VMA can merge: with prev when start == vm_start, with next when
    end == vm_end (both: the VMA disappears into prev).  Returns the merged VMA or None.

    Linux: mm/vma.c:vma_merge_existing_range()
    """
    vma, prev = vmg.vma, vmg.prev
    assert vma is not None
    start, end = vmg.start, vmg.end
    left_side = start == vma.vm_start
    right_side = end == vma.vm_end
    if vmg.flags & VM_SPECIAL or (not left_side and not right_side):
        return None
    merge_left = left_side and _can_vma_merge_left(vmg)
    nxt = None
    if right_side:
        nxt = vmg.next = vma_next(vmg.mm, vma)
        merge_right = _can_vma_merge_right(vmg, merge_left)
    else:
        merge_right = False
    if not merge_left and not merge_right:
        return None
    merge_both = merge_left and merge_right
    delete_vma = left_side and right_side
    if delete_vma and not _can_merge_remove_vma(vma):
        return None
    delete_next = merge_both
    if delete_next and not _can_merge_remove_vma(nxt):  # type: ignore[arg-type]
        delete_next = merge_right = merge_both = False

    if merge_both:
        assert prev is not None and nxt is not None
        _dup_anon_vma(prev, nxt if nxt.anon_vma is not None else vma)
        new_end = nxt.vm_end
        _merge_remove(vma)
        _merge_remove(nxt)
        vma_set_range(prev, prev.vm_start, new_end, prev.vm_pgoff)
        return prev
    if merge_left:
        assert prev is not None
        _dup_anon_vma(prev, vma)
        if delete_vma:
            _merge_remove(vma)
        else:
            vma_set_range(vma, end, vma.vm_end, vma.vm_pgoff + ((end - vma.vm_start) >> PAGE_SHIFT))
        vma_set_range(prev, prev.vm_start, end, prev.vm_pgoff)
        return prev
    assert nxt is not None
    pglen = (end - start) >> PAGE_SHIFT
    _dup_anon_vma(nxt, vma)
    if delete_vma:
        _merge_remove(vma)
    else:
        vma.vm_end = start
    vma_set_range(nxt, start, nxt.vm_end, nxt.vm_pgoff - pglen)
    return nxt


def vma_modify_flags(prev: VmAreaStruct | None, vma: VmAreaStruct, start: int, end: int,
                     new_flags: int) -> VmAreaStruct:
    """vma_modify_flags()/vma_modify(): merge [start, end) with new flags into a neighbour, else split it out.

    Returns the VMA that now covers [start, end) (the caller sets its flags).

    Raises:
        KernelError(ENOMEM): a needed split would pass vm.max_map_count.

    Linux: mm/vma.c:vma_modify()
    """
    vmg = VmaMergeStruct.for_vma(vma, prev, start, end, new_flags)
    merged = vma_merge_existing_range(vmg)
    if merged is not None:
        return merged
    if vma.vm_start < start:
        split_vma(vma, start, True)
    if vma.vm_end > end:
        split_vma(vma, end, False)
    return vma


def vma_merge_extend(vma: VmAreaStruct, delta: int) -> VmAreaStruct | None:
    """vma_merge_extend(): grow `vma` by delta bytes at its end, joining next when it becomes compatible.

    Linux: mm/vma.c:vma_merge_extend()
    """
    vmg = VmaMergeStruct.for_vma(vma, vma, vma.vm_end, vma.vm_end + delta)
    vmg.next = vma_next(vma.vm_mm, vma)
    vmg.vma = None
    return vma_merge_new_range(vmg)


def copy_vma(vma: VmAreaStruct, addr: int, length: int, pgoff: int) -> tuple[VmAreaStruct, VmAreaStruct]:
    """copy_vma(): the mremap destination: merged into a neighbour at addr, or a new copy of `vma`.

    A never-faulted anonymous VMA takes pgoff from its new address so it can merge there.  Returns
    (new_vma, vma), where vma is replaced by new_vma when the source itself was merged into it.

    Linux: mm/vma.c:copy_vma()
    """
    from simkernel.fs.file_table import get_file
    mm = vma.vm_mm
    vma_start = vma.vm_start
    if vma_is_anonymous(vma) and vma.anon_vma is None:
        pgoff = addr >> PAGE_SHIFT
    new_vma, prev = find_vma_prev(mm, addr)
    assert new_vma is None or new_vma.vm_start >= addr + length, "copy_vma over a mapped range"
    vmg = VmaMergeStruct.for_vma(vma, prev, addr, addr + length)
    vmg.vma = None
    vmg.pgoff = pgoff
    vmg.next = new_vma
    merged = vma_merge_new_range(vmg)
    if merged is not None:
        if merged.vm_start <= vma_start < merged.vm_end:
            vma = merged
        return merged, vma
    new = vm_area_dup(vma)
    new.vm_start, new.vm_end, new.vm_pgoff = addr, addr + length, pgoff
    if new.vm_file is not None:
        get_file(new.vm_file)
    _vm_ops_open(new)
    vma_link(mm, new)
    return new, vma


# -- unmapping --------------------------------------------------------------------------------------

@define(eq=False)
class VmaMunmapStruct:
    """struct vma_munmap_struct: the VMAs gathered (split and detached) for one unmap. Linux: mm/vma.h"""

    mm: MmStruct = field(repr=False)
    start: int
    end: int
    detached: list[VmAreaStruct] = field(factory=list)
    prev: VmAreaStruct | None = None
    next: VmAreaStruct | None = None
    nr_pages: int = 0
    nr_accounted: int = 0
    locked_vm: int = 0
    closed_vm_ops: bool = False


def vms_gather_munmap_vmas(mm: MmStruct, vma: VmAreaStruct, start: int, end: int) -> VmaMunmapStruct:
    """vms_gather_munmap_vmas(): split at start and end, then detach every VMA inside [start, end).

    The first VMA may only be split in two places while map_count < vm.max_map_count; the tail split is
    not checked ("let map_count go just above its limit temporarily").

    Raises:
        KernelError(ENOMEM): the first VMA would be split at both ends with map_count at the limit.

    Linux: mm/vma.c:vms_gather_munmap_vmas()
    """
    vms = VmaMunmapStruct(mm=mm, start=start, end=end)
    if start > vma.vm_start:
        if end < vma.vm_end and mm.map_count >= max_map_count(mm):
            raise KernelError(E.ENOMEM, "munmap: splitting a VMA in three at vm.max_map_count")
        __split_vma(vma, start, True)
    first = find_vma(mm, start)
    vms.prev = vma_prev(mm, first) if first is not None else (mm.mm_rb[-1] if len(mm.mm_rb) else None)
    nxt = first
    while nxt is not None and nxt.vm_start < end:
        if nxt.vm_end > end:
            __split_vma(nxt, end, False)
        vms.detached.append(nxt)
        pages = vma_pages(nxt)
        vms.nr_pages += pages
        if nxt.vm_flags & VM_LOCKED:
            vms.locked_vm += pages
        if nxt.vm_flags & VM_ACCOUNT:
            vms.nr_accounted += pages
        nxt = vma_next(mm, nxt)
    vms.next = nxt
    for v in vms.detached:
        vma_iter_remove(mm, v)
    return vms


def vms_abort_munmap_vmas(vms: VmaMunmapStruct) -> None:
    """vms_abort_munmap_vmas(): after a failed MAP_FIXED, put the old VMAs back if their pages are still
    there, else (->close already ran) finish unmapping them and leave a gap.  Either way splits stay.

    Verified on Linux 6.18.44: a ->mmap failure (ext4 refusing MAP_SYNC) over the middle of a mapping
    leaves a hole there.

    Linux: mm/vma.h:vms_abort_munmap_vmas()
    """
    if not vms.nr_pages:
        return
    if vms.closed_vm_ops:
        vms_complete_munmap_vmas(vms)
        return
    for v in vms.detached:
        vma_iter_store(vms.mm, v)
    vms.detached = []


def vms_clean_up_area(vms: VmaMunmapStruct) -> None:
    """vms_clean_up_area(): ->close the gathered VMAs before a new mapping replaces them. Linux: mm/vma.c"""
    for v in vms.detached:
        close = getattr(v.vm_ops, "close", None)
        if close is not None:
            close(v)
    vms.closed_vm_ops = True


def vms_complete_munmap_vmas(vms: VmaMunmapStruct) -> None:
    """vms_complete_munmap_vmas(): account and free the gathered VMAs. Linux: mm/vma.c"""
    mm = vms.mm
    mm.locked_vm -= vms.locked_vm
    for v in vms.detached:
        vm_stat_account(mm, v.vm_flags, -vma_pages(v))
        _unlink_file(v)
        remove_vma(v, closed=vms.closed_vm_ops)
    vms.detached = []


def do_vmi_align_munmap(mm: MmStruct, vma: VmAreaStruct, start: int, end: int) -> None:
    """do_vmi_align_munmap(): unmap the page-aligned [start, end) whose first VMA is `vma`.

    Linux: mm/vma.c:do_vmi_align_munmap()
    """
    vms = vms_gather_munmap_vmas(mm, vma, start, end)
    vms_complete_munmap_vmas(vms)


def do_vmi_munmap(mm: MmStruct, start: int, length: int) -> None:
    """do_vmi_munmap(): unmap [start, start + PAGE_ALIGN(length)); nothing mapped there is not an error.

    Raises:
        KernelError(EINVAL): start not page-aligned, above TASK_SIZE, the range passes TASK_SIZE, or an
            empty range.
        KernelError(ENOMEM): a split would pass vm.max_map_count.

    Linux: mm/vma.c:do_vmi_munmap()
    """
    if offset_in_page(start) or start > TASK_SIZE or length > TASK_SIZE - start:
        raise KernelError(E.EINVAL)
    end = start + PAGE_ALIGN(length)
    if end == start:
        raise KernelError(E.EINVAL)
    vma = find_vma_intersection(mm, start, end)
    if vma is None:
        return
    do_vmi_align_munmap(mm, vma, start, end)


ULONG = ULONG_MAX
