"""struct mutex with an owner.  Linux: kernel/locking/mutex.c, include/linux/mutex.h"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["Mutex", "LOCK_EXCLUSIVE", "LOCK_SHARED", "fatal_signal_pending"]

LOCK_EXCLUSIVE = "write"   # mutex_lock, down_write
LOCK_SHARED = "read"       # down_read


def fatal_signal_pending(task: Task | None) -> bool:
    """fatal_signal_pending(). Linux: include/linux/sched/signal.h:fatal_signal_pending()"""
    return bool(task is not None and task.fatal_signal_pending)


def _killable_wait(current: Task | None, what: str, site: str) -> None:
    """The -EINTR of a killable lock (mutex_lock_killable(), down_write_killable()...): the wait in state
    TASK_KILLABLE ends when a fatal signal is pending (signal_pending_state()); fail-nth's "lock" fault
    at `site` is such a signal.  Simplification: the kernel fails only when the task has to wait; here
    `task.fatal_signal_pending` stands for "a fatal signal arrived while waiting" and fails any killable
    acquisition.  down_read_killable() writes this out (the maps read path).

    Linux: include/linux/sched/signal.h:signal_pending_state()
    """
    if fatal_signal_pending(current):
        raise KernelError(E.EINTR, f"fatal signal pending while taking {what}")
    if current is not None and current.fail_nth and should_fail(current, "lock", site):
        raise KernelError(E.EINTR, f"fail-nth: as if a fatal signal arrived while taking {what}")


def lock_acquire(current: Task | None, lock: Any, mode: str) -> None:
    """Before taking `lock`: let the interleaving scheduler preempt (and wait while it is taken), then
    tell the validator.  Free when both are off.

    Linux: kernel/locking/lockdep.c:lock_acquire()
    """
    if current is None:
        return
    k = current.kernel
    if k.sched is not None:
        k.sched.lock_wait(current, lock, mode)
    if k.lockdep is not None:
        k.lockdep.acquire(current, lock, mode)


def lock_release(current: Task | None, lock: Any) -> None:
    """After releasing `lock`: lock_release() to the validator, then a preemption point.

    Linux: kernel/locking/lockdep.c:lock_release()
    """
    if current is None:
        return
    k = current.kernel
    if k.lockdep is not None:
        k.lockdep.release(current, lock)
    if k.sched is not None:
        k.sched.point(current, f"unlock {lock.name}")


@define(eq=False)
class Mutex:
    """struct mutex (include/linux/mutex.h); `name` is its lockdep class ("&sig->cred_guard_mutex")."""

    name: str
    owner: Any = field(default=None, repr=False)

    def available(self, mode: str = LOCK_EXCLUSIVE) -> bool:
        return self.owner is None

    def lock(self, current: Task | None = None) -> None:
        """mutex_lock(). Linux: kernel/locking/mutex.c:mutex_lock()"""
        lock_acquire(current, self, LOCK_EXCLUSIVE)
        self.owner = current if current is not None else True

    def lock_killable(self, current: Task | None) -> None:
        """mutex_lock_killable(): -EINTR if a fatal signal is pending.

        Linux: kernel/locking/mutex.c:mutex_lock_killable()
        """
        _killable_wait(current, self.name, "mutex_lock_killable")
        self.lock(current)

    def unlock(self, current: Task | None = None) -> None:
        """mutex_unlock(). Linux: kernel/locking/mutex.c:mutex_unlock()"""
        self.owner = None
        lock_release(current, self)
