"""The kernel call tracer: `with k.trace() as tr: ...` records the call graph of every system call.

Like ftrace's function_graph tracer with `funcgraph-retval`: for each system call made inside the block, the
kernel functions it ran (their kernel names), their key arguments, and what each returned -- a value, or the
errno it raised.  `str(tr)` is an indented text tree, `tr._repr_html_()` a collapsible tree for Jupyter, and
`tr.why()` names the check that decided the last failure.

    >>> import simkernel
    >>> k = simkernel.Kernel()
    >>> with k.trace() as tr:
    ...     _ = k.init.sys.getpid()
    >>> for line in tr.lines()[:3]:
    ...     print(line)
    [pid 1] getpid() = 1
      sys_getpid() = 1
        task_tgid_vnr(task 1) = 1

How it works, and why it costs nothing when off: the tracer is one layer on the syscall hook
(`kernel.hooks["syscall"]`, called by `simkernel.syscalls.Sys._call`).  Only while a traced system call runs
is a `sys.settrace` function installed; it records calls of functions defined in `simkernel.*` modules (not
the tracer's own modules, the strace/display helpers or the syscall boundary; not dunder methods, attrs-generated code,
property getters, generators, lambdas, or helpers whose name starts with one underscore -- `__ptrace_may_access`
keeps its kernel name and is recorded).  A frame that leaves by an exception is told apart from a normal
return by its last instruction, and the exception comes from the 'exception' event.  When no trace is
active no hook is installed and no trace function is set: the syscall path is the one without a tracer.

The pieces: the syscall hook chain is simkernel/trace_hooks.py, the recorded tree (`TraceNode`, the words of
`why()`) simkernel/trace_node.py, how values are rendered simkernel/trace_render.py; this module records.

Simplification: kernel functions called outside a system call (by a notebook calling them directly) are not
recorded; `sys.settrace` is per thread and the simulation is single-threaded.  Two traces active on one kernel
at once both record the syscalls, but only the innermost records the kernel functions (one trace function).

Linux: kernel/trace/trace_functions_graph.c (the output this imitates)
"""

from __future__ import annotations

import dis
import inspect
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator

from simkernel.errors import KernelError
from simkernel.trace_hooks import SyscallHookChain, SyscallLayer, install_syscall_layer, remove_syscall_layer
from simkernel.trace_node import TraceNode, explain_failure, text_lines
from simkernel.trace_render import render_args, render_value

if TYPE_CHECKING:
    from types import CodeType, FrameType

    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Trace", "SyscallLayer", "TraceNode", "SyscallHookChain", "install_syscall_layer", "remove_syscall_layer",
           "render_value", "render_args"]

# Modules whose functions are not kernel functions (the tracer itself, what renders for humans, and the VMA tree's
# bookkeeping in simkernel/mm/maple_tree.py, a library like the sortedcontainers it replaced).
_EXCLUDED_MODULES = frozenset({"simkernel.trace", "simkernel.trace_hooks", "simkernel.trace_node",
                               "simkernel.trace_render", "simkernel.strace", "simkernel.strace_xlat",
                               "simkernel.strace_format", "simkernel.display", "simkernel.display_style",
                               "simkernel.display_mm", "simkernel.display_fs", "simkernel.syscalls",
                               "simkernel.userspace", "simkernel.demo", "simkernel.cli", "simkernel.__main__",
                               "simkernel.errors", "simkernel.mm.maple_tree",
                               "simkernel.kernel.locking.lockdep", "simkernel.kernel.locking.lockdep_report",
                               "simkernel.lib.ref_tracker"})
# (the lock validator, the refcount ledger and the interleaving scheduler are debugging machinery, not the
# call graph being debugged)
_EXCLUDED_PACKAGES = ("simkernel.uapi", "simkernel.host", "simkernel.kernel.sched")
# Static inline functions and macros in C (function_graph cannot see them either), and model bookkeeping.
# Names in CAPITALS (PROC_I, S_ISDIR, MKDEV, PAGE_ALIGN) are macros and are left out by rule.
INLINE_HELPERS = frozenset({"cap_valid", "cap_raised", "cap_name", "proc_pid", "proc_sb_info", "next_id",
                            "vma_pages", "offset_in_page", "d_inode", "d_unhashed", "d_really_is_negative",
                            "thread_group_leader", "tick", "fatal_signal_pending", "lock_acquire",
                            # static inlines written out on the readlink path (issue 9)
                            "may_lookup", "d_can_lookup", "vma_lookup", "same_thread_group", "d_unlinked",
                            "lock_release", "available",
                            # debug hooks compiled away without lock proving, and the spinlock wrappers
                            # (kernel/locking/spinlock.py: task_lock() and spin_lock() are inlines)
                            "might_fault", "task_lock", "task_unlock", "spin_lock", "spin_unlock",
                            # refcount inlines (include/linux/sched/task.h, pid.h, sched/mm.h); rcu pid_task()
                            "get_task_struct", "put_task_struct", "get_pid", "mmget", "mmget_not_zero",
                            "proc_pid_task"})
_RETURN_OPCODES = frozenset(dis.opmap[n] for n in ("RETURN_VALUE", "RETURN_CONST") if n in dis.opmap)
_GENERATOR_FLAGS = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR


class Trace(SyscallLayer):
    """A kernel call-graph trace; use as `with k.trace() as tr:` (see the module docstring).

    Args:
        kernel: the kernel whose system calls to trace.
        syscalls_only: record the system calls only (no kernel functions; no trace function is set at all).
        max_depth: record kernel functions down to this depth below the syscall (1 = the syscall's own
            entry function); deeper calls are counted in the parent's `hidden`.
    """

    def __init__(self, kernel: Kernel, syscalls_only: bool = False, max_depth: int | None = None) -> None:
        self.kernel = kernel
        self.syscalls_only = syscalls_only
        self.max_depth = max_depth
        self.calls: list[TraceNode] = []
        self.active = False
        self._stack: list[TraceNode] = []
        self._want: dict[CodeType, bool] = {}
        self._nullable: dict[CodeType, bool] = {}

    _what = "trace"

    # -- recording --------------------------------------------------------------------------------------
    def _layer(self, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...],
               call_next: Callable[..., Any]) -> Any:
        """One system call: a root node (or a child, for a syscall made inside a traced one), then run it."""
        stack = self._stack
        node = TraceNode("syscall", name, "", "", stack[-1] if stack else None, pid=current.pid)
        node.raw_args = args
        if stack:
            stack[-1].children.append(node)
        else:
            self.calls.append(node)
        stack.append(node)
        try:
            result = call_next(fn if self.syscalls_only else self._traced(fn), current, *args)
        except KernelError as err:
            node.error = err
            raise
        finally:
            stack.pop()
        node.result = result
        node.ret = render_value(result)
        return result

    def _traced(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """`fn` run with the trace function installed (only the kernel function, not other hook layers)."""
        def run(*args: Any) -> Any:
            old = sys.gettrace()
            sys.settrace(self._global)
            try:
                return fn(*args)
            finally:
                sys.settrace(old)
        return run

    def _wanted(self, frame: FrameType) -> bool:
        """Is this frame a kernel function to record? (decided once per code object)"""
        code = frame.f_code
        module = frame.f_globals.get("__name__", "")
        if not module.startswith("simkernel.") or module in _EXCLUDED_MODULES:
            return False
        if module.startswith(_EXCLUDED_PACKAGES):
            return False
        name = code.co_name
        if name in INLINE_HELPERS or name.isupper():
            return False
        if code.co_filename.startswith("<") or name.startswith("<"):
            return False
        if name.startswith("__") and name.endswith("__"):
            return False
        if name.startswith("_") and not name.startswith("__"):
            return False
        if code.co_flags & _GENERATOR_FLAGS:
            return False
        if code.co_argcount and code.co_varnames[0] == "self":
            attr = inspect.getattr_static(type(frame.f_locals.get("self")), name, None)
            if isinstance(attr, property):
                return False
        return True

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        """sys.settrace global function: a 'call' of a new frame."""
        code = frame.f_code
        want = self._want.get(code)
        if want is None:
            want = self._want[code] = self._wanted(frame)
        if not want:
            return None
        stack = self._stack
        parent = stack[-1]
        frame.f_trace_lines = False
        if parent.kind == "hidden" or (self.max_depth is not None and self._depth() >= self.max_depth):
            hidden = TraceNode("hidden", code.co_name, "", "", parent)
            top = parent
            while top.kind == "hidden":
                top = top.parent  # type: ignore[assignment]
            top.hidden += 1
            stack.append(hidden)
            return self._local
        node = TraceNode("call", code.co_name, frame.f_globals.get("__name__", ""), render_args(frame), parent)
        parent.children.append(node)
        stack.append(node)
        return self._local

    def _returns_pointer(self, frame: FrameType) -> bool:
        """Is the function declared `-> X | None`? Then None is the kernel's NULL, worth showing."""
        code = frame.f_code
        known = self._nullable.get(code)
        if known is None:
            fn = frame.f_globals.get(code.co_name)
            ann = getattr(fn, "__annotations__", {}).get("return") if getattr(fn, "__code__", None) is code else None
            known = self._nullable[code] = isinstance(ann, str) and ann != "None" and "None" in ann
        return known

    def _depth(self) -> int:
        n = 0
        for node in reversed(self._stack):
            if node.kind == "syscall":
                break
            n += 1
        return n

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        """sys.settrace local function of a recorded frame: 'exception' and 'return'."""
        if event == "exception":
            self._stack[-1]._pending = arg[1]
        elif event == "return":
            node = self._stack.pop()
            if frame.f_code.co_code[frame.f_lasti] in _RETURN_OPCODES:
                node._pending = None
                if node.kind != "call":
                    pass
                elif arg is not None:
                    node.ret = render_value(arg, "", node.func)
                elif self._returns_pointer(frame):
                    node.ret = "NULL"
            else:
                pending = node._pending
                node._pending = None
                if isinstance(pending, KernelError):
                    node.error = pending
                elif node.kind == "call":
                    node.ret = f"raised {type(pending).__name__}"
        return self._local

    # -- reading the trace ------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[TraceNode]:
        """Every recorded node, syscalls and kernel functions, in call order."""
        for c in self.calls:
            yield from c.walk()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def find(self, func: str) -> list[TraceNode]:
        """The recorded calls of one function: `tr.find("proc_map_files_lookup")`."""
        return [n for n in self if n.func == func]

    def failures(self) -> list[TraceNode]:
        """The system calls that failed, in order."""
        return [n for c in self.calls for n in c.walk() if n.kind == "syscall" and n.error is not None]

    def lines(self) -> list[str]:
        """The text tree, one line per node, two spaces of indent per level."""
        out: list[str] = []
        for c in self.calls:
            text_lines(c, 0, out)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        state = "active" if self.active else "closed"
        return f"<Trace {state}: {len(self.calls)} syscalls, {len(self)} nodes>"

    def why(self) -> str:
        """The deciding check of the last failed system call, in words.

        First line: the errno and the function that raised it, with its `explain`.  Then the checks that
        said no on the way (errors raised and handled inside that function, e.g. __ptrace_may_access's
        EPERM under mm_access's EACCES), and the chain of callers from the system call down.
        """
        fails = self.failures()
        if not fails:
            return "no system call failed in this trace"
        return explain_failure(fails[-1])

    def _repr_html_(self) -> str:
        from simkernel.display import trace_html
        return trace_html(self)
