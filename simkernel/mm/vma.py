"""VMA lookup, the tree, and splitting: the address-space operations the rest build on.

The tree is `mm.mm_rb`, a MapleTree (simkernel/mm/maple_tree.py) keyed by `vm_start` standing in for the
kernel's maple tree, so lookups are O(log n).  Every insertion and removal goes through `vma_iter_store()`/`vma_iter_remove()`, which keep
`mm.map_count` equal to the number of VMAs.  Merging follows Linux 6.18 exactly as far as userspace can see
it (merging lives in vma_merge.py, unmapping in vma_munmap.py, both carved from mm/vma.c).

Linux: mm/vma.c (__split_vma, split_vma, vma_link, remove_vma), mm/mmap.c (find_vma, find_vma_prev,
vm_stat_account), include/linux/mm.h (vma_lookup, find_exact_vma, vma_set_anonymous, vma_is_anonymous)
"""

from __future__ import annotations

from simkernel.errors import KernelError
from simkernel.fs.file_table import fput, get_file
from simkernel.lib.fault_inject import should_fail
from simkernel.mm.mm_types import (PAGE_SHIFT, VM_EXEC, VM_MAYWRITE, VM_SHARED, VM_STACK, VM_WRITE, MmStruct,
                                   VmAreaStruct, offset_in_page)
from simkernel.uapi import errno as E

__all__ = ["find_vma", "find_vma_prev", "vma_lookup", "find_exact_vma", "find_vma_intersection", "vma_next",
           "vma_prev", "vma_set_anonymous", "vma_is_anonymous", "vma_is_shmem", "vm_area_alloc", "vm_area_dup",
           "vma_iter_store", "vma_iter_remove", "vma_set_range", "vma_link", "remove_vma", "split_vma",
           "__split_vma", "vm_stat_account",
           "is_exec_mapping", "is_stack_mapping", "is_data_mapping", "vma_is_shared_maywrite",
           "max_map_count", "validate_mm"]



def max_map_count(mm: MmStruct) -> int:
    """sysctl_max_map_count (vm.max_map_count)."""
    return mm.kernel.sysctl.values["vm.max_map_count"]


# -- lookups ------------------------------------------------------------------------------------------

def find_vma(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """find_vma(): the first VMA with vm_end > addr (it may start above addr), or None.

    Linux: mm/mmap.c:find_vma()
    """
    return mm.mm_rb.find_after(addr)


def find_vma_prev(mm: MmStruct, addr: int) -> tuple[VmAreaStruct | None, VmAreaStruct | None]:
    """find_vma_prev(): (find_vma(addr), the VMA before it). Linux: mm/mmap.c:find_vma_prev()"""
    rb = mm.mm_rb
    vma = rb.find_after(addr)
    return vma, (rb.prev(vma) if vma is not None else rb.last())


def vma_lookup(mm: MmStruct, addr: int) -> VmAreaStruct | None:
    """vma_lookup(): the VMA containing addr, or None. Linux: include/linux/mm.h:vma_lookup()"""
    vma = mm.mm_rb.find_le(addr)
    if vma is not None and vma.vm_end > addr:
        return vma
    return None


def find_exact_vma(mm: MmStruct, vm_start: int, vm_end: int) -> VmAreaStruct | None:
    """find_exact_vma(): the VMA that is exactly [vm_start, vm_end), or None.

    Example: with one VMA 400000-452000, (0x400000, 0x452000) finds it; (0x400000, 0x451000) does not.

    Linux: include/linux/mm.h:find_exact_vma()
    """
    vma = mm.mm_rb.find_le(vm_start)     # vma_lookup(), a static inline: the VMA starting at or below vm_start
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
    return mm.mm_rb.next(vma)


def vma_prev(mm: MmStruct, vma: VmAreaStruct) -> VmAreaStruct | None:
    """The VMA before `vma` in the tree (adjacent or not)."""
    return mm.mm_rb.prev(vma)


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

    Every field is copied (tests/mm/test_vma.py holds this list against attrs.fields(VmAreaStruct)).

    Linux: mm/vma_init.c:vm_area_dup()
    """
    # by position (keyword arguments cost three times as much; the order is asserted in mm_types.py)
    return VmAreaStruct(orig.vm_start, orig.vm_end, orig.vm_flags, orig.vm_pgoff, orig.vm_file, orig.vm_mm,
                        orig.anon_vma, orig.vm_ops, orig.anon_name, True)


def vma_iter_store(mm: MmStruct, vma: VmAreaStruct) -> None:
    """vma_iter_store() + mm->map_count++: put a detached VMA into the tree. Linux: mm/vma.h"""
    assert vma.detached, f"{vma!r} is already in a tree"
    assert vma.vm_start < vma.vm_end and not (vma.vm_start | vma.vm_end) & 0xFFF, vma
    vma.vm_mm = mm
    mm.mm_rb.insert(vma)
    vma.detached = False
    mm.map_count += 1


def vma_iter_remove(mm: MmStruct, vma: VmAreaStruct) -> None:
    """Take a VMA out of the tree (vma_iter_clear + vma_mark_detached + mm->map_count--)."""
    mm.mm_rb.remove(vma)
    vma.detached = True
    mm.map_count -= 1


def vma_set_range(vma: VmAreaStruct, start: int, end: int, pgoff: int) -> None:
    """vma_set_range(): move a VMA's bounds, re-keying it in the tree when vm_start changes (in place when it
    stays between its neighbours). Linux: mm/vma.h"""
    mm = vma.vm_mm
    if not vma.detached and start != vma.vm_start and not mm.mm_rb.rekey(vma, start):
        vma_iter_remove(mm, vma)
        vma.vm_start, vma.vm_end, vma.vm_pgoff = start, end, pgoff
        vma_iter_store(mm, vma)
    else:
        vma.vm_start, vma.vm_end, vma.vm_pgoff = start, end, pgoff


def _unlink_file(vma: VmAreaStruct) -> None:
    """__remove_shared_vm_struct(): undo vma_link()'s __vma_link_file(). Linux: mm/vma.c"""
    if vma.vm_file is not None and vma_is_shared_maywrite(vma):
        vma.vm_file.f_inode.i_mmap_writable -= 1


def vma_link(mm: MmStruct, vma: VmAreaStruct) -> None:
    """vma_link(): insert a new VMA and link it to its file's mapping. Linux: mm/vma.c:vma_link()

    __vma_link_file() is written out (every split links a VMA): a shared writable mapping counts in
    mapping->i_mmap_writable.
    """
    vma_iter_store(mm, vma)
    file = vma.vm_file
    if file is not None and vma_is_shared_maywrite(vma):
        file.f_inode.i_mmap_writable += 1


def remove_vma(vma: VmAreaStruct, closed: bool = False) -> None:
    """remove_vma(): ->close unless already done, then drop the file reference. Linux: mm/vma.c"""
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
    mm.mm_rb.check()


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


_EXEC_MASK = VM_EXEC | VM_WRITE | VM_STACK        # is_exec_mapping()'s and is_data_mapping()'s masks
_DATA_MASK = VM_WRITE | VM_SHARED | VM_STACK


def vm_stat_account(mm: MmStruct, flags: int, npages: int) -> None:
    """vm_stat_account(): total_vm and the exec/stack/data split of /proc/<pid>/status. Linux: mm/mmap.c

    is_exec_mapping(), is_stack_mapping() and is_data_mapping() are written out, as the compiler inlines them (two
    calls per mprotect, on the path that splits 30,000 VMAs in a benchmark).
    """
    mm.total_vm += npages
    if (flags & _EXEC_MASK) == VM_EXEC:
        mm.exec_vm += npages
    elif (flags & VM_STACK) == VM_STACK:
        mm.stack_vm += npages
    elif (flags & _DATA_MASK) == VM_WRITE:
        mm.data_vm += npages
    if mm.total_vm > mm.hiwater_vm:
        mm.hiwater_vm = mm.total_vm


# -- splitting --------------------------------------------------------------------------------------

def __split_vma(vma: VmAreaStruct, addr: int, new_below: bool) -> VmAreaStruct:
    """__split_vma(): cut `vma` at addr; the new VMA is the part below (new_below) or above. No map_count check.

    Returns the new VMA; `vma` keeps the other part.

    Raises:
        KernelError: whatever vm_ops->may_split refuses with.

    Linux: mm/vma.c:__split_vma()
    """
    assert vma.vm_start < addr < vma.vm_end, (vma, hex(addr))
    ops = vma.vm_ops            # the vm_ops look-ups are skipped for an anonymous VMA (no vm_ops)
    if ops is not None:
        may_split = getattr(ops, "may_split", None)
        if may_split is not None:
            may_split(vma, addr)
    mm = vma.vm_mm
    k = mm.kernel   # fail-nth "alloc": k.fault_current is the armed task inside its syscall, else None
    if k.fault_current is not None and should_fail(k.fault_current, "alloc", "vm_area_dup"):
        raise KernelError(E.ENOMEM, "__split_vma(): vm_area_dup() failed (fail-nth)")
    new = vm_area_dup(vma)
    if new_below:
        new.vm_end = addr
    else:
        new.vm_start = addr
        new.vm_pgoff += (addr - vma.vm_start) >> PAGE_SHIFT
    file = new.vm_file
    if file is not None:
        get_file(file)
    ops = new.vm_ops
    if ops is not None:         # _vm_ops_open(new), written out
        vm_open = getattr(ops, "open", None)
        if vm_open is not None:
            vm_open(new)
    if new_below:
        vma_set_range(vma, addr, vma.vm_end, vma.vm_pgoff + ((addr - new.vm_start) >> PAGE_SHIFT))
    else:
        vma.vm_end = addr
    vma_link(mm, new)
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
