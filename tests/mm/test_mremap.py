"""mremap(2): shrink, grow, move, MREMAP_DONTUNMAP and multi-VMA moves (checked on Linux 6.18.44)."""

from __future__ import annotations

from typing import Any

from simkernel.mm.mm_types import VM_ACCOUNT, VM_DONTEXPAND, VM_LOCKED, AnonVma, VmOperationsStruct
from simkernel.mm.mremap import VmaRemapStruct
from simkernel.mm.vma import validate_mm, vma_lookup
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_CREAT, O_RDWR
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_FIXED, MAP_LOCKED, MAP_PRIVATE, MAP_SHARED,
                                 MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE)
from tests.helpers import raises_errno
from tests.mm.mmkit import BASE, PAGE, layout

FIX = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED
RW = PROT_READ | PROT_WRITE
MOVE = MREMAP_MAYMOVE | MREMAP_FIXED


def _shape(t: Any, lo: int = BASE, hi: int = BASE + 1024 * PAGE) -> list[tuple[int, int, str]]:
    return [((s - lo) // PAGE, (e - lo) // PAGE, p) for s, e, p, _o, _n in layout(t.mm, lo, hi)]


def _file(t: Any) -> int:
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 16 * PAGE)
    return fd


def test_check_mremap_params_einval(t: Any) -> None:
    """Bad flags, unaligned addresses, zero/huge new length, FIXED without MAYMOVE, resizing DONTUNMAP,
    a new range past TASK_SIZE and overlapping ranges are EINVAL, mapped or not."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    for args in ((BASE, PAGE, PAGE, 8, 0), (BASE + 1, PAGE, PAGE, 0, 0), (BASE, PAGE, 0, 0, 0),
                 (BASE, PAGE, 1 << 48, MREMAP_MAYMOVE, 0), (BASE, PAGE, (1 << 64) - 1, MREMAP_MAYMOVE, 0),
                 (BASE, 4 * PAGE, 4 * PAGE, MREMAP_FIXED, BASE + 0x10000),
                 (BASE, 4 * PAGE, 4 * PAGE, MOVE, BASE + 0x10001), (BASE, PAGE, PAGE, MOVE, 1 << 47),
                 (BASE, 4 * PAGE, 4 * PAGE, MOVE, BASE + 2 * PAGE),
                 (BASE, PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0),
                 (BASE, PAGE, PAGE, MREMAP_DONTUNMAP, 0)):
        with raises_errno(E.EINVAL):
            t.sys.mremap(*args)


def test_do_mremap_unmapped_efault(t: Any) -> None:
    """An unmapped address is EFAULT whatever the sizes."""
    for old, new in ((PAGE, 2 * PAGE), (PAGE, PAGE), (2 * PAGE, PAGE)):
        with raises_errno(E.EFAULT):
            t.sys.mremap(BASE + 0x100000, old, new)
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE + 0x100000, PAGE, PAGE, MOVE, BASE)


def test_mremap_at_shrink(t: Any) -> None:
    """Shrinking unmaps the tail in place and may run past the VMA into the next ones."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 5 * PAGE, PAGE, PROT_READ, FIX)
    assert t.sys.mremap(BASE, 4 * PAGE, 2 * PAGE) == BASE
    assert _shape(t) == [(0, 2, "rw-p"), (5, 6, "r--p")]
    assert t.sys.mremap(BASE, 8 * PAGE, PAGE) == BASE
    assert _shape(t) == [(0, 1, "rw-p")]


def test_mremap_at_same_size_is_noop(t: Any) -> None:
    """The same size without flags returns addr, even when old_len runs past the VMA."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    assert t.sys.mremap(BASE, 8 * PAGE, 8 * PAGE) == BASE
    assert _shape(t) == [(0, 2, "rw-p")]


def test_expand_vma_in_place_and_merge_next(t: Any) -> None:
    """Growing into free space extends the VMA; reaching an equal neighbour merges with it."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 4 * PAGE, 2 * PAGE, RW, FIX)
    assert t.sys.mremap(BASE, 2 * PAGE, 3 * PAGE) == BASE
    assert _shape(t) == [(0, 3, "rw-p"), (4, 6, "rw-p")]
    assert t.sys.mremap(BASE, 3 * PAGE, 4 * PAGE) == BASE
    assert _shape(t) == [(0, 6, "rw-p")]
    assert t.mm.total_vm == sum(e - s for s, e, _p in _shape(t, 0, 1 << 47))


def test_expand_vma_blocked_enomem_or_move(t: Any) -> None:
    """Growing into a mapped page is ENOMEM without MREMAP_MAYMOVE; with it the mapping moves."""
    t.sys.mmap(BASE, 3 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 3 * PAGE, PAGE, PROT_READ, FIX)
    with raises_errno(E.ENOMEM):
        t.sys.mremap(BASE, 3 * PAGE, 5 * PAGE)
    new = t.sys.mremap(BASE, 3 * PAGE, 5 * PAGE, MREMAP_MAYMOVE)
    assert new != BASE and new + 5 * PAGE <= t.mm.mmap_base
    assert _shape(t) == [(3, 4, "r--p")]
    assert _shape(t, new, new + 5 * PAGE) == [(0, 5, "rw-p")]
    validate_mm(t.mm)


def test_expand_vma_not_at_end_moves(t: Any) -> None:
    """Growing a range that does not end its VMA must move (MREMAP_MAYMOVE) and leaves a hole behind."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    with raises_errno(E.ENOMEM):
        t.sys.mremap(BASE + PAGE, PAGE, 2 * PAGE)
    new = t.sys.mremap(BASE + PAGE, PAGE, 2 * PAGE, MREMAP_MAYMOVE)
    assert _shape(t) == [(0, 1, "rw-p"), (2, 4, "rw-p")]
    assert _shape(t, new, new + 2 * PAGE) == [(0, 2, "rw-p")]


def test_check_prep_vma_grow_past_vma_efault(t: Any) -> None:
    """Growing or moving a range that runs past the end of its VMA is EFAULT."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE, 8 * PAGE, 9 * PAGE, MREMAP_MAYMOVE)


def test_check_prep_vma_old_len_zero(t: Any) -> None:
    """old_len 0 duplicates a shared mapping; for a private one it is EINVAL."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    with raises_errno(E.EINVAL):
        t.sys.mremap(BASE, 0, PAGE, MREMAP_MAYMOVE)
    s = t.sys.mmap(BASE + 0x20000, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    assert t.sys.mremap(s, 0, PAGE, MOVE, BASE + 0x30000) == BASE + 0x30000
    assert vma_lookup(t.mm, BASE + 0x30000).vm_file is vma_lookup(t.mm, s).vm_file
    assert layout(t.mm, BASE + 0x30000, BASE + 0x31000)[0][4] == "/dev/zero (deleted)"


def test_check_prep_vma_dontexpand(t: Any) -> None:
    """A VM_DONTEXPAND mapping cannot grow (EFAULT) nor be moved with MREMAP_DONTUNMAP (EINVAL)."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    vma_lookup(t.mm, BASE).vm_flags |= VM_DONTEXPAND
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE, 2 * PAGE, 3 * PAGE, MREMAP_MAYMOVE)
    with raises_errno(E.EINVAL):
        t.sys.mremap(BASE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP)


def test_mremap_to_fixed_replaces_destination(t: Any) -> None:
    """MREMAP_FIXED unmaps what is at the destination, then moves (and may grow) the mapping there."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 0x10000, 4 * PAGE, PROT_READ, FIX)
    assert t.sys.mremap(BASE, 2 * PAGE, 3 * PAGE, MOVE, BASE + 0x10000) == BASE + 0x10000
    assert _shape(t, BASE, BASE + 0x20000) == [(16, 19, "rw-p"), (19, 20, "r--p")]


def test_mremap_to_fixed_shrink_then_move(t: Any) -> None:
    """MREMAP_FIXED with a smaller size shrinks in place first, then moves the rest."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    assert t.sys.mremap(BASE, 4 * PAGE, 2 * PAGE, MOVE, BASE + 0x10000) == BASE + 0x10000
    assert _shape(t, BASE, BASE + 0x20000) == [(16, 18, "rw-p")]


def test_move_vma_unfaulted_anon_merges_at_destination(t: Any) -> None:
    """A never-faulted anonymous VMA takes its new address as pgoff and merges with a neighbour there."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 8 * PAGE, 2 * PAGE, RW, FIX)
    assert t.sys.mremap(BASE + 8 * PAGE, 2 * PAGE, 2 * PAGE, MOVE, BASE + 2 * PAGE) == BASE + 2 * PAGE
    assert _shape(t) == [(0, 4, "rw-p")]
    assert vma_lookup(t.mm, BASE).vm_flags & VM_ACCOUNT


def test_move_vma_adjacent_to_itself(t: Any) -> None:
    """Moving an unfaulted VMA right after itself merges with itself and ends at the destination."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    assert t.sys.mremap(BASE, 2 * PAGE, 2 * PAGE, MOVE, BASE + 2 * PAGE) == BASE + 2 * PAGE
    assert _shape(t) == [(2, 4, "rw-p")]
    assert vma_lookup(t.mm, BASE + 2 * PAGE).vm_flags & VM_ACCOUNT


def test_move_vma_faulted_keeps_pgoff(t: Any) -> None:
    """A VMA with an anon_vma keeps its pgoff when moved, so it does not merge at the destination."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 8 * PAGE, 2 * PAGE, RW, FIX)
    vma_lookup(t.mm, BASE + 8 * PAGE).anon_vma = AnonVma(1)
    t.sys.mremap(BASE + 8 * PAGE, 2 * PAGE, 2 * PAGE, MOVE, BASE + 2 * PAGE)
    assert _shape(t) == [(0, 2, "rw-p"), (2, 4, "rw-p")]


def test_unmap_source_vma_partial_keeps_account(t: Any) -> None:
    """Moving the middle of an accounted VMA leaves both remaining parts with VM_ACCOUNT."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    t.sys.mremap(BASE + PAGE, PAGE, PAGE, MOVE, BASE + 0x10000)
    assert _shape(t, BASE, BASE + 0x20000) == [(0, 1, "rw-p"), (2, 4, "rw-p"), (16, 17, "rw-p")]
    for a in (BASE, BASE + 2 * PAGE, BASE + 0x10000):
        assert vma_lookup(t.mm, a).vm_flags & VM_ACCOUNT


def test_remap_move_multiple_vmas_keeps_gaps(t: Any) -> None:
    """A pure MREMAP_FIXED move spans several VMAs and keeps the gaps between them (since v6.17)."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 2 * PAGE, 2 * PAGE, PROT_READ, FIX)
    t.sys.mmap(BASE + 5 * PAGE, PAGE, RW, FIX)
    assert t.sys.mremap(BASE + PAGE, 5 * PAGE, 5 * PAGE, MOVE, BASE + 0x10000) == BASE + 0x10000
    assert _shape(t, BASE, BASE + 0x20000) == [(0, 1, "rw-p"), (16, 17, "rw-p"), (17, 19, "r--p"),
                                               (20, 21, "rw-p")]


def test_remap_move_hole_at_start_efault(t: Any) -> None:
    """A multi-VMA move whose range starts in a hole is EFAULT; nothing moves."""
    t.sys.mmap(BASE + PAGE, 2 * PAGE, RW, FIX)
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE, 3 * PAGE, 3 * PAGE, MOVE, BASE + 0x10000)
    assert _shape(t, BASE, BASE + 0x20000) == [(1, 3, "rw-p")]


def test_remap_move_shared_and_files(t: Any) -> None:
    """Shared anonymous and file mappings move across VMA boundaries too, keeping offsets and files."""
    fd = _file(t)
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.mmap(BASE + 2 * PAGE, 2 * PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 2 * PAGE)
    t.sys.mremap(BASE, 4 * PAGE, 4 * PAGE, MOVE, BASE + 0x10000)
    assert [(s - BASE, o, n) for s, e, p, o, n in layout(t.mm, BASE, BASE + 0x20000)] == [
        (0x10000, 0, "file:f"), (0x12000, 2 * PAGE, "file:f")]
    t.sys.mmap(BASE, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    t.sys.mmap(BASE + 2 * PAGE, 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    t.sys.mremap(BASE, 4 * PAGE, 4 * PAGE, MOVE, BASE + 0x20000)
    assert _shape(t, BASE + 0x20000, BASE + 0x30000) == [(0, 2, "rw-s"), (2, 4, "rw-s")]


def test_mremap_dontunmap_keeps_source(t: Any) -> None:
    """MREMAP_DONTUNMAP leaves the source VMA (still accounted) and creates the destination."""
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX | MAP_LOCKED)
    assert t.sys.mremap(BASE + PAGE, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED,
                        BASE + 8 * PAGE) == BASE + 8 * PAGE
    assert _shape(t) == [(0, 4, "rw-p"), (8, 9, "rw-p")]
    src = vma_lookup(t.mm, BASE)
    assert src.vm_flags & VM_ACCOUNT and not src.vm_flags & VM_LOCKED


def test_mremap_dontunmap_without_fixed_uses_hint(t: Any) -> None:
    """MREMAP_DONTUNMAP without MREMAP_FIXED takes new_addr as a hint."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    assert t.sys.mremap(BASE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, BASE + 8 * PAGE) == \
        BASE + 8 * PAGE


def test_mremap_dontunmap_whole_drops_anon_vma(t: Any) -> None:
    """Moving a whole faulted VMA with MREMAP_DONTUNMAP unlinks the source's anon_vma."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    vma_lookup(t.mm, BASE).anon_vma = AnonVma(1)
    t.sys.mremap(BASE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, BASE + 8 * PAGE)
    assert vma_lookup(t.mm, BASE).anon_vma is None
    assert vma_lookup(t.mm, BASE + 8 * PAGE).anon_vma is not None


def test_check_mremap_params_map_count_enomem(k: Any, t: Any) -> None:
    """A move needs map_count + 2 < vm.max_map_count - 3; growing in place does not."""
    t.sys.mmap(BASE, 3 * PAGE, RW, FIX)
    k.sysctl["vm.max_map_count"] = t.mm.map_count + 4
    with raises_errno(E.ENOMEM):
        t.sys.mremap(BASE, PAGE, PAGE, MOVE, BASE + 0x10000)
    assert t.sys.mremap(BASE, 3 * PAGE, 4 * PAGE) == BASE


def test_move_vma_map_count_enomem(k: Any, t: Any) -> None:
    """An unforced move (grow with MREMAP_MAYMOVE) needs map_count < vm.max_map_count - 3."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 2 * PAGE, PAGE, PROT_READ, FIX)
    k.sysctl["vm.max_map_count"] = t.mm.map_count + 3
    with raises_errno(E.ENOMEM):
        t.sys.mremap(BASE, 2 * PAGE, 4 * PAGE, MREMAP_MAYMOVE)


def test_move_vma_calls_mremap_and_may_split(t: Any) -> None:
    """move_vma consults vm_ops->may_split for both cut points and calls vm_ops->mremap on the copy."""
    calls: list[Any] = []
    t.sys.mmap(BASE, 4 * PAGE, RW, FIX)
    vma_lookup(t.mm, BASE).vm_ops = VmOperationsStruct(
        name="x", may_split=lambda v, a: calls.append(("split", a)), mremap=lambda v: calls.append("mremap"))
    t.sys.mremap(BASE + PAGE, PAGE, PAGE, MOVE, BASE + 0x10000)
    assert calls[:3] == [("split", BASE + PAGE), ("split", BASE + 2 * PAGE), "mremap"]


def test_do_mremap_fatal_signal_eintr(t: Any) -> None:
    """Taking mmap_lock for mremap is killable."""
    t.sys.mmap(BASE, PAGE, RW, FIX)
    t.fatal_signal_pending = True
    with raises_errno(E.EINTR):
        t.sys.mremap(BASE, PAGE, 2 * PAGE)


def test_vma_remap_struct_types(t: Any) -> None:
    """vrm_remap_type(): no resize, shrink or expand by delta."""
    vrm = VmaRemapStruct(current=t, addr=0, old_len=2 * PAGE, new_len=PAGE, flags=0, new_addr=0)
    vrm.set_delta()
    assert (vrm.remap_type, vrm.delta) == ("shrink", PAGE)
    vrm.new_len = 4 * PAGE
    vrm.set_delta()
    assert (vrm.remap_type, vrm.delta) == ("expand", 2 * PAGE)


def test_remap_move_private_dev_zero_alone(t: Any) -> None:
    """A private /dev/zero mapping (its file has get_unmapped_area) moves only on its own: EFAULT otherwise,
    after the VMAs before it were already moved (as on the host)."""
    fd = t.sys.open("/dev/zero", O_RDWR)
    t.sys.mmap(BASE, 3 * PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0)
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE + 2 * PAGE, 2 * PAGE, 2 * PAGE, MOVE, BASE + 0x10000)
    t.sys.mmap(BASE + 3 * PAGE, PAGE, RW, FIX)
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE + 2 * PAGE, 2 * PAGE, 2 * PAGE, MOVE, BASE + 0x10000)
    t.sys.mmap(BASE + 0x20000, PAGE, RW, FIX)
    t.sys.mmap(BASE + 0x21000, PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0)
    with raises_errno(E.EFAULT):
        t.sys.mremap(BASE + 0x20000, 2 * PAGE, 2 * PAGE, MOVE, BASE + 0x30000)
    assert _shape(t, BASE + 0x20000, BASE + 0x40000) == [(1, 2, "rw-p"), (16, 17, "rw-p")]  # first one moved
    assert t.sys.mremap(BASE + PAGE, 2 * PAGE, 2 * PAGE, MOVE, BASE + 0x10000) == BASE + 0x10000
