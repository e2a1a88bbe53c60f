"""Stateful test of the address space against a page-level model.

Random sequences of mmap (private/shared anonymous, private/shared file through two opens of one file and a
read-only open), munmap, mprotect, mremap (shrink, grow in place or moving, MREMAP_FIXED moves across VMAs,
MREMAP_DONTUNMAP) and fork+exit run on one task.  The model keeps, per page, the attributes that decide
merging (protection, sharing, backing file object, file page, VM_ACCOUNT, VM_NORESERVE) and predicts the
errno of each call.  After every step the VMA set must be sorted, non-overlapping and page-aligned, and equal
to the maximal runs of mergeable pages: Linux 6.18 never leaves two adjacent mergeable VMAs apart in these
operations.  File reference counts and i_mmap_writable must match the VMAs that hold them.

The kernel runs with the lock validator and the refcount ledger (`Kernel(lockdep=True, ref_tracker=True)`):
after every step neither may have reported anything (issue 6).  A rule lists /proc/self/map_files, reads
each link and /proc/self/maps, so the procfs paths run under both too.
"""

from __future__ import annotations

from typing import Any

from attrs import evolve, frozen
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from simkernel.mm.mm_types import VM_MAYWRITE, VM_SHARED
from simkernel.mm.vma import validate_mm
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_CREAT, O_RDONLY, O_RDWR
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_FIXED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED,
                                 MREMAP_DONTUNMAP, MREMAP_FIXED, MREMAP_MAYMOVE, PROT_NONE, PROT_READ, PROT_WRITE)
from tests.mm.mmkit import BASE, PAGE, Layout, boot, fmt, layout

WINDOW = 48                                  # pages in the test window at BASE
PROTS = st.sampled_from([PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE])
KINDS = st.sampled_from(["anon", "anon-noreserve", "shanon", "priv1", "priv2", "shared1", "shared2", "privro",
                         "sharedro"])
START = st.integers(0, WINDOW - 1)
COUNT = st.integers(1, 8)


@frozen
class Pg:
    """What a page contributes to its VMA's identity."""

    prot: int
    shared: bool
    kind: str          # "anon", "shanon" or "file"
    fid: int           # backing struct file (0: anonymous)
    off: int           # file page (shared anonymous: page in its shmem file)
    acct: bool         # VM_ACCOUNT
    nores: bool        # VM_NORESERVE
    ro: bool           # shared mapping of a read-only open (no VM_MAYWRITE)

    def key(self) -> tuple[Any, ...]:
        return (self.prot, self.shared, self.kind, self.fid, self.acct, self.nores, self.ro)


def follows(a: Pg, b: Pg) -> bool:
    """Would a VMA ending with page a merge with one starting with page b (right after it)?"""
    return a.key() == b.key() and (a.kind == "anon" or b.off == a.off + 1)


class MmMachine(RuleBasedStateMachine):
    """One task; every rule is one system call, mirrored on the page model."""

    @initialize()
    def boot(self) -> None:
        self.k = boot(lockdep=True, ref_tracker=True)
        self.t = self.k.spawn("stateful")
        s = self.t.sys
        fd = s.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
        s.ftruncate(fd, 64 * PAGE)
        self.fds = {"1": fd, "2": s.open("/tmp/f", O_RDWR), "ro": s.open("/tmp/f", O_RDONLY)}
        self.files = {name: self.t.files.fget(fd) for name, fd in self.fds.items()}
        self.pages: dict[int, Pg] = {}
        self.next_shmem = 1000

    # -- model helpers ----------------------------------------------------------------------------
    def runs(self) -> list[tuple[int, int, Pg]]:
        """Maximal runs of mergeable pages: (start, end, first page)."""
        out: list[tuple[int, int, Pg]] = []
        prev_addr, prev_pg = None, None
        for addr in sorted(self.pages):
            pg = self.pages[addr]
            if prev_addr is not None and addr == prev_addr + PAGE and follows(prev_pg, pg):
                out[-1] = (out[-1][0], addr + PAGE, out[-1][2])
            else:
                out.append((addr, addr + PAGE, pg))
            prev_addr, prev_pg = addr, pg
        return out

    def expected(self) -> Layout:
        names = {"anon": "", "shanon": "/dev/zero (deleted)", "file": "file:f"}
        out: Layout = []
        for s, e, pg in self.runs():
            perms = ("r" if pg.prot & PROT_READ else "-") + ("w" if pg.prot & PROT_WRITE else "-") + "-" + \
                ("s" if pg.shared else "p")
            out.append((s, e, perms, 0 if pg.kind == "anon" else pg.off * PAGE, names[pg.kind]))
        return out

    def run_at(self, addr: int) -> tuple[int, int, Pg] | None:
        for r in self.runs():
            if r[0] <= addr < r[1]:
                return r
        return None

    def call(self, fn: Any, *args: Any) -> tuple[int | None, Any]:
        try:
            return None, fn(*args)
        except OSError as err:
            return err.errno, None

    def check(self, want: int | None, got: int | None, what: str) -> None:
        assert got == want, f"{what}: expected errno {want}, got {got}\n{fmt(layout(self.t.mm))}"

    # -- rules ------------------------------------------------------------------------------------
    @rule(kind=KINDS, start=START, n=COUNT, prot=PROTS, off=st.integers(0, 32))
    def mmap(self, kind: str, start: int, n: int, prot: int, off: int) -> None:
        addr = BASE + start * PAGE
        fid, fd, flags = 0, -1, MAP_FIXED
        shared = kind in ("shanon", "shared1", "shared2", "sharedro")
        if kind.startswith("anon") or kind == "shanon":
            flags |= MAP_ANONYMOUS | (MAP_SHARED if shared else MAP_PRIVATE)
            off = 0
            if kind == "anon-noreserve":
                flags |= MAP_NORESERVE
        else:
            name = kind[-2:] if kind.endswith("ro") else kind[-1]
            fd, fid = self.fds[name], id(self.files[name])
            flags |= MAP_SHARED if shared else MAP_PRIVATE
        ro = kind == "sharedro"
        want = E.EACCES if ro and prot & PROT_WRITE else None
        err, _ = self.call(self.t.sys.mmap, addr, n * PAGE, prot, flags, fd, off * PAGE)
        self.check(want, err, f"mmap {kind} {start}+{n}")
        if err:
            return
        if kind == "shanon":
            fid = self.next_shmem
            self.next_shmem += 1
        nores = kind == "anon-noreserve"
        acct = not shared and bool(prot & PROT_WRITE) and not nores
        base_kind = "anon" if kind.startswith("anon") else ("shanon" if kind == "shanon" else "file")
        for i in range(n):
            self.pages[addr + i * PAGE] = Pg(prot, shared, base_kind, fid, off + i, acct, nores, ro)

    @rule(start=START, n=COUNT)
    def munmap(self, start: int, n: int) -> None:
        addr = BASE + start * PAGE
        err, _ = self.call(self.t.sys.munmap, addr, n * PAGE)
        self.check(None, err, "munmap")
        for i in range(n):
            self.pages.pop(addr + i * PAGE, None)

    @rule(start=START, n=COUNT, prot=PROTS)
    def mprotect(self, start: int, n: int, prot: int) -> None:
        addr = BASE + start * PAGE
        want = None
        updates: dict[int, Pg] = {}
        for i in range(n):
            a = addr + i * PAGE
            pg = self.pages.get(a)
            if pg is None:
                want = E.ENOMEM
                break
            if pg.ro and prot & PROT_WRITE:
                want = E.EACCES
                break
            acct = pg.acct
            if prot & PROT_WRITE:
                if not (pg.acct or pg.prot & PROT_WRITE or pg.shared or pg.nores):
                    acct = True
            elif pg.acct and pg.kind == "anon":
                acct = False
            updates[a] = evolve(pg, prot=prot, acct=acct)
        err, _ = self.call(self.t.sys.mprotect, addr, n * PAGE, prot)
        self.check(want, err, f"mprotect {start}+{n}")
        self.pages.update(updates)

    @rule(start=START, old=COUNT, new=COUNT)
    def mremap_shrink(self, start: int, old: int, new: int) -> None:
        if new >= old:
            return
        addr = BASE + start * PAGE
        want = None if addr in self.pages else E.EFAULT
        err, res = self.call(self.t.sys.mremap, addr, old * PAGE, new * PAGE)
        self.check(want, err, "mremap shrink")
        if err is None:
            assert res == addr
            for i in range(new, old):
                self.pages.pop(addr + i * PAGE, None)

    @rule(start=START, old=COUNT, grow=COUNT, maymove=st.booleans())
    def mremap_grow(self, start: int, old: int, grow: int, maymove: bool) -> None:
        addr = BASE + start * PAGE
        new = old + grow
        r = self.run_at(addr)
        end = addr + old * PAGE
        if r is None or end > r[1]:
            want: int | None = E.EFAULT
            inplace = False
        else:
            inplace = end == r[1] and all(end + i * PAGE not in self.pages for i in range(grow))
            want = None if inplace or maymove else E.ENOMEM
        err, res = self.call(self.t.sys.mremap, addr, old * PAGE, new * PAGE, MREMAP_MAYMOVE if maymove else 0)
        self.check(want, err, f"mremap grow {start}+{old}->{new}")
        if err is not None:
            return
        if inplace:
            assert res == addr
        else:
            assert res != addr
        moved = [self.pages.pop(addr + i * PAGE) for i in range(old)]
        last = moved[-1]
        for i in range(new):
            self.pages[res + i * PAGE] = moved[i] if i < old else evolve(last, off=last.off + i - old + 1)

    @rule(start=START, n=COUNT, dest=START, dontunmap=st.booleans())
    def mremap_move(self, start: int, n: int, dest: int, dontunmap: bool) -> None:
        addr, new_addr, end = BASE + start * PAGE, BASE + dest * PAGE, BASE + (start + n) * PAGE
        flags = MREMAP_MAYMOVE | MREMAP_FIXED | (MREMAP_DONTUNMAP if dontunmap else 0)
        if addr < new_addr + n * PAGE and new_addr < end:
            err, _ = self.call(self.t.sys.mremap, addr, n * PAGE, n * PAGE, flags, new_addr)
            self.check(E.EINVAL, err, "mremap overlapping move")
            return
        # remap_move(): walk the VMAs (model runs) in [addr, end), keeping the gaps between them.
        plan: list[tuple[int, int, int]] = []
        pos, target, last_end, first = addr, new_addr, 0, True
        want = None
        model = dict(self.pages)
        while True:
            runs = [r for r in self._runs_of(model) if r[1] > pos and r[0] < end]
            if not runs:
                if first:
                    want = E.EFAULT
                break
            s, e, _pg = runs[0]
            if first and addr < s:
                want = E.EFAULT
                break
            piece = max(s, addr)
            length = min(end, e) - piece
            dst = target + (0 if first else s - last_end)
            last_end = e
            for i in range(length // PAGE):
                model.pop(dst + i * PAGE, None)
            for i in range(length // PAGE):
                src = piece + i * PAGE
                model[dst + i * PAGE] = model[src] if dontunmap else model.pop(src)
            plan.append((piece, length, dst))
            target = dst + length
            pos = e
            first = False
        err, res = self.call(self.t.sys.mremap, addr, n * PAGE, n * PAGE, flags, new_addr)
        self.check(want, err, f"mremap move {start}+{n}->{dest} dontunmap={dontunmap}")
        if err is None:
            assert res == plan[0][2]
            self.pages = model

    @staticmethod
    def _runs_of(pages: dict[int, Pg]) -> list[tuple[int, int, Pg]]:
        m = MmMachine.__new__(MmMachine)
        m.pages = pages
        return m.runs()

    @precondition(lambda self: hasattr(self, "t"))
    @rule()
    def fork_and_exit(self) -> None:
        counts = {n: f.f_count for n, f in self.files.items()}
        child = self.t.sys.fork()
        assert layout(child.mm) == layout(self.t.mm)
        validate_mm(child.mm)
        child.sys.exit(0)
        self.t.sys.waitpid(child.pid, 0)
        assert {n: f.f_count for n, f in self.files.items()} == counts

    @precondition(lambda self: hasattr(self, "t"))
    @rule()
    def read_procfs(self) -> None:
        s = self.t.sys
        want = sorted(f"{v.vm_start:x}-{v.vm_end:x}" for v in self.t.mm if v.vm_file is not None)
        names = s.listdir("/proc/self/map_files")
        assert sorted(names) == want
        for name in names:
            assert s.readlink(f"/proc/self/map_files/{name}")
        fd = s.open("/proc/self/maps", O_RDONLY)
        text = b""
        while chunk := s.read(fd, 4096):
            text += chunk
        s.close(fd)
        assert len(text.splitlines()) == len(self.t.mm)

    # -- invariants -------------------------------------------------------------------------------
    @invariant()
    def no_lockdep_or_ledger_reports(self) -> None:
        """The lock validator and the refcount ledger stay silent after every step."""
        if not hasattr(self, "k"):
            return
        assert self.k.ref_tracker.reports == [], self.k.ref_tracker.summary()
        assert self.k.lockdep.reports == [], self.k.lockdep.dmesg()

    @invariant()
    def matches_model(self) -> None:
        if not hasattr(self, "t"):
            return
        mm = self.t.mm
        validate_mm(mm)
        got, want = layout(mm), self.expected()
        assert got == want, f"VMAs differ from the model\nsim:\n{fmt(got)}\nmodel:\n{fmt(want)}"
        assert mm.total_vm == len(self.pages)

    @invariant()
    def file_references(self) -> None:
        if not hasattr(self, "t"):
            return
        for f in self.files.values():
            holders = [v for v in self.t.mm if v.vm_file is f]
            assert f.f_count == 1 + len(holders), (f, f.f_count, len(holders))
        inode = self.files["1"].f_inode
        writers = [v for v in self.t.mm if v.vm_file is not None and v.vm_file.f_inode is inode
                   and (v.vm_flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE)]
        assert inode.i_mmap_writable == len(writers)


MmMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
test_mm_stateful = MmMachine.TestCase
