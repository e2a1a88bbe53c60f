"""mprotect(2): errno, splitting, merging back, and VM_ACCOUNT (each case checked on Linux 6.18.44)."""

from __future__ import annotations

from typing import Any

from simkernel.mm.mm_types import VM_ACCOUNT, VM_GROWSDOWN, AnonVma
from simkernel.mm.mprotect import PROT_SEM, arch_validate_prot, mprotect_fixup
from simkernel.mm.vma import validate_mm, vma_lookup
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_CREAT, O_RDONLY, O_RDWR
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE, MAP_SHARED, PROT_EXEC,
                                 PROT_GROWSDOWN, PROT_GROWSUP, PROT_NONE, PROT_READ, PROT_WRITE)
from tests.helpers import raises_errno
from tests.mm.mmkit import BASE, PAGE, layout

FIX = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
RW = PROT_READ | PROT_WRITE


def _shape(t: Any, lo: int = BASE, hi: int = BASE + 64 * PAGE) -> list[tuple[int, int, str]]:
    return [((s - lo) // PAGE, (e - lo) // PAGE, p) for s, e, p, _o, _n in layout(t.mm, lo, hi)]


def _file(t: Any, flags: int = O_RDWR) -> int:
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 16 * PAGE)
    return fd if flags == O_RDWR else t.sys.open("/tmp/f", flags)


def test_do_mprotect_pkey_invalid_einval(t: Any) -> None:
    """Unaligned start, unknown prot bits, or PROT_GROWSDOWN|PROT_GROWSUP are EINVAL, even unmapped."""
    for addr, prot in ((BASE + 1, PROT_READ), (BASE, 0x10), (BASE, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP)):
        with raises_errno(E.EINVAL):
            t.sys.mprotect(addr, PAGE, prot)


def test_do_mprotect_pkey_zero_length_noop(t: Any) -> None:
    """A zero length succeeds without looking at the address space."""
    t.sys.mprotect(BASE, 0, PROT_READ)


def test_do_mprotect_pkey_unmapped_enomem(t: Any) -> None:
    """An unmapped range, a range starting in a hole, or one that wraps is ENOMEM."""
    t.sys.mmap(BASE + PAGE, PAGE, RW, FIX)
    for addr, length in ((BASE + 8 * PAGE, PAGE), (BASE, 2 * PAGE), (BASE, (1 << 64) - PAGE)):
        with raises_errno(E.ENOMEM):
            t.sys.mprotect(addr, length, PROT_READ)


def test_do_mprotect_pkey_hole_enomem_after_changing_first(t: Any) -> None:
    """Running into a hole is ENOMEM, but the VMAs before the hole were already changed."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    with raises_errno(E.ENOMEM):
        t.sys.mprotect(BASE, 8 * PAGE, PROT_READ)
    assert _shape(t) == [(0, 4, "r--p")]


def test_do_mprotect_pkey_prot_sem_accepted(t: Any) -> None:
    """PROT_SEM (0x8) is a valid protection bit on x86."""
    t.sys.mmap(BASE, PAGE, RW, FIX)
    t.sys.mprotect(BASE, PAGE, PROT_READ | PROT_SEM)
    assert arch_validate_prot(PROT_SEM, 0) and not arch_validate_prot(0x10, 0)


def test_do_mprotect_pkey_split_middle_and_merge_back(t: Any) -> None:
    """mprotect of a middle page splits one VMA in three; restoring it merges back into one."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    t.sys.mprotect(BASE + PAGE, PAGE, PROT_READ)
    assert _shape(t) == [(0, 1, "rw-p"), (1, 2, "r--p"), (2, 4, "rw-p")]
    t.sys.mprotect(BASE + PAGE, PAGE, RW)
    assert _shape(t) == [(0, 4, "rw-p")]
    validate_mm(t.mm)


def test_mprotect_fixup_merges_left_and_right(t: Any) -> None:
    """Changing the first page of a VMA to its left neighbour's flags moves the boundary, and back."""
    t.sys.mmap(BASE, 4 * PAGE, PROT_READ, FIX)
    t.sys.mmap(BASE + 4 * PAGE, 4 * PAGE, RW, FIX)
    t.sys.mprotect(BASE + 4 * PAGE, PAGE, PROT_READ)
    assert _shape(t) == [(0, 5, "r--p"), (5, 8, "rw-p")]
    t.sys.mprotect(BASE + 4 * PAGE, PAGE, RW)
    assert _shape(t) == [(0, 4, "r--p"), (4, 8, "rw-p")]
    t.sys.mprotect(BASE + PAGE, 2 * PAGE, RW)
    assert _shape(t) == [(0, 1, "r--p"), (1, 3, "rw-p"), (3, 4, "r--p"), (4, 8, "rw-p")]


def test_mprotect_fixup_merges_both_sides(t: Any) -> None:
    """A VMA that becomes equal to both neighbours disappears into one VMA."""
    t.sys.mmap(BASE, 6 * PAGE, RW, FIX)
    t.sys.mprotect(BASE + 2 * PAGE, 2 * PAGE, PROT_READ)
    t.sys.mprotect(BASE + 2 * PAGE, 2 * PAGE, RW)
    assert _shape(t) == [(0, 6, "rw-p")]


def test_mprotect_fixup_private_file_vm_account_blocks_merge(t: Any) -> None:
    """A private file range made writable keeps VM_ACCOUNT after write is removed: it stays separate."""
    fd = _file(t)
    t.sys.mmap(BASE, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.mprotect(BASE + PAGE, PAGE, RW)
    assert vma_lookup(t.mm, BASE + PAGE).vm_flags & VM_ACCOUNT
    t.sys.mprotect(BASE + PAGE, PAGE, PROT_READ)
    assert _shape(t) == [(0, 1, "r--p"), (1, 2, "r--p"), (2, 4, "r--p")]
    assert vma_lookup(t.mm, BASE + PAGE).vm_flags & VM_ACCOUNT


def test_mprotect_fixup_writable_file_mapping_merges_back(t: Any) -> None:
    """A private file mapping writable from the start is accounted throughout, so it merges back."""
    fd = _file(t)
    t.sys.mmap(BASE, 4 * PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.mprotect(BASE + PAGE, PAGE, PROT_READ)
    t.sys.mprotect(BASE + PAGE, PAGE, RW)
    assert _shape(t) == [(0, 4, "rw-p")]


def test_mprotect_fixup_unfaulted_anon_drops_account(t: Any) -> None:
    """Removing write from never-faulted anonymous memory drops VM_ACCOUNT; with an anon_vma it stays."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mprotect(BASE, PAGE, PROT_READ)
    assert not vma_lookup(t.mm, BASE).vm_flags & VM_ACCOUNT
    t.sys.mmap(BASE + 8 * PAGE, 2 * PAGE, RW, FIX)
    vma_lookup(t.mm, BASE + 8 * PAGE).anon_vma = AnonVma(1)
    t.sys.mprotect(BASE + 8 * PAGE, PAGE, PROT_READ)
    assert vma_lookup(t.mm, BASE + 8 * PAGE).vm_flags & VM_ACCOUNT


def test_mprotect_fixup_shared_never_accounted(t: Any) -> None:
    """Shared mappings never get VM_ACCOUNT from mprotect."""
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    t.sys.mprotect(BASE, PAGE, RW)
    assert not vma_lookup(t.mm, BASE).vm_flags & VM_ACCOUNT


def test_do_mprotect_pkey_shared_readonly_file_write_eacces(t: Any) -> None:
    """PROT_WRITE on a shared mapping of a file not open for writing is EACCES; PROT_EXEC is allowed."""
    fd = _file(t, O_RDONLY)
    t.sys.mmap(BASE, 4 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    with raises_errno(E.EACCES):
        t.sys.mprotect(BASE, PAGE, RW)
    t.sys.mprotect(BASE, PAGE, PROT_READ | PROT_EXEC)
    assert _shape(t) == [(0, 1, "r-xs"), (1, 4, "r--s")]


def test_do_mprotect_pkey_spans_mixed_vmas(t: Any) -> None:
    """One call changes adjacent VMAs of different kinds without merging them."""
    fd = _file(t)
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 2 * PAGE, 2 * PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.mprotect(BASE, 4 * PAGE, PROT_READ)
    assert _shape(t) == [(0, 2, "r--p"), (2, 4, "r--p")]


def test_do_mprotect_pkey_growsdown(t: Any) -> None:
    """PROT_GROWSDOWN extends the range down to the VMA start; it needs VM_GROWSDOWN; GROWSUP is EINVAL."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX | MAP_GROWSDOWN)
    t.sys.mprotect(BASE + PAGE, PAGE, PROT_READ | PROT_GROWSDOWN)
    assert _shape(t) == [(0, 2, "r--p")]
    assert vma_lookup(t.mm, BASE).vm_flags & VM_GROWSDOWN
    t.sys.mmap(BASE + 4 * PAGE, PAGE, RW, FIX)
    with raises_errno(E.EINVAL):
        t.sys.mprotect(BASE + 4 * PAGE, PAGE, PROT_READ | PROT_GROWSDOWN)
    with raises_errno(E.EINVAL):
        t.sys.mprotect(BASE + 4 * PAGE, PAGE, PROT_READ | PROT_GROWSUP)
    with raises_errno(E.ENOMEM):
        t.sys.mprotect(BASE + 8 * PAGE, PAGE, PROT_READ | PROT_GROWSDOWN)


def test_do_mprotect_pkey_split_at_limit_enomem(k: Any, t: Any) -> None:
    """At vm.max_map_count even a one-sided split is ENOMEM; an unchanged or whole-VMA change is fine."""
    t.sys.mmap(BASE, 3 * PAGE, RW, FIX)
    k.sysctl["vm.max_map_count"] = t.mm.map_count
    for addr in (BASE + PAGE, BASE):
        with raises_errno(E.ENOMEM):
            t.sys.mprotect(addr, PAGE, PROT_READ)
    t.sys.mprotect(BASE, 3 * PAGE, RW)
    t.sys.mprotect(BASE, 3 * PAGE, PROT_NONE)
    assert _shape(t) == [(0, 3, "---p")]


def test_mprotect_fixup_same_flags_returns_vma(t: Any) -> None:
    """mprotect_fixup with unchanged flags returns the VMA untouched."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    vma = vma_lookup(t.mm, BASE)
    assert mprotect_fixup(t, vma, None, BASE, BASE + PAGE, vma.vm_flags) is vma
    assert _shape(t) == [(0, 2, "rw-p")]


def test_do_mprotect_pkey_fatal_signal_eintr(t: Any) -> None:
    """Taking mmap_lock for mprotect is killable."""
    t.sys.mmap(BASE, PAGE, RW, FIX)
    t.fatal_signal_pending = True
    with raises_errno(E.EINTR):
        t.sys.mprotect(BASE, PAGE, PROT_READ)


def test_do_mprotect_pkey_keeps_total_vm(t: Any) -> None:
    """mprotect moves pages between the data and other counters without changing total_vm."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    total, data = t.mm.total_vm, t.mm.data_vm
    t.sys.mprotect(BASE, 2 * PAGE, PROT_READ)
    assert t.mm.total_vm == total and t.mm.data_vm == data - 2
