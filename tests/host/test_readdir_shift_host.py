"""The readdir position of map_files is an ordinal: skips and repeats between two getdents64 calls (issue 6).

proc_map_files_readdir() (fs/proc/base.c) numbers the file-backed VMAs of the *current* VMA list: position
2 + k names the k-th one, whatever it is now.  A reader that gets part of the directory, lets the target change
its mappings, and continues, sees entries skipped (a VMA below its position vanished) or repeated (one
appeared below its position).  Each case runs on the host kernel and on the simulation:

* a root target maps one file as M = 6 two-page VMAs e0..e5, 8 pages apart (same file, holes between, so
  nothing merges), in the scenario window;
* a root reader opens /proc/<target>/map_files and lseek()s to the position of e0.  On the host the target is
  a Python interpreter whose own file-backed mappings (binary, libraries) lie below the window (the binary)
  and above it (the libraries, near the stack): positions are counted over all of them, so the reader first
  counts the entries below the window with a full listing (`files_below_window`) and seeks past them, and
  every d_off is observed relative to e0's position.  Names outside the window are dropped from each batch;
* one getdents64 call with a buffer for exactly two records (returns e0, e1);
* the target changes its mappings (munmap, mmap, mprotect split: see CASES);
* the reader calls getdents64 with the same buffer until the end of the directory.

Compared: each batch (window names as labels e0..e5 / n / e0a ..., with d_off relative to e0's position),
the position after the first call, the sequence of names returned (duplicates and omissions included), the
listing afterwards, and how many entries below the window the change added.  The host's sequences are also
checked against the expected ones written in CASES, so the documented behaviour is pinned on the real kernel.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from simkernel.uapi import DT_LNK, MAP_PRIVATE, O_DIRECTORY, O_RDONLY, PROT_READ, PROT_WRITE, SEEK_CUR, SEEK_SET
from tests.host.scenarios_procfs import (
    BASE, FIXED, PAGE, Obs, attempt, files_below_window, in_window, listing, make_file, mf, rng, run_compare, spawn,
)

M = 6                  # file-backed VMAs of the target in the window
SPAN = 2 * PAGE        # each VMA
STRIDE = 8 * PAGE      # distance between two VMAs' starts (a 6-page hole: no merging)
MAX_CALLS = 1000       # bound on getdents calls (a host target lists ~180 entries of its own: ~90 calls)


def _start(i: int) -> int:
    return BASE + i * STRIDE


def reclen(name: str) -> int:
    """Size of one linux_dirent64 record for `name`: d_ino 8, d_off 8, d_reclen 2, d_type 1, the name and its
    NUL, rounded up to 8 bytes (fs/readdir.c:filldir64())."""
    return (8 + 8 + 2 + 1 + len(name) + 1 + 7) & ~7


# Every window name is "%lx-%lx" of two 12-digit addresses: 25 characters, 48-byte records.
RECLEN = reclen(rng(BASE, BASE + SPAN))
COUNT = 2 * RECLEN     # room for exactly two records (a third needs 144 bytes)


# -- the changes the target makes between the reader's first and second calls ----------------------
# Each takes (target task, fd of the mapped file, names: dict name -> label to extend) and returns None.
def _munmap(*idx: int) -> Callable[..., None]:
    def change(t: Any, fd: int, names: dict[str, str]) -> None:
        for i in idx:
            t.sys.munmap(_start(i), SPAN)
    return change


def _mmap_new(*slots: tuple[int, str]) -> Callable[..., None]:
    """Map one page of the file at each (address, label); the address lies in a hole between two VMAs."""
    def change(t: Any, fd: int, names: dict[str, str]) -> None:
        for j, (addr, label) in enumerate(slots):
            t.sys.mmap(addr, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, (24 + j) * PAGE)
            names[rng(addr, addr + PAGE)] = label
    return change


def _split(i: int) -> Callable[..., None]:
    """mprotect the first page of e<i> writable: the VMA splits into e<i>a (first page) and e<i>b."""
    def change(t: Any, fd: int, names: dict[str, str]) -> None:
        t.sys.mprotect(_start(i), PAGE, PROT_READ | PROT_WRITE)
        names[rng(_start(i), _start(i) + PAGE)] = f"e{i}a"
        names[rng(_start(i) + PAGE, _start(i) + SPAN)] = f"e{i}b"
    return change


BELOW_WINDOW = BASE - 16 * PAGE     # below SCENARIO_BASE, above everything the host interpreter maps below it


def _e(*idx: int) -> list[str]:
    return [f"e{i}" for i in idx]


# case id -> (what it does, the change, the expected sequence of names returned in all calls, entries added
# below the window)
CASES: dict[str, tuple[str, Callable[..., None], list[str], int]] = {
    "A-munmap-returned-first": (
        "munmap e0 (already returned): e2 moves to the position of e1 and is skipped",
        _munmap(0), _e(0, 1, 3, 4, 5), 0),
    "A2-munmap-returned-last": (
        "munmap e1 (the last entry returned): e2 is skipped",
        _munmap(1), _e(0, 1, 3, 4, 5), 0),
    "A3-munmap-two-returned": (
        "munmap e0 and e1 (both returned): e2 and e3 are skipped",
        _munmap(0, 1), _e(0, 1, 4, 5), 0),
    "B-munmap-not-returned": (
        "munmap e3 (not yet returned): it is simply absent, nothing else changes",
        _munmap(3), _e(0, 1, 2, 4, 5), 0),
    "B2-munmap-next": (
        "munmap e2 (the next to be returned): absent, nothing skipped or repeated",
        _munmap(2), _e(0, 1, 3, 4, 5), 0),
    "C-mmap-below-position": (
        "mmap n between e0 and e1 (below the position): e1 is returned twice, n never",
        _mmap_new((_start(0) + 4 * PAGE, "n")), _e(0, 1, 1, 2, 3, 4, 5), 0),
    "C2-mmap-below-window": (
        "mmap n below the scenario window: every position shifts, e1 is returned twice",
        _mmap_new((BELOW_WINDOW, "n")), _e(0, 1, 1, 2, 3, 4, 5), 1),
    "C3-mmap-two-below-position": (
        "mmap n1 and n2 between e0 and e1: n2 (below e1) is returned after e1, then e1 again",
        _mmap_new((_start(0) + 3 * PAGE, "n1"), (_start(0) + 5 * PAGE, "n2")), ["e0", "e1", "n2", *_e(1, 2, 3, 4, 5)],
        0),
    "D-mmap-above-position": (
        "mmap n between e3 and e4 (above the position): returned once, in order, nothing lost",
        _mmap_new((_start(3) + 4 * PAGE, "n")), ["e0", "e1", "e2", "e3", "n", "e4", "e5"], 0),
    "E-split-returned": (
        "mprotect splits e0 (already returned) into e0a and e0b: e1 is returned twice, e0a/e0b never",
        _split(0), _e(0, 1, 1, 2, 3, 4, 5), 0),
    "E2-split-not-returned": (
        "mprotect splits e4 (not yet returned): both halves are returned in its place",
        _split(4), ["e0", "e1", "e2", "e3", "e4a", "e4b", "e5"], 0),
}


def scenario_readdir_shift(k: Any, d: str, case: str) -> list[tuple[str, Any]]:
    """Two-record getdents64 calls on an open map_files directory, the target changing between the first
    and the second call; every observation position-relative to the first scenario entry."""
    _doc, change, _expected, _added = CASES[case]
    o = Obs()
    make_file(k, f"{d}/f", 32 * PAGE)
    t = spawn(k, "target")
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    names: dict[str, str] = {}
    for i in range(M):
        t.sys.mmap(_start(i), SPAN, PROT_READ, MAP_PRIVATE | FIXED, fd, 2 * i * PAGE)
        names[rng(_start(i), _start(i) + SPAN)] = f"e{i}"
    r = spawn(k, "reader")
    o.add("listing before", [names.get(n, n) for n in listing(r, mf(t))])
    below = files_below_window(r, mf(t))        # machine-specific (the host's interpreter), not an observation
    first = 2 + below                            # position of e0
    dfd = r.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    o.add("seek to e0", r.sys.lseek(dfd, first, SEEK_SET) - first)
    types: set[int] = set()

    def call() -> tuple[bool, Any]:
        """One getdents64 call: (the directory had ended, the window entries as (label, relative d_off))."""
        got = attempt(r.sys.getdents, dfd, COUNT)
        if isinstance(got, str):
            return True, got
        assert len(got) <= 2 and sum(reclen(n) for n, *_ in got) <= COUNT, got
        types.update(ty for n, _i, ty, _off in got if in_window(n))
        # a window name not in `names` would show raw: the change made a VMA the case did not foresee
        return got == [], [(names.get(n, n), off - first) for n, _i, _ty, off in got if in_window(n)]

    _end, batch = call()
    o.add("first call", batch)
    o.add("position after the first call", r.sys.lseek(dfd, 0, SEEK_CUR) - first)
    o.do("change", change, t, fd, names)
    batches = []
    for _ in range(MAX_CALLS):
        end, b = call()
        if end and not isinstance(b, str):
            break
        batches.append(b)
        if isinstance(b, str):
            break
    else:
        raise AssertionError(f"map_files did not end within {MAX_CALLS} getdents calls")
    while batches and batches[-1] == []:                  # the host's own entries above the window
        batches.pop()
    o.add("later calls", batches)
    seq = [n for b in [batch, *batches] if isinstance(b, list) for n, _off in b]
    o.add("sequence", seq)
    o.add("d_type of every entry", sorted(types))
    o.add("listing after", [names.get(n, n) for n in listing(r, mf(t))])
    o.add("entries added below the window", files_below_window(r, mf(t)) - below)
    r.sys.close(dfd)
    return o.items


@pytest.mark.parametrize("case", list(CASES))
def test_readdir_shift_matches_host(host: Any, compared: Any, case: str) -> None:
    """Skips and repeats of a two-record getdents64 reader across a change of the target's mappings."""
    _doc, _change, expected, added = CASES[case]
    h = dict(run_compare(host, compared, scenario_readdir_shift, case))
    assert h["first call"] == [("e0", 1), ("e1", 2)], h["first call"]
    assert h["change"] is None, h["change"]
    assert h["sequence"] == expected, f"host sequence {h['sequence']} != expected {expected}"
    assert h["d_type of every entry"] == [DT_LNK]
    assert h["entries added below the window"] == added
