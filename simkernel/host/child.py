"""Host-task side of the bridge: the request loop every host task (process or thread) runs.

The test process forks one "init" task at boot (`boot`); every other host task descends from it through
`fork`/`clone` requests, so the real process tree has the shape of the simulated one.  Each task owns one
AF_UNIX channel to the test process (simkernel/host/wire.py) and answers requests on its own thread until the
channel closes.  Nothing here ever returns to the caller of os.fork(): a host process leaves only through
os._exit() or exit(2), so pytest's atexit handlers and inherited stdio buffers never run in it.

Requests are `(op, args, kwargs)`; replies are `("ok", result)` or `("err", exception, remote traceback)`.
`op` is a `ChildSys` method, one of the channel-level calls below, or a bridge-private `_...` operation.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import pickle
import resource
import signal
import socket
import sys
import threading
import time
import traceback
from typing import Any, NoReturn

from simkernel.host import libc, procfs, wire
from simkernel.host.childsys import ChildSys
from simkernel.uapi import prctl as P
from simkernel.uapi import sched as S

__all__ = ["boot", "TaskServer", "ProcessState", "PTHREAD_CLONE_FLAGS"]

PR_SET_PDEATHSIG = 1          # include/uapi/linux/prctl.h (not in simkernel.uapi: the model has no use for it)
PR_SET_CHILD_SUBREAPER = 36
SIGCHLD = 17
_WALL = getattr(S, "__WALL")  # spelled via getattr: a literal S.__WALL would be name-mangled inside a class
# What glibc's pthread_create passes to clone(2): the only kind of thread a Python host task can make.
PTHREAD_CLONE_FLAGS = (S.CLONE_VM | S.CLONE_FS | S.CLONE_FILES | S.CLONE_SIGHAND | S.CLONE_THREAD
                       | S.CLONE_SYSVSEM | S.CLONE_SETTLS | 0x00100000 | 0x00200000)  # | PARENT_SETTID | CHILD_CLEARTID


class ProcessState:
    """Bookkeeping of one host process: the channel descriptors of its tasks (main thread and threads)."""

    __slots__ = ("channels",)

    def __init__(self, channels: set[int]) -> None:
        self.channels = channels


class TaskServer:
    """Answers the requests of one host task, on that task's own thread.

    Args:
        sock: this task's channel to the test process.
        process: the process-wide bookkeeping shared with sibling threads.
        main: True for the thread that started the process; its loop ends the process on EOF.
    """

    def __init__(self, sock: socket.socket, process: ProcessState, main: bool) -> None:
        self.sock = sock
        self.process = process
        self.main = main
        self.sys = ChildSys()

    def hello(self) -> None:
        """First frame of a new task: (tid, tgid) in its own pid namespace, with SCM_CREDENTIALS, which the
        kernel translates into the test process's namespace."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        wire.send_msg(self.sock, ("hello", threading.get_native_id(), os.getpid()))

    def serve(self) -> None:
        """Answer requests until the test process closes the channel."""
        while True:
            try:
                (op, args, kwargs), _fds, _pid = wire.recv_msg(self.sock)
            except wire.WireClosed:
                return
            fds: tuple[int, ...] = ()
            try:
                result, fds = self.dispatch(op, tuple(args), dict(kwargs))
                reply: tuple[Any, ...] = ("ok", result)
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the caller
                reply = ("err", _portable(exc), traceback.format_exc())
            try:
                wire.send_msg(self.sock, reply, fds)
            except OSError:
                return
            finally:
                for fd in fds:
                    os.close(fd)

    def dispatch(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, tuple[int, ...]]:
        """Run one request; returns (result, descriptors to pass back)."""
        special = _SPECIAL.get(op)
        if special is not None:
            return special(self, *args, **kwargs)
        if op.startswith("_") or not hasattr(ChildSys, op):
            raise AttributeError(f"host task has no system call {op!r}")
        return getattr(self.sys, op)(*args, **kwargs), ()

    # -- calls that need the channel ---------------------------------------------------------------
    def fork(self) -> tuple[int, tuple[int, ...]]:
        """fork(2) (os.fork: glibc clone(SIGCHLD|CLONE_CHILD_*TID)); the child gets its own channel."""
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            self._become_forked_child(mine, theirs)
        theirs.close()
        return pid, (mine.detach(),)

    def clone(self, flags: int) -> tuple[int, tuple[int, ...]]:
        """clone(2) limited to what Python can do: a fork, or a pthread-like thread.

        Raises:
            EINVAL: CLONE_THREAD without CLONE_SIGHAND, or CLONE_SIGHAND without CLONE_VM (clone(2)).
            NotImplementedError: any other combination (the host cannot make it from Python).
        """
        if (flags & S.CLONE_THREAD and not flags & S.CLONE_SIGHAND) or (
                flags & S.CLONE_SIGHAND and not flags & S.CLONE_VM):
            raise OSError(22, os.strerror(22))
        rest = flags & ~S.CSIGNAL
        if rest == 0 and flags & S.CSIGNAL in (0, SIGCHLD):
            return self.fork()  # Simplification: the exit signal is always SIGCHLD
        required = S.CLONE_VM | S.CLONE_FS | S.CLONE_FILES | S.CLONE_SIGHAND | S.CLONE_THREAD
        if rest & required == required and rest & ~PTHREAD_CLONE_FLAGS == 0:
            return self._thread()
        raise NotImplementedError(f"host clone({flags:#x}): only fork-like flags or a pthread-like thread "
                                  f"(CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD[...])")

    def execve(self, path: str, argv: tuple[str, ...] = (), envp: tuple[str, ...] = ()) -> NoReturn:
        """execve(2); on success the channel (close-on-exec) reaches EOF, which the test process reads as done."""
        libc.execve(path, tuple(argv), tuple(envp))
        raise AssertionError("execve returned without an error")

    def exit(self, status: int = 0) -> NoReturn:
        """exit(2), not exit_group: this task ends; a process ends when its last thread does."""
        libc.exit_thread(status)
        raise AssertionError("exit(2) returned")

    def exit_group(self, status: int = 0) -> NoReturn:
        """exit_group(2) (os._exit): every thread of this process ends."""
        os._exit(status)

    # -- bridge-private operations -----------------------------------------------------------------
    def _spawn_setup(self, comm: str, uid: int, gid: int, groups: tuple[int, ...],
                     caps: int | None) -> tuple[None, tuple[int, ...]]:
        """What Kernel.spawn does in the new child: name it, then setgroups/setresgid/setresuid as itself.

        With `caps` (a mask), PR_SET_KEEPCAPS keeps the permitted set across the uid change and capset then
        makes effective = permitted = `caps`, inheritable empty; KEEPCAPS is cleared again afterwards.
        """
        libc.prctl(P.PR_SET_NAME, os.fsencode(comm)[:15])
        if caps is not None:
            libc.prctl(P.PR_SET_KEEPCAPS, 1)
        libc.setgroups(tuple(groups))
        libc.syscall("setresgid", gid, gid, gid)
        libc.syscall("setresuid", uid, uid, uid)
        if caps is not None:
            libc.capset(caps, caps, 0)
            libc.prctl(P.PR_SET_KEEPCAPS, 0)
        return None, ()

    def _reap_all(self, timeout: float) -> tuple[int, tuple[int, ...]]:
        """Reap every child (and reparented orphan) until none is left or `timeout` passes; returns the count."""
        deadline, reaped = time.monotonic() + timeout, 0
        while time.monotonic() < deadline:
            try:
                pid, _status = os.waitpid(-1, S.WNOHANG | _WALL)
            except ChildProcessError:
                break
            if pid:
                reaped += 1
            else:
                time.sleep(0.005)
        return reaped, ()

    def _ping(self) -> tuple[str, tuple[int, ...]]:
        return "pong", ()

    # -- helpers -----------------------------------------------------------------------------------
    def _thread(self) -> tuple[int, tuple[int, ...]]:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fd = wire.high_fd(theirs.detach())
        self.process.channels.add(fd)
        server = TaskServer(socket.socket(fileno=fd), self.process, main=False)
        thread = threading.Thread(target=server._run_thread, name=f"host-task-{fd}", daemon=True)
        thread.start()
        return thread.native_id, (mine.detach(),)

    def _run_thread(self) -> None:
        try:
            self.hello()
            self.serve()
        finally:
            fd = self.sock.detach()
            self.process.channels.discard(fd)
            os.close(fd)

    def _become_forked_child(self, mine: socket.socket, theirs: socket.socket) -> NoReturn:
        """In the new child of fork(): drop the parent's channels, take our own, serve, never return."""
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # init's "test process died" handler is init's only
            mine.close()
            self.sock.detach()
            for fd in self.process.channels:
                _close_quietly(fd)
            fd = wire.high_fd(theirs.detach())
            _serve_process(fd)
        finally:
            os._exit(0)


_SPECIAL = {
    "fork": TaskServer.fork, "clone": TaskServer.clone, "execve": TaskServer.execve, "exit": TaskServer.exit,
    "exit_group": TaskServer.exit_group,
    "_spawn_setup": TaskServer._spawn_setup, "_reap_all": TaskServer._reap_all, "_ping": TaskServer._ping,
}


def boot(fd: int, comm: str, parent: int, pdeathsig: bool) -> NoReturn:
    """Entry of the init host task, right after the test process forked it; never returns.

    Detaches from everything inherited from the test process: its descriptors (all closed but 0-2 and the
    channel), signal handlers, working directory, garbage collector and faulthandler (both could otherwise
    touch a descriptor number the scenario has since reused); becomes a child subreaper in its own process
    group, so orphans of scenario tasks come back to it as they would to init.  Whenever it leaves on its
    own (EOF or SIGTERM: the test process died), it first kills and reaps all its descendants.

    Args:
        fd: the init task's end of its channel.
        comm: its name (PR_SET_NAME).
        parent: the test process's pid (checked after PR_SET_PDEATHSIG, against the fork/exit race).
        pdeathsig: ask for SIGTERM when the forking thread of the test process dies; init then kills and
            reaps everything below it before leaving (as it does when its channel reaches EOF).
    """
    try:
        gc.freeze()
        faulthandler.disable()
        sys.stdout = open(1, "w", closefd=False, buffering=1)  # noqa: SIM115 - never closed: os._exit
        sys.stderr = open(2, "w", closefd=False, buffering=1)  # noqa: SIM115
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _orphaned)
        if pdeathsig:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:
            os._exit(0)
        os.setpgid(0, 0)
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1)
        libc.prctl(P.PR_SET_NAME, os.fsencode(comm)[:15])
        os.chdir("/")
        fd = wire.high_fd(fd)
        os.closerange(3, fd)
        os.closerange(fd + 1, max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], fd + 1))
        _serve_process(fd)
    except _Orphaned:
        pass
    finally:
        _last_rites()
        os._exit(0)


class _Orphaned(BaseException):
    """The test process died (PR_SET_PDEATHSIG -> SIGTERM) while init was serving or blocked in a call."""


def _orphaned(signum: int, frame: Any) -> None:
    raise _Orphaned()


def _last_rites(timeout: float = 5.0) -> None:
    """init is leaving without the test process's close(): kill what is left below it and reap it, so no
    descendant outlives the run (an exec'd program would) and no zombie is left to the host's pid 1."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        for pid in procfs.descendants(os.getpid()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, _status = os.waitpid(-1, S.WNOHANG | _WALL)
            if not pid:
                time.sleep(0.005)
    except (ChildProcessError, _Orphaned):
        pass


def _serve_process(fd: int) -> None:
    """Run the main-thread loop of a new host process on channel `fd`; report a crash on fd 2."""
    try:
        server = TaskServer(socket.socket(fileno=fd), ProcessState({fd}), main=True)
        server.hello()
        server.serve()
    except _Orphaned:
        raise
    except BaseException:  # noqa: BLE001 - last words of a host process, then os._exit
        os.write(2, f"simkernel.host child {os.getpid()} crashed:\n{traceback.format_exc()}".encode())


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it pickles, else a RuntimeError naming it."""
    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _close_quietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
