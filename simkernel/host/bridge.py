"""Run a simkernel scenario on the real host kernel: `HostKernel`, `HostTask`, `HostSys`.

A scenario written against the public API (`k.spawn(...)`, `task.sys.<call>(...)`) runs unchanged here:

    >>> from simkernel.host import HostKernel, SCENARIO_BASE
    >>> with HostKernel() as k:                                       # doctest: +SKIP
    ...     t = k.spawn("app", uid=1000, gid=1000)
    ...     t.sys.mmap(SCENARIO_BASE, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
    ...     t.read_maps(SCENARIO_BASE, SCENARIO_BASE + 4096)

Each `HostTask` is a real process (or thread) descended from one "init" task the kernel object forks at boot;
each system call is pickled over the task's channel and made *in that task* (simkernel/host/child.py).  An
OSError comes back as the same class with the same errno and filename; a bridge failure (a task that stops
answering, dies, or has exec'd) is `HostBridgeError`, never an OSError.  Every wait is bounded by `timeout`.
`close()` (the context manager's exit) kills and reaps every process it created, even after a failure.
"""

from __future__ import annotations

import inspect
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from attrs import define, field

from simkernel.host import child, libc, procfs, wire
from simkernel.host.childsys import ChildSys

__all__ = ["HostKernel", "HostTask", "HostSys", "HostBridgeError", "HostTimeoutError"]


class HostBridgeError(RuntimeError):
    """The bridge failed (a task died, exec'd or stopped answering); not an error of the system call."""


class HostTimeoutError(HostBridgeError):
    """A host task gave no answer within the kernel's timeout; the task is then unusable (its channel is out
    of step) and is killed at close()."""


@define(eq=False)
class HostTask:
    """A real host task driven by RPC; the counterpart of `simkernel.kernel.task.Task`.

    Attributes:
        kernel: the HostKernel that created it.
        pid: its global tid (the pid for a single-threaded process), as the test process sees it.
        tgid: its global thread-group id.
        parent: the task whose fork/clone made it (None for init).
        state: "running", "exited", "exec" (runs another program now) or "broken" (a call failed mid-way).
    """

    kernel: HostKernel = field(repr=False)
    pid: int
    tgid: int
    sock: socket.socket | None = field(repr=False)
    parent: HostTask | None = field(default=None, repr=False)
    state: str = "running"
    why: str = field(default="", repr=False)
    sys: HostSys = field(init=False, repr=False)
    started: int | None = field(init=False, repr=False)  # /proc/<pid>/stat start time: identity vs pid reuse

    def __attrs_post_init__(self) -> None:
        self.sys = HostSys(self)
        self.started = procfs.start_time(self.pid)

    @property
    def comm(self) -> str:
        """/proc/<pid>/comm without the newline."""
        with open(f"/proc/{self.pid}/comm") as f:
            return f.read().rstrip("\n")

    def read_maps(self, lo: int = 0, hi: int = 1 << 64) -> list[str]:
        """/proc/<pid>/maps lines of the VMAs overlapping [lo, hi), read by the test process."""
        return procfs.read_maps(self.pid, lo, hi)

    def status(self) -> dict[str, Any]:
        """/proc/<pid>/status fields; Uid/Gid/Groups tuples, Cap* ints (see procfs.read_status)."""
        return procfs.read_status(self.pid)

    # -- the channel -------------------------------------------------------------------------------
    def call(self, op: str, *args: Any, **kwargs: Any) -> Any:
        """Make system call `op` in this task and return its result (what `task.sys.<op>` does)."""
        return self._request(op, args, kwargs)[0]

    def _usable(self, op: str) -> socket.socket:
        if self.state != "running" or self.sock is None:
            why = f": {self.why}" if self.why else ""
            raise HostBridgeError(f"{self!r} cannot make system calls ({self.state}{why}); {op}() not sent")
        return self.sock

    def _break(self, state: str, why: str) -> None:
        self.state, self.why = state, why
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _send(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> socket.socket:
        sock = self._usable(op)
        try:
            wire.send_msg(sock, (op, args, kwargs), deadline=time.monotonic() + self.kernel.timeout)
        except wire.WireTimeout:
            self._break("broken", f"could not send {op}() within {self.kernel.timeout:g} s")
            raise HostTimeoutError(f"{self!r}: {self.why}") from None
        except OSError as err:
            self._break("broken", f"the channel failed sending {op}(): {err}")
            raise HostBridgeError(f"{self!r}: {self.why}") from None
        return sock

    def _receive(self, op: str, sock: socket.socket) -> tuple[Any, list[int], int | None]:
        timeout = self.kernel.timeout
        try:
            return wire.recv_msg(sock, time.monotonic() + timeout)
        except wire.WireTimeout:
            self._break("broken", f"no answer to {op}() within {timeout:g} s")
            raise HostTimeoutError(f"{self!r}: {self.why}") from None
        except wire.WireClosed:
            self._break("broken", f"the task died during {op}()")
            raise HostBridgeError(f"{self!r}: {self.why}") from None
        except BaseException:  # KeyboardInterrupt, pytest-timeout: the reply would come out of step
            self._break("broken", f"interrupted while waiting for {op}()")
            raise

    def _request(self, op: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None,
                 ) -> tuple[Any, list[int]]:
        sock = self._send(op, args, kwargs or {})
        reply, fds, _pid = self._receive(op, sock)
        if reply[0] == "ok":
            return reply[1], fds
        exc, remote_tb = reply[1], reply[2]
        if not isinstance(exc, OSError):
            exc.add_note(f"raised in host task {self.pid} during {op}():\n{remote_tb}")
        raise exc

    # -- process lifetime --------------------------------------------------------------------------
    def _new_task(self, op: str, args: tuple[Any, ...]) -> HostTask:
        _ns_tid, fds = self._request(op, args)
        sock = socket.socket(fileno=fds[0])
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            (_hello, ns_tid, ns_tgid), _, tgid = wire.recv_msg(sock, time.monotonic() + self.kernel.timeout)
        except (wire.WireTimeout, wire.WireClosed) as err:
            sock.close()
            raise HostBridgeError(f"{self!r}: the new task of {op}() never said hello ({err!r})") from None
        assert tgid is not None, "SCM_CREDENTIALS missing from the hello frame"
        pid = tgid if ns_tid == ns_tgid else procfs.global_tid(tgid, ns_tid)
        task = HostTask(self.kernel, pid, tgid, sock, parent=self)
        self.kernel.tasks.append(task)
        return task

    def _exit(self, status: int, op: str = "exit") -> None:
        sock = self._send(op, (status,), {})
        deadline = time.monotonic() + self.kernel.timeout
        while procfs.task_state(self.pid) not in (None, "Z", "X"):
            if time.monotonic() > deadline:
                self._break("broken", f"still alive {self.kernel.timeout:g} s after exit()")
                raise HostTimeoutError(f"{self!r}: {self.why}")
            time.sleep(0.002)
        sock.close()
        self.sock, self.state = None, "exited"

    def _execve(self, path: str, argv: Sequence[str], envp: Sequence[str]) -> None:
        sock = self._send("execve", (path, tuple(argv), tuple(envp)), {})
        try:
            reply, _fds, _pid = wire.recv_msg(sock, time.monotonic() + self.kernel.timeout)
        except wire.WireClosed:  # the close-on-exec channel went away: the new program runs
            self._break("exec", f"it now runs {path}")
            return
        except wire.WireTimeout:
            self._break("broken", f"no answer to execve() within {self.kernel.timeout:g} s")
            raise HostTimeoutError(f"{self!r}: {self.why}") from None
        raise reply[1]

    def __repr__(self) -> str:
        tid = "" if self.pid == self.tgid else f" tgid={self.tgid}"
        return f"<HostTask pid={self.pid}{tid} {self.state}>"


class HostSys:
    """`task.sys` of a HostTask: the methods and signatures of simkernel.syscalls.Sys, run in that task.

    fork/clone/execve/exit are written out here; every other method is generated from
    simkernel.host.childsys.ChildSys (same signature and docstring) and forwarded with `HostTask.call`.
    """

    __slots__ = ("task",)

    def __init__(self, task: HostTask) -> None:
        self.task = task

    def fork(self) -> HostTask:
        """fork(2) in this task: the child is a new HostTask (its own process, RPC-controlled)."""
        return self.task._new_task("fork", ())

    def clone(self, flags: int) -> HostTask:
        """clone(2): fork-like flags fork; CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD makes a
        thread (a Python thread with its own channel); other combinations raise NotImplementedError."""
        return self.task._new_task("clone", (flags,))

    def execve(self, path: str, argv: Sequence[str] = (), envp: Sequence[str] = ()) -> None:
        """execve(2); on success the task runs `path` and takes no more calls (state "exec")."""
        self.task._execve(path, argv, envp)

    def exit(self, status: int = 0) -> None:
        """exit(2) of this task (not exit_group); returns once it is a zombie (or reaped, for a thread)."""
        self.task._exit(status)

    def exit_group(self, status: int = 0) -> None:
        """exit_group(2): every thread of the process ends; returns once this task is a zombie or gone."""
        self.task._exit(status, "exit_group")


def _forwarder(name: str, impl: Callable[..., Any]) -> Callable[..., Any]:
    sig = inspect.signature(impl)

    def method(self: HostSys, *args: Any, **kwargs: Any) -> Any:
        bound = sig.bind(self, *args, **kwargs)  # TypeError here, in the caller, for a bad call
        return self.task.call(name, *bound.args[1:], **bound.kwargs)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = impl.__doc__
    method.__signature__ = sig  # type: ignore[attr-defined]
    return method


for _name, _impl in vars(ChildSys).items():
    if not _name.startswith("_") and callable(_impl):
        setattr(HostSys, _name, _forwarder(_name, _impl))
del _name, _impl


@define(eq=False)
class HostKernel:
    """The host kernel, seen through real processes; the counterpart of `simkernel.Kernel`.

    Boots by forking `init` (root, full capabilities of the test process, a child subreaper in its own
    process group, cwd /).  Use as a context manager; `close()` kills and reaps everything it created and
    removes its scratch directories.

    Args:
        timeout: seconds any single wait may take (an RPC, an exit, a reap) before HostTimeoutError.
        init_comm: the init task's name.
    """

    timeout: float = 10.0
    init_comm: str = "init"
    tasks: list[HostTask] = field(factory=list, repr=False)
    init: HostTask = field(init=False, repr=False)
    _tmpdirs: list[str] = field(factory=list, repr=False, alias="_tmpdirs")
    _closed: bool = field(default=False, alias="_closed")

    def __attrs_post_init__(self) -> None:
        from simkernel.host import available
        ok, reason = available()
        if not ok:
            raise HostBridgeError(f"the host kernel is not usable here: {reason}")
        self.init = self._boot()

    def _boot(self) -> HostTask:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        parent = os.getpid()
        pdeathsig = threading.current_thread() is threading.main_thread()
        pid = os.fork()
        if pid == 0:  # the init host task: never returns
            child.boot(theirs.fileno(), self.init_comm, parent, pdeathsig)
        theirs.close()
        mine.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        try:
            wire.recv_msg(mine, time.monotonic() + self.timeout)
        except (wire.WireTimeout, wire.WireClosed) as err:
            mine.close()
            os.kill(pid, signal.SIGKILL)
            _wait_child(pid, self.timeout)
            raise HostBridgeError(f"the init host task {pid} did not start ({err!r})") from None
        task = HostTask(self, pid, pid, mine)
        self.tasks.append(task)
        return task

    def spawn(self, comm: str, uid: int = 0, gid: int = 0, groups: Iterable[int] = (), caps: Any = None,
              parent: HostTask | None = None, dumpable: bool = True) -> HostTask:
        """Fork `parent` (default init), name it, and switch credentials as the child itself, as
        `simkernel.Kernel.spawn`: setgroups, setresgid, setresuid; `caps=None` leaves the kernel's rules
        (a non-root task ends with no capabilities); an iterable of CAP_* numbers ends with exactly those in
        effective and permitted (PR_SET_KEEPCAPS across the uid change, then capset).  The uid change
        leaves the mm non-dumpable (fs.suid_dumpable = 0); with `dumpable=True` (the default, as after
        exec'ing a program) the task ends with prctl(PR_SET_DUMPABLE, 1)."""
        from simkernel.uapi.prctl import PR_SET_DUMPABLE
        mask = None if caps is None else sum(1 << c for c in set(caps))
        task = (parent or self.init).sys.fork()
        task._request("_spawn_setup", (comm, uid, gid, tuple(groups), mask))
        if dumpable:
            task.sys.prctl(PR_SET_DUMPABLE, 1)
        return task

    def tmpdir(self, prefix: str = "simk-host-") -> str:
        """A new scratch directory under /tmp (mode 0755) removed, with any mount below it, at close()."""
        path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        os.chmod(path, 0o755)
        self._tmpdirs.append(path)
        return path

    # -- teardown ----------------------------------------------------------------------------------
    def close(self) -> None:
        """Kill and reap every process this kernel created (and their descendants); remove tmpdirs."""
        if self._closed:
            return
        self._closed = True
        try:
            self._kill_all()
        finally:
            _remove_tmpdirs(self._tmpdirs)

    def _kill_all(self) -> None:
        init = self.init
        # every process below init; plus tasks that left its tree (init died), if still the same process
        victims = set(procfs.descendants(init.pid))
        victims |= {t.tgid for t in self.tasks if t.started is not None and procfs.start_time(t.tgid) == t.started}
        victims = sorted(victims - {init.pid})
        for pid in victims:
            _kill(pid)
        for task in self.tasks:
            if task is not init and task.sock is not None:
                task._break("exited", "killed at close()")
        reaped = False
        if init.state == "running":
            try:  # init is a subreaper: every victim, and every orphan of one, is its child now
                init._request("_reap_all", (self.timeout,))
                reaped = True
            except HostBridgeError:
                pass
        if not reaped:
            _reap_through_subreaper(init.pid, victims, self.timeout)
        _kill(init.pid)
        if init.sock is not None:
            init._break("exited", "killed at close()")
        _wait_child(init.pid, self.timeout)

    def __enter__(self) -> HostKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_child(pid: int, timeout: float) -> None:
    """Reap our child `pid`, polling so the wait is bounded."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.002)


def _reap_through_subreaper(init_pid: int, victims: list[int], timeout: float) -> None:
    """init cannot answer: make the test process a child subreaper for a moment, kill init, and reap every
    victim that is then reparented to us (else they would stay zombies under the host's pid 1)."""
    was = libc.ctypes.c_int(0)
    libc.prctl(child.PR_SET_CHILD_SUBREAPER + 1, libc.ctypes.byref(was))  # PR_GET_CHILD_SUBREAPER
    libc.prctl(child.PR_SET_CHILD_SUBREAPER, 1)
    try:
        _kill(init_pid)
        _wait_child(init_pid, timeout)
        for pid in victims:
            _wait_child(pid, timeout)
    finally:
        libc.prctl(child.PR_SET_CHILD_SUBREAPER, was.value)


def _remove_tmpdirs(paths: list[str]) -> None:
    """Detach any mount a scenario left below a scratch directory (deepest first), then remove it."""
    for path in paths:
        with open("/proc/self/mountinfo") as f:  # mount points escape ' ', '\t', '\n', '\\' as \ooo
            points = [line.split()[4].encode().decode("unicode_escape") for line in f]
        for point in sorted((p for p in points if p == path or p.startswith(path + "/")), reverse=True):
            try:
                libc.umount2(point, 2)  # MNT_DETACH
            except OSError:
                pass
        shutil.rmtree(path, ignore_errors=True)
