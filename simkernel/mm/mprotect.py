"""mprotect(2): change the access bits of a range, splitting and merging VMAs.

VM_ACCOUNT decides what merges back (verified on Linux 6.18.44): making a private mapping writable charges
it (VM_ACCOUNT); removing write again keeps the charge, so a private *file* range that was once writable
never merges back with its never-written neighbours.  A never-faulted anonymous range (no anon_vma) gives
the charge back, so it does merge back.

Linux: mm/mprotect.c:do_mprotect_pkey(), mprotect_fixup()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.mm.mm_types import (VM_ACCESS_FLAGS, VM_ACCOUNT, VM_GROWSDOWN, VM_GROWSUP,
                                   VM_HUGETLB, VM_NORESERVE, VM_SHARED, VM_WRITE, VmAreaStruct)
from simkernel.mm.mmap import ULONG_MAX, calc_vm_prot_bits
from simkernel.mm.vma import find_vma, vm_stat_account, vma_is_anonymous, vma_prev
from simkernel.mm.vma_merge import vma_modify_flags
from simkernel.uapi import errno as E
from simkernel.uapi.mman import PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_WRITE

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["do_mprotect_pkey", "sys_mprotect", "mprotect_fixup", "arch_validate_prot", "PROT_SEM"]

PROT_SEM = 0x8
_PROT_GROWS = PROT_GROWSDOWN | PROT_GROWSUP


def arch_validate_prot(prot: int, addr: int) -> bool:
    """arch_validate_prot(): only PROT_READ/WRITE/EXEC/SEM (the generic version x86 uses).

    Linux: include/linux/mman.h
    """
    return (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) == 0


def mprotect_fixup(current: Task, vma: VmAreaStruct, prev: VmAreaStruct | None, start: int, end: int,
                   newflags: int) -> VmAreaStruct:
    """mprotect_fixup(): give [start, end) of `vma` the new flags; returns the VMA now covering it.

    VM_ACCOUNT: set when a private mapping without it becomes writable; cleared when write is removed
    from a never-faulted anonymous VMA; otherwise kept.

    Raises:
        KernelError(ENOMEM): a split would pass vm.max_map_count.

    Linux: mm/mprotect.c:mprotect_fixup()
    """
    mm = vma.vm_mm
    assert mm is not None
    oldflags = vma.vm_flags
    nrpages = (end - start) >> 12
    if newflags == oldflags:
        return vma
    if newflags & VM_WRITE:
        if not oldflags & (VM_ACCOUNT | VM_WRITE | VM_HUGETLB | VM_SHARED | VM_NORESERVE):
            newflags |= VM_ACCOUNT          # security_vm_enough_memory_mm() never refuses here
    elif oldflags & VM_ACCOUNT and vma_is_anonymous(vma) and vma.anon_vma is None:
        newflags &= ~VM_ACCOUNT
    vma = vma_modify_flags(prev, vma, start, end, newflags)
    vma.vm_flags = newflags
    vm_stat_account(mm, oldflags, -nrpages)
    vm_stat_account(mm, newflags, nrpages)
    return vma


def do_mprotect_pkey(current: Task, start: int, length: int, prot: int, pkey: int = -1) -> None:
    """mprotect(2) (and pkey_mprotect with pkey -1).

    VMAs are changed one after another; hitting a hole stops with ENOMEM and leaves the VMAs before it
    changed, as the kernel does.

    Raises:
        KernelError(EINVAL): PROT_GROWSDOWN and PROT_GROWSUP together, unaligned start, unknown prot bits,
            PROT_GROWSDOWN on a VMA without VM_GROWSDOWN, PROT_GROWSUP (no x86 VMA grows up).
        KernelError(ENOMEM): the range wraps, starts or runs into an unmapped hole, or a split passes
            vm.max_map_count.
        KernelError(EACCES): asking for a permission the VMA may not have (write on a shared mapping of a
            file not open for writing, exec on a noexec mount).
        KernelError(EINTR): a fatal signal is pending.

    Linux: mm/mprotect.c:do_mprotect_pkey()
    """
    mm = current.mm
    assert mm is not None
    start &= ULONG_MAX
    length &= ULONG_MAX
    grows = prot & _PROT_GROWS
    prot &= ~_PROT_GROWS
    if grows == _PROT_GROWS:
        raise KernelError(E.EINVAL)
    if start & 0xFFF:                    # offset_in_page()
        raise KernelError(E.EINVAL)
    if not length:
        return
    length = (length + 0xFFF) & ~0xFFF & ULONG_MAX    # PAGE_ALIGN()
    end = start + length
    if length == 0 or end > ULONG_MAX or end <= start:
        raise KernelError(E.ENOMEM)
    if not arch_validate_prot(prot, start):
        raise KernelError(E.EINVAL)
    reqprot = prot
    mm.mmap_lock.down_write_killable(current)
    try:
        vma = find_vma(mm, start)
        if vma is None or vma.vm_start >= end:
            raise KernelError(E.ENOMEM)
        if grows & PROT_GROWSDOWN:
            start = vma.vm_start
            if not vma.vm_flags & VM_GROWSDOWN:
                raise KernelError(E.EINVAL)
        else:
            if vma.vm_start > start:
                raise KernelError(E.ENOMEM)
            if grows & PROT_GROWSUP:
                end = vma.vm_end
                if not vma.vm_flags & VM_GROWSUP:
                    raise KernelError(E.EINVAL)
        prev = vma if start > vma.vm_start else vma_prev(mm, vma)
        tmp = vma.vm_start
        nstart = start
        cur: VmAreaStruct | None = vma
        while cur is not None and cur.vm_start < end:
            if cur.vm_start != tmp:
                raise KernelError(E.ENOMEM)
            newflags = calc_vm_prot_bits(prot) | (cur.vm_flags & ~VM_ACCESS_FLAGS)
            if (newflags & ~(newflags >> 4)) & VM_ACCESS_FLAGS:
                raise KernelError(E.EACCES, "mprotect: permission beyond the VMA's VM_MAY* bits")
            tmp = cur.vm_end if cur.vm_end < end else end     # min(), without the builtin call
            res = mprotect_fixup(current, cur, prev, nstart, tmp, newflags)
            prev = res
            tmp = res.vm_end
            nstart = tmp
            prot = reqprot
            cur = find_vma(mm, tmp)
        if tmp < end:
            raise KernelError(E.ENOMEM)
    finally:
        mm.mmap_lock.up_write(current)


sys_mprotect = do_mprotect_pkey
