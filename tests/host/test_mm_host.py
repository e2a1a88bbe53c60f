"""The memory system calls on the real kernel and in the simulation: same calls, same VMAs, same errnos.

Each scenario is a list of operations on page numbers relative to SCENARIO_BASE, run by a fresh root task on
the host (through simkernel.host) and in a freshly booted simulated kernel.  After the run the VMAs in the
scenario window are compared as /proc/<pid>/maps shows them (bounds, permissions, offset, normalised name),
together with the VM flags that decide merging, read from the host's /proc/<pid>/smaps "VmFlags" and from
the simulated vm_flags; each call's result (address or errno) is compared too.  A hypothesis test does the
same for random operation sequences.
"""

from __future__ import annotations

import errno as _errno
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simkernel
from simkernel.host import SCENARIO_BASE
from simkernel.mm import mm_types as T
from simkernel.uapi.fcntl import O_CREAT, O_RDONLY, O_RDWR
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_LOCKED,
                                 MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK,
                                 MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_EXEC, PROT_NONE, PROT_READ,
                                 PROT_WRITE)
from tests.mm.mmkit import Layout, host_layout, layout

PAGE = 4096
BASE = SCENARIO_BASE
WINDOW = 64 * PAGE
RW = PROT_READ | PROT_WRITE

# smaps VmFlags mnemonics compared (fs/proc/task_mmu.c:show_smap_vma_flags)
MNEMONICS = {T.VM_READ: "rd", T.VM_WRITE: "wr", T.VM_EXEC: "ex", T.VM_SHARED: "sh", T.VM_MAYREAD: "mr",
             T.VM_MAYWRITE: "mw", T.VM_MAYEXEC: "me", T.VM_MAYSHARE: "ms", T.VM_GROWSDOWN: "gd",
             T.VM_LOCKED: "lo", T.VM_ACCOUNT: "ac", T.VM_NORESERVE: "nr", T.VM_NOHUGEPAGE: "nh",
             T.VM_DONTCOPY: "dc", T.VM_DONTEXPAND: "de", T.VM_WIPEONFORK: "wf", T.VM_DONTDUMP: "dd"}
KNOWN = set(MNEMONICS.values())

# mapping kinds: (mmap flags, fd name or None)
KINDS: dict[str, tuple[int, str | None]] = {
    "anon": (MAP_PRIVATE | MAP_ANONYMOUS, None),
    "anon-noreserve": (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, None),
    "anon-stack": (MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, None),
    "anon-growsdown": (MAP_PRIVATE | MAP_ANONYMOUS | MAP_GROWSDOWN, None),
    "anon-locked": (MAP_PRIVATE | MAP_ANONYMOUS | MAP_LOCKED, None),
    "shanon": (MAP_SHARED | MAP_ANONYMOUS, None),
    "priv1": (MAP_PRIVATE, "f1"), "priv2": (MAP_PRIVATE, "f2"), "shared1": (MAP_SHARED, "f1"),
    "shared2": (MAP_SHARED, "f2"), "privro": (MAP_PRIVATE, "ro"), "sharedro": (MAP_SHARED, "ro"),
    "memfd": (MAP_SHARED, "memfd"), "zero-priv": (MAP_PRIVATE, "zero"), "zero-shared": (MAP_SHARED, "zero"),
}

Op = tuple[Any, ...]


class Runner:
    """Runs operations in one task of a kernel (simulated or host) and records each result."""

    def __init__(self, kernel: Any, tmpdir: str) -> None:
        self.k = kernel
        self.t = kernel.spawn("mmcmp")
        s = self.t.sys
        path = f"{tmpdir}/mmf"
        f1 = s.open(path, O_CREAT | O_RDWR, 0o644)
        s.ftruncate(f1, 64 * PAGE)
        self.fds = {"f1": f1, "f2": s.open(path, O_RDWR), "ro": s.open(path, O_RDONLY),
                    "memfd": s.memfd_create("mmcmp"), "zero": s.open("/dev/zero", O_RDWR)}
        s.ftruncate(self.fds["memfd"], 64 * PAGE)
        self.results: list[Any] = []

    def _do(self, fn: Any, *args: Any) -> Any:
        try:
            r = fn(*args)
        except OSError as err:
            return _errno.errorcode.get(err.errno, err.errno)
        if isinstance(r, int) and BASE <= r < BASE + WINDOW:
            return ("page", (r - BASE) // PAGE)
        return "ok" if r is None else "elsewhere"

    def run(self, ops: Sequence[Op]) -> list[Any]:
        s = self.t.sys
        for op in ops:
            name = op[0]
            if name == "mmap":
                _n, page, n, prot, kind, off, extra = op
                flags, fdname = KINDS[kind]
                fd = self.fds[fdname] if fdname else -1
                res = self._do(s.mmap, BASE + page * PAGE, n * PAGE, prot, flags | extra, fd, off * PAGE)
            elif name == "mmap_raw":
                _n, addr, length, prot, flags, fdname, off = op
                res = self._do(s.mmap, addr, length, prot, flags, self.fds.get(fdname, -1), off)
            elif name == "munmap":
                res = self._do(s.munmap, BASE + op[1] * PAGE, op[2] * PAGE)
            elif name == "mprotect":
                res = self._do(s.mprotect, BASE + op[1] * PAGE, op[2] * PAGE, op[3])
            elif name == "mremap":
                _n, page, old, new, flags, dest = op
                res = self._do(s.mremap, BASE + page * PAGE, old * PAGE, new * PAGE, flags, BASE + dest * PAGE)
            else:  # pragma: no cover - a scenario typo
                raise AssertionError(op)
            self.results.append(res)
        return self.results


def sim_flags(k: Any, t: Any) -> list[tuple[int, frozenset[str]]]:
    out = []
    for v in t.mm:
        if v.vm_start < BASE + WINDOW and v.vm_end > BASE:
            out.append((v.vm_start, frozenset(m for bit, m in MNEMONICS.items() if v.vm_flags & bit)))
    return out


def host_flags(pid: int) -> list[tuple[int, frozenset[str]]]:
    out = []
    start = None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split(None, 1)[0]
            if "-" in head and not head.endswith(":"):
                start = int(head.split("-")[0], 16)
            elif head == "VmFlags:" and start is not None and BASE <= start < BASE + WINDOW:
                out.append((start, frozenset(line.split()[1:]) & KNOWN))
    return out


def compare(host: Any, compared: Any, ops: Sequence[Op], label: str) -> tuple[Layout, Layout]:
    """Run `ops` on both kernels; check results, maps and VmFlags; return (sim, host) layouts."""
    k = simkernel.Kernel()
    sim = Runner(k, "/tmp")
    real = Runner(host, host.tmpdir())
    compared.check(sim.run(ops), real.run(ops), f"{label}: results")
    sim_lay = layout(sim.t.mm, BASE, BASE + WINDOW)
    host_lay = host_layout(real.t.read_maps(BASE, BASE + WINDOW))
    compared.check(sim_lay, host_lay, f"{label}: maps")
    compared.check(sim_flags(k, sim.t), host_flags(real.t.pid), f"{label}: VmFlags")
    return sim_lay, host_lay


def M(page: int, n: int, prot: int = RW, kind: str = "anon", off: int = 0, extra: int = MAP_FIXED) -> Op:
    return ("mmap", page, n, prot, kind, off, extra)


SCENARIOS: dict[str, list[Op]] = {
    "split_middle_and_merge_back": [M(0, 4), ("mprotect", 1, 1, PROT_READ), ("mprotect", 1, 1, RW)],
    "split_middle_file": [M(0, 4, PROT_READ, "priv1"), ("mprotect", 1, 2, PROT_NONE)],
    "vm_account_blocks_merge": [M(0, 4, PROT_READ, "priv1"), ("mprotect", 1, 1, RW),
                                ("mprotect", 1, 1, PROT_READ)],
    "writable_file_merges_back": [M(0, 4, RW, "priv1"), ("mprotect", 1, 1, PROT_READ), ("mprotect", 1, 1, RW)],
    "two_opens_never_merge": [M(0, 2, PROT_READ, "shared1"), M(2, 2, PROT_READ, "shared2", 2),
                              M(4, 2, PROT_READ, "shared1", 4), M(6, 2, PROT_READ, "shared1", 7)],
    "adjacent_anon_merge": [M(1, 1), M(0, 1), M(3, 1), M(2, 1), M(4, 1, PROT_READ)],
    "flags_block_merge": [M(0, 2), M(2, 2, RW, "anon-noreserve"), M(4, 2, RW, "anon-stack"),
                          M(6, 2, RW, "anon-locked"), M(8, 2, RW, "anon-growsdown")],
    "map_fixed_replace": [M(0, 8, PROT_READ), M(2, 2, RW, "priv1", 5), M(5, 2, PROT_READ),
                          M(7, 3, RW, "memfd", 1)],
    "noreplace": [M(0, 2), M(1, 1, PROT_READ, extra=MAP_FIXED_NOREPLACE),
                  M(2, 1, PROT_READ, extra=MAP_FIXED_NOREPLACE)],
    "munmap_pieces": [M(0, 8), ("mprotect", 4, 4, PROT_READ), ("munmap", 1, 1), ("munmap", 3, 2),
                      ("munmap", 20, 4), ("munmap", 7, 10)],
    "shared_anon_and_dev_zero": [M(0, 2, RW, "shanon"), M(2, 2, RW, "shanon"), M(4, 2, RW, "zero-shared", 5),
                                 M(6, 1, RW, "zero-priv", 5), M(7, 1, RW, "zero-priv", 6),
                                 M(8, 1, RW, "zero-priv", 9), M(9, 2, RW, "memfd")],
    "mremap_grow_shrink": [M(0, 2), ("mremap", 0, 2, 3, 0, 0), M(4, 2), ("mremap", 0, 3, 4, 0, 0),
                           ("mremap", 0, 6, 2, 0, 0), M(3, 1, PROT_READ), ("mremap", 0, 2, 4, 0, 0)],
    "mremap_move": [M(0, 4), ("mremap", 1, 1, 1, MREMAP_MAYMOVE | MREMAP_FIXED, 20),
                    M(30, 2), ("mremap", 20, 1, 1, MREMAP_MAYMOVE | MREMAP_FIXED, 32),
                    ("mremap", 2, 2, 3, MREMAP_MAYMOVE | MREMAP_FIXED, 40),
                    ("mremap", 30, 3, 3, MREMAP_MAYMOVE | MREMAP_FIXED, 31)],
    "mremap_multi_vma": [M(0, 2), M(2, 2, PROT_READ), M(5, 1), M(6, 2, PROT_READ, "priv1", 3),
                         ("mremap", 1, 7, 7, MREMAP_MAYMOVE | MREMAP_FIXED, 20),
                         ("mremap", 19, 3, 3, MREMAP_MAYMOVE | MREMAP_FIXED, 40)],
    "mremap_dontunmap": [M(0, 4, RW, "anon-locked"), M(8, 2, PROT_READ, "shared1"),
                         ("mremap", 1, 1, 1, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, 20),
                         ("mremap", 8, 2, 2, MREMAP_MAYMOVE | MREMAP_DONTUNMAP | MREMAP_FIXED, 24), M(4, 1)],
    "mremap_errors": [M(0, 2), ("mremap", 0, 2, 2, MREMAP_FIXED, 8), ("mremap", 0, 2, 2, 8, 0),
                      ("mremap", 0, 2, 2, MREMAP_MAYMOVE | MREMAP_FIXED, 1), ("mremap", 0, 0, 1, MREMAP_MAYMOVE, 0),
                      ("mremap", 0, 4, 5, MREMAP_MAYMOVE, 0), ("mremap", 10, 1, 2, 0, 0),
                      ("mremap", 0, 1, 2, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 8), M(2, 1, PROT_READ),
                      ("mremap", 0, 2, 3, 0, 0)],
    "mprotect_errors": [M(0, 4), ("mprotect", 0, 8, PROT_READ), M(8, 2, PROT_READ, "sharedro"),
                        ("mprotect", 8, 1, RW), ("mprotect", 8, 1, PROT_READ | PROT_EXEC),
                        ("mprotect", 12, 1, PROT_READ)],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_mm_scenario_matches_host(host: Any, compared: Any, name: str) -> None:
    """Each memory scenario leaves the same VMAs, VM flags and results in the simulation and on the host."""
    compare(host, compared, SCENARIOS[name], name)


ERRNO_CASES: list[Op] = [
    ("mmap_raw", 0, PAGE, PROT_READ, MAP_PRIVATE, "none", 100),
    ("mmap_raw", 0, 0, PROT_READ, MAP_PRIVATE, "none", 0),
    ("mmap_raw", 0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, "none", 0),
    ("mmap_raw", 0, PAGE, PROT_READ, MAP_ANONYMOUS, "none", 0),
    ("mmap_raw", 0, PAGE, PROT_READ, 0, "f1", 0),
    ("mmap_raw", 0, PAGE, PROT_READ, 0xF | MAP_ANONYMOUS, "none", 0),
    ("mmap_raw", 0, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_ANONYMOUS, "none", 0),
    ("mmap_raw", 0, PAGE, PROT_READ, MAP_SHARED_VALIDATE | 0x200000, "f1", 0),
    ("mmap_raw", 0, PAGE, RW, MAP_SHARED, "ro", 0),
    ("mmap_raw", 0, PAGE, RW, MAP_SHARED_VALIDATE, "ro", 0),
    ("mmap_raw", 0, 1 << 48, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, "none", 0),
    ("mmap_raw", 0, (1 << 64) - PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, "none", 0),
    ("mmap_raw", 0, PAGE, PROT_READ, MAP_PRIVATE, "f1", 0x7FFFFFFFFFFFF000),
    ("mmap_raw", BASE + 1, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, "none", 0),
    ("mmap_raw", 1 << 47, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, "none", 0),
    ("mmap_raw", BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN | MAP_FIXED, "f1", 0),
    ("mmap_raw", BASE, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED, "none", 0),
    ("mmap_raw", BASE, PAGE, PROT_READ, 0x08, "f1", 0),
    ("mmap_raw", BASE, 2 << 20, PROT_READ, MAP_PRIVATE | 0x40000, "f1", 0),
    ("mmap_raw", BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, "zero", 0x5000),
    ("munmap", 0, 0), ("mprotect", 0, 0, PROT_READ), ("mprotect", 4, 1, PROT_READ),
    ("mprotect", 0, 1, 0x10), ("mprotect", 0, 1, PROT_READ | 0x03000000),
]


def test_mm_errnos_match_host(host: Any, compared: Any) -> None:
    """The errno of each invalid mmap/munmap/mprotect call is the host's, in the same order of checks."""
    compare(host, compared, ERRNO_CASES, "errnos")


def test_mm_fork_copies_layout_like_host(host: Any, compared: Any) -> None:
    """A forked child has the parent's VMAs and flags, minus VM_LOCKED, on both kernels."""
    ops = SCENARIOS["shared_anon_and_dev_zero"] + [M(20, 2, RW, "anon-locked"), M(24, 2, PROT_READ, "priv1")]
    k = simkernel.Kernel()
    sim, real = Runner(k, "/tmp"), Runner(host, host.tmpdir())
    sim.run(ops)
    real.run(ops)
    sim_child, host_child = sim.t.sys.fork(), real.t.sys.fork()
    compared.check(layout(sim_child.mm, BASE, BASE + WINDOW),
                   host_layout(host_child.read_maps(BASE, BASE + WINDOW)), "fork: maps")
    compared.check(sim_flags(k, sim_child), host_flags(host_child.pid), "fork: VmFlags")


# -- random sequences --------------------------------------------------------------------------------
PAGES = st.integers(0, 23)
NPAGES = st.integers(1, 6)
PROTS = st.sampled_from([PROT_NONE, PROT_READ, RW])
RANDOM_KINDS = st.sampled_from(["anon", "anon", "anon-noreserve", "shanon", "priv1", "priv2", "shared1",
                                "sharedro", "memfd", "zero-priv"])
OPS = st.one_of(
    st.tuples(st.just("mmap"), PAGES, NPAGES, PROTS, RANDOM_KINDS, st.integers(0, 16), st.just(MAP_FIXED)),
    st.tuples(st.just("munmap"), PAGES, NPAGES),
    st.tuples(st.just("mprotect"), PAGES, NPAGES, PROTS),
    st.tuples(st.just("mremap"), PAGES, NPAGES, NPAGES, st.sampled_from([0, MREMAP_MAYMOVE]), st.just(0)),
    st.tuples(st.just("mremap"), PAGES, NPAGES, NPAGES,
              st.sampled_from([MREMAP_MAYMOVE | MREMAP_FIXED, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP]),
              st.integers(0, 40)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(ops=st.lists(OPS, min_size=1, max_size=12))
def test_mm_random_sequences_match_host(host: Any, compared: Any, ops: list[Op]) -> None:
    """Random mmap/munmap/mprotect/mremap sequences leave the same VMAs and results on both kernels."""
    ops = [op if op[0] != "mremap" or op[4] & MREMAP_FIXED == 0 or op[2] == op[3]
           else op[:3] + (op[2],) + op[4:] for op in ops]            # DONTUNMAP needs equal sizes
    compare(host, compared, ops, f"random {ops}")
