"""The VMA tree of an mm: the stand-in for the kernel's maple tree (`mm->mm_mt`).

Simplification: the kernel keeps VMAs in a B-tree of ranges (lib/maple_tree.c) whose nodes also record the
largest gap below them; here they sit in a two-level sorted list keyed by `vm_start` (blocks of at most
2 x LOAD VMAs, the first key of each block in `_mins`), the shape of sortedcontainers' SortedList without the
positional index.  A lookup is two binary searches (O(log n) comparisons, both in C); an insertion or removal
moves at most one block's pointers; iteration is in address order.  Each block also counts its file-backed
VMAs, so the k-th one (what /proc/<pid>/map_files position k names) is found without walking the VMAs
before it.

A finger (`_fb`, `_fi`: the block and index of the VMA the last find_after() returned, the last insert() or
rekey() passed, or the last remove() left behind) is tried before bisecting: mprotect() and munmap() walking
up a range find, re-key and insert next to the VMA they just touched.  It is only a hint, any value will do:
each use checks it against the VMAs or keys it points at (an insert() next to the finger's VMA follows it).

`visits` counts the VMAs the simulator itself handed out or stepped over through this tree (lookups,
neighbours, positional seeks; a whole iteration counts its length, `iter_from` only its start, the records of
/proc/<pid>/maps being the caller's to count); tests/test_complexity.py uses it to check that lookups stay
O(log n) and paging does not rescan.  It is the model's own work, not the kernel's:
the kernel's cost is reported separately (`kernel.stats`).

Linux: lib/maple_tree.c, include/linux/mm_types.h (mm_struct.mm_mt)
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import chain
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from simkernel.mm.mm_types import VmAreaStruct

__all__ = ["MapleTree", "LOAD"]

LOAD = 512    # a block splits when it passes 2 * LOAD VMAs


class MapleTree:
    """VMAs sorted by vm_start (non-overlapping, so also by vm_end).

    Invariants (checked by `check()`): blocks are non-empty, `_mins[b] == _keys[b][0]`, keys ascend across
    blocks, `_keys[b][i] == _vals[b][i].vm_start`, `_nfile[b]` counts VMAs with a vm_file in block b.
    """

    __slots__ = ("_keys", "_vals", "_mins", "_nfile", "_len", "visits", "_fb", "_fi")

    def __init__(self) -> None:
        self._keys: list[list[int]] = []
        self._vals: list[list[VmAreaStruct]] = []
        self._mins: list[int] = []
        self._nfile: list[int] = []
        self._len = 0
        self.visits = 0
        self._fb = self._fi = 0     # the finger (see the module docstring)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[VmAreaStruct]:
        self.visits += self._len
        return chain.from_iterable(self._vals)

    def __getitem__(self, i: int) -> VmAreaStruct:
        """The i-th VMA in address order (negative: from the end), as a list indexes; O(blocks)."""
        if i < 0:
            i += self._len
        if not 0 <= i < self._len:
            raise IndexError("VMA index out of range")
        self.visits += 1
        for block in self._vals:
            if i < len(block):
                return block[i]
            i -= len(block)
        raise AssertionError("unreachable")  # pragma: no cover

    def __repr__(self) -> str:
        return f"<MapleTree {self._len} VMAs in {len(self._vals)} blocks>"

    # -- positions: (block, index) pairs, valid until the next change --------------------------------------

    def _le(self, key: int) -> tuple[int, int]:
        """Position of the last VMA with vm_start <= key, (-1, -1) if none."""
        b = bisect_right(self._mins, key) - 1
        if b < 0:
            return -1, -1
        return b, bisect_right(self._keys[b], key) - 1

    def _at(self, vma: VmAreaStruct) -> tuple[int, int]:
        b, i = self._fb, self._fi
        vals = self._vals
        if b < len(vals):
            block = vals[b]
            if i < len(block) and block[i] is vma:     # the finger's VMA
                return b, i
        key = vma.vm_start
        b = bisect_right(self._mins, key) - 1
        i = bisect_left(self._keys[b], key) if b >= 0 else 0
        assert b >= 0 and i < len(self._keys[b]) and vals[b][i] is vma, f"{vma!r} is not in the tree"
        return b, i

    # -- lookups ---------------------------------------------------------------------------------------

    def first(self) -> VmAreaStruct | None:
        return self._vals[0][0] if self._len else None

    def last(self) -> VmAreaStruct | None:
        return self._vals[-1][-1] if self._len else None

    def find_le(self, addr: int) -> VmAreaStruct | None:
        """The VMA with the greatest vm_start <= addr (it may end at or below addr), or None."""
        b = bisect_right(self._mins, addr) - 1     # self._le(addr), inline: vma_lookup() of every map_files step
        if b < 0:
            return None
        self.visits += 1
        return self._vals[b][bisect_right(self._keys[b], addr) - 1]

    def find_after(self, addr: int) -> VmAreaStruct | None:
        """The first VMA with vm_end > addr (find_vma's answer), or None.

        First the finger's VMA and the one after it (in its block): when one of them holds addr, or addr falls
        in the gap between them, that is the answer, with the visits the bisecting path would count.
        """
        vals = self._vals
        b = self._fb
        if b < len(vals):
            block = vals[b]
            i = self._fi
            if i < len(block):
                vma = block[i]
                if vma.vm_start <= addr:
                    if addr < vma.vm_end:
                        self.visits += 1
                        return vma
                    i += 1
                    if i < len(block):
                        vma = block[i]
                        if vma.vm_start > addr:     # in the gap: the bisecting path steps over block[i - 1]
                            self.visits += 2
                            self._fi = i
                            return vma
                        if addr < vma.vm_end:
                            self.visits += 1
                            self._fi = i
                            return vma
        b = bisect_right(self._mins, addr) - 1     # self._le(addr), inline: the hottest lookup
        if b >= 0:
            i = bisect_right(self._keys[b], addr) - 1
            vma = vals[b][i]
            self.visits += 1
            if vma.vm_end > addr:
                self._fb, self._fi = b, i
                return vma
            i += 1
            if i == len(vals[b]):
                b, i = b + 1, 0
                if b == len(vals):
                    return None
        elif not self._len:
            return None
        else:
            b, i = 0, 0
        self.visits += 1
        self._fb, self._fi = b, i
        return vals[b][i]

    def next(self, vma: VmAreaStruct) -> VmAreaStruct | None:
        """The VMA after `vma` (adjacent or not)."""
        b, i = self._at(vma)
        self.visits += 1
        if i + 1 < len(self._vals[b]):
            return self._vals[b][i + 1]
        return self._vals[b + 1][0] if b + 1 < len(self._vals) else None

    def prev(self, vma: VmAreaStruct) -> VmAreaStruct | None:
        """The VMA before `vma` (adjacent or not)."""
        b, i = self._at(vma)
        self.visits += 1
        if i:
            return self._vals[b][i - 1]
        return self._vals[b - 1][-1] if b else None

    def iter_from(self, addr: int) -> Iterator[VmAreaStruct]:
        """VMAs with vm_end > addr, ascending (a C-level iterator: the VMAs it hands out are not counted).

        The iterator reads the live blocks (no copy: /proc/<pid>/maps starts one per read(2)), so the tree
        must not change while it is in use -- its callers hold the mmap lock.
        """
        b, i = self._le(addr)
        if b < 0:
            b, i = 0, 0
        elif self._vals[b][i].vm_end <= addr:
            i += 1
        self.visits += 1
        vals = self._vals
        if b >= len(vals):
            return iter(())
        block = iter(vals[b])
        block.__setstate__(i)       # list iterators resume at an index (their pickle state): no slice
        rest = iter(vals)
        rest.__setstate__(b + 1)
        return chain(block, chain.from_iterable(rest))

    def iter_back_below(self, key: int) -> Iterator[VmAreaStruct]:
        """VMAs with vm_start < key, descending (each one handed out counts as a visit)."""
        b = bisect_left(self._mins, key) - 1
        if b < 0:
            return
        i = bisect_left(self._keys[b], key) - 1
        vals = self._vals
        while b >= 0:
            block = vals[b]
            while i >= 0:
                self.visits += 1
                yield block[i]
                i -= 1
            b -= 1
            if b >= 0:
                i = len(vals[b]) - 1

    def iter_files_from(self, k: int) -> Iterator[VmAreaStruct]:
        """File-backed VMAs from the k-th one (0-based) on, ascending.

        The blocks before the k-th are skipped by their file counts; inside its block the VMAs are stepped
        over one by one (at most 2 x LOAD).
        """
        nfile, vals = self._nfile, self._vals
        b = 0
        while b < len(vals) and k >= nfile[b]:
            k -= nfile[b]
            b += 1
        while b < len(vals):
            for vma in vals[b]:
                self.visits += 1
                if vma.vm_file is None:
                    continue
                if k:
                    k -= 1
                    continue
                yield vma
            b += 1

    # -- changes ---------------------------------------------------------------------------------------

    def insert(self, vma: VmAreaStruct) -> None:
        """Add a VMA (its vm_start must not be in the tree).

        Right before or after the finger's VMA when the key belongs there (not at the head of a block, whose
        first key is in `_mins`); the finger stays on its VMA.
        """
        key = vma.vm_start
        self._len += 1
        isfile = vma.vm_file is not None
        if not self._mins:
            self._keys.append([key])
            self._vals.append([vma])
            self._mins.append(key)
            self._nfile.append(int(isfile))
            return
        b, f = self._fb, self._fi
        i = -1
        if b < len(self._keys):
            keys = self._keys[b]
            n = len(keys)
            if f < n:
                if keys[f] <= key:
                    if f + 1 < n:
                        if keys[f + 1] > key:
                            i = f + 1
                    elif b + 1 == len(self._mins) or self._mins[b + 1] > key:
                        i = f + 1
                elif f and keys[f - 1] < key:
                    i = f
        if i < 0:
            b = bisect_right(self._mins, key) - 1
            if b < 0:
                b = 0
                self._mins[0] = key
            keys = self._keys[b]
            i = bisect_right(keys, key)
        keys.insert(i, key)
        self._vals[b].insert(i, vma)
        if isfile:
            self._nfile[b] += 1
        if b == self._fb and i <= f:
            self._fi = f + 1
        if len(keys) > 2 * LOAD:
            self._split(b)

    def update(self, vmas: Iterable[VmAreaStruct]) -> None:
        """Insert many VMAs (sortedcontainers' name for it: scenario helpers bulk-load a tree with it)."""
        for vma in vmas:
            self.insert(vma)

    def _split(self, b: int) -> None:
        keys, vals = self._keys[b], self._vals[b]
        hk, hv = keys[LOAD:], vals[LOAD:]
        del keys[LOAD:], vals[LOAD:]
        nf = sum([v.vm_file is not None for v in hv])     # a list: no generator switch per VMA
        self._keys.insert(b + 1, hk)
        self._vals.insert(b + 1, hv)
        self._mins.insert(b + 1, hk[0])
        self._nfile.insert(b + 1, nf)
        self._nfile[b] -= nf
        if self._fb > b:
            self._fb += 1
        elif self._fb == b and self._fi >= LOAD:
            self._fb, self._fi = b + 1, self._fi - LOAD

    def remove(self, vma: VmAreaStruct) -> None:
        """Take a VMA out (it must be in the tree)."""
        b, i = self._at(vma)
        keys = self._keys[b]
        del keys[i]
        del self._vals[b][i]
        self._len -= 1
        if vma.vm_file is not None:
            self._nfile[b] -= 1
        if not keys:
            del self._keys[b], self._vals[b], self._mins[b], self._nfile[b]
        elif not i:
            self._mins[b] = keys[0]
        self._fb, self._fi = b, i       # the VMA after the removed one (or past the block's end)

    def rekey(self, vma: VmAreaStruct, start: int) -> bool:
        """Move `vma`'s key to `start` in place when that keeps the order (its neighbours stay on either
        side); returns False (nothing changed) otherwise, and the caller removes and re-inserts.

        Moving up it can only pass the neighbour above, moving down only the one below: only that one is read.
        The finger moves to `vma`.
        """
        b, i = self._at(vma)
        keys = self._keys[b]
        if start > keys[i]:
            if i + 1 < len(keys):
                if keys[i + 1] <= start:
                    return False
            elif b + 1 < len(self._mins) and self._mins[b + 1] <= start:
                return False
        elif i:
            if keys[i - 1] >= start:
                return False
        elif b and self._keys[b - 1][-1] >= start:
            return False
        keys[i] = start
        if not i:
            self._mins[b] = start
        self._fb, self._fi = b, i
        return True

    # -- checking ----------------------------------------------------------------------------------------

    def check(self) -> None:
        """Assert the invariants (validate_mm calls this)."""
        assert len(self._keys) == len(self._vals) == len(self._mins) == len(self._nfile)
        prev = None
        total = 0
        for keys, vals, lo, nf in zip(self._keys, self._vals, self._mins, self._nfile):
            assert keys and len(keys) == len(vals) and keys[0] == lo, (lo, keys[:1])
            assert nf == sum(1 for v in vals if v.vm_file is not None), "stale file count"
            for k, v in zip(keys, vals):
                assert k == v.vm_start, (hex(k), v)
                assert prev is None or prev < k, "keys out of order"
                prev = k
            total += len(keys)
        assert total == self._len, (total, self._len)
