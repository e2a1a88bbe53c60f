"""struct rw_semaphore with owners: readers counted, one writer, and the writers waiting for it.

A queued writer blocks new readers while readers hold the lock -- why rw_semaphore readers do not nest
(lockdep treats down_read() as a non-recursive read). Since the rewrite of v5.3 the read fast path fails when
the count has RWSEM_FLAG_WAITERS, and rwsem_down_read_slowpath() queues the reader behind the waiting writer
unless it may steal the lock ("reader optimistic lock stealing", v5.11): it does not when the lock is owned by
readers and other readers already hold it (rcnt > 1, since commit 2f06f702925b "locking/rwsem: Prevent
potential lock starvation"; before it such a reader stole the lock until the waiting writer, after
RWSEM_WAIT_TIMEOUT, set RWSEM_FLAG_HANDOFF), nor ever once RWSEM_FLAG_HANDOFF is set. Earlier kernels
(rwsem-xadd) queued every reader arriving while a writer waited. `available()` models that under the
interleaving scheduler, the only place a task ever waits: `write_waiters` counts the tasks paused in
lock_wait() for write (kernel/sched/core.py), and a reader may take the lock while a writer waits only if no
reader holds it (the steal of a free lock; older kernels queue that reader behind the writer, which only
orders the two). Simplification: no handoff (it needs the writer to have waited RWSEM_WAIT_TIMEOUT, and there
is no clock).

Linux: kernel/locking/rwsem.c (rwsem_down_read_slowpath, rwsem_mark_wake), include/linux/rwsem.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.kernel.locking.mutex import LOCK_EXCLUSIVE, LOCK_SHARED, _killable_wait, lock_acquire, lock_release
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["RwSemaphore"]


@define(eq=False)
class RwSemaphore:
    """struct rw_semaphore (include/linux/rwsem.h); `name` is its lockdep class ("&mm->mmap_lock").

    `write_waiters`: tasks waiting to take it for write (the scheduler's lock_wait(); always 0 without it).
    """

    name: str
    readers: int = 0
    writer: Any = field(default=None, repr=False)
    write_waiters: int = field(default=0, repr=False)

    def available(self, mode: str) -> bool:
        """Could `mode` be granted now?  Readers share; a writer excludes everyone; a reader does not join
        readers while a writer waits (see the module docstring).

        Linux: kernel/locking/rwsem.c:rwsem_down_read_slowpath()
        """
        if mode == LOCK_SHARED:
            return self.writer is None and (not self.write_waiters or self.readers == 0)
        return self.writer is None and self.readers == 0

    def down_read(self, current: Task | None = None) -> None:
        """down_read(). Linux: kernel/locking/rwsem.c:down_read()"""
        if current is not None:     # lock_acquire() only when the scheduler or the validator is on (hot path)
            k = current.kernel
            if k.sched is not None or k.lockdep is not None:
                lock_acquire(current, self, LOCK_SHARED)
        self.readers += 1

    def down_read_killable(self, current: Task | None) -> None:
        """down_read_killable(): -EINTR if a fatal signal is pending.

        As in the kernel it takes the lock itself (__down_read_killable()), without calling down_read().

        Linux: kernel/locking/rwsem.c:down_read_killable()
        """
        if current is not None and current.fatal_signal_pending:    # fatal_signal_pending(), inline
            raise KernelError(E.EINTR, f"fatal signal pending while taking {self.name} for read")
        if current is not None and current.fail_nth and should_fail(current, "lock", "down_read_killable"):
            raise KernelError(E.EINTR, f"fail-nth: as if a fatal signal arrived while taking {self.name} for read")
        if current is not None:     # rwsem_acquire_read(): lock_acquire() when the scheduler or validator is on
            k = current.kernel
            if k.sched is not None or k.lockdep is not None:
                lock_acquire(current, self, LOCK_SHARED)
        self.readers += 1

    def up_read(self, current: Task | None = None) -> None:
        """up_read(). Linux: kernel/locking/rwsem.c:up_read()"""
        assert self.readers > 0, f"up_read of {self.name} without down_read"
        self.readers -= 1
        if current is not None:     # lock_release() only when the validator or the scheduler is on
            k = current.kernel
            if k.lockdep is not None or k.sched is not None:
                lock_release(current, self)

    def down_write(self, current: Task | None = None) -> None:
        """down_write(). Linux: kernel/locking/rwsem.c:down_write()"""
        if current is not None:     # lock_acquire() only when the scheduler or the validator is on
            k = current.kernel
            if k.sched is not None or k.lockdep is not None:
                lock_acquire(current, self, LOCK_EXCLUSIVE)
        self.writer = current if current is not None else True

    def down_write_killable(self, current: Task | None) -> None:
        """down_write_killable(): -EINTR if a fatal signal is pending.

        Linux: kernel/locking/rwsem.c:down_write_killable()
        """
        if current is None:
            self.writer = True
            return
        if current.fatal_signal_pending or current.fail_nth:
            _killable_wait(current, f"{self.name} for write", "down_write_killable")
        k = current.kernel          # then as down_write(), written out: every mmap/mprotect/munmap takes it
        if k.sched is not None or k.lockdep is not None:
            lock_acquire(current, self, LOCK_EXCLUSIVE)
        self.writer = current

    def up_write(self, current: Task | None = None) -> None:
        """up_write(). Linux: kernel/locking/rwsem.c:up_write()"""
        self.writer = None
        if current is not None:     # lock_release() only when the validator or the scheduler is on
            k = current.kernel
            if k.lockdep is not None or k.sched is not None:
                lock_release(current, self)
