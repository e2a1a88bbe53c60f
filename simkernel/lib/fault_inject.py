"""Fault injection, the fail-nth way: a per-task countdown over the kernel's fallible points.

A task's `fail_nth` counts down at every fault point it passes (`should_fail(current, kind)`); the call that
brings it to 0 fails, and that point takes the kernel's failure path (an allocation returns NULL, a killable
lock is interrupted, get_task_mm() finds no mm, a dentry cannot be allocated).  0 means disarmed: a fault
point then costs one attribute test, `current.fail_nth`, written at each site as
`if current.fail_nth and should_fail(current, "alloc"):`.

Two ways to arm it:

* `k.fail_nth(task, n)`: the n-th fault point of the task's *next syscall* fails; the countdown is disarmed when
  that syscall returns, and `k.fail_nth_result(task)` tells what happened (`FailNthResult`).
* `set_fail_nth(task, n)`, what a write of "n" to /proc/<pid>/fail-nth does (fs/proc/fail_nth.py): the
  countdown stays armed across syscalls until it fires or is set to 0, as in Linux.

Fault kinds and what the site does when it fires:

  "alloc"   kmalloc/kmem_cache_alloc/__get_free_page returned NULL: ENOMEM at the site (procfs inode
            allocation: the instantiate callers answer ENOENT, as in fs/proc/base.c)
  "lock"    a *_killable lock saw a fatal signal: EINTR
  "mm"      get_task_mm() returned NULL, as if the task were exiting: the caller's no-mm path
  "dentry"  d_alloc()/d_alloc_parallel() returned NULL: ENOMEM (proc_fill_cache() emits the name with ino 1)

Every fired fault is logged on the kernel (`k.fault_inject.log`, `FaultRecord`: kind, site = the kernel
function that asked, its kernel callers, the syscall, the task).  Sites that do not receive `current` in this
model (new_inode's caller, d_alloc, get_task_mm) read `k.fault_current`: the task whose syscall is running
while some countdown is armed, None otherwise.  Simplification: under the interleaving scheduler a task
resumed in the middle of a syscall is not `k.fault_current`, so those sites do not count for it (they are
skipped, never charged to another task).  The kernel counts every slab and page allocation; the model
counts the allocations listed in the module docstrings of the sites, one fault point each.

Linux: lib/fault-inject.c:should_fail_ex() (the current->fail_nth part), fs/proc/base.c:proc_fail_nth_write(),
proc_fail_nth_read(), Documentation/fault-injection/fault-injection.rst ("Fault injection via fail-nth")
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from attrs import define, field, frozen

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["FaultRecord", "FailNthResult", "FailNth", "KINDS", "should_fail", "set_fail_nth", "fail_nth_arm",
           "fail_nth_result", "fail_nth_state"]

KINDS = ("alloc", "lock", "mm", "dentry")
_SKIP_MODULES = ("simkernel.lib.fault_inject", "simkernel.kernel.locking")


@frozen
class FaultRecord:
    """One injected fault: which kind, at which kernel function (`site`), reached through `stack` (the kernel
    callers, innermost first, up to the syscall), during `syscall` of task `tid`."""

    kind: str
    site: str
    stack: tuple[str, ...]
    syscall: str
    tid: int
    emitted: int = -1   # in getdents64: the records already in the user buffer when it fired (-1: elsewhere)

    def __str__(self) -> str:
        stack = self.stack[1:] if self.stack and self.stack[0] == self.site else self.stack
        via = " <- ".join(stack[:4])
        return f"{self.kind}@{self.site}" + (f" (<- {via})" if via else "") + (f" in {self.syscall}" if self.syscall else "")


@frozen
class FailNthResult:
    """The outcome of a syscall armed by `Kernel.fail_nth()`: its name, errno (0: success), the fault injected
    (None if the countdown did not reach 0) and what was left of the countdown when it returned."""

    syscall: str
    errno: int
    injected: FaultRecord | None
    remaining: int


@define(eq=False)
class FailNth:
    """The fail-nth bookkeeping of one kernel; a `k.syscall_work` item while any task is armed.

    `pending`: tasks armed by `Kernel.fail_nth()` for their next syscall (the count to set at entry);
    `oneshot`: those inside that syscall; `armed`: tasks with a standing countdown (procfs, the sweep);
    `syscall`: the syscall each task is in; `log`: every fault injected; `results`: per task, the last
    `FailNthResult`.
    """

    kernel: Kernel = field(repr=False)
    pending: dict[Any, int] = field(factory=dict, repr=False)
    oneshot: dict[Any, str] = field(factory=dict, repr=False)
    armed: list[Any] = field(factory=list, repr=False)
    syscall: dict[Any, str] = field(factory=dict, repr=False)
    log: list[FaultRecord] = field(factory=list)
    results: dict[Any, FailNthResult] = field(factory=dict, repr=False)
    last: dict[Any, FaultRecord] = field(factory=dict, repr=False)

    # -- syscall work (simkernel/syscalls.py runs these around every syscall while installed) -------------
    def syscall_enter(self, current: Task, name: str) -> None:
        n = self.pending.pop(current, None)
        if n is not None:
            current.fail_nth = n
            self.oneshot[current] = name
            self.last.pop(current, None)
        self.syscall[current] = name
        self.kernel.fault_current = current if current.fail_nth else None

    def syscall_exit(self, current: Task, name: str, errno: int) -> None:
        k = self.kernel
        k.fault_current = None
        self.syscall.pop(current, None)
        if self.oneshot.pop(current, None) is not None:
            self.results[current] = FailNthResult(name, errno, self.last.pop(current, None), current.fail_nth)
            current.fail_nth = 0
        if self.armed:
            self.armed = [t for t in self.armed if t.fail_nth]
        if not (self.pending or self.oneshot or self.armed):
            self._uninstall()

    def _install(self) -> None:
        k = self.kernel
        if not any(w is self for w in k.syscall_work):
            k.syscall_work.append(self)

    def _uninstall(self) -> None:
        # A new list: the syscall boundary may be iterating over the old one right now.
        k = self.kernel
        k.syscall_work = [w for w in k.syscall_work if w is not self]


def fail_nth_state(k: Kernel) -> FailNth:
    """The kernel's `FailNth` (created on first use)."""
    st = k.fault_inject
    if st is None:
        st = k.fault_inject = FailNth(k)
    return st


def should_fail(current: Task | None, kind: str, site: str | None = None) -> bool:
    """should_fail_ex(), fail-nth part: count this fault point down; True for the one that reaches 0.

    Call it behind the one-attribute test: `if current.fail_nth and should_fail(current, "alloc"):`.
    `site` names the allocator when the model folds it into its caller (default: the calling function).

    Linux: lib/fault-inject.c:should_fail_ex()
    """
    if current is None:
        return False
    n = current.fail_nth
    if not n:
        return False
    n -= 1
    current.fail_nth = n
    if n:
        return False
    _record(current, kind, site, sys._getframe(1))
    return True


def _record(current: Task, kind: str, site: str | None, frame: Any) -> None:
    assert kind in KINDS, f"unknown fault kind {kind!r}"
    names: list[str] = []
    emitted = -1
    f = frame
    while f is not None:
        mod = f.f_globals.get("__name__", "")
        if mod == "simkernel.syscalls" or not mod.startswith("simkernel."):
            break
        name = f.f_code.co_name
        if not mod.startswith(_SKIP_MODULES) and not name.startswith("<"):
            names.append(name)
        if name == "sys_getdents64":
            emitted = len(getattr(f.f_locals.get("ctx"), "entries", None) or ())
        f = f.f_back
    if site is None:
        site = frame.f_code.co_name
    st = fail_nth_state(current.kernel)
    rec = FaultRecord(kind, site, tuple(names), st.syscall.get(current, ""), current.pid, emitted)
    st.log.append(rec)
    st.last[current] = rec


def set_fail_nth(task: Task, n: int) -> None:
    """Arm (n > 0) or disarm (0) the task's standing countdown: proc_fail_nth_write()'s `task->fail_nth = n`.

    Linux: fs/proc/base.c:proc_fail_nth_write()
    """
    if n < 0:
        raise ValueError("fail-nth is an unsigned count")
    task.fail_nth = n
    st = fail_nth_state(task.kernel)
    if n:
        if not any(t is task for t in st.armed):
            st.armed.append(task)
        st._install()
        if st.syscall.get(task) is not None:      # armed from inside a syscall (a write to fail-nth)
            task.kernel.fault_current = task
    else:
        st.armed = [t for t in st.armed if t is not task]
        if not (st.pending or st.oneshot or st.armed) and not st.syscall:
            st._uninstall()


def fail_nth_arm(k: Kernel, task: Task, n: int) -> None:
    """`Kernel.fail_nth()`: the n-th fault point of `task`'s next syscall fails; n = 0 cancels."""
    if n < 0:
        raise ValueError("fail-nth is an unsigned count")
    st = fail_nth_state(k)
    st.results.pop(task, None)
    if n:
        st.pending[task] = n
        st._install()
    else:
        st.pending.pop(task, None)


def fail_nth_result(k: Kernel, task: Task) -> FailNthResult | None:
    """`Kernel.fail_nth_result()`: the outcome of the task's last syscall armed by `Kernel.fail_nth()`."""
    st = k.fault_inject
    return None if st is None else st.results.get(task)
