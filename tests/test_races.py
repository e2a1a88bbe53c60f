"""simkernel.races: each packaged race's verdict per release profile, its witness replayed, and the lock
validator quiet in every schedule."""

from __future__ import annotations

from functools import cache

import attrs
import pytest

from simkernel.kernel.sched import NEVER, SOMETIMES, Exploration
from simkernel.races import RACES, READDIR_VS_THREAD_MMAP, SUIDPROG, Race, thread_mmap_setup

VERSIONS = ("6.18.44", "6.18", "4.4", "3.4")

# The verdict table this project expects (also computed by Race.expected() from the profile switches).
TABLE = {
    "readdir-vs-munmap":     (SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES),
    "readdir-vs-mmap":       (SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES),
    "readlink-vs-suid-exec": (NEVER, SOMETIMES, SOMETIMES, SOMETIMES),
    "lookup-vs-exit":        (SOMETIMES, NEVER, NEVER, NEVER),
    "lookup-vs-exit-reap":   (SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES),
    "revalidate-vs-remap":   (NEVER, NEVER, NEVER, SOMETIMES),
    "readdir-one-pass-vs-mmap": (SOMETIMES, SOMETIMES, SOMETIMES, SOMETIMES),
}
# What the lock validator reports in some schedule of a race (nothing for the others).
LOCKDEP = {"readdir-one-pass-vs-mmap": {"recursive"}}


@cache
def _explored(name: str, version: str) -> Exploration:
    """RACES[name].explore(version), once per test session: an exploration is deterministic (the tests below
    read the same (race, release) several times; re-running it would only repeat the same schedules)."""
    return RACES[name].explore(version)


def test_table_covers_every_race() -> None:
    """Every registered race has a row, and each row agrees with the race's own expectation."""
    assert set(TABLE) == set(RACES)
    for name, row in TABLE.items():
        assert row == tuple(RACES[name].expected(v) for v in VERSIONS), name


CASES = [(n, v) for n in sorted(TABLE) for v in VERSIONS
         if (n, v) != ("revalidate-vs-remap", "4.4")]     # its 200 schedules add nothing 6.18 does not show


@pytest.mark.parametrize("name,version", CASES)
def test_race_verdict_and_witness(name: str, version: str) -> None:
    """The explored verdict is the expected one; the witness (or counterexample) replays to its outcome."""
    race = RACES[name]
    r = _explored(name, version)
    assert r.complete
    assert r.verdict == TABLE[name][VERSIONS.index(version)], str(r)
    assert {kind for o in r.outcomes for kind in o.observed} == LOCKDEP.get(name, set()), "lock validator"
    schedule = r.witness if r.verdict != NEVER else r.counterexample
    assert schedule is not None
    outcome = race.replay(version, schedule)
    assert outcome in r.outcomes and race.condition(outcome) == (r.verdict != NEVER)
    assert r.examples[outcome] == schedule


def test_suid_exec_outcomes_per_release() -> None:
    """6.18 can read the decoy, the set-uid program or be refused; 6.18.44 only the decoy or EACCES."""
    race = RACES["readlink-vs-suid-exec"]
    old = {o["A"] for o in _explored(race.name, "6.18").outcomes}
    new = {o["A"] for o in _explored(race.name, "6.18.44").outcomes}
    assert {"/srv/decoy", SUIDPROG, "!EACCES"} <= old
    assert new == {"/srv/decoy", "!EACCES"}


def test_suid_exec_witness_is_exec_inside_readlink() -> None:
    """The 6.18 witness: A is checked and stops before map_files_get_link() takes B's mm, B execs to its
    end, A reads the new mm."""
    w = _explored("readlink-vs-suid-exec", "6.18").witness
    assert w is not None
    runs = w.runs()
    assert [t for t, _ in runs] == ["A", "B", "A"]
    assert "unlock &mm->mmap_lock" in runs[0][1]                        # the lookup is done
    assert "map_files_get_link()" == runs[0][1][-1] or "map_files_get_link()" in runs[2][1]
    assert runs[1][1][0] == "sys_execve" and runs[1][1][-1] == "end"


def test_lookup_vs_exit_outcomes() -> None:
    """A zombie: 6.18.44 says ESRCH, 6.18 ENOENT.  Reaped: ENOENT before the walk, ESRCH in the middle of it
    (proc_pid_permission), on both."""
    assert {o["A"] for o in _explored("lookup-vs-exit", "6.18.44").outcomes} == {"0o120400", "!ESRCH"}
    assert {o["A"] for o in _explored("lookup-vs-exit", "6.18").outcomes} == {"0o120400", "!ENOENT"}
    for version in ("6.18.44", "6.18"):
        assert {o["A"] for o in _explored("lookup-vs-exit-reap", version).outcomes} == \
            {"0o120400", "!ESRCH", "!ENOENT"}


def test_module_docstring_example() -> None:
    """The module docstring's example runs as written."""
    import doctest

    import simkernel.races as mod
    assert doctest.testmod(mod).failed == 0


def test_one_pass_readdir_deadlocks_with_a_thread_mmap() -> None:
    """The one-pass readdir's deadlock: A holds its mmap lock for read, T's mmap() waits for write, A's fault
    asks for read again and queues behind T; every deadlock is seen by lockdep as a recursive read."""
    r = _explored("readdir-one-pass-vs-mmap", "6.18.44")
    stuck = [o for o in r.outcomes if o.deadlock]
    assert stuck and all(o["A"] == o["T"] == "!DEADLOCK" and "recursive" in o.observed for o in stuck)
    runs = r.witness.runs() if r.witness is not None else []
    assert runs[-1][0] == "A" and runs[-1][1][-2:] == ["might_fault", "lock &mm->mmap_lock (read)"]
    assert ("T", ["sys_mmap", "lock &mm->mmap_lock (write)"]) in runs


def test_two_pass_readdir_never_deadlocks_with_a_thread_mmap() -> None:
    """The same setup with the stock readdir (entries copied after the mmap lock is dropped): no deadlock and
    no lockdep report in any schedule of up to two preemptions (one suffices for the one-pass deadlock)."""
    two_pass = Race("readdir-two-pass-vs-mmap", "", thread_mmap_setup(one_pass=False), READDIR_VS_THREAD_MMAP,
                    lambda o: o.deadlock, "A and T deadlock", lambda v: NEVER, bound=2)
    for version in ("6.18.44", "3.4"):
        r = two_pass.explore(version)
        assert r.complete and r.verdict == NEVER and r.schedules > 100, str(r)
        assert {o["A"] for o in r.outcomes} == {("7e0000000000-7e0000001000", "7e0000004000-7e0000005000")}
        assert all(o.observed == () for o in r.outcomes)


def test_verdict_table_text_html_and_mismatches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table prints a row per race and a column per release; a verdict against the expectation is a
    mismatch (here an expectation turned upside down)."""
    from simkernel.races import VerdictTable
    names, versions = ("readlink-vs-suid-exec", "lookup-vs-exit"), ("6.18", "6.18.44")
    table = VerdictTable(names, versions, {(n, v): _explored(n, v) for n in names for v in versions})
    assert str(table).splitlines()[1].split() == ["readlink-vs-suid-exec", SOMETIMES, NEVER]
    assert "<td title='" in table._repr_html_() and table.mismatches() == []
    race = RACES["lookup-vs-exit"]
    monkeypatch.setitem(RACES, race.name, attrs.evolve(race, expect=lambda prof: NEVER))
    assert table.mismatches() == [("lookup-vs-exit", "6.18.44", SOMETIMES, NEVER)]
