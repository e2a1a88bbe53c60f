"""The lock validator's splats: the text of each report, as kernel/locking/lockdep.c prints it.

Carved from lockdep.py (the checks and the graph stay there): each function here builds the lines of one kind
of report from what the check found; `Lockdep._report()` keeps the result as a `LockdepReport`.  The text
follows the kernel's layout without addresses and usage bits: a lock prints as "(class){read|write}, at:
function() [module]", a stack as the kernel-named callers, innermost first.  Additions of the model: the
circular report names the new dependency with both places, and a read-after-read recursion says why
rw_semaphore readers do not nest.

Linux: kernel/locking/lockdep.c (print_circular_bug, print_circular_lock_scenario, print_deadlock_bug,
print_deadlock_scenario, print_unlock_imbalance_bug, lockdep_print_held_locks, lockdep_sys_exit)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from attrs import define

if TYPE_CHECKING:
    from simkernel.kernel.locking.lockdep import Dependency, HeldLock, LockSite
    from simkernel.kernel.task import Task

__all__ = ["LockdepReport", "CIRCULAR", "RECURSIVE", "UNLOCK_IMBALANCE", "HELD_AT_EXIT", "task_name",
           "lockdep_print_held_locks", "print_circular_bug", "print_deadlock_bug", "print_unlock_imbalance_bug",
           "print_held_at_exit"]

CIRCULAR = "circular"
RECURSIVE = "recursive"
UNLOCK_IMBALANCE = "unlock_imbalance"
HELD_AT_EXIT = "held_at_exit"


@define(eq=False)
class LockdepReport:
    """One lockdep splat.  `kind`: CIRCULAR, RECURSIVE, UNLOCK_IMBALANCE or HELD_AT_EXIT; `task`: "comm/pid";
    `chains`: for CIRCULAR (the existing chain new -> ... -> held, [the new dependency held -> new]); for
    RECURSIVE ([the held entry's site], [the new acquisition's site]) as one-site tuples; `text`: the splat."""

    kind: str
    task: str
    classes: tuple[str, ...]
    chains: tuple[tuple[Any, ...], ...]
    text: str

    def __str__(self) -> str:
        return self.text


def task_name(task: Task) -> str:
    """"comm/pid", as lockdep names a task."""
    return f"{task.comm}/{task.pid}"


def _banner(title: str) -> list[str]:
    rule = "=" * (len(title) + 9)
    return ["", rule, f"WARNING: {title}", "-" * len(rule)]


def lockdep_print_held_locks(who: str, stack: Sequence[HeldLock]) -> list[str]:
    """"N locks held by comm/pid:" and one line per held lock, oldest first ("no locks held by ..." if none).

    Linux: kernel/locking/lockdep.c:lockdep_print_held_locks()
    """
    n = len(stack)
    if not n:
        return ["", f"no locks held by {who}."]
    lines = ["", f"{n} lock{'s' if n > 1 else ''} held by {who}:"]
    lines += [f" #{i}: {h.describe()}" for i, h in enumerate(stack)]
    return lines


def print_circular_bug(who: str, stack: Sequence[HeldLock], prev: HeldLock, nxt: HeldLock,
                       back: Sequence[Dependency]) -> list[str]:
    """"possible circular locking dependency detected": the existing chain next -> ... -> prev (`back`),
    printed in reverse order, then the unsafe scenario (print_circular_lock_scenario(): with more than two
    classes, "Chain exists of: next --> parent --> prev" first, parent being the class just before prev).

    Linux: kernel/locking/lockdep.c:print_circular_bug()
    """
    lines = _banner("possible circular locking dependency detected")
    lines += [f"{who} is trying to acquire lock:", f" {nxt.describe()}", "",
              "but task is already holding lock:", f" {prev.describe()}", "",
              "which lock already depends on the new lock.", "",
              f"the new dependency: {prev.cls} (taken at {prev.site}) -> {nxt.cls} (taken at {nxt.site})", "",
              "the existing dependency chain (in reverse order) is:"]
    n = len(back)
    for i, d in enumerate(reversed(back)):
        lines += ["", f"-> #{n - i} ({d.next}):",
                  f"       taken while holding {d.prev} (taken at {d.prev_site}):", d.next_site.backtrace()]
    lines += ["", f"-> #0 ({nxt.cls}):", nxt.site.backtrace(), "", "other info that might help us debug this:", ""]
    source, target = nxt.cls, prev.cls
    parent = back[-1].prev if back else source
    if parent != source:
        lines += ["Chain exists of:", f"  {source} --> {parent} --> {target}", ""]
    lines += [" Possible unsafe locking scenario:", "",
              "       CPU0                    CPU1", "       ----                    ----",
              f"  lock({target});", f"                               lock({parent});",
              f"                               lock({target});", f"  lock({source});", "", " *** DEADLOCK ***"]
    lines += lockdep_print_held_locks(who, stack)
    lines += ["", "stack backtrace:", nxt.site.backtrace(" ")]
    return lines


def print_deadlock_bug(who: str, stack: Sequence[HeldLock], held: HeldLock, new: HeldLock) -> list[str]:
    """"possible recursive locking detected": the class of `new` is already held (`held`).

    Linux: kernel/locking/lockdep.c:print_deadlock_bug(), print_deadlock_scenario()
    """
    lines = _banner("possible recursive locking detected")
    lines += [f"{who} is trying to acquire lock:", f" {new.describe()}", "",
              "but task is already holding lock:", f" {held.describe()}", "",
              "other info that might help us debug this:", " Possible unsafe locking scenario:", "",
              "       CPU0", "       ----", f"  lock({held.cls});", f"  lock({new.cls});", "",
              " *** DEADLOCK ***", "", " May be due to missing lock nesting notation"]
    if held.mode == new.mode == "read":
        lines += ["", " (read after read: rw_semaphore readers do not nest -- a writer queued between the",
                  "  two down_read()s blocks the second, and the first is never released)"]
    lines += lockdep_print_held_locks(who, stack)
    lines += ["", "the held lock was taken at:", held.site.backtrace(),
              "", "stack backtrace:", new.site.backtrace(" ")]
    return lines


def print_unlock_imbalance_bug(who: str, stack: Sequence[HeldLock], name: str, site: LockSite) -> list[str]:
    """"bad unlock balance detected!": `who` releases a lock of class `name` it does not hold.

    Linux: kernel/locking/lockdep.c:print_unlock_imbalance_bug()
    """
    lines = _banner("bad unlock balance detected!")
    lines += [f"{who} is trying to release lock ({name}) at:", site.backtrace(),
              "but there are no more locks to release!", "", "other info that might help us debug this:"]
    return lines + lockdep_print_held_locks(who, stack)


def print_held_at_exit(who: str, stack: Sequence[HeldLock], syscall: str) -> list[str]:
    """"lock held when returning to user space!" with the locks still held.

    Linux: kernel/locking/lockdep.c:lockdep_sys_exit()
    """
    lines = _banner("lock held when returning to user space!")
    lines += [f"{who} is leaving the kernel with locks still held! (returning from {syscall}())"]
    return lines + lockdep_print_held_locks(who, stack)
