"""Merging VMAs: when a new or changed range joins its neighbours, and copy_vma() for mremap.

Two VMAs merge when they touch, have the same flags (VM_SOFTDIRTY ignored), the same `struct file` object,
contiguous page offsets, compatible anon_vmas and the same anon name, and neither is VM_SPECIAL; a VMA with a
`vm_ops->close` is never removed by a merge.  Carved from mm/vma.c.

Linux: mm/vma.c (is_mergeable_vma, can_vma_merge_before/after, vma_merge_new_range, vma_merge_existing_range,
vma_expand, vma_modify, vma_merge_extend, copy_vma)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field, fields

from simkernel.fs.file_table import fput, get_file
from simkernel.mm.mm_types import PAGE_SHIFT, VM_SOFTDIRTY, VM_SPECIAL, MmStruct, VmAreaStruct, vma_pages
from simkernel.mm.vma import (_unlink_file, _vm_ops_open, find_vma_prev, split_vma, vm_area_dup,
                              vma_is_anonymous, vma_iter_remove, vma_link, vma_next, vma_set_range)

if TYPE_CHECKING:
    from simkernel.fs.file import File

__all__ = ["VmaMergeStruct", "vma_merge_new_range", "vma_merge_existing_range", "vma_expand", "vma_modify_flags",
           "vma_merge_extend", "copy_vma"]


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
        # mm, prev, next, vma, start, end, pgoff, flags, file, anon_vma, anon_name (by position: faster)
        return cls(vma.vm_mm, prev, None, vma, start, end, vma.vm_pgoff + ((start - vma.vm_start) >> PAGE_SHIFT),
                   vma.vm_flags if flags is None else flags, vma.vm_file, vma.anon_vma, vma.anon_name)


assert tuple(a.name for a in fields(VmaMergeStruct)) == (
    "mm", "prev", "next", "vma", "start", "end", "pgoff", "flags", "file", "anon_vma", "anon_name"), \
    "for_vma() passes these fields by position"


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
