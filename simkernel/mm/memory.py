"""might_fault(): the debugging hook at every copy to or from user memory.

A copy to user memory may fault, and the fault handler takes the faulting task's mmap lock for read.  With
lock proving on, the kernel tells lockdep so at every copy -- whether or not the page is present -- by
might_lock_read(&current->mm->mmap_lock), so that "copying to user space while holding the mmap lock" is
caught without an actual fault (the reason map_files' readdir emits its entries after dropping the lock).
It is also a place where the task may sleep: the interleaving explorer (kernel/sched) may switch tasks here.

Without CONFIG_PROVE_LOCKING and CONFIG_DEBUG_ATOMIC_SLEEP the kernel compiles might_fault() to nothing; here,
with no validator and no scheduler, it costs two attribute tests.

Linux: mm/memory.c:__might_fault(), include/linux/kernel.h (might_fault)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.kernel.locking.mutex import LOCK_SHARED

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["might_fault", "__might_fault"]


def might_fault(current: Task | None) -> None:
    """might_fault(): nothing unless lock proving (k.lockdep) or the scheduler (k.sched) is on.

    Linux: include/linux/kernel.h:might_fault()
    """
    if current is None:     # unit tests drive seq_file and readdir without a task
        return
    k = current.kernel
    if k.lockdep is not None or k.sched is not None:
        __might_fault(current)


def __might_fault(current: Task) -> None:
    """__might_fault(): a preemption point (might_sleep), then might_lock_read() of the *caller's* mm lock,
    if it has an mm (a kernel thread has none).  Simplification: pagefault_disabled() sections are not modelled.

    Linux: mm/memory.c:__might_fault()
    """
    k = current.kernel
    if k.sched is not None:
        k.sched.point(current, "might_fault")
    mm = current.mm
    if mm is not None and k.lockdep is not None:
        k.lockdep.might_lock(current, mm.mmap_lock, LOCK_SHARED)
