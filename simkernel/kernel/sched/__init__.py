"""Interleavings: a deterministic scheduler and an exhaustive explorer with herd7-style verdicts.

Two or three simulated tasks run their programs (syscalls through `task.sys`) interleaved at preemption
points: every lock acquisition (a task waits while the lock is taken) and release, might_fault(), every
syscall entry, and the explicit points of the map_files paths (between the access check and ->get_link of
a /proc link, between the walk and ->readlink, in exec between the new mm and the new credentials).
`explore()` re-builds the machine for each schedule, runs every schedule up to a preemption bound, and says
whether a condition on the outcome holds Always, Sometimes or Never, with a witness schedule;
`replay()` runs one schedule again.  Packaged scenarios: simkernel/races/.

Example -- does a readlink racing a munmap ever fail?

    >>> import simkernel
    >>> from simkernel.kernel.sched import explore, replay
    >>> from simkernel.uapi import O_CREAT, O_RDWR, PROT_READ, MAP_PRIVATE
    >>> def setup():
    ...     k = simkernel.Kernel()
    ...     b = k.spawn("b")
    ...     fd = b.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644); b.sys.ftruncate(fd, 4096)
    ...     addr = b.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0)
    ...     return {"k": k, "a": k.spawn("a"), "b": b, "addr": addr}
    >>> def reader(s):
    ...     return s["a"].sys.readlink(f"/proc/{s['b'].pid}/map_files/{s['addr']:x}-{s['addr'] + 4096:x}")
    >>> r = explore(setup, {"A": reader, "B": lambda s: s["b"].sys.munmap(s["addr"], 4096)},
    ...             lambda o: o["A"] == "!ENOENT", description="readlink fails with ENOENT")
    >>> r.verdict
    'Sometimes'
    >>> replay(setup, {"A": reader, "B": lambda s: s["b"].sys.munmap(s["addr"], 4096)}, r.witness)["A"]
    '!ENOENT'

`print(r)` (or `r` in a notebook) shows the outcomes with their counts and the witness as numbered steps.

The kernel calls `kernel.sched.point(current, label)` and `kernel.sched.lock_wait(current, lock, mode)`
only when a scheduler is installed (`kernel.sched is not None`): one attribute test otherwise.

Linux: kernel/sched/core.c (where a preemptible kernel switches tasks); herd7 (the verdict vocabulary)
"""

from simkernel.kernel.sched.core import DEADLOCK, Scheduler, SimThread, run_program
from simkernel.kernel.sched.explore import (ALWAYS, NEVER, SOMETIMES, Exploration, Outcome, ReplayDiverged,
                                            Schedule, Step, explore, replay)

__all__ = ["explore", "replay", "Exploration", "Outcome", "Schedule", "Step", "ReplayDiverged", "Scheduler",
           "SimThread", "run_program", "DEADLOCK", "ALWAYS", "SOMETIMES", "NEVER"]
