"""Locks as objects with owners: mutex (kernel/locking/mutex.py), rw_semaphore (rwsem.py), spinlock_t
(spinlock.py, with task_lock()); the lock validator is lockdep.py.

A lock records who holds it.  With no scheduler (`kernel.sched is None`, the normal case) one syscall runs
at a time and a lock is always free when asked for; under the interleaving explorer (kernel/sched) an
acquisition is a preemption point and a task waits while the lock is taken.  With the lock validator on
(`Kernel(lockdep=True)`, kernel/locking/lockdep.py) every acquisition and release is reported to it.
`*_killable` variants fail with EINTR when the caller has a fatal signal pending (or fail-nth injects it);
the kernel fails them only when the task has to wait, so the flag stands for "a fatal signal arrived while
the task waited for the lock" (mutex.py _killable_wait()).

Every operation takes `current`, the task doing it, as the kernel's `current` is implicit.

Linux: kernel/locking/mutex.c, kernel/locking/rwsem.c, include/linux/lockdep.h
"""

from simkernel.kernel.locking.mutex import Mutex
from simkernel.kernel.locking.rwsem import RwSemaphore
from simkernel.kernel.locking.spinlock import SpinLock, task_lock, task_unlock

__all__ = ["Mutex", "RwSemaphore", "SpinLock", "task_lock", "task_unlock"]
