"""The interleaving scheduler: simulated tasks run one at a time and switch only at preemption points.

Each program (the syscalls one simulated task makes) runs in its own Python thread, but exactly one thread
runs at any moment: a thread that reaches a preemption point hands control back to the scheduler (the
caller of `Scheduler.run`), which picks the next thread to resume with its `choose` function.  The result
depends only on the sequence of choices, so a schedule replays exactly.

Preemption points (the kernel may reschedule there in a preemptible kernel):
  * `point(current, label)`: after every lock release (kernel/locking/mutex.py lock_release), in
    might_fault(), and at the explicit points of fs/proc/base.py, fs/stat.py, fs/namei.py and fs/exec.py;
  * `lock_wait(current, lock, mode)`: before every lock acquisition.  A task whose lock is not
    `lock.available(mode)` is blocked: the scheduler does not resume it until the lock is free.  When every
    unfinished task is blocked the run ends in a deadlock;
  * `syscall_enter()`: at the entry of every system call (the scheduler is one of `kernel.syscall_work`),
    so two syscalls of one program are always separated by a point.

The VFS inode locks (a directory's i_rwsem in lookup and readdir) exist only with the lock validator on:
boot with `Kernel(lockdep=True)` to have them as points too (simkernel/races/map_files.py does).

Simplification: there is no timer: a task runs until its next preemption point (a kernel without
involuntary preemption between points).  A task waiting for a lock is not woken by a fatal signal.

Linux: kernel/sched/core.c (preempt_schedule, __schedule), include/linux/preempt.h
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, Sequence

from simkernel.errors import KernelBug
from simkernel.kernel.locking.mutex import LOCK_EXCLUSIVE
from simkernel.kernel.locking.rwsem import RwSemaphore

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Scheduler", "SimThread", "DEADLOCK", "run_program", "errname"]

STEP_TIMEOUT = 60.0       # seconds one step may take before the run is declared stuck (a simulator bug)
DEADLOCK = "!DEADLOCK"   # the result of a program that never finished: blocked on a lock in a deadlock


class _Abort(BaseException):
    """Unwinds a thread whose schedule was abandoned (deadlock, or a simulator bug elsewhere)."""


def errname(err: OSError) -> str:
    """`"!ENOENT"` for an OSError with errno ENOENT (the scenario library's convention)."""
    import errno as _errno
    return "!" + _errno.errorcode.get(err.errno or 0, str(err.errno))


def _freeze(v: Any) -> Any:
    """A hashable, comparable form of a result (lists -> tuples, dicts -> sorted item tuples)."""
    if isinstance(v, (list, tuple)) and type(v) in (list, tuple):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _freeze(x)) for k, x in v.items()))
    if isinstance(v, set):
        return tuple(sorted(_freeze(x) for x in v))
    return v


def _attempt(fn: Callable[[Any], Any], state: Any) -> Any:
    try:
        return _freeze(fn(state))
    except OSError as err:
        return errname(err)
    except KernelBug:
        return "!OOPS"


def run_program(program: Any, state: Any) -> Any:
    """Run one program on `state`: a callable gives its value; a sequence of callables gives a tuple of values.

    A failed syscall is a result, not a crash: its errno name ("!EACCES"); a KernelBug of the modelled
    release gives "!OOPS".  Later steps of a sequence still run after a failed one.
    """
    if callable(program):
        return _attempt(program, state)
    return tuple(_attempt(step, state) for step in program)


class SimThread:
    """One program under the scheduler: its Python thread, where it stopped, and its result."""

    __slots__ = ("name", "index", "program", "label", "waiting", "done", "result", "error", "go", "thread")

    def __init__(self, name: str, index: int, program: Any) -> None:
        self.name = name
        self.index = index
        self.program = program
        self.label = "start"                 # the point where it is paused
        self.waiting: tuple[Any, str] | None = None   # (lock, mode) while paused in lock_wait
        self.done = False
        self.result: Any = DEADLOCK
        self.error: BaseException | None = None
        self.go = threading.Semaphore(0)
        self.thread: threading.Thread | None = None

    def runnable(self) -> bool:
        """Not finished, and not waiting for a lock that is taken."""
        if self.done:
            return False
        w = self.waiting
        return w is None or bool(w[0].available(w[1]))

    def __repr__(self) -> str:
        return f"<SimThread {self.name} at {self.label!r}{' done' if self.done else ''}>"


Chooser = Callable[[int, Sequence[SimThread], "SimThread | None"], SimThread]


class Scheduler:
    """`kernel.sched` while a schedule runs: the preemption-point API the kernel calls, and the run loop.

    Example (what explore() does for one schedule)::

        sched = Scheduler(k, {"A": prog_a, "B": prog_b}, state)
        steps = sched.run(lambda i, runnable, prev: runnable[0])   # always the lowest-numbered task
    """

    def __init__(self, kernel: Kernel, programs: dict[str, Any], state: Any) -> None:
        self.kernel = kernel
        self.state = state
        self.threads = [SimThread(name, i, p) for i, (name, p) in enumerate(programs.items())]
        self._back = threading.Semaphore(0)
        self._by_ident: dict[int, SimThread] = {}
        self._aborting = False
        self.deadlock = False

    # -- the API the kernel calls ---------------------------------------------------------------------
    def point(self, current: Task | None, label: str) -> None:
        """A preemption point: the running task stops here and the scheduler picks who runs next."""
        th = self._by_ident.get(threading.get_ident())
        if th is None or self._aborting:
            return
        th.label = label
        self._yield(th)

    def lock_wait(self, current: Task | None, lock: Any, mode: str) -> None:
        """Before taking `lock` in `mode`: a preemption point; resumed only once the lock is available.

        A task waiting for an rw_semaphore for write is counted in its `write_waiters` meanwhile: readers
        arriving while other readers hold it queue behind it (kernel/locking/rwsem.py).
        """
        th = self._by_ident.get(threading.get_ident())
        if th is None or self._aborting:
            return
        th.label = f"lock {lock.name} ({mode})"
        th.waiting = (lock, mode)
        queued = mode == LOCK_EXCLUSIVE and isinstance(lock, RwSemaphore)
        if queued:
            lock.write_waiters += 1
        try:
            self._yield(th)
        finally:
            th.waiting = None
            if queued:
                lock.write_waiters -= 1

    def syscall_enter(self, current: Task, name: str) -> None:
        """syscall_work entry: every system call starts at a preemption point, labelled "sys_<name>"."""
        self.point(current, f"sys_{name}")

    def syscall_exit(self, current: Task, name: str, errno: int) -> None:
        """syscall_work exit: nothing to do."""

    # -- the run loop ---------------------------------------------------------------------------------
    def _yield(self, th: SimThread) -> None:
        self._back.release()
        th.go.acquire()
        if self._aborting:
            raise _Abort()

    def _body(self, th: SimThread) -> None:
        self._by_ident[threading.get_ident()] = th
        th.go.acquire()
        try:
            if not self._aborting:
                th.result = run_program(th.program, self.state)
        except _Abort:
            pass
        except BaseException as err:   # a simulator bug: reported by run()
            th.error = err
        th.done = True
        self._back.release()

    def run(self, choose: Chooser) -> list[tuple[SimThread, str]]:
        """Run every program to its end (or to a deadlock), asking `choose(step, runnable, previous)` at each
        point which thread resumes.  Returns the steps: (thread, the point where it stopped next).

        Raises:
            The first simulator bug (an exception other than OSError/KernelBug) raised inside a program.
        """
        k = self.kernel
        assert k.sched is None, "a scheduler is already running on this kernel"
        k.sched = self
        k.syscall_work.insert(0, self)
        steps: list[tuple[SimThread, str]] = []
        try:
            for th in self.threads:
                th.thread = threading.Thread(target=self._body, args=(th,), name=f"sim-{th.name}", daemon=True)
                th.thread.start()
            prev: SimThread | None = None
            while True:
                runnable = [t for t in self.threads if t.runnable()]
                if not runnable:
                    self.deadlock = not all(t.done for t in self.threads)
                    break
                th = choose(len(steps), runnable, prev)
                th.go.release()
                if not self._back.acquire(timeout=STEP_TIMEOUT):
                    raise RuntimeError(f"{th.name} ran {STEP_TIMEOUT} s without reaching a preemption point "
                                       f"(last at {th.label!r}): blocked outside the simulation?")
                steps.append((th, "end" if th.done else th.label))
                if th.error is not None:
                    break
                prev = th
        finally:
            self._abort()
            k.sched = None
            if self in k.syscall_work:
                k.syscall_work.remove(self)
        for th in self.threads:
            if th.error is not None:
                raise th.error
        return steps

    def _abort(self) -> None:
        """Unwind every unfinished thread (a deadlock or an error) and join all of them."""
        self._aborting = True
        for th in self.threads:
            if not th.done and th.thread is not None:
                th.go.release()
                self._back.acquire(timeout=STEP_TIMEOUT)
        for th in self.threads:
            if th.thread is not None:
                th.thread.join(timeout=STEP_TIMEOUT)
