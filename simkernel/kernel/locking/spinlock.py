"""spinlock_t with an owner, and task_lock()/task_unlock() (task->alloc_lock).

A spinlock never sleeps and is never killable.  With no scheduler and no validator (the normal case) taking
one costs two attribute tests; under the interleaving explorer (kernel/sched) an acquisition is a preemption
point, and with the lock validator on (`Kernel(lockdep=True)`) it is reported like every other lock.

Linux: kernel/locking/spinlock.c, include/linux/spinlock.h, include/linux/sched/task.h (task_lock)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.kernel.locking.mutex import LOCK_EXCLUSIVE, lock_acquire, lock_release

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["SpinLock", "task_lock", "task_unlock"]


@define(eq=False)
class SpinLock:
    """spinlock_t (include/linux/spinlock_types.h); `name` is its lockdep class ("&p->alloc_lock")."""

    name: str
    owner: Any = field(default=None, repr=False)

    def available(self, mode: str = LOCK_EXCLUSIVE) -> bool:
        return self.owner is None

    def spin_lock(self, current: Task | None = None) -> None:
        """spin_lock(). Linux: include/linux/spinlock.h, kernel/locking/spinlock.c:_raw_spin_lock()"""
        if current is not None:
            k = current.kernel
            if k.lockdep is not None or k.sched is not None:
                lock_acquire(current, self, LOCK_EXCLUSIVE)
            self.owner = current
        else:
            self.owner = True

    def spin_unlock(self, current: Task | None = None) -> None:
        """spin_unlock(). Linux: include/linux/spinlock.h, kernel/locking/spinlock.c:_raw_spin_unlock()"""
        self.owner = None
        if current is not None:
            k = current.kernel
            if k.lockdep is not None or k.sched is not None:
                lock_release(current, self)


def task_lock(current: Task | None, p: Task) -> None:
    """task_lock(): spin_lock(&p->alloc_lock) -- protects p->mm, p->fs, p->files, p->comm, ...

    Its callers on the readlink path (get_task_mm(), ptrace_may_access()) take it only when the validator
    or the scheduler can observe it.

    Linux: include/linux/sched/task.h:task_lock()
    """
    p.alloc_lock.spin_lock(current)


def task_unlock(current: Task | None, p: Task) -> None:
    """task_unlock(). Linux: include/linux/sched/task.h:task_unlock()"""
    p.alloc_lock.spin_unlock(current)
