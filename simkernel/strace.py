"""An strace-style log of the system calls made on a simulated kernel.

    >>> import simkernel
    >>> from simkernel.uapi import O_RDONLY
    >>> k = simkernel.Kernel()
    >>> with k.strace() as st:
    ...     try:
    ...         k.init.sys.open("/nonexistent", O_RDONLY)
    ...     except FileNotFoundError:
    ...         pass
    >>> print(st)
    openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)

Each line is what `strace -f` prints for the call the kernel received: the syscall's kernel name
(`openat`, `newfstatat`, `getdents64`, `exit`), its arguments decoded as strace decodes them (flags by
name in strace's order, strings quoted with C escapes and cut at 32 bytes with `...`, paths whole, results
of out-parameters such as readlink's buffer or the stat structure), then `= result` or
`= -1 EACCES (Permission denied)`.  The log is per kernel (`[pid N]` prefixes when several tasks appear) and
per task (`st.lines(task)`).

Simplifications: user-space buffer addresses do not exist in the model; where strace would print a pointer
(a failed read's buffer, getdents64's buffer, execve's envp) the fixed stand-in `USER_BUF` is printed.
The syscall chosen for a Python call is the one CPython on glibc makes (`os.open` -> openat, `os.stat` ->
newfstatat, `os.listdir` -> openat + getdents64 + close, `exit` -> exit).

Hook: one layer on `kernel.hooks["syscall"]` (see simkernel/trace_hooks.py), installed only inside the block.
The pieces: the flag tables and decoders are simkernel/strace_xlat.py, the per-syscall formatters
simkernel/strace_format.py, `flags` and `quote` simkernel/trace_render.py (shared with the tracer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from simkernel.errors import KernelError
from simkernel.strace_format import format_syscall, strace_name
from simkernel.strace_xlat import (AT_FDCWD, USER_BUF, caps_text, mmap_flags, open_flags, prot, stat_struct,
                                   wait_status)
from simkernel.trace_hooks import SyscallLayer
from simkernel.trace_render import STRING_LIMIT, flags, quote

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Strace", "StraceEntry", "format_syscall", "strace_name", "quote", "USER_BUF", "STRING_LIMIT", "AT_FDCWD",
           "flags", "open_flags", "mmap_flags", "prot", "caps_text", "stat_struct", "wait_status"]


class StraceEntry:
    """One logged call: the task, the strace text, and the errno and explanation of a failure."""

    __slots__ = ("pid", "name", "text", "errno", "explain")

    def __init__(self, pid: int, name: str, text: str, errno: int | None, explain: str | None) -> None:
        self.pid = pid
        self.name = name
        self.text = text
        self.errno = errno
        self.explain = explain

    def __repr__(self) -> str:
        return f"<StraceEntry [pid {self.pid}] {self.text}>"


class Strace(SyscallLayer):
    """The strace log of one kernel while active: `with k.strace() as st: ...`, then `print(st)`.

    Args:
        kernel: the kernel to watch.
        task: log only this task's calls (like `strace -p PID`); None logs every task (`strace -f`).
    """

    def __init__(self, kernel: Kernel, task: Task | None = None) -> None:
        self.kernel = kernel
        self.task = task
        self.entries: list[StraceEntry] = []
        self.active = False

    _what = "strace log"

    def _layer(self, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...],
               call_next: Callable[..., Any]) -> Any:
        if self.task is not None and current is not self.task:
            return call_next(fn, current, *args)
        try:
            result = call_next(fn, current, *args)
        except KernelError as err:
            self.entries.append(StraceEntry(current.pid, name, format_syscall(name, args, None, err), err.errno,
                                            err.explain))
            raise
        self.entries.append(StraceEntry(current.pid, name, format_syscall(name, args, result), None, None))
        if name == "exit":
            self.entries.append(StraceEntry(current.pid, "", f"+++ exited with {(args[0] >> 8) & 0xFF} +++",
                                            None, None))
        return result

    def lines(self, task: Task | int | None = None) -> list[str]:
        """The log lines; of one task (no prefix) or of all (`[pid N] ` prefixes when several tasks appear)."""
        if task is not None:
            pid = task if isinstance(task, int) else task.pid
            return [e.text for e in self.entries if e.pid == pid]
        if len({e.pid for e in self.entries}) <= 1:
            return [e.text for e in self.entries]
        return [f"[pid {e.pid:>5}] {e.text}" for e in self.entries]

    def failures(self) -> list[StraceEntry]:
        """The failed calls, each with its errno and `explain`."""
        return [e for e in self.entries if e.errno is not None]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<Strace {'active' if self.active else 'closed'}: {len(self.entries)} calls>"

    def _repr_html_(self) -> str:
        from simkernel.display import strace_html
        return strace_html(self)
