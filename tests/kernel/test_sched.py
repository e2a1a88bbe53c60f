"""kernel/sched: the deterministic scheduler and the explorer (verdicts, witnesses, bounds, deadlocks)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

import simkernel
from simkernel.kernel.locking import Mutex, RwSemaphore
from simkernel.kernel.sched import (ALWAYS, NEVER, SOMETIMES, DEADLOCK, Outcome, ReplayDiverged, Schedule,
                                    Scheduler, Step, explore, replay)


def machine() -> SimpleNamespace:
    k = simkernel.Kernel()
    return SimpleNamespace(k=k, a=k.spawn("a"), b=k.spawn("b"), m1=Mutex("m1"), m2=Mutex("m2"), log=[])


def yields(who: str, n: int) -> Any:
    """A program passing `n` labelled preemption points, logging each."""
    def prog(s: SimpleNamespace) -> int:
        t = getattr(s, who.lower())
        for i in range(n):
            s.log.append(f"{who}{i}")
            s.k.sched.point(t, f"{who}.{i}")
        return n
    return prog


def critical(who: str) -> Any:
    def prog(s: SimpleNamespace) -> None:
        t = getattr(s, who.lower())
        s.m1.lock(t)
        s.log.append(f"{who}+")
        s.k.sched.point(t, "inside")
        s.log.append(f"{who}-")
        s.m1.unlock(t)
    return prog


def abba(first: str, second: str, who: str) -> Any:
    def prog(s: SimpleNamespace) -> str:
        t = getattr(s, who.lower())
        x, y = getattr(s, first), getattr(s, second)
        x.lock(t)
        y.lock(t)
        y.unlock(t)
        x.unlock(t)
        return "done"
    return prog


def test_explore_unbounded_counts_every_interleaving() -> None:
    """Two programs of three steps each (two points, then the end): C(6, 3) = 20 schedules; the logs made
    before the points take C(4, 2) = 6 orders."""
    r = explore(machine, {"A": yields("A", 2), "B": yields("B", 2)}, lambda o: True, bound=None,
                observe=lambda s: tuple(s.log))
    assert r.schedules == 20 and r.complete
    assert len(r.outcomes) == 6 and sum(r.outcomes.values()) == 20
    assert r.verdict == ALWAYS and r.counterexample is None


def test_explore_three_tasks() -> None:
    """Three programs of two steps each: 6! / (2! 2! 2!) = 90 schedules unbounded; 6 orders at bound 0."""
    def setup() -> SimpleNamespace:
        s = machine()
        s.c = s.k.spawn("c")
        return s
    progs = {"A": yields("A", 1), "B": yields("B", 1), "C": yields("C", 1)}
    assert explore(setup, progs, lambda o: True, bound=None).schedules == 90
    assert explore(setup, progs, lambda o: True, bound=0).schedules == 6


def test_explore_preemption_bound() -> None:
    """Bound 0 runs each program to its end (two orders); each bound adds schedules, never loses one."""
    progs = {"A": yields("A", 2), "B": yields("B", 2)}
    counts = [explore(machine, progs, lambda o: True, bound=b).schedules for b in (0, 1, 2, None)]
    assert counts[0] == 2
    assert counts[0] < counts[1] < counts[2] <= counts[3] == 20


def test_explore_max_schedules_marks_incomplete() -> None:
    """max_schedules stops the search and says so."""
    r = explore(machine, {"A": yields("A", 3), "B": yields("B", 3)}, lambda o: True, bound=None, max_schedules=5)
    assert r.schedules == 5 and not r.complete
    assert "cut short" in str(r)


def test_lock_wait_blocks_while_the_lock_is_taken() -> None:
    """A task never enters a critical section another task holds: no schedule interleaves them."""
    r = explore(machine, {"A": critical("A"), "B": critical("B")},
                lambda o: o.observed not in (("A+", "A-", "B+", "B-"), ("B+", "B-", "A+", "A-")),
                bound=None, observe=lambda s: tuple(s.log), description="the critical sections overlap")
    assert r.verdict == NEVER
    assert {o.observed for o in r.outcomes} == {("A+", "A-", "B+", "B-"), ("B+", "B-", "A+", "A-")}


def test_deadlock_detected_with_witness() -> None:
    """ABBA lock order: some schedule deadlocks (every unfinished task waits); its programs say !DEADLOCK."""
    progs = {"A": abba("m1", "m2", "A"), "B": abba("m2", "m1", "B")}
    r = explore(machine, progs, lambda o: o.deadlock, bound=2, description="deadlock")
    assert r.verdict == SOMETIMES
    dead = [o for o in r.outcomes if o.deadlock]
    assert dead and all(o["A"] == DEADLOCK and o["B"] == DEADLOCK for o in dead)
    assert replay(machine, progs, r.witness).deadlock
    assert not replay(machine, progs, r.counterexample).deadlock


def test_same_lock_order_never_deadlocks() -> None:
    """Both tasks take m1 then m2: no deadlock in any schedule."""
    progs = {"A": abba("m1", "m2", "A"), "B": abba("m1", "m2", "B")}
    r = explore(machine, progs, lambda o: o.deadlock, bound=None)
    assert r.verdict == NEVER and len(r.outcomes) == 1


def _rwsem_machine() -> SimpleNamespace:
    s = machine()
    s.sem = RwSemaphore("&mm->mmap_lock")
    s.c = s.k.spawn("c")
    return s


def _reader(who: str, nested: bool) -> Any:
    """down_read, a point, (a second down_read and up_read: a nested read, or another task's), up_read."""
    def prog(s: SimpleNamespace) -> str:
        t = getattr(s, who.lower())
        s.sem.down_read(t)
        s.k.sched.point(t, "reading")
        if nested:
            s.sem.down_read(t)
            s.sem.up_read(t)
        s.sem.up_read(t)
        return "read"
    return prog


def _writer(s: SimpleNamespace) -> str:
    s.sem.down_write(s.b)
    s.sem.up_write(s.b)
    return "wrote"


def test_queued_writer_blocks_a_nested_down_read() -> None:
    """rwsem: a writer waiting while A reads makes A's second down_read() queue behind it -- a deadlock in
    some schedule; without the nested read (or without the writer) never."""
    progs = {"A": _reader("A", nested=True), "B": _writer}
    r = explore(_rwsem_machine, progs, lambda o: o.deadlock, bound=None, description="deadlock")
    assert r.verdict == SOMETIMES and r.witness is not None
    runs = r.witness.runs()          # B stops asking for write; A reads, then asks again and queues behind B
    assert ("B", ["lock &mm->mmap_lock (write)"]) in runs
    assert runs[-1][0] == "A" and runs[-1][1][-2:] == ["reading", "lock &mm->mmap_lock (read)"]
    flat = explore(_rwsem_machine, {"A": _reader("A", nested=False), "B": _writer}, lambda o: o.deadlock,
                   bound=None)
    assert flat.verdict == NEVER and "unbounded" in str(flat) and "unbounded" in flat._repr_html_()
    alone = explore(_rwsem_machine, {"A": _reader("A", nested=True)}, lambda o: o.deadlock, bound=None)
    assert alone.verdict == NEVER


def test_queued_writer_blocks_another_reader_but_a_free_lock_may_be_stolen() -> None:
    """Reader A holds the lock, writer B waits: reader C waits too, and runs only after B (never beside A while
    B waits), up to two preemptions.  A lock no reader holds may be taken by a reader before the waiting writer
    (optimistic stealing)."""
    def reader_c(s: SimpleNamespace) -> str:
        s.sem.down_read(s.c)
        s.log.append(("C", s.sem.readers, s.sem.write_waiters))
        s.sem.up_read(s.c)
        return "read"
    progs = {"A": _reader("A", nested=False), "B": _writer, "C": reader_c}
    r = explore(_rwsem_machine, progs, lambda o: o.deadlock, bound=2, observe=lambda s: tuple(s.log))
    assert r.verdict == NEVER
    seen = {o.observed for o in r.outcomes}
    assert (("C", 1, 1),) in seen                   # C took a free lock while B was waiting
    assert (("C", 2, 1),) not in seen               # ... but never joined A while B was waiting
    sem = RwSemaphore("s")
    sem.readers, sem.write_waiters = 1, 1
    assert not sem.available("read") and not sem.available("write")
    sem.readers = 0
    assert sem.available("read") and sem.available("write")


def test_replay_is_deterministic() -> None:
    """Every recorded example replays to its outcome, twice."""
    progs = {"A": yields("A", 2), "B": yields("B", 1)}
    r = explore(machine, progs, lambda o: True, bound=None, observe=lambda s: tuple(s.log))
    for outcome, schedule in r.examples.items():
        assert replay(machine, progs, schedule, observe=lambda s: tuple(s.log)) == outcome
        assert replay(machine, progs, schedule, observe=lambda s: tuple(s.log)) == outcome


def test_replay_diverges_on_a_foreign_schedule() -> None:
    """A schedule whose task cannot run, or that stops elsewhere, is refused."""
    progs = {"A": yields("A", 1), "B": yields("B", 1)}
    with pytest.raises(ReplayDiverged):
        replay(machine, progs, Schedule([Step("A", "A.0"), Step("A", "end"), Step("A", "end")]))
    with pytest.raises(ReplayDiverged):
        replay(machine, progs, Schedule([Step("A", "elsewhere"), Step("A", "end"), Step("B", "B.0"),
                                         Step("B", "end")]))


def test_syscall_errors_are_results() -> None:
    """A failed syscall is the program's result ("!ENOENT"); later steps of a step list still run."""
    progs = {"A": [lambda s: s.a.sys.lstat("/nonexistent"), lambda s: s.a.sys.getpid()],
             "B": lambda s: s.b.sys.getpid()}
    r = explore(machine, progs, lambda o: o["A"][0] == "!ENOENT", bound=None)
    assert r.verdict == ALWAYS
    o = next(iter(r.outcomes))
    assert isinstance(o["A"][1], int) and o["B"] > 0


def test_simulator_bugs_propagate() -> None:
    """An exception other than OSError/KernelBug is a simulator bug: explore() raises it."""
    def bad(s: Any) -> None:
        raise ZeroDivisionError("bug")
    with pytest.raises(ZeroDivisionError):
        explore(machine, {"A": bad, "B": yields("B", 1)}, lambda o: True)


def test_syscall_entry_is_a_point_and_the_kernel_is_restored() -> None:
    """Two syscalls of one program are separated by a point; afterwards kernel.sched is None again."""
    box: dict[str, Any] = {}

    def setup() -> SimpleNamespace:
        box["s"] = s = machine()
        return s
    progs = {"A": lambda s: (s.a.sys.getpid(), s.a.sys.getuid()), "B": lambda s: s.b.sys.getpid()}
    r = explore(setup, progs, lambda o: True, bound=1)
    labels = {st.until for sched in r.examples.values() for st in sched}
    assert {"sys_getpid", "sys_getuid"} <= labels
    k = box["s"].k
    assert k.sched is None and all(not isinstance(w, Scheduler) for w in k.syscall_work)


def test_exploration_text_and_html() -> None:
    """The report names the verdict, the outcomes with counts and the witness as numbered steps."""
    r = explore(machine, {"A": abba("m1", "m2", "A"), "B": abba("m2", "m1", "B")}, lambda o: o.deadlock,
                bound=2, description="deadlock")
    text = str(r)
    assert text.startswith("Sometimes: deadlock") and "witness:" in text and "  1. " in text
    html = r._repr_html_()
    assert "<b>Sometimes</b>" in html and "<ol>" in html


def test_schedule_and_outcome_rendering() -> None:
    """A schedule prints one numbered line per run of a task, wrapped before 110 columns with " ->"; its repr
    names the tasks in order; an outcome names each program's result and refuses an unknown program."""
    long = Schedule([Step("A", f"lock &lock_number_{i}->with_a_long_class_name (read)") for i in range(4)]
                    + [Step("B", "end")])
    lines = str(long).splitlines()
    assert lines[0].startswith("  1. A: lock &lock_number_0") and lines[0].endswith(" ->")
    assert all(len(line) <= 110 for line in lines) and lines[-1] == "  2. B: end"
    assert repr(long) == "Schedule(5 steps, tasks AAAAB)"
    o = Outcome((("A", 1), ("B", "!EINTR")), deadlock=True, observed=("recursive",))
    assert str(o) == "A=1, B='!EINTR', observed=('recursive',), DEADLOCK"
    with pytest.raises(KeyError):
        o["C"]


def test_setup_state_forms() -> None:
    """setup() may return the Kernel itself, a dict with "k", or a tuple starting with the Kernel."""
    def prog(s: Any) -> int:
        return 1
    for setup in (simkernel.Kernel, lambda: {"k": simkernel.Kernel()}, lambda: (simkernel.Kernel(), 1)):
        assert explore(setup, [prog, prog], lambda o: o["A"] == o["B"] == 1).verdict == ALWAYS
    with pytest.raises(TypeError):
        explore(lambda: 42, [prog], lambda o: True)


def test_module_docstring_example() -> None:
    """The package docstring's example runs as written."""
    import doctest

    import simkernel.kernel.sched as mod
    assert doctest.testmod(mod).failed == 0
