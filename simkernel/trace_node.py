"""The tree a trace records: one `TraceNode` per system call or kernel function, and the words of `why()`.

`TraceNode.label()` is one line of the text tree (`name(args) = ret`, `= -EACCES`, or the strace line of
a system call); `text_lines` indents a whole tree; `explain_failure` follows a failing errno down to the
check that decided it (`Trace.why()`).

Carved from simkernel/trace.py.  Tracer machinery: simkernel/trace.py lists this module among the modules
never recorded.
"""

from __future__ import annotations

from typing import Any, Iterator

from simkernel.errors import KernelError, errno_name
from simkernel.strace_format import format_syscall, strace_name

__all__ = ["TraceNode", "text_lines", "hidden_label", "origin_of", "explain_failure"]


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
        return strace_name(self.func, self.raw_args)

    def label(self) -> str:
        """One line: `name(args) = ret`, `name(args) = -EACCES`, or the strace line of a syscall."""
        if self.kind == "syscall":
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


def hidden_label(node: TraceNode) -> str:
    """The line that stands for the calls below `max_depth`: "... 3 deeper calls"."""
    return f"... {node.hidden} deeper call{'s' if node.hidden != 1 else ''}"


def text_lines(node: TraceNode, depth: int, out: list[str]) -> None:
    """Append the text tree of `node` to `out`, two spaces of indent per level (`Trace.lines()`)."""
    out.append("  " * depth + node.label())
    for c in node.children:
        text_lines(c, depth + 1, out)
    if node.hidden:
        out.append("  " * (depth + 1) + hidden_label(node))


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
