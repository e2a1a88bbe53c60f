"""The lock validator (simkernel/kernel/locking/lockdep.py), the spinlock and task_lock(), might_fault()
(simkernel/mm/memory.py), and the two locking experiments of simkernel/patch_examples.py."""

from __future__ import annotations

from typing import Any

import pytest

import simkernel
from simkernel.errors import KernelError
from simkernel.kernel.locking import Mutex, RwSemaphore, SpinLock, task_lock, task_unlock
from simkernel.kernel.locking.lockdep import (CIRCULAR, HELD_AT_EXIT, RECURSIVE, UNLOCK_IMBALANCE, Dependency,
                                              Lockdep, LockSite)
from simkernel.mm.memory import __might_fault, might_fault
from simkernel.patch_examples import EXAMPLES, mm_access_under_mmap_lock, one_pass_readdir
from simkernel.scenarios import SCENARIOS
from simkernel.uapi import MAP_PRIVATE, O_CREAT, O_RDWR, PROT_READ
from simkernel.uapi import errno as E

README = "fs/proc/base.c:proc_map_files_readdir"


def _boot(lockdep: bool = True, version: str | None = None) -> tuple[simkernel.Kernel, Any]:
    k = simkernel.Kernel(version=version, lockdep=lockdep)
    t = k.spawn("app", uid=1000, gid=1000)
    fd = t.sys.open("/tmp/lib.so", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 8 * 4096)
    for i in range(3):
        t.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 2 * i * 4096)
    return k, t


def _errno(exc: pytest.ExceptionInfo[OSError]) -> int:
    return exc.value.errno  # type: ignore[return-value]


# -- off by default ---------------------------------------------------------------------------------------------

def test_lockdep_off_by_default_costs_nothing_visible() -> None:
    """Without lockdep=True there is no validator and no syscall work; results equal a validated kernel's."""
    k, t = _boot(lockdep=False)
    assert k.lockdep is None and k.syscall_work == []
    k2, t2 = _boot(lockdep=True)
    assert isinstance(k2.lockdep, Lockdep) and k2.lockdep in k2.syscall_work
    names = t.sys.listdir("/proc/self/map_files")
    assert names == t2.sys.listdir("/proc/self/map_files")
    assert [t.sys.readlink(f"/proc/self/map_files/{n}") for n in names] == \
           [t2.sys.readlink(f"/proc/self/map_files/{n}") for n in names]
    assert k2.lockdep.reports == []


# -- the graph ----------------------------------------------------------------------------------------------------

def test_lockdep_graph_records_edges_with_sites() -> None:
    """A readlink records exec_update_lock -> mmap_lock (get_link under the magic-link check) and
    exec_update_lock -> alloc_lock (get_task_mm in mm_access), each with both acquisition sites."""
    k, t = _boot()
    name = t.sys.listdir("/proc/self/map_files")[0]
    t.sys.readlink(f"/proc/self/map_files/{name}")
    g = k.lockdep.graph
    dep = g.edges[("&sig->exec_update_lock", "&mm->mmap_lock")]
    assert dep.prev_site.function == "call_proc_get_link" and dep.next_site.function == "map_files_get_link"
    assert g.edges[("&sig->exec_update_lock", "&p->alloc_lock")].next_site.function == "get_task_mm"
    assert {"&mm->mmap_lock", "&sig->exec_update_lock", "&p->alloc_lock"} <= set(g.classes)
    assert g.classes["&mm->mmap_lock"].acquisitions > 0
    assert "&mm->mmap_lock" in g.after("&sig->exec_update_lock")
    assert g.path("&sig->exec_update_lock", "&mm->mmap_lock") == [dep]
    assert g.path("&mm->mmap_lock", "&sig->exec_update_lock") is None
    assert g.path("&mm->mmap_lock", "&mm->mmap_lock") == []
    assert '"&sig->exec_update_lock" -> "&mm->mmap_lock" [label="map_files_get_link"];' in g.to_dot()
    assert "map_files_get_link" in str(dep)
    assert repr(k.lockdep) == f"<Lockdep {len(g.classes)} classes, {len(g.edges)} dependencies, 0 reports>"
    assert repr(g).startswith("<LockGraph ")
    assert k.lockdep.held_locks(t) == ()


def test_lockdep_filldir_records_might_fault_of_the_callers_mm() -> None:
    """A listing's records are might_fault()s: the mmap lock class is taken (and dropped) with no report."""
    k, t = _boot()
    before = k.lockdep.graph.classes.get("&mm->mmap_lock")
    n0 = before.acquisitions if before is not None else 0
    t.sys.listdir("/proc/self/map_files")
    assert k.lockdep.graph.classes["&mm->mmap_lock"].acquisitions >= n0 + 5   # 2 dots + 3 entries
    assert k.lockdep.reports == []


# -- the showcase: filldir under the mmap lock ---------------------------------------------------------------------

def test_one_pass_readdir_reports_recursive_read_of_mmap_lock() -> None:
    """Emitting entries with the mmap lock held: might_fault() re-takes it for read -- the problem the merged
    readdir's two passes avoid; printed like lockdep with both places."""
    k, t = _boot()
    stock = t.sys.listdir("/proc/self/map_files")
    assert k.lockdep.reports == []
    k.patch(README, one_pass_readdir)
    assert t.sys.listdir("/proc/self/map_files") == stock
    (r,) = k.lockdep.reports
    assert r.kind == RECURSIVE and r.classes == ("&mm->mmap_lock",) and r.task == f"app/{t.pid}"
    held_site, new_site = r.chains[0][0], r.chains[1][0]
    assert held_site.function == "one_pass_readdir"
    assert new_site.function == "__might_fault" and "DirContext.emit" in [f for f, _m in new_site.stack]
    text = str(r)
    assert "WARNING: possible recursive locking detected" in text
    assert "is trying to acquire lock:\n (&mm->mmap_lock){read}, at: __might_fault() [simkernel.mm.memory]" in text
    assert "but task is already holding lock:\n (&mm->mmap_lock){read}, at: one_pass_readdir()" in text
    assert "read after read" in text and "*** DEADLOCK ***" in text
    assert k.lockdep.held_locks(t) == ()


def test_one_pass_readdir_of_another_task_is_reported_too() -> None:
    """Lock classes, not instances: root listing another task's map_files gets the same report."""
    k, t = _boot()
    k.patch(README, one_pass_readdir)
    k.init.sys.listdir(f"/proc/{t.pid}/map_files")
    assert [r.kind for r in k.lockdep.reports] == [RECURSIVE]


def test_two_pass_readdir_is_quiet_on_every_profile() -> None:
    """The real readdir (every release's form) lists, reads maps and readlinks without a report."""
    for v in ("3.3", "3.7", "5.3", "6.18", "6.18.44"):
        k, t = _boot(version=v)
        names = k.init.sys.listdir(f"/proc/{t.pid}/map_files")
        assert len(names) == 3
        if v not in ("3.3", "3.7"):    # CAP_SYS_ADMIN needed to list until v4.3
            assert t.sys.listdir("/proc/self/map_files") == names
        fd = t.sys.open("/proc/self/maps", 0)
        while t.sys.read(fd, 100):
            pass
        t.sys.close(fd)
        k.init.sys.readlink(f"/proc/{t.pid}/map_files/{names[0]}")
        assert k.lockdep.reports == [], (v, k.lockdep.dmesg())


def test_scenario_library_is_quiet_under_lockdep() -> None:
    """Every scenario of the library, on several profiles, runs without a lockdep report."""
    for v in ("3.3", "4.3", "5.3", "6.18.44"):
        for name, sc in SCENARIOS.items():
            k = simkernel.Kernel(version=v, lockdep=True)
            sc.run(k)
            assert k.lockdep.reports == [], (v, name, k.lockdep.dmesg())


# -- the inversion ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("readlink_first", [True, False])
def test_mm_access_under_mmap_lock_reports_circular_dependency(readlink_first: bool) -> None:
    """mmap_lock -> exec_update_lock (the patch) against exec_update_lock -> mmap_lock (the magic-link check
    around get_link): a circular dependency, reported with the existing chain and the new dependency."""
    k, t = _boot()
    name = t.sys.listdir("/proc/self/map_files")[0]
    k.patch(README, mm_access_under_mmap_lock)
    if readlink_first:
        t.sys.readlink(f"/proc/self/map_files/{name}")
        assert k.lockdep.reports == []
        assert t.sys.listdir("/proc/self/map_files")[0] == name
    else:
        t.sys.listdir("/proc/self/map_files")
        assert k.lockdep.reports == []
        t.sys.readlink(f"/proc/self/map_files/{name}")
    (r,) = k.lockdep.reports
    assert r.kind == CIRCULAR and r.classes == ("&mm->mmap_lock", "&sig->exec_update_lock")
    existing, new = r.chains
    assert len(existing) == 1 and len(new) == 1 and all(isinstance(d, Dependency) for d in existing + new)
    assert (existing[0].prev, existing[0].next) == (new[0].next, new[0].prev)
    funcs = {existing[0].next_site.function, new[0].next_site.function}
    assert funcs == {"mm_access", "map_files_get_link"}
    text = str(r)
    assert "WARNING: possible circular locking dependency detected" in text
    assert "the existing dependency chain (in reverse order) is:" in text
    assert "mm_access_under_mmap_lock()" in text and "call_proc_get_link()" in text
    assert "CPU0                    CPU1" in text and "*** DEADLOCK ***" in text
    assert k.lockdep.held_locks(t) == ()


def test_lockdep_longer_cycle_prints_the_chain() -> None:
    """A -> B, B -> C, then C -> A: a three-class cycle, "Chain exists of" before the two-CPU picture."""
    k = simkernel.Kernel(lockdep=True)
    cur = k.init
    a, b, c = Mutex("A"), Mutex("B"), Mutex("C")
    for first, second in ((a, b), (b, c), (c, a)):
        first.lock(cur)
        second.lock(cur)
        second.unlock(cur)
        first.unlock(cur)
    (r,) = k.lockdep.reports
    assert r.kind == CIRCULAR and r.classes == ("A", "B", "C")
    assert len(r.chains[0]) == 2 and "-> #2 (C):" in r.text
    # print_circular_lock_scenario(): source (new) --> parent --> target (held), then the two-CPU picture
    assert "Chain exists of:\n  A --> B --> C\n" in r.text
    assert "  lock(C);\n                               lock(B);\n                               lock(C);\n" \
           "  lock(A);\n" in r.text


# -- recursion, unlock balance, return to user ------------------------------------------------------------------

def test_lockdep_recursive_mutex_and_write() -> None:
    """Taking a held mutex class again, or an rwsem for write while reading it: recursive locking."""
    k = simkernel.Kernel(lockdep=True)
    cur = k.init
    m = Mutex("&sig->cred_guard_mutex")
    m.lock(cur)
    m.lock(cur)
    m.unlock(cur)
    m.unlock(cur)
    s = RwSemaphore("&mm->mmap_lock")
    s.down_read(cur)
    s.down_write(cur)
    s.up_write(cur)
    s.up_read(cur)
    assert [(r.kind, r.classes) for r in k.lockdep.reports] == [
        (RECURSIVE, ("&sig->cred_guard_mutex",)), (RECURSIVE, ("&mm->mmap_lock",))]
    assert "read after read" not in k.lockdep.reports[0].text
    assert "read after read" not in k.lockdep.reports[1].text


def test_lockdep_unlock_imbalance() -> None:
    """Releasing a lock the task does not hold: bad unlock balance, once per place."""
    k = simkernel.Kernel(lockdep=True)
    m = Mutex("M")
    for _ in range(2):
        m.unlock(k.init)
    (r,) = k.lockdep.reports
    assert r.kind == UNLOCK_IMBALANCE and "WARNING: bad unlock balance detected!" in r.text
    assert "no locks held by init/1." in r.text


def test_lockdep_held_at_return_to_user() -> None:
    """A syscall that leaves a lock held: lockdep_sys_exit() reports it at the return to user space."""
    k, t = _boot()

    def leaky(orig: Any, current: Any, file: Any, ctx: Any) -> None:
        current.signal.cred_guard_mutex.lock(current)
        return orig(current, file, ctx)

    fd = t.sys.open("/proc/self/map_files", 0)
    k.patch(README, leaky)
    assert len(t.sys.getdents(fd, 4096)) == 5
    (r,) = k.lockdep.reports
    assert r.kind == HELD_AT_EXIT and r.classes == ("&sig->cred_guard_mutex",)
    assert "lock held when returning to user space!" in r.text and "(returning from getdents64())" in r.text
    assert "1 lock held by app/" in r.text
    assert [h.cls for h in k.lockdep.held_locks(t)] == ["&sig->cred_guard_mutex"]
    t.sys.getpid()
    assert len(k.lockdep.reports) == 1      # the same locks still held: reported once
    k.lockdep.clear()
    assert k.lockdep.reports == [] and list(k.lockdep) == []


@pytest.mark.parametrize("take", ["mutex_lock_killable", "down_read_killable", "down_write_killable"])
def test_killable_lock_with_fatal_signal_is_eintr_and_takes_nothing(take: str) -> None:
    """A killable acquisition with a fatal signal pending (or fail-nth's "lock" fault) fails with EINTR before
    it takes the lock: nothing held, nothing reported to the validator, the lock still free."""
    k = simkernel.Kernel(lockdep=True)
    cur = k.init
    lock: Any = Mutex("M") if take.startswith("mutex") else RwSemaphore("S")
    op = getattr(lock, "lock_killable" if take.startswith("mutex") else take)
    cur.fatal_signal_pending = True
    with pytest.raises(KernelError) as exc:
        op(cur)
    assert exc.value.errno == E.EINTR
    assert k.lockdep.held_locks(cur) == () and k.lockdep.reports == []
    assert lock.available("write")
    cur.fatal_signal_pending = False
    cur.fail_nth = 1                      # fail-nth's "lock" fault at this point: as if a fatal signal came
    with pytest.raises(KernelError) as exc:
        op(cur)
    assert exc.value.errno == E.EINTR and "fail-nth" in (exc.value.explain or "")
    assert k.lockdep.held_locks(cur) == () and lock.available("write") and cur.fail_nth == 0
    op(cur)
    assert [h.cls for h in k.lockdep.held_locks(cur)] == [lock.name]


def test_lockdep_unlock_of_a_lock_not_held_while_holding_another() -> None:
    """Releasing M while holding N: bad unlock balance, N listed as held; N stays held; dmesg has the text."""
    k = simkernel.Kernel(lockdep=True)
    cur = k.init
    n, m = Mutex("N"), Mutex("M")
    n.lock(cur)
    m.unlock(cur)
    (r,) = k.lockdep.reports
    assert r.kind == UNLOCK_IMBALANCE and r.classes == ("M",)
    assert "1 lock held by init/1:\n #0: (N){write}" in r.text
    assert k.lockdep.dmesg() == r.text
    assert [h.cls for h in k.lockdep.held_locks(cur)] == ["N"]
    n.unlock(cur)


# -- determinism ----------------------------------------------------------------------------------------------------

def test_lockdep_is_deterministic() -> None:
    """The same script gives the same graph and the same report texts."""
    def run() -> tuple[list[tuple[str, str]], list[str]]:
        k, t = _boot()
        name = t.sys.listdir("/proc/self/map_files")[0]
        t.sys.readlink(f"/proc/self/map_files/{name}")
        k.patch(README, one_pass_readdir)
        t.sys.listdir("/proc/self/map_files")
        k.unpatch()
        k.patch(README, mm_access_under_mmap_lock)
        t.sys.listdir("/proc/self/map_files")
        return list(k.lockdep.graph.edges), [r.text for r in k.lockdep.reports]
    assert run() == run()


# -- maps: m_start() takes the mmap lock ------------------------------------------------------------------------------

def test_maps_read_takes_and_drops_the_mmap_lock() -> None:
    """A maps read takes the mmap lock (m_start) and drops it before the copy-out: no report, nothing held."""
    k, t = _boot()
    fd = t.sys.open("/proc/self/maps", 0)
    n0 = k.lockdep.graph.classes["&mm->mmap_lock"].acquisitions
    assert t.sys.read(fd, 50)
    assert t.sys.pread(fd, 50, 10)
    assert k.lockdep.graph.classes["&mm->mmap_lock"].acquisitions > n0
    assert k.lockdep.reports == [] and k.lockdep.held_locks(t) == ()


@pytest.mark.parametrize("lockdep", [False, True])
def test_maps_read_with_fatal_signal_pending_is_eintr(lockdep: bool) -> None:
    """mmap_read_lock_killable() in m_start: a fatal signal pending makes read(2) fail with EINTR."""
    k, t = _boot(lockdep=lockdep)
    fd = t.sys.open("/proc/self/maps", 0)
    t.fatal_signal_pending = True
    with pytest.raises(OSError) as exc:
        t.sys.read(fd, 4096)
    assert _errno(exc) == E.EINTR
    t.fatal_signal_pending = False
    assert t.sys.read(fd, 4096).startswith(b"7ff")


# -- might_fault, spinlocks ----------------------------------------------------------------------------------------

class _FakeSched:
    """Records the preemption points and lock waits it is shown (the race explorer's API shape)."""

    def __init__(self) -> None:
        self.points: list[str] = []

    def point(self, current: Any, label: str) -> None:
        self.points.append(label)

    def lock_wait(self, current: Any, lock: Any, mode: str) -> None:
        self.points.append(f"wait {lock.name}")

    def __getattr__(self, name: str) -> Any:
        return lambda *a, **kw: None


def test_might_fault_is_a_preemption_point_under_the_scheduler() -> None:
    """With k.sched set, each record of a listing and each readlink copy-out is a "might_fault" point."""
    k, t = _boot(lockdep=False)
    name = t.sys.listdir("/proc/self/map_files")[0]
    k.sched = sched = _FakeSched()
    try:
        t.sys.readlink(f"/proc/self/map_files/{name}")
        assert sched.points.count("might_fault") == 1
        assert "wait &p->alloc_lock" in sched.points and "unlock &p->alloc_lock" in sched.points
        sched.points.clear()
        t.sys.listdir("/proc/self/map_files")
        assert sched.points.count("might_fault") == 5
    finally:
        k.sched = None


def test_might_fault_without_mm_or_task() -> None:
    """No task (unit tests) or no mm (a kernel thread): nothing is taken."""
    might_fault(None)
    k = simkernel.Kernel(lockdep=True)
    t = k.spawn("app")
    mm, t.mm = t.mm, None
    try:
        __might_fault(t)
    finally:
        t.mm = mm
    assert "&mm->mmap_lock" not in k.lockdep.graph.classes or k.lockdep.reports == []


def test_spinlock_and_task_lock() -> None:
    """SpinLock records its owner; task_lock() is alloc_lock, seen by lockdep; anonymous use is allowed."""
    k = simkernel.Kernel(lockdep=True)
    cur = k.init
    s = SpinLock("&x->lock")
    assert s.available()
    s.spin_lock(cur)
    assert s.owner is cur and not s.available()
    assert [h.cls for h in k.lockdep.held_locks(cur)] == ["&x->lock"]
    s.spin_unlock(cur)
    s.spin_lock()
    assert s.owner is True
    s.spin_unlock()
    task_lock(None, cur)
    assert cur.alloc_lock.owner is True
    task_unlock(None, cur)
    task_lock(cur, cur)
    assert [h.cls for h in k.lockdep.held_locks(cur)] == ["&p->alloc_lock"]
    task_unlock(cur, cur)
    assert cur.alloc_lock.owner is None and k.lockdep.held_locks(cur) == () and k.lockdep.reports == []
    k2 = simkernel.Kernel()
    task_lock(k2.init, k2.init)
    assert k2.init.alloc_lock.owner is k2.init
    task_unlock(k2.init, k2.init)


def test_locks_taken_without_a_task() -> None:
    """Without `current` (unit tests of single kernel functions) a lock records an anonymous owner and
    nothing is reported; a validated kernel sees nothing of it."""
    k = simkernel.Kernel(lockdep=True)
    m, s = Mutex("M"), RwSemaphore("S")
    m.lock()
    assert m.owner is True and not m.available()
    m.unlock()
    s.down_read()
    s.down_read_killable(None)
    assert s.readers == 2 and not s.available("write") and s.available("read")
    s.up_read()
    s.up_read()
    s.down_write_killable(None)
    assert s.writer is True and not s.available("read")
    s.up_write()
    assert m.available() and s.available("write") and k.lockdep.reports == []
    assert "M" not in k.lockdep.graph.classes and "S" not in k.lockdep.graph.classes


def test_locksite_renders() -> None:
    """A site prints as function() [module]; an empty stack (called from outside the kernel) as ?."""
    site = LockSite((("f", "simkernel.x"), ("g", "simkernel.y")))
    assert str(site) == "f() [simkernel.x]" and site.module == "simkernel.x"
    assert site.backtrace("  ") == "  f() [simkernel.x]\n  g() [simkernel.y]"
    empty = LockSite(())
    assert (empty.function, empty.module) == ("?", "?")


def test_examples_are_registered() -> None:
    """Both locking experiments are known to `simkernel matrix --kernels 6.18.44+NAME`."""
    assert EXAMPLES["one-pass-readdir"] == (README, one_pass_readdir)
    assert EXAMPLES["mm-access-under-mmap-lock"] == (README, mm_access_under_mmap_lock)


def test_inode_locks_take_their_place_in_the_lock_order() -> None:
    """With the validator on, readdir runs under the directory's i_rwsem (shared) and lookup_slow under the
    parent's: i_mutex_dir_key -> mmap_lock (filldir's might_fault) and -> exec_update_lock (mm_access)."""
    k, t = _boot()
    name = next(f"{v.vm_start:x}-{v.vm_end:x}" for v in t.mm if v.vm_file is not None)
    t.sys.readlink(f"/proc/self/map_files/{name}")       # a cold lookup first: lookup_slow() -> mm_access()
    assert k.lockdep.graph.edges[("&type->i_mutex_dir_key#proc", "&sig->exec_update_lock")].prev_site.function \
        == "lookup_slow"
    k2, t2 = _boot()
    t2.sys.listdir("/proc/self/map_files")                 # a listing first: iterate_dir() -> filldir
    d = k2.lockdep.graph.edges[("&type->i_mutex_dir_key#proc", "&mm->mmap_lock")]
    assert d.prev_site.function == "iterate_dir" and d.next_site.function == "__might_fault"
    f = t.sys.open("/tmp/lib.so", 0)
    inode = t.files.fget(f).f_inode
    assert k.lockdep.i_rwsem(inode).name == "&type->i_mutex_key#ramfs"
    assert k.lockdep.i_rwsem(inode) is k.lockdep.i_rwsem(inode)
    assert k.lockdep.reports == [] and k2.lockdep.reports == []
