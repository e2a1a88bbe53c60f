"""VMA tree lookups, split and merge decisions (mm/vma.c, include/linux/mm.h)."""

from __future__ import annotations

from typing import Any

import pytest

from simkernel.errors import KernelError
from simkernel.mm import vma as V
from simkernel.mm import vma_merge as VM
from simkernel.mm import vma_munmap as VU
from simkernel.mm.mm_types import (VM_ACCOUNT, VM_IO, VM_MAYREAD, VM_READ, VM_SOFTDIRTY, VM_WRITE, AnonVma,
                                   VmAreaStruct, VmOperationsStruct, vma_pages)
from simkernel.uapi import errno as E
from tests.helpers import kraises
from tests.mm.mmkit import BASE, PAGE

FL = VM_READ | VM_WRITE | VM_MAYREAD


def _mm(k: Any) -> Any:
    from simkernel.mm.mmap import mm_alloc
    return mm_alloc(k, k.init_user_ns)


def _add(mm: Any, start: int, end: int, flags: int = FL, pgoff: int | None = None, **kw: Any) -> VmAreaStruct:
    vma = VmAreaStruct(vm_start=BASE + start * PAGE, vm_end=BASE + end * PAGE, vm_flags=flags,
                       vm_pgoff=(BASE >> 12) + start if pgoff is None else pgoff, **kw)
    V.vma_link(mm, vma)
    return vma


def _spans(mm: Any) -> list[tuple[int, int]]:
    return [((v.vm_start - BASE) // PAGE, (v.vm_end - BASE) // PAGE) for v in mm]


def test_find_vma_and_friends(k: Any) -> None:
    """find_vma returns the first VMA ending above addr; vma_lookup only a containing one."""
    mm = _mm(k)
    a, b = _add(mm, 0, 2), _add(mm, 4, 6)
    assert V.find_vma(mm, BASE) is a and V.find_vma(mm, BASE + 2 * PAGE) is b
    assert V.find_vma(mm, BASE + 6 * PAGE) is None and V.find_vma(mm, 0) is a
    assert V.vma_lookup(mm, BASE + 3 * PAGE) is None and V.vma_lookup(mm, BASE + 5 * PAGE) is b
    assert V.vma_lookup(mm, 0) is None
    assert V.find_vma_prev(mm, BASE + 5 * PAGE) == (b, a)
    assert V.find_vma_prev(mm, BASE + 3 * PAGE) == (b, a)
    assert V.find_vma_prev(mm, BASE) == (a, None)
    assert V.find_vma_prev(mm, BASE + 7 * PAGE) == (None, b)
    assert V.find_vma_intersection(mm, BASE + 2 * PAGE, BASE + 4 * PAGE) is None
    assert V.find_vma_intersection(mm, BASE + 2 * PAGE, BASE + 5 * PAGE) is b
    assert V.vma_next(mm, a) is b and V.vma_prev(mm, a) is None and V.vma_next(mm, b) is None


def test_find_exact_vma_bounds(k: Any) -> None:
    """find_exact_vma needs both bounds to match exactly."""
    mm = _mm(k)
    a = _add(mm, 0, 2)
    assert V.find_exact_vma(mm, BASE, BASE + 2 * PAGE) is a
    assert V.find_exact_vma(mm, BASE, BASE + PAGE) is None
    assert V.find_exact_vma(mm, BASE + PAGE, BASE + 2 * PAGE) is None
    assert V.find_exact_vma(mm, BASE + 8 * PAGE, BASE + 9 * PAGE) is None


def test_vma_iter_store_keeps_map_count(k: Any) -> None:
    """The tree and map_count stay in step through inserts and removals."""
    mm = _mm(k)
    vs = [_add(mm, 2 * i, 2 * i + 1) for i in range(5)]
    assert mm.map_count == 5 == len(mm)
    V.vma_iter_remove(mm, vs[2])
    assert mm.map_count == 4 and vs[2].detached
    V.validate_mm(mm)
    with pytest.raises(AssertionError):
        V.vma_iter_remove(mm, vs[2])


def test_split_vma_pgoff_and_refs(k: Any, t: Any) -> None:
    """A split copies the VMA, fixes both page offsets, and takes a file reference."""
    from simkernel.uapi.fcntl import O_CREAT, O_RDWR
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    f = t.files.fget(fd)
    mm = _mm(k)
    f.f_count += 1
    vma = _add(mm, 0, 4, pgoff=10, vm_file=f)
    count = f.f_count
    low = V.split_vma(vma, BASE + PAGE, True)
    high = V.split_vma(vma, BASE + 3 * PAGE, False)
    assert _spans(mm) == [(0, 1), (1, 3), (3, 4)]
    assert (low.vm_pgoff, vma.vm_pgoff, high.vm_pgoff) == (10, 11, 13)
    assert f.f_count == count + 2
    V.validate_mm(mm)


def test_split_vma_at_limit_enomem(k: Any) -> None:
    """split_vma refuses at vm.max_map_count; __split_vma does not check."""
    mm = _mm(k)
    vma = _add(mm, 0, 4)
    k.sysctl["vm.max_map_count"] = 1
    with kraises(E.ENOMEM):
        V.split_vma(vma, BASE + PAGE, True)
    V.__split_vma(vma, BASE + PAGE, True)
    assert mm.map_count == 2


def test_split_vma_may_split_refuses(k: Any) -> None:
    """vm_ops->may_split can veto a split with its errno."""
    def veto(vma: Any, addr: int) -> None:
        raise KernelError(E.EINVAL)
    mm = _mm(k)
    vma = _add(mm, 0, 4, vm_ops=VmOperationsStruct(name="v", may_split=veto))
    with kraises(E.EINVAL):
        V.split_vma(vma, BASE + PAGE, False)


def _vmg(mm: Any, prev: Any, nxt: Any, start: int, end: int, flags: int = FL, **kw: Any) -> VM.VmaMergeStruct:
    return VM.VmaMergeStruct(mm=mm, prev=prev, next=nxt, vma=None, start=BASE + start * PAGE,
                            end=BASE + end * PAGE, pgoff=(BASE >> 12) + start, flags=flags, **kw)


def test_vma_merge_new_range_both_sides(k: Any) -> None:
    """A new range between two compatible VMAs expands prev over it and swallows next."""
    mm = _mm(k)
    a, b = _add(mm, 0, 2), _add(mm, 3, 5)
    assert VM.vma_merge_new_range(_vmg(mm, a, b, 2, 3)) is a
    assert _spans(mm) == [(0, 5)] and b.detached


def test_vma_merge_new_range_next_only(k: Any) -> None:
    """Without a compatible prev the range joins the front of next (which is re-keyed)."""
    mm = _mm(k)
    b = _add(mm, 3, 5)
    assert VM.vma_merge_new_range(_vmg(mm, None, b, 1, 3)) is b
    assert _spans(mm) == [(1, 5)] and b.vm_pgoff == (BASE >> 12) + 1
    assert V.vma_lookup(mm, BASE + PAGE) is b


@pytest.mark.parametrize("what", ["flags", "softdirty", "pgoff", "anon_name", "special", "close", "anon_vma"])
def test_vma_merge_new_range_rules(k: Any, what: str) -> None:
    """Merge needs equal flags (VM_SOFTDIRTY aside), contiguous pgoff, same anon name, no VM_SPECIAL;
    a ->close on next only stops next from being removed; differing anon_vmas do not merge."""
    mm = _mm(k)
    a = _add(mm, 0, 2)
    b = _add(mm, 3, 5)
    vmg = _vmg(mm, a, b, 2, 3)
    if what == "flags":
        vmg.flags |= VM_ACCOUNT
        assert VM.vma_merge_new_range(vmg) is None
    elif what == "softdirty":
        vmg.flags |= VM_SOFTDIRTY
        assert VM.vma_merge_new_range(vmg) is a and _spans(mm) == [(0, 5)]
    elif what == "pgoff":
        vmg.pgoff += 7
        assert VM.vma_merge_new_range(vmg) is None
        assert (vmg.start, vmg.end) == (BASE + 2 * PAGE, BASE + 3 * PAGE)
    elif what == "anon_name":
        vmg.anon_name = "[heap]"
        assert VM.vma_merge_new_range(vmg) is None
    elif what == "special":
        vmg.flags |= VM_IO
        assert VM.vma_merge_new_range(vmg) is None
    elif what == "close":
        b.vm_ops = VmOperationsStruct(name="c", close=lambda v: None)
        assert VM.vma_merge_new_range(vmg) is a and _spans(mm) == [(0, 3), (3, 5)]
    else:
        a.anon_vma, b.anon_vma = AnonVma(1), AnonVma(2)
        assert VM.vma_merge_new_range(vmg) is a and _spans(mm) == [(0, 3), (3, 5)]


def test_vma_merge_new_range_forked_anon_vma(k: Any) -> None:
    """A neighbour whose anon_vma chain is not singular (after fork) only merges with its own anon_vma."""
    mm = _mm(k)
    a = _add(mm, 0, 2)
    a.anon_vma = AnonVma(1, degree=2)
    assert VM.vma_merge_new_range(_vmg(mm, a, None, 2, 3)) is None
    assert VM.vma_merge_new_range(_vmg(mm, a, None, 2, 3, anon_vma=a.anon_vma)) is a


def test_vma_merge_existing_range_middle_never_merges(k: Any) -> None:
    """A change strictly inside a VMA cannot merge: vma_modify splits it out."""
    mm = _mm(k)
    a = _add(mm, 0, 6)
    assert VM.vma_merge_existing_range(VM.VmaMergeStruct.for_vma(a, a, BASE + PAGE, BASE + 2 * PAGE)) is None
    res = VM.vma_modify_flags(a, a, BASE + PAGE, BASE + 2 * PAGE, FL | VM_ACCOUNT)
    assert res is a and _spans(mm) == [(0, 1), (1, 2), (2, 6)]


def test_vma_merge_existing_range_close_blocks_removal(k: Any) -> None:
    """A VMA with ->close that would vanish entirely is not merged; a neighbour with ->close survives."""
    mm = _mm(k)
    a = _add(mm, 0, 2)
    b = _add(mm, 2, 4, flags=FL | VM_ACCOUNT, vm_ops=VmOperationsStruct(name="c", close=lambda v: None))
    assert VM.vma_merge_existing_range(VM.VmaMergeStruct.for_vma(b, a, b.vm_start, b.vm_end, FL)) is None
    c = _add(mm, 4, 6, vm_ops=VmOperationsStruct(name="c", close=lambda v: None))
    b.vm_ops = None
    res = VM.vma_merge_existing_range(VM.VmaMergeStruct.for_vma(b, a, b.vm_start, b.vm_end, FL))
    assert res is a and _spans(mm) == [(0, 4), (4, 6)] and not c.detached


def test_vma_merge_existing_range_right_partial(k: Any) -> None:
    """The tail of a VMA becoming equal to next moves the boundary down (next grows, vma shrinks)."""
    mm = _mm(k)
    a = _add(mm, 0, 4, flags=FL | VM_ACCOUNT)
    b = _add(mm, 4, 6)
    res = VM.vma_merge_existing_range(VM.VmaMergeStruct.for_vma(a, a, BASE + 3 * PAGE, a.vm_end, FL))
    assert res is b and _spans(mm) == [(0, 3), (3, 6)] and b.vm_pgoff == (BASE >> 12) + 3


def test_copy_vma_new_and_merged(k: Any) -> None:
    """copy_vma links a copy at the new address, or merges it into a compatible neighbour there."""
    mm = _mm(k)
    a = _add(mm, 0, 2)
    src = _add(mm, 10, 12)
    new, same = VM.copy_vma(src, BASE + 20 * PAGE, 2 * PAGE, src.vm_pgoff)
    assert same is src and new is not src and new.vm_pgoff == (BASE >> 12) + 20   # unfaulted: pgoff = addr
    merged, _ = VM.copy_vma(src, BASE + 2 * PAGE, 2 * PAGE, src.vm_pgoff)
    assert merged is a and _spans(mm) == [(0, 4), (10, 12), (20, 22)]


def test_vma_is_anonymous_and_shmem(k: Any) -> None:
    """vma_is_anonymous means no vm_ops; vma_set_anonymous clears them; shmem is told by its vm_ops."""
    from simkernel.fs.shmem import shmem_vm_ops
    mm = _mm(k)
    a = _add(mm, 0, 1, vm_ops=shmem_vm_ops)
    assert not V.vma_is_anonymous(a) and V.vma_is_shmem(a)
    V.vma_set_anonymous(a)
    assert V.vma_is_anonymous(a) and not V.vma_is_shmem(a)


def test_vm_stat_account_buckets(k: Any) -> None:
    """exec, stack and data mappings are counted apart; total_vm counts all."""
    from simkernel.mm.mm_types import VM_EXEC, VM_GROWSDOWN, VM_SHARED
    mm = _mm(k)
    V.vm_stat_account(mm, VM_EXEC | VM_READ, 1)
    V.vm_stat_account(mm, VM_GROWSDOWN | VM_WRITE, 2)
    V.vm_stat_account(mm, VM_WRITE, 4)
    V.vm_stat_account(mm, VM_WRITE | VM_SHARED, 8)
    assert (mm.total_vm, mm.exec_vm, mm.stack_vm, mm.data_vm) == (15, 1, 2, 4)
    assert vma_pages(VmAreaStruct(vm_start=0, vm_end=3 * PAGE, vm_flags=0)) == 3


def test_vms_abort_before_cleanup_reattaches(k: Any) -> None:
    """A gathered range aborted before ->close ran is put back (splits stay)."""
    mm = _mm(k)
    a = _add(mm, 0, 4)
    vms = VU.vms_gather_munmap_vmas(mm, a, BASE + PAGE, BASE + 2 * PAGE)
    assert _spans(mm) == [(0, 1), (2, 4)]
    VU.vms_abort_munmap_vmas(vms)
    assert _spans(mm) == [(0, 1), (1, 2), (2, 4)]
    V.validate_mm(mm)


def test_vm_area_dup_copies_every_field() -> None:
    """vm_area_dup() passes fields by position: every field of VmAreaStruct arrives in the copy, detached."""
    import attrs
    values: dict[str, Any] = {a.name: object() for a in attrs.fields(VmAreaStruct)}
    values.update(vm_start=BASE, vm_end=BASE + PAGE, detached=False)
    orig = VmAreaStruct(**values)
    dup = V.vm_area_dup(orig)
    for a in attrs.fields(VmAreaStruct):
        assert getattr(dup, a.name) is (True if a.name == "detached" else getattr(orig, a.name)), a.name
