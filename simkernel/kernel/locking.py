"""Sleeping locks as objects with owners: mutex and rw_semaphore.

The simulation runs one syscall at a time, so a lock never blocks; it records who holds it so that the
lock validator and the race explorer (later work) can reason about orderings. `*_killable` variants fail
with EINTR when the caller has a fatal signal pending, as the kernel's do.

Linux: kernel/locking/mutex.c, kernel/locking/rwsem.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["Mutex", "RwSemaphore"]


def _fatal_signal_pending(task: Task | None) -> bool:
    return bool(task is not None and task.fatal_signal_pending)


@define(eq=False)
class Mutex:
    """struct mutex (include/linux/mutex.h)."""

    name: str
    owner: Any = field(default=None, repr=False)

    def lock(self, current: Task | None = None) -> None:
        self.owner = current

    def lock_killable(self, current: Task | None) -> None:
        """mutex_lock_killable(): -EINTR if a fatal signal is pending. Linux: kernel/locking/mutex.c"""
        if _fatal_signal_pending(current):
            raise KernelError(E.EINTR, f"fatal signal pending while taking {self.name}")
        self.lock(current)

    def unlock(self) -> None:
        self.owner = None


@define(eq=False)
class RwSemaphore:
    """struct rw_semaphore (include/linux/rwsem.h): readers counted, one writer."""

    name: str
    readers: int = 0
    writer: Any = field(default=None, repr=False)

    def down_read(self, current: Task | None = None) -> None:
        self.readers += 1

    def down_read_killable(self, current: Task | None) -> None:
        """down_read_killable(): -EINTR if a fatal signal is pending. Linux: kernel/locking/rwsem.c"""
        if _fatal_signal_pending(current):
            raise KernelError(E.EINTR, f"fatal signal pending while taking {self.name} for read")
        self.down_read(current)

    def up_read(self) -> None:
        assert self.readers > 0, f"up_read of {self.name} without down_read"
        self.readers -= 1

    def down_write(self, current: Task | None = None) -> None:
        self.writer = current

    def down_write_killable(self, current: Task | None) -> None:
        if _fatal_signal_pending(current):
            raise KernelError(E.EINTR, f"fatal signal pending while taking {self.name} for write")
        self.down_write(current)

    def up_write(self) -> None:
        self.writer = None
