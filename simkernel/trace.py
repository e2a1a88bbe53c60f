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
this module, the strace/display helpers or the syscall boundary; not dunder methods, attrs-generated code,
property getters, generators, lambdas, or helpers whose name starts with one underscore -- `__ptrace_may_access`
keeps its kernel name and is recorded).  A frame that leaves by an exception is told apart from a normal
return by its last instruction, and the exception comes from the 'exception' event.  When no trace is
active no hook is installed and no trace function is set: the syscall path is the one without a tracer.

Simplification: kernel functions called outside a system call (by a notebook calling them directly) are not
recorded; `sys.settrace` is per thread and the simulation is single-threaded.  Two traces active on one kernel
at once both record the syscalls, but only the innermost records the kernel functions (one trace function).

Linux: kernel/trace/trace_functions_graph.c (the output this imitates)
"""

from __future__ import annotations

import dis
import html
import inspect
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator

from simkernel.errors import KernelError, errno_name

if TYPE_CHECKING:
    from types import CodeType, FrameType

    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Trace", "SyscallLayer", "TraceNode", "SyscallHookChain", "install_syscall_layer", "remove_syscall_layer",
           "render_value", "render_args"]

# Modules whose functions are not kernel functions (the tracer itself, what renders for humans, and the VMA tree's
# bookkeeping in simkernel/mm/maple_tree.py, a library like the sortedcontainers it replaced).
_EXCLUDED_MODULES = frozenset({"simkernel.trace", "simkernel.strace", "simkernel.display", "simkernel.syscalls",
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
_MAX_VALUE = 48          # characters of one rendered value before it is cut with "..."


# -- the syscall hook chain ---------------------------------------------------------------------------------

class SyscallHookChain:
    """The callable kept in `kernel.hooks["syscall"]` while tracers or strace loggers are active.

    Each layer is `layer(name, fn, current, args, call_next)` and must call `call_next(fn, current, *args)`
    to run the system call (or the next layer).  Layers run outermost first, in the order installed.
    A hook that was already there (someone's patch) stays innermost.
    """

    __slots__ = ("layers", "inner")

    def __init__(self, inner: Callable[..., Any] | None) -> None:
        self.layers: list[Callable[..., Any]] = []
        self.inner = inner

    def __call__(self, name: str, fn: Callable[..., Any], current: Task, *args: Any) -> Any:
        return self._run(0, name, fn, current, args)

    def _run(self, i: int, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...]) -> Any:
        if i == len(self.layers):
            if self.inner is not None:
                return self.inner(name, fn, current, *args)
            return fn(current, *args)

        def call_next(fn2: Callable[..., Any], current2: Task, *args2: Any) -> Any:
            return self._run(i + 1, name, fn2, current2, args2)
        return self.layers[i](name, fn, current, args, call_next)


def install_syscall_layer(kernel: Kernel, layer: Callable[..., Any]) -> None:
    """Add `layer` to the kernel's syscall hook chain (creating the chain on first use)."""
    chain = kernel.hooks.get("syscall")
    if not isinstance(chain, SyscallHookChain):
        chain = SyscallHookChain(chain)
        kernel.hooks["syscall"] = chain
    chain.layers.append(layer)


def remove_syscall_layer(kernel: Kernel, layer: Callable[..., Any]) -> None:
    """Remove `layer`; when no layer is left, the hook is what it was before the first layer came."""
    chain = kernel.hooks.get("syscall")
    if not isinstance(chain, SyscallHookChain):
        return
    chain.layers[:] = [x for x in chain.layers if x != layer]   # bound methods compare equal, not identical
    if not chain.layers:
        if chain.inner is None:
            del kernel.hooks["syscall"]
        else:
            kernel.hooks["syscall"] = chain.inner


# -- rendering values compactly -----------------------------------------------------------------------------

def _cut(text: str, limit: int = _MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dentry_name_path(dentry: Any) -> str:
    """Names from the dentry up to its superblock root: 'map_files' under '2' -> '2/map_files'."""
    parts = []
    d = dentry
    while d.d_parent is not d:
        parts.append(d.d_name)
        d = d.d_parent
    return "/".join(reversed(parts)) or "/"


def _path_text(mnt: Any, dentry: Any) -> str:
    """The path of (mnt, dentry) from the namespace root, without asking ->d_dname (no side effects)."""
    from simkernel.fs.d_path import prepend_path
    from simkernel.fs.path import Path
    root_mnt = mnt
    while root_mnt.mnt_parent is not None and root_mnt.mnt_parent is not root_mnt:
        root_mnt = root_mnt.mnt_parent
    text, _code = prepend_path(Path(mnt, dentry), Path(root_mnt, root_mnt.mnt_root))
    return text


def _cred_text(v: Any) -> str:
    if v.uid == v.euid == v.suid == v.fsuid:
        return f"cred {v.uid}"
    return f"cred {v.uid}/{v.euid}/{v.suid}/{v.fsuid}"


# Kernel objects by their identity, keyed by class name (no imports: the tracer must not load modules).
_RENDERERS: dict[str, Callable[[Any], str]] = {
    "Task": lambda v: f"task {v.pid}",
    "Inode": lambda v: f"inode {v.i_ino}",
    "Dentry": lambda v: f"dentry '{_dentry_name_path(v)}'",
    "Path": lambda v: f"path {_path_text(v.mnt, v.dentry)}",
    "File": lambda v: f"file {_path_text(v.f_path.mnt, v.f_path.dentry)}",
    "NameiData": lambda v: f"nd@{_path_text(v.path.mnt, v.path.dentry)}",
    "VmAreaStruct": lambda v: f"vma {v.vm_start:x}-{v.vm_end:x}",
    "MmStruct": lambda v: f"mm {v.mm_id}",
    "Cred": _cred_text,
    "MntNamespace": lambda v: f"mnt_ns {v.ns_id}",
    "PidEntry": lambda v: f"pid_entry '{v.name}'",
    "ProcFsInfo": lambda v: "proc_fs_info",
    "UserNamespace": lambda v: "init_user_ns" if v.level == 0 else f"user_ns level {v.level}",
    "RwSemaphore": lambda v: str(v.name),
    "Mutex": lambda v: str(v.name),
    "VfsMount": lambda v: f"mount {v.mnt_id}",
    "SuperBlock": lambda v: f"sb {v.s_id}",
    "Pid": lambda v: f"pid {v.nr}",
    "PidNamespace": lambda v: f"pid_ns level {v.level}",
    "stat_result": lambda v: f"stat(ino={v.st_ino}, mode={v.st_mode:o})",
}


def _render_object(v: Any) -> str | None:
    """`task 42`, `inode 17`, `dentry '2/map_files'`, `vma 7f00-7f01`, a function's name, or None."""
    fn = _RENDERERS.get(type(v).__name__)
    if fn is not None:
        return fn(v)
    if callable(v) and hasattr(v, "__name__"):
        return str(v.__name__)
    return None


def _flag_names(value: int, table: tuple[tuple[int, str], ...], zero: str) -> str:
    if value == 0:
        return zero
    parts, rest = [], value
    for bit, bname in table:
        if rest & bit == bit and bit:
            parts.append(bname)
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


_MAY = ((0x1, "MAY_EXEC"), (0x2, "MAY_WRITE"), (0x4, "MAY_READ"), (0x8, "MAY_APPEND"), (0x10, "MAY_ACCESS"),
        (0x20, "MAY_OPEN"), (0x40, "MAY_CHDIR"), (0x80, "MAY_NOT_BLOCK"))
_PTRACE_MODE_FUNCS = frozenset({"mm_access", "may_access_mm", "proc_mem_open"})   # `mode` is PTRACE_MODE_*
_PTRACE_MODE = ((0x1, "PTRACE_MODE_READ"), (0x2, "PTRACE_MODE_ATTACH"), (0x4, "PTRACE_MODE_NOAUDIT"),
                (0x8, "PTRACE_MODE_FSCREDS"), (0x10, "PTRACE_MODE_REALCREDS"))


def render_value(v: Any, name: str = "", func: str = "") -> str:
    """One argument or return value in a few characters; `name` is the parameter name, `func` the callee.

    Examples: a Task -> "task 42"; mask=5 -> "MAY_EXEC|MAY_READ"; cap=19 -> "CAP_SYS_PTRACE";
    dfd=-100 -> "AT_FDCWD"; 0x7f0000001000 -> "0x7f0000001000"; a long string is cut with "...".
    """
    if v is None or v is True or v is False:
        return repr(v)
    if isinstance(v, int):
        return _render_int(v, name, func)
    if isinstance(v, str):
        from simkernel.strace import quote
        return _cut(quote(v, None))
    if isinstance(v, (bytes, bytearray)):
        return _cut(repr(bytes(v)))
    if isinstance(v, (tuple, list)) and type(v).__name__ != "stat_result":
        inner = ", ".join(render_value(x) for x in v[:4]) + (", ..." if len(v) > 4 else "")
        text = f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
        return _cut(text, 2 * _MAX_VALUE)
    obj = _render_object(v)
    if obj is not None:
        return _cut(obj, 2 * _MAX_VALUE)
    return type(v).__name__


def _render_int(v: int, name: str, func: str) -> str:
    if name == "mask" and 0 <= v < 0x100:
        return _flag_names(v, _MAY, "0")
    if name == "mode" and ("ptrace" in func or func in _PTRACE_MODE_FUNCS):
        return _flag_names(v, _PTRACE_MODE, "0")
    if name == "cap":
        from simkernel.uapi.capability import CAP_NAMES
        return CAP_NAMES[v].upper() if v in CAP_NAMES else str(v)
    if name in ("dfd", "dirfd") and v == -100:
        return "AT_FDCWD"
    if name == "mode":
        return f"0{v:o}" if v else "0"
    if name in ("flags", "vm_flags", "prot") and v:
        return hex(v)
    if v >= 0x10000 or v < -0x10000:
        return hex(v)
    return str(v)


def render_args(frame: FrameType) -> str:
    """The arguments of a function call, rendered; `current`, the kernel object and `why` (a simulation-only
    out-parameter for explanations, see kernel/ptrace.py:ptrace_may_access) are left out."""
    code = frame.f_code
    local = frame.f_locals
    n = code.co_argcount + code.co_kwonlyargcount
    parts = []
    for pname in code.co_varnames[:n]:
        if pname in ("current", "why"):
            continue
        v = local.get(pname)
        if type(v).__name__ == "Kernel":
            continue
        if pname == "self":
            obj = _render_object(v)
            if obj is None:
                continue
            parts.append(obj)
            continue
        parts.append(render_value(v, pname, code.co_name))
    return ", ".join(parts)


# -- the recorded tree --------------------------------------------------------------------------------------

class TraceNode:
    """One call: a system call (kind "syscall", the tree's roots) or a kernel function (kind "call").

    Attributes:
        func: the kernel function's name ("proc_map_files_lookup") or the syscall's name ("readlink").
        module: the Python module that defines it ("simkernel.fs.proc.map_files"), "" for syscalls.
        args: the arguments, rendered at call time.
        ret: the rendered return value ("" for None); `result` keeps the value itself for syscalls.
        error: the KernelError the call raised (None if it returned).
        children: the calls it made, in order.
        hidden: calls below `max_depth` that were not recorded.
    """

    __slots__ = ("kind", "func", "module", "args", "ret", "result", "error", "children", "parent", "pid",
                 "raw_args", "hidden", "_pending")

    def __init__(self, kind: str, func: str, module: str, args: str, parent: TraceNode | None,
                 pid: int = 0) -> None:
        self.kind = kind
        self.func = func
        self.module = module
        self.args = args
        self.ret = ""
        self.result: Any = None
        self.error: KernelError | None = None
        self.children: list[TraceNode] = []
        self.parent = parent
        self.pid = pid
        self.raw_args: tuple[Any, ...] = ()
        self.hidden = 0
        self._pending: Any = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def errno(self) -> int | None:
        return self.error.errno if self.error is not None else None

    def walk(self) -> Iterator[TraceNode]:
        """This node and every node below it, in call order."""
        yield self
        for c in self.children:
            yield from c.walk()

    def chain(self) -> list[TraceNode]:
        """The callers from the syscall down to this node."""
        out = []
        n: TraceNode | None = self
        while n is not None:
            out.append(n)
            n = n.parent
        return out[::-1]

    def syscall_name(self) -> str:
        """The name strace shows for this system call (`openat` for the `open` hook)."""
        from simkernel.strace import strace_name
        return strace_name(self.func, self.raw_args)

    def label(self) -> str:
        """One line: `name(args) = ret`, `name(args) = -EACCES`, or the strace line of a syscall."""
        if self.kind == "syscall":
            from simkernel.strace import format_syscall
            line = format_syscall(self.func, self.raw_args, self.result, self.error)
            return f"[pid {self.pid}] {line}"
        text = f"{self.func}({self.args})"
        if self.error is not None:
            return f"{text} = -{errno_name(self.error.errno)}"
        if self.ret:
            return f"{text} = {self.ret}"
        return text

    def __repr__(self) -> str:
        return f"<TraceNode {self.label()}>"


class SyscallLayer:
    """A `with` block that puts `self._layer` into the kernel's syscall hook chain for its duration
    (the tracer here, the strace logger in simkernel/strace.py)."""

    kernel: Kernel
    active: bool
    _what = "layer"

    def __enter__(self) -> Any:
        if self.active:
            raise RuntimeError(f"this {self._what} is already active")
        self.active = True
        install_syscall_layer(self.kernel, self._layer)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
        remove_syscall_layer(self.kernel, self._layer)

    def _layer(self, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...],
               call_next: Callable[..., Any]) -> Any:
        raise NotImplementedError


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
            _text_lines(c, 0, out)
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


def _text_lines(node: TraceNode, depth: int, out: list[str]) -> None:
    out.append("  " * depth + node.label())
    for c in node.children:
        _text_lines(c, depth + 1, out)
    if node.hidden:
        out.append("  " * (depth + 1) + f"... {node.hidden} deeper call{'s' if node.hidden != 1 else ''}")


def origin_of(node: TraceNode) -> TraceNode:
    """Follow the failing error down to the call that raised it first (the same KernelError object)."""
    err = node.error
    cur = node
    while True:
        nxt = None
        for c in reversed(cur.children):
            if c.error is err:
                nxt = c
                break
        if nxt is None:
            return cur
        cur = nxt


def explain_failure(node: TraceNode) -> str:
    """The words of `Trace.why()` for one failed node (usually a system call)."""
    err = node.error
    assert err is not None
    origin = origin_of(node)
    name = errno_name(err.errno)
    where = origin.func
    explain = err.explain or "(no explanation recorded)"
    if explain.startswith(where + ": "):
        explain = explain[len(where) + 2:]
    lines = [f"{name} from {where}: {explain}"]
    seen: set[int] = {id(err)}
    for n in origin.walk():
        e = n.error
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        deepest = origin_of(n)
        why = f": {e.explain}" if e.explain else ""
        lines.append(f"  said no: {deepest.func} -> {errno_name(e.errno)}{why}")
    chain = [n.syscall_name() if n.kind == "syscall" else n.func for n in origin.chain()]
    lines.append("  call chain: " + " > ".join(chain))
    return "\n".join(lines)
