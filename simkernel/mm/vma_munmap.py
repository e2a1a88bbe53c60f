"""Unmapping: gather (split and detach) the VMAs of a range, then free them or put them back.

Carved from mm/vma.c.

Linux: mm/vma.c (vms_gather_munmap_vmas, vms_complete_munmap_vmas, do_vmi_align_munmap, do_vmi_munmap),
mm/vma.h (vms_abort_munmap_vmas)
"""

from __future__ import annotations

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.mm.mm_types import (PAGE_ALIGN, TASK_SIZE, VM_ACCOUNT, VM_LOCKED, MmStruct, VmAreaStruct,
                                   offset_in_page, vma_pages)
from simkernel.mm.vma import (__split_vma, _unlink_file, find_vma, find_vma_intersection, max_map_count,
                              remove_vma, vm_stat_account, vma_iter_remove, vma_iter_store, vma_next, vma_prev)
from simkernel.uapi import errno as E

__all__ = ["VmaMunmapStruct", "vms_gather_munmap_vmas", "vms_abort_munmap_vmas", "vms_clean_up_area",
           "vms_complete_munmap_vmas", "do_vmi_align_munmap", "do_vmi_munmap"]


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
    vms.prev = vma_prev(mm, first) if first is not None else mm.mm_rb.last()
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
