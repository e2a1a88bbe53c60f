"""Exhaustive exploration of interleavings, with herd7-style verdicts.

`explore()` runs a small scenario under every schedule (up to a bound), re-building the machine from scratch
for each, and states whether a condition on the final outcome holds Always, Sometimes or Never -- with a
witness schedule for it and a counterexample against it.  `replay()` runs one schedule again.

The search is a depth-first walk over the choices at the preemption points (stateless model checking, as
in CHESS): a schedule is the sequence of tasks resumed at each point.  It is bounded by the number of
*preemptions* -- resuming another task while the one that stopped could have gone on; switching away
from a finished or blocked task is free -- and by a number of schedules.  With `bound=None` every
interleaving at the points is explored.

Simplification: no partial-order reduction; equivalent schedules are all run.
"""

from __future__ import annotations

import html
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

from attrs import define, field, frozen

from simkernel.kernel.sched.core import Scheduler, SimThread

__all__ = ["Step", "Schedule", "Outcome", "Exploration", "explore", "replay", "ReplayDiverged",
           "ALWAYS", "SOMETIMES", "NEVER"]

ALWAYS, SOMETIMES, NEVER = "Always", "Sometimes", "Never"


class Step(NamedTuple):
    """One scheduling step: `task` was resumed and ran until the point `until` ("end": it finished)."""

    task: str
    until: str


class Schedule(tuple):   # tuple[Step, ...]
    """A schedule: the steps in order.  Printed as numbered steps, consecutive steps of a task merged."""

    def runs(self) -> list[tuple[str, list[str]]]:
        """[(task, [the points it passed, in order]), ...] with consecutive steps of one task merged."""
        out: list[tuple[str, list[str]]] = []
        for s in self:
            if out and out[-1][0] == s.task:
                out[-1][1].append(s.until)
            else:
                out.append((s.task, [s.until]))
        return out

    def simplicity(self) -> tuple[int, int, tuple[int, ...]]:
        """How simple a schedule is to read (smaller is simpler): its context switches, those made inside a
        system call (not at a "sys_*" entry), and the step numbers of the switches (earlier first)."""
        switches = [i for i in range(1, len(self)) if self[i].task != self[i - 1].task]
        inside = sum(1 for i in switches if not self[i - 1].until.startswith("sys_"))
        return len(switches), inside, tuple(switches)

    def __str__(self) -> str:
        lines = []
        for i, (task, points) in enumerate(self.runs(), 1):
            line = f"{i:3}. {task}: {points[0]}"
            for p in points[1:]:
                if len(line) + len(p) + 4 > 110:
                    lines.append(line + " ->")
                    line = " " * (7 + len(task)) + p
                else:
                    line += f" -> {p}"
            lines.append(line)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Schedule({len(self)} steps, tasks {''.join(s.task[0] for s in self)})"


@frozen
class Outcome:
    """The final outcome of one schedule: each program's result, a deadlock flag, and what `observe` saw.

    A result is the program's value (a tuple of values for a program given as a list of steps); a failed
    syscall gives its errno name ("!ESRCH"), a modelled kernel bug "!OOPS", a program stuck in a deadlock
    "!DEADLOCK".  `outcome["A"]` is program A's result.
    """

    results: tuple[tuple[str, Any], ...]
    deadlock: bool = False
    observed: Any = None

    def __getitem__(self, name: str) -> Any:
        for n, v in self.results:
            if n == name:
                return v
        raise KeyError(name)

    def __str__(self) -> str:
        parts = [f"{n}={v!r}" for n, v in self.results]
        if self.observed is not None and self.observed != ():
            parts.append(f"observed={self.observed!r}")
        if self.deadlock:
            parts.append("DEADLOCK")
        return ", ".join(parts)


class ReplayDiverged(RuntimeError):
    """replay(): the schedule asks for a task that cannot run, or a task stopped at another point."""


@define
class Exploration:
    """The result of explore(): the verdict for the condition and everything behind it.

    Attributes:
        verdict: "Always", "Sometimes" or "Never" (over the schedules explored).
        condition: the condition's description.
        schedules: how many schedules ran.  complete: False when `max_schedules` stopped the search.
        bound: the preemption bound.
        outcomes: {Outcome: number of schedules that ended in it}, in order of first appearance.
        examples: {Outcome: the simplest schedule that ended in it (Schedule.simplicity)}.
        witness: the simplest schedule satisfying the condition (None for Never): fewest context switches,
            preferring switches at system call entries, then the earliest.
        counterexample: the simplest schedule violating it (None for Always).
    """

    verdict: str
    condition: str
    schedules: int
    complete: bool
    bound: int | None
    outcomes: dict[Outcome, int] = field(factory=dict)
    examples: dict[Outcome, Schedule] = field(factory=dict, repr=False)
    holds: dict[Outcome, bool] = field(factory=dict, repr=False)
    witness: Schedule | None = field(default=None, repr=False)
    counterexample: Schedule | None = field(default=None, repr=False)

    def _bound_text(self) -> str:
        return "unbounded" if self.bound is None else f"preemption bound {self.bound}"

    def __str__(self) -> str:
        scope = "" if self.complete else " (search cut short: max_schedules)"
        lines = [f"{self.verdict}: {self.condition}", f"{self.schedules} schedules, {self._bound_text()}{scope}",
                 "", "  count  cond  outcome"]
        for o, n in self.outcomes.items():
            lines.append(f"  {n:5}  {'yes' if self.holds[o] else 'no ':4}  {o}")
        if self.witness is not None:
            lines += ["", "witness:", str(self.witness)]
        if self.counterexample is not None and self.verdict != NEVER:
            lines += ["", "counterexample:", str(self.counterexample)]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        e = html.escape
        scope = "" if self.complete else " <i>(search cut short)</i>"
        rows = "".join(f"<tr><td>{n}</td><td>{'yes' if self.holds[o] else 'no'}</td>"
                       f"<td><code>{e(str(o))}</code></td></tr>" for o, n in self.outcomes.items())
        out = (f"<p><b>{e(self.verdict)}</b>: {e(self.condition)} &mdash; {self.schedules} schedules, "
               f"{self._bound_text()}{scope}</p><table><tr><th>count</th><th>condition</th>"
               f"<th>outcome</th></tr>{rows}</table>")
        for title, s in (("witness", self.witness), ("counterexample", self.counterexample)):
            if s is not None and not (title == "counterexample" and self.verdict == NEVER):
                items = "".join(f"<li><b>{e(t)}</b>: {e(' &rarr; '.join(p))}</li>" for t, p in s.runs())
                out += f"<p>{title}:</p><ol>{items}</ol>"
        return out.replace("&amp;rarr;", "&rarr;")


# -- running schedules ------------------------------------------------------------------------------------

def _kernel_of(state: Any) -> Any:
    from simkernel.machine import Kernel
    if isinstance(state, Kernel):
        return state
    for attr in ("kernel", "k"):
        k = state.get(attr) if isinstance(state, Mapping) else getattr(state, attr, None)
        if isinstance(k, Kernel):
            return k
    if isinstance(state, tuple) and state and isinstance(state[0], Kernel):
        return state[0]
    raise TypeError("setup() must return a Kernel, or a state with a .kernel/.k attribute (or key), "
                    "or a tuple whose first element is the Kernel")


def _named(programs: Mapping[str, Any] | Sequence[Any]) -> dict[str, Any]:
    if isinstance(programs, Mapping):
        return dict(programs)
    return {"ABCDEFGH"[i]: p for i, p in enumerate(programs)}


def _run_once(setup: Callable[[], Any], programs: dict[str, Any], choose: Any,
              observe: Callable[[Any], Any] | None) -> tuple[Outcome, Schedule]:
    state = setup()
    sched = Scheduler(_kernel_of(state), programs, state)
    steps = sched.run(choose)
    observed = observe(state) if observe is not None else None
    outcome = Outcome(tuple((t.name, t.result) for t in sched.threads), sched.deadlock, observed)
    return outcome, Schedule(Step(t.name, until) for t, until in steps)


@define
class _Node:
    """One decision of the current DFS path."""

    runnable: list[int]
    prev: int | None
    prev_runnable: bool
    preemptions: int            # before this decision
    chosen: int
    tried: set[int] = field(factory=set)

    def cost(self, i: int) -> int:
        return 1 if self.prev_runnable and i != self.prev else 0


def _schedules(setup: Callable[[], Any], programs: dict[str, Any], bound: int | None,
               observe: Callable[[Any], Any] | None) -> Iterator[tuple[Outcome, Schedule]]:
    """Every schedule within the preemption bound, depth first."""
    stack: list[_Node] = []
    prefix: list[int] = []
    while True:
        def choose(step: int, runnable: Sequence[SimThread], prev: SimThread | None) -> SimThread:
            idx = [t.index for t in runnable]
            by_index = {t.index: t for t in runnable}
            if step < len(prefix):
                want = prefix[step]
                assert want in by_index, "the simulation is not deterministic: a replayed choice is not runnable"
                return by_index[want]
            p = prev.index if prev is not None else None
            p_run = p is not None and p in by_index
            chosen = p if p_run else idx[0]
            before = stack[-1].preemptions + stack[-1].cost(stack[-1].chosen) if stack else 0
            stack.append(_Node(idx, p, p_run, before, chosen, {chosen}))
            return by_index[chosen]

        yield _run_once(setup, programs, choose, observe)
        # backtrack to the deepest decision with an untried alternative within the bound
        while stack:
            node = stack[-1]
            alt = next((i for i in node.runnable if i not in node.tried
                        and (bound is None or node.preemptions + node.cost(i) <= bound)), None)
            if alt is not None:
                node.tried.add(alt)
                node.chosen = alt
                break
            stack.pop()
        if not stack:
            return
        prefix = [n.chosen for n in stack]


def explore(setup: Callable[[], Any], programs: Mapping[str, Any] | Sequence[Any],
            condition: Callable[[Outcome], bool], *, bound: int | None = 2, max_schedules: int = 5000,
            observe: Callable[[Any], Any] | None = None, description: str | None = None) -> Exploration:
    """Run every schedule of `programs` (up to `bound` preemptions) and judge `condition` on each outcome.

    Args:
        setup: builds a fresh machine and returns the state programs work on: a Kernel, or an object or
            dict with a `kernel`/`k` attribute or key, or a tuple (kernel, ...).  Called once per schedule.
        programs: {name: program} (or a list, named "A", "B", ...); a program is `f(state)` or a list of
            such steps.  Each runs as its own simulated task's code (`state.a.sys.readlink(...)`).
        condition: `f(outcome) -> bool` on an Outcome (`outcome["A"]`, `outcome.observed`).
        bound: the most preemptions per schedule (None: unbounded).
        max_schedules: stop after this many (the result says `complete=False`).
        observe: `f(state)` run after the programs (scheduler removed); its value is `outcome.observed`.
        description: the condition in words, for the report.

    Returns:
        An Exploration: verdict Always / Sometimes / Never, outcomes with counts, witness, counterexample.
    """
    progs = _named(programs)
    res = Exploration(NEVER, description or getattr(condition, "__doc__", None) or "condition",
                      0, True, bound)
    for outcome, schedule in _schedules(setup, progs, bound, observe):
        res.schedules += 1
        if outcome not in res.outcomes:
            res.outcomes[outcome] = 0
            res.examples[outcome] = schedule
            res.holds[outcome] = bool(condition(outcome))
        elif schedule.simplicity() < res.examples[outcome].simplicity():
            res.examples[outcome] = schedule
        res.outcomes[outcome] += 1
        if res.schedules >= max_schedules:
            res.complete = False
            break
    for want in (True, False):
        found = [res.examples[o] for o, ok in res.holds.items() if ok is want]
        best = min(found, key=Schedule.simplicity) if found else None
        if want:
            res.witness = best
        else:
            res.counterexample = best
    yes = any(res.holds.values())
    no = not all(res.holds.values())
    res.verdict = SOMETIMES if yes and no else ALWAYS if yes else NEVER
    return res


def replay(setup: Callable[[], Any], programs: Mapping[str, Any] | Sequence[Any], schedule: Sequence[Step],
           observe: Callable[[Any], Any] | None = None) -> Outcome:
    """Run one schedule exactly (e.g. `Exploration.witness`) on a fresh machine and return its outcome.

    Raises:
        ReplayDiverged: a step's task cannot run, or stopped at another point than recorded.
    """
    progs = _named(programs)
    steps = list(schedule)

    def choose(step: int, runnable: Sequence[SimThread], prev: SimThread | None) -> SimThread:
        if step >= len(steps):
            raise ReplayDiverged(f"the schedule has {len(steps)} steps; the run needs more")
        for t in runnable:
            if t.name == steps[step].task:
                return t
        raise ReplayDiverged(f"step {step + 1}: {steps[step].task} cannot run "
                             f"(runnable: {[t.name for t in runnable]})")

    outcome, got = _run_once(setup, progs, choose, observe)
    for i, (a, b) in enumerate(zip(got, steps)):
        if a != b:
            raise ReplayDiverged(f"step {i + 1}: recorded {b}, replayed {a}")
    if len(got) != len(steps):
        raise ReplayDiverged(f"the replay took {len(got)} steps, the schedule has {len(steps)}")
    return outcome

