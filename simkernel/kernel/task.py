"""Tasks: task_struct and the objects a thread group shares.

A process is a thread group: tasks with the same `tgid` share `signal` (and with it `cred_guard_mutex` and
`exec_update_lock`), `mm`, `files` and `fs` when created with CLONE_VM|CLONE_FILES|CLONE_FS|CLONE_THREAD.

Linux: include/linux/sched.h (task_struct), include/linux/sched/signal.h (signal_struct),
include/linux/pid.h (struct pid), include/linux/fs_struct.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.kernel.cred import Cred
from simkernel.kernel.locking import Mutex, RwSemaphore
from simkernel.kernel.locking.spinlock import SpinLock

if TYPE_CHECKING:
    from simkernel.fs.fdtable import FilesStruct
    from simkernel.fs.path import Path
    from simkernel.machine import Kernel
    from simkernel.mm.mm_types import MmStruct
    from simkernel.syscalls import Sys

__all__ = ["Task", "Pid", "PidNamespace", "SignalStruct", "FsStruct", "TASK_RUNNING", "EXIT_ZOMBIE",
           "EXIT_DEAD", "PF_KTHREAD", "PF_EXITING", "same_thread_group", "thread_group_leader", "get_task_struct",
           "put_task_struct", "get_pid", "put_pid"]

TASK_RUNNING = "running"
EXIT_ZOMBIE = "zombie"
EXIT_DEAD = "dead"

PF_EXITING = 0x00000004
PF_FORKNOEXEC = 0x00000040
PF_SUPERPRIV = 0x00000100
PF_KTHREAD = 0x00200000


@define(eq=False)
class PidNamespace:
    """struct pid_namespace (include/linux/pid_namespace.h): numbering of pids at one level."""

    level: int
    parent: PidNamespace | None = field(default=None, repr=False)
    last_pid: int = 0
    pid_hash: dict[int, Pid] = field(factory=dict, repr=False)   # nr -> struct pid (idr)
    user_ns: Any = field(default=None, repr=False)
    proc_mnt: Any = field(default=None, repr=False)

    def alloc_nr(self) -> int:
        self.last_pid += 1
        return self.last_pid


@define(eq=False)
class Pid:
    """struct pid: outlives the task so that procfs inodes can tell "reaped" from "reused".

    `numbers` holds (namespace, nr) from the initial namespace down to the task's own.
    """

    numbers: list[tuple[PidNamespace, int]] = field(repr=False)
    task: Task | None = field(default=None, repr=False)       # PIDTYPE_PID
    tgid_task: Task | None = field(default=None, repr=False)  # PIDTYPE_TGID: the group leader, while alive
    # refcount_t count: alloc_pid()'s reference, held while a task is attached (put by release_task()), plus
    # one per procfs inode (proc_pid_make_inode(); never put: the model does not evict inodes).
    count: int = field(default=1, repr=False)
    # struct pid.inodes (v5.7+): the procfs inodes holding this pid, which the refcount ledger counts as holders.
    inodes: list[Any] = field(factory=list, repr=False)
    kernel: Kernel | None = field(default=None, repr=False)   # model back-reference: put_pid() finds the ledger

    @property
    def nr(self) -> int:
        """pid_nr(): the number in the initial namespace."""
        return self.numbers[0][1]

    def nr_ns(self, ns: PidNamespace) -> int:
        """pid_nr_ns(): the number in `ns`, 0 if not visible there. Linux: kernel/pid.c"""
        for n, nr in self.numbers:
            if n is ns:
                return nr
        return 0

    def __repr__(self) -> str:
        return f"Pid({self.nr})"


@define(eq=False)
class SignalStruct:
    """struct signal_struct: shared by all threads of a process (include/linux/sched/signal.h)."""

    cred_guard_mutex: Mutex = field(factory=lambda: Mutex("&sig->cred_guard_mutex"))
    exec_update_lock: RwSemaphore = field(factory=lambda: RwSemaphore("&sig->exec_update_lock"))
    threads: list[Task] = field(factory=list, repr=False)
    group_exit: bool = False        # SIGNAL_GROUP_EXIT
    group_exit_code: int = 0        # the status wait4 reports once group_exit is set


@define(eq=False)
class FsStruct:
    """struct fs_struct: root, cwd and umask (include/linux/fs_struct.h)."""

    root: Path
    pwd: Path
    umask: int = 0o022
    users: int = 1


@define(eq=False)
class Task:
    """struct task_struct (include/linux/sched.h).

    `pid` is the thread id and `tgid` the process id, both as numbers in the initial pid namespace.
    `real_cred` is the objective credentials (what others see when they act on this task); `cred` is the
    subjective credentials (what this task acts with). They are the same object except during overrides.
    """

    kernel: Kernel = field(repr=False)
    pid: int
    tgid: int
    comm: str
    real_cred: Cred = field(repr=False)
    cred: Cred = field(repr=False)
    thread_pid: Pid = field(repr=False)
    signal: SignalStruct = field(repr=False)
    mm: MmStruct | None = field(default=None, repr=False)
    active_mm: MmStruct | None = field(default=None, repr=False)
    fs: FsStruct | None = field(default=None, repr=False)
    files: FilesStruct | None = field(default=None, repr=False)
    group_leader: Task = field(default=None, repr=False)  # type: ignore[assignment]
    real_parent: Task | None = field(default=None, repr=False)
    children: list[Task] = field(factory=list, repr=False)
    # task_lock() (kernel/locking/spinlock.py): protects mm, fs, files, comm against their owner's changes
    alloc_lock: SpinLock = field(factory=lambda: SpinLock("&p->alloc_lock"), repr=False)
    nsproxy: Any = field(default=None, repr=False)
    state: str = TASK_RUNNING
    exit_code: int = 0
    flags: int = 0
    fatal_signal_pending: bool = field(default=False, repr=False)
    ptrace_parent: Task | None = field(default=None, repr=False)
    no_new_privs: bool = field(default=False, repr=False)
    ptracer_allowed: Any = field(default=None, repr=False)  # Yama PR_SET_PTRACER exception
    # fail-nth countdown (lib/fault-inject.c): nonzero, each fault point decrements it and the one that
    # reaches 0 fails (simkernel/lib/fault_inject.py); 0, fault points cost this one attribute test
    fail_nth: int = field(default=0, repr=False)
    # refcount_t usage: the task list's reference (put by release_task()) plus get_task_struct() holders.
    usage: int = field(default=1, repr=False)
    _sys: Sys | None = field(default=None, repr=False, alias="_sys")

    @property
    def sys(self) -> Sys:
        """The syscall surface of this task: `task.sys.open(...)`, shaped like Python's `os`."""
        if self._sys is None:
            from simkernel.syscalls import Sys
            self._sys = Sys(self)
        return self._sys

    @property
    def exit_state(self) -> str | None:
        return None if self.state == TASK_RUNNING else self.state

    @property
    def threads(self) -> list[Task]:
        return self.signal.threads

    def _repr_html_(self) -> str:
        """Jupyter: ids, credentials, capabilities by name, dumpable (simkernel/display.py)."""
        from simkernel.display import task_html
        return task_html(self)


def get_task_struct(t: Task) -> Task:
    """get_task_struct(): take a reference on the task_struct. Linux: include/linux/sched/task.h"""
    rt = t.kernel.ref_tracker
    if rt is not None:
        rt.get(t, "task")
    t.usage += 1
    return t


def put_task_struct(t: Task) -> None:
    """put_task_struct(): drop a reference; the last one frees the task_struct (nothing to free here).

    Simplification: without the refcount ledger an extra put goes below zero silently; with it, the put is
    reported ("double put") and refused, as refcount_t saturates.

    Linux: include/linux/sched/task.h:put_task_struct(), kernel/fork.c:__put_task_struct()
    """
    rt = t.kernel.ref_tracker
    if rt is not None and not rt.put(t, "task"):
        return
    t.usage -= 1


def get_pid(pid: Pid) -> Pid:
    """get_pid(): take a reference on a struct pid. Linux: include/linux/pid.h"""
    k = pid.kernel
    if k is not None and k.ref_tracker is not None:
        k.ref_tracker.get(pid, "pid")
    pid.count += 1
    return pid


def put_pid(pid: Pid | None) -> None:
    """put_pid(): drop a reference on a struct pid (NULL is allowed). Linux: kernel/pid.c:put_pid()"""
    if pid is None:
        return
    k = pid.kernel
    if k is not None and k.ref_tracker is not None and not k.ref_tracker.put(pid, "pid"):
        return
    pid.count -= 1


def same_thread_group(a: Task, b: Task) -> bool:
    """same_thread_group(): do both tasks share a signal_struct? Linux: include/linux/sched/signal.h"""
    return a.signal is b.signal


def thread_group_leader(t: Task) -> bool:
    return t.group_leader is t
