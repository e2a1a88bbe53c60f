"""The VMA tree (simkernel/mm/maple_tree.py) against a plain sorted list, with blocks small enough to split."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simkernel.mm import maple_tree as MT
from simkernel.mm.maple_tree import MapleTree


class _Vma:
    """Just what the tree reads: vm_start, vm_end, vm_file."""

    def __init__(self, start: int, file: bool) -> None:
        self.vm_start, self.vm_end, self.vm_file = start, start + 1, (object() if file else None)

    def __repr__(self) -> str:
        return f"V{self.vm_start}{'f' if self.vm_file else ''}"


@pytest.fixture(autouse=True)
def _small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of at most 8 VMAs, so a few dozen VMAs exercise splitting, emptying and the block seams."""
    monkeypatch.setattr(MT, "LOAD", 4)


def _check_against(tree: MapleTree, ref: dict[int, _Vma], probes: list[int]) -> None:
    tree.check()
    srt = [ref[k] for k in sorted(ref)]
    assert list(tree) == srt and len(tree) == len(srt)
    assert [tree[i] for i in range(len(srt))] == srt and [tree[-i - 1] for i in range(len(srt))] == srt[::-1]
    with pytest.raises(IndexError):
        tree[len(srt)]
    assert tree.first() is (srt[0] if srt else None) and tree.last() is (srt[-1] if srt else None)
    files = [v for v in srt if v.vm_file is not None]
    for q in probes:
        le = [v for v in srt if v.vm_start <= q]
        assert tree.find_le(q) is (le[-1] if le else None)
        after = [v for v in srt if v.vm_end > q]
        assert tree.find_after(q) is (after[0] if after else None)
        assert list(tree.iter_from(q)) == after
        assert list(tree.iter_back_below(q)) == [v for v in reversed(srt) if v.vm_start < q]
        k = q % (len(files) + 2) if q >= 0 else 0
        assert list(tree.iter_files_from(k)) == files[k:]
    for i, v in enumerate(srt):
        assert tree.next(v) is (srt[i + 1] if i + 1 < len(srt) else None)
        assert tree.prev(v) is (srt[i - 1] if i else None)


def _move(tree: MapleTree, v: _Vma, new: int) -> None:
    """Move `v` to start at `new`: re-keyed in place, or out and back in when it would pass a neighbour."""
    if not tree.rekey(v, new):
        tree.remove(v)
        v.vm_start, v.vm_end = new, new + 1
        tree.insert(v)
    else:
        v.vm_start, v.vm_end = new, new + 1


_OPS = st.lists(st.tuples(st.sampled_from(["add", "remove", "move"]), st.integers(0, 200), st.booleans()),
                max_size=120)


@settings(max_examples=150, deadline=None)
@given(ops=_OPS)
def test_tree_matches_a_sorted_list(ops: list[tuple[str, int, bool]]) -> None:
    """Insert, remove and re-key in any order: lookups, neighbours, iterators and file ranks agree with a sorted
    list after every step."""
    tree, ref = MapleTree(), {}
    for op, x, flag in ops:
        key = 2 * x
        if op == "add" and key not in ref:
            ref[key] = v = _Vma(key, flag)
            tree.insert(v)
        elif op == "remove" and ref:
            v = ref.pop(sorted(ref)[x % len(ref)])
            tree.remove(v)
        elif op == "move" and ref:
            old = sorted(ref)[x % len(ref)]
            new = old + (1 if flag else -1)
            v = ref[old]
            if new < 0 or new in ref:
                continue
            _move(tree, v, new)
            ref[new] = ref.pop(old)
        _check_against(tree, ref, [-1, 0, key - 1, key, key + 1, 401])


def test_rekey_refuses_to_pass_a_neighbour() -> None:
    """rekey() moves a key in place only while it stays strictly between its neighbours."""
    tree = MapleTree()
    a, b, c = _Vma(10, False), _Vma(20, True), _Vma(30, False)
    for v in (a, b, c):
        tree.insert(v)
    assert not tree.rekey(b, 10) and not tree.rekey(b, 30) and not tree.rekey(b, 31)
    assert tree.rekey(b, 11)
    b.vm_start = 11
    assert tree.find_le(29) is b
    tree.check()


def test_iter_files_from_skips_whole_blocks_by_their_counts() -> None:
    """Seeking the k-th file VMA steps over at most one block's VMAs, not all those before it."""
    tree = MapleTree()
    for i in range(200):
        tree.insert(_Vma(i, file=i % 3 == 0))
    before = tree.visits
    first = next(tree.iter_files_from(60))
    assert first.vm_start == 180
    assert tree.visits - before <= 2 * MT.LOAD


def test_remove_of_a_stranger_is_a_simulator_bug() -> None:
    """Removing a VMA that is not in the tree trips an assertion (a model bug, not an errno)."""
    tree = MapleTree()
    tree.insert(_Vma(4, False))
    with pytest.raises(AssertionError):
        tree.remove(_Vma(4, False))
    assert repr(tree) == "<MapleTree 1 VMAs in 1 blocks>"


def test_empty_tree() -> None:
    """An empty tree answers None and iterates nothing."""
    tree: Any = MapleTree()
    assert tree.first() is None and tree.last() is None and tree.find_le(5) is None
    assert tree.find_after(5) is None and list(tree.iter_from(0)) == [] and list(tree.iter_back_below(9)) == []
    assert list(tree.iter_files_from(0)) == [] and len(tree) == 0
    tree.check()



def _finger_op(tree: MapleTree, ref: dict[int, _Vma], op: str, x: int, d: int) -> int | None:
    """One step of test_the_finger_is_only_a_hint; returns the vm_start of the VMA a lookup found."""
    found = tree.find_after(x)
    start = found.vm_start if found is not None else None
    keys = sorted(ref)
    if op == "split":                   # insert next to the VMA just found, as mprotect's splits do
        key = (start if start is not None else x) + d
        if key >= 0 and key not in ref:
            ref[key] = v = _Vma(key, key % 3 == 0)
            tree.insert(v)
    elif op == "remove" and keys:
        tree.remove(ref.pop(keys[x % len(keys)]))
    elif op == "move" and keys:
        key = keys[x % len(keys)]
        new, v = key + d, ref[key]
        if d and new >= 0 and new not in ref:
            _move(tree, v, new)
            ref[new] = ref.pop(key)
    return start


@settings(max_examples=200, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from(["find", "split", "remove", "move"]), st.integers(0, 60),
                              st.integers(-2, 2)), max_size=150))
def test_the_finger_is_only_a_hint(ops: list[tuple[str, int, int]]) -> None:
    """The finger (the position last found or changed) changes no answer and no visit count: the same steps on a
    tree whose finger is thrown away before each one (so every lookup bisects) find the same VMAs, count the same
    visits and leave the same layout."""
    fast, slow = MapleTree(), MapleTree()
    fast_ref: dict[int, _Vma] = {}
    slow_ref: dict[int, _Vma] = {}
    for op, x, d in ops:
        slow._fb = 1 << 30              # out of range: the bisecting path
        assert _finger_op(fast, fast_ref, op, x, d) == _finger_op(slow, slow_ref, op, x, d)
        assert fast.visits == slow.visits
        fast.check()
        assert [v.vm_start for v in fast] == [v.vm_start for v in slow] == sorted(fast_ref)


def test_insert_after_the_finger_at_a_block_end_goes_to_the_next_block() -> None:
    """A key above the finger's VMA, which ends its block, belongs to the next block once it passes that block's
    first key: the finger's block is not extended past it."""
    tree = MapleTree()
    vmas = {k: _Vma(k, False) for k in range(9)}
    for v in vmas.values():
        tree.insert(v)                   # 9 > 2 x LOAD: blocks [0..3] and [4..8]
    tree.remove(vmas[5])
    assert tree.find_after(3) is vmas[3]     # the finger: the last VMA of the first block
    tree.insert(_Vma(5, False))
    tree.check()
    assert [v.vm_start for v in tree] == list(range(9))
