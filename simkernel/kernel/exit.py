"""Task exit, zombies, and reaping with wait4.

`task.sys.exit(status)` is exit(2): only that thread ends; `task.sys.exit_group(status)` (what `os._exit`
calls) ends every thread.  Each exiting task drops its mm (so a zombie has none), its files and its fs.  The
thread-group leader stays a zombie until its threads are gone and its parent reaps it with waitpid; other
threads are released at once.

Simplification: orphans are re-parented to init, which reaps zombies at once (as a real init does).

Linux: kernel/exit.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.kernel.task import EXIT_DEAD, EXIT_ZOMBIE, PF_EXITING, TASK_RUNNING, Task, put_pid, put_task_struct
from simkernel.uapi import errno as E
from simkernel.uapi import sched as C

if TYPE_CHECKING:
    pass

__all__ = ["do_exit", "do_group_exit", "exit_mm", "release_task", "kernel_waitid_wait4"]

WCONTINUED = 0x00000008
__WNOTHREAD = 0x20000000
__WCLONE = 0x80000000


def exit_mm(task: Task) -> None:
    """exit_mm(): detach and drop the address space. Linux: kernel/exit.c"""
    mm = task.mm
    if mm is None:
        return
    task.mm = None
    from simkernel.mm.mmap import mmput
    mmput(mm)


def _exit_files(task: Task) -> None:
    """exit_files(): the last user of the fd table closes everything. Linux: kernel/exit.c"""
    files = task.files
    if files is None:
        return
    task.files = None
    files.count -= 1
    if files.count == 0:
        from simkernel.fs.file_table import fput
        for fd in sorted(files.fdt):
            fput(files.fdt.pop(fd))


def _exit_fs(task: Task) -> None:
    fs = task.fs
    if fs is not None:
        fs.users -= 1
    task.fs = None


def release_task(task: Task) -> None:
    """release_task(): the task is gone; its pid no longer names it; /proc/<pid> disappears.

    Linux: kernel/exit.c:release_task()
    """
    k = task.kernel
    task.state = EXIT_DEAD
    k.tasks.pop(task.pid, None)
    task.thread_pid.task = None
    if task.thread_pid.tgid_task is task:
        task.thread_pid.tgid_task = None
    for ns, nr in task.thread_pid.numbers:
        ns.pid_hash.pop(nr, None)
    if task in task.signal.threads:
        task.signal.threads.remove(task)
    parent = task.real_parent
    if parent is not None and task in parent.children:
        parent.children.remove(task)
    put_pid(task.thread_pid)       # detach_pid(): the reference the attached task held
    put_task_struct(task)          # delayed_put_task_struct(): the task list's reference


def _synchronize_group_exit(task: Task, code: int) -> None:
    """synchronize_group_exit(): the last thread to exit, with no group exit under way, makes its own code
    the process's exit status (so wait4 reports the *last* thread's exit(2) code, not the leader's).

    Linux: kernel/exit.c:synchronize_group_exit() (since v5.19)
    """
    signal = task.signal
    if not signal.group_exit and all(t is task or t.flags & PF_EXITING for t in signal.threads):
        signal.group_exit = True
        signal.group_exit_code = code


def _exit_one(task: Task, code: int) -> None:
    _synchronize_group_exit(task, code)
    task.flags |= PF_EXITING
    task.exit_code = code
    exit_mm(task)
    _exit_files(task)
    _exit_fs(task)


def _forget_original_parent(task: Task) -> None:
    """Re-parent children to init (the child reaper), which reaps zombies at once."""
    init = task.kernel.init
    for child in list(task.children):
        task.children.remove(child)
        child.real_parent = init
        if child.state == EXIT_ZOMBIE:
            release_task(child)
        else:
            init.children.append(child)


def _group_dead(task: Task) -> bool:
    return all(t.state != TASK_RUNNING for t in task.signal.threads)


def _exit_notify(task: Task) -> None:
    """exit_notify(): a thread is released at once; the leader stays a zombie until the whole group is
    dead and its parent reaps it (init reaps at once).  Linux: kernel/exit.c:exit_notify()
    """
    _forget_original_parent(task)
    leader = task.group_leader
    if task is not leader:
        task.state = EXIT_ZOMBIE
        release_task(task)
    else:
        task.state = EXIT_ZOMBIE
    if leader.state == EXIT_ZOMBIE and _group_dead(leader):
        parent = leader.real_parent
        if parent is leader.kernel.init or parent is None:
            release_task(leader)


def do_exit(current: Task, code: int) -> None:
    """exit(2): only the calling thread ends.  A leader that exits before its threads stays a zombie
    (its /proc/<pid> has no mm any more) until the last thread is gone.  Linux: kernel/exit.c:do_exit()
    """
    if current.pid == 1:
        raise RuntimeError("attempted to kill init! (the simulated kernel would panic)")
    _exit_one(current, code)
    _exit_notify(current)


def do_group_exit(current: Task, code: int) -> None:
    """exit_group(2) (what os._exit calls): every thread of the process exits.

    Linux: kernel/exit.c:do_group_exit()
    """
    if current.pid == 1:
        raise RuntimeError("attempted to kill init! (the simulated kernel would panic)")
    current.signal.group_exit = True
    current.signal.group_exit_code = code
    leader = current.group_leader
    others = [t for t in current.signal.threads if t is not leader and t.state == TASK_RUNNING]
    for t in others + ([leader] if leader.state == TASK_RUNNING else []):
        _exit_one(t, code)
        _exit_notify(t)


def kernel_waitid_wait4(current: Task, pid: int, options: int) -> tuple[int, int]:
    """wait4(2): reap a zombie child; (0, 0) with WNOHANG if matching children still run.

    `pid` is -1 (any child), 0 or < -1 (a process group: Simplification: every task is in one process
    group, so 0 matches any child and < -1 none), or a pid as the caller's pid namespace numbers it.  The
    children of every thread of the caller's process count, unless __WNOTHREAD.

    Raises:
        KernelError(EINVAL): unknown options.   KernelError(ESRCH): pid INT_MIN.
        KernelError(ECHILD): no child matches.
        RuntimeError: without WNOHANG while matching children still run (the simulation cannot block).

    Linux: kernel/exit.c:kernel_wait4(), do_wait(), eligible_pid(), wait_task_zombie()
    """
    from simkernel.kernel.fork import task_active_pid_ns
    if options & ~(C.WNOHANG | C.WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | C.__WALL):
        raise KernelError(E.EINVAL)
    if pid == -0x80000000:
        raise KernelError(E.ESRCH)
    ns = task_active_pid_ns(current)
    parents = [current] if options & __WNOTHREAD else list(current.signal.threads)
    children = [c for p in parents for c in p.children
                if pid in (-1, 0) or (pid > 0 and c.thread_pid.nr_ns(ns) == pid)]
    if not children:
        raise KernelError(E.ECHILD)
    for c in children:
        if c.state == EXIT_ZOMBIE and _group_dead(c):   # delay_group_leader(): threads still run
            status = c.signal.group_exit_code if c.signal.group_exit else c.exit_code
            nr = c.thread_pid.nr_ns(ns)
            release_task(c)
            return nr, status
    if options & C.WNOHANG:
        return 0, 0
    raise RuntimeError("waitpid would block forever: the child is still running and nothing else runs")
