"""The kernel call tracer (simkernel/trace.py): exact call graphs, why(), hygiene of the trace function.

The golden traces in tests/golden/trace/ are the exact text of `str(tr)` and `tr.why()` for the
representative map_files paths (readdir, lookup, readlink, follow) and each denial.  The simulation is
deterministic, so nothing is normalised.  When a change to the kernel model changes a call graph on purpose,
regenerate them with `SIMKERNEL_REGOLD=1 python -m pytest tests/test_trace.py` and review the diff: it is
the change in the kernel's path, function by function.
"""

from __future__ import annotations

import os
import pathlib
import sys
from html.parser import HTMLParser
from typing import Any, Callable

import pytest

import simkernel
from simkernel.errors import KernelError
from simkernel.kernel.task import Task
from simkernel.trace import (SyscallHookChain, Trace, TraceNode, install_syscall_layer, remove_syscall_layer,
                             render_value)
from simkernel.uapi import (CAP_DAC_READ_SEARCH, CAP_PERFMON, CAP_SYS_ADMIN, CAP_SYS_PTRACE, MAP_ANONYMOUS, MAP_FIXED,
                            MAP_PRIVATE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_WRONLY, PROT_EXEC,
                            PROT_READ, PROT_WRITE)
from simkernel.uapi import errno as E

GOLDEN = pathlib.Path(__file__).parent / "golden" / "trace"
REGOLD = os.environ.get("SIMKERNEL_REGOLD") == "1"


class World:
    """One kernel: /tmp/lib.so (3 pages) mapped r-x at 0x400000 (2 pages) by `app` (uid 1000), and one
    anonymous page at 0x600000; /proc/<app>/map_files already listed once by `app` (warm dcache)."""

    def __init__(self) -> None:
        self.k = k = simkernel.Kernel()
        s = k.init.sys
        fd = s.open("/tmp/lib.so", O_CREAT | O_WRONLY, 0o755)
        s.ftruncate(fd, 0x3000)
        s.close(fd)
        self.app = app = k.spawn("app", uid=1000, gid=1000)
        fd = app.sys.open("/tmp/lib.so", O_RDONLY)
        app.sys.mmap(0x400000, 0x2000, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 0)
        app.sys.close(fd)
        app.sys.mmap(0x600000, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS)
        self.dir = f"/proc/{app.pid}/map_files"
        self.entry = f"{self.dir}/400000-402000"

    def spawn(self, **kw: Any) -> Task:
        return self.k.spawn("observer", **kw)


def _expect_errno(errno: int | None, fn: Callable[[], Any]) -> OSError | None:
    try:
        fn()
    except OSError as err:
        assert err.errno == errno, f"expected {errno}, got {err!r}"
        return err
    assert errno is None, f"expected errno {errno}, the call succeeded"
    return None


# name -> (who: World -> Task, action: (World, Task) -> Any, errno the syscall fails with or None)
SCENARIOS: dict[str, tuple[Callable[[World], Task], Callable[[World, Task], Any], int | None]] = {
    "readdir": (lambda w: w.app, lambda w, t: t.sys.listdir(w.dir), None),
    "lookup": (lambda w: w.app, lambda w, t: t.sys.lstat(w.entry), None),
    "readlink": (lambda w: w.app, lambda w, t: t.sys.readlink(w.entry), None),
    "follow": (lambda w: w.k.init, lambda w, t: t.sys.close(t.sys.open(w.entry, O_RDONLY)), None),
    "deny_dir_dac": (lambda w: w.spawn(uid=1001, gid=1001), lambda w, t: t.sys.listdir(w.dir), E.EACCES),
    "deny_ptrace": (lambda w: w.spawn(uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH]),
                    lambda w, t: t.sys.readlink(w.entry), E.EACCES),
    "deny_follow_cap": (lambda w: w.app, lambda w, t: t.sys.open(w.entry, O_RDONLY), E.EPERM),
    "deny_bad_name": (lambda w: w.app, lambda w, t: t.sys.readlink(f"{w.dir}/0400000-402000"), E.ENOENT),
    "deny_no_vma": (lambda w: w.app, lambda w, t: t.sys.readlink(f"{w.dir}/400000-401000"), E.ENOENT),
    "deny_anon_vma": (lambda w: w.app, lambda w, t: t.sys.readlink(f"{w.dir}/600000-601000"), E.ENOENT),
}


def _run(name: str) -> Trace:
    who, action, errno = SCENARIOS[name]
    w = World()
    t = who(w)
    with w.k.trace() as tr:
        _expect_errno(errno, lambda: action(w, t))
    return tr


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_trace_golden(name: str) -> None:
    """The exact call graph and why() of one representative path (tests/golden/trace/<name>.txt)."""
    tr = _run(name)
    text = str(tr) + "\n\n" + tr.why() + "\n"
    path = GOLDEN / f"{name}.txt"
    if REGOLD:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"trace of {name} changed; see the module docstring to regenerate"


@pytest.mark.parametrize("name,first", [
    ("deny_dir_dac", "EACCES from generic_permission: mode 0500 owner 1000:1000 does not grant 'r' to fsuid 1001 "
                     "fsgid 1001, and the caller lacks CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH"),
    ("deny_follow_cap", "EPERM from proc_map_files_get_link: following a map_files link needs CAP_SYS_ADMIN or "
                        "CAP_CHECKPOINT_RESTORE in the initial user namespace"),
    ("deny_bad_name", "ENOENT from proc_map_files_lookup: map_files: '0400000-402000' is not a well-formed "
                      "start-end name"),
    ("deny_no_vma", "ENOENT from proc_map_files_lookup: map_files: no VMA spans exactly 400000-401000"),
    ("deny_anon_vma", "ENOENT from proc_map_files_lookup: map_files: the VMA 600000-601000 is anonymous"),
])
def test_why_names_the_deciding_check(name: str, first: str) -> None:
    """why()'s first line is the errno, the function that raised it and its explanation."""
    assert _run(name).why().splitlines()[0] == first


def test_why_ptrace_denial_names_mm_access_and_the_uid_check() -> None:
    """mm_access raised the EACCES; the words carry __ptrace_may_access's uid comparison."""
    first = _run("deny_ptrace").why().splitlines()[0]
    assert first.startswith("EACCES from mm_access: ptrace_may_access() denied")
    assert ("caller fsuid/fsgid 1001/1001 does not match target uids 1000/1000/1000 and gids 1000/1000/1000, "
            "and the caller lacks CAP_SYS_PTRACE over the target's user namespace") in first


def test_why_lists_the_checks_that_said_no() -> None:
    """Under mm_access's EACCES, __ptrace_may_access's EPERM and the failed CAP_SYS_PTRACE check are named."""
    lines = _run("deny_ptrace").why().splitlines()
    assert lines[1].startswith("  said no: __ptrace_may_access -> EPERM: ptrace PTRACE_MODE_READ_FSCREDS")
    assert lines[2] == "  said no: cap_capable -> EPERM: CAP_SYS_PTRACE is not in the effective set"
    assert lines[-1].startswith("  call chain: readlink > do_readlinkat > ")
    assert lines[-1].endswith(" > proc_map_files_lookup > mm_access")


def test_why_follow_chain_starts_at_openat() -> None:
    """The call chain names the syscall as strace does (openat for os.open)."""
    chain = _run("deny_follow_cap").why().splitlines()[-1]
    assert chain.startswith("  call chain: openat > do_sys_open > ")
    assert chain.endswith(" > proc_map_files_get_link")


def test_why_without_failure() -> None:
    """A trace with no failed syscall says so."""
    assert _run("readlink").why() == "no system call failed in this trace"


def test_oserror_explain_matches_why() -> None:
    """The OSError's .explain is the explanation why() starts with."""
    w = World()
    t = w.spawn(uid=1001, gid=1001)
    with w.k.trace() as tr:
        err = _expect_errno(E.EACCES, lambda: t.sys.readlink(w.entry))
    assert err is not None and err.explain  # type: ignore[attr-defined]
    assert tr.why().splitlines()[0].endswith(err.explain.split(": ", 1)[1])  # type: ignore[attr-defined]


# -- hygiene: nothing left behind -------------------------------------------------------------------------

def test_trace_restores_trace_and_profile_functions() -> None:
    """sys.gettrace()/sys.getprofile() and the hook table are what they were, after success and failure."""
    w = World()
    before = (sys.gettrace(), sys.getprofile())
    hooks = dict(w.k.hooks)
    with w.k.trace():
        assert sys.gettrace() is before[0]          # installed only while a syscall runs
        _expect_errno(E.EPERM, lambda: w.app.sys.open(w.entry, O_RDONLY))
        assert (sys.gettrace(), sys.getprofile()) == before
    assert (sys.gettrace(), sys.getprofile()) == before
    assert w.k.hooks == hooks and "syscall" not in w.k.hooks
    with pytest.raises(ZeroDivisionError):
        with w.k.trace():
            w.app.sys.getpid()
            1 / 0  # noqa: B018
    assert (sys.gettrace(), sys.getprofile()) == before
    assert "syscall" not in w.k.hooks


def test_trace_state_and_reentry() -> None:
    """repr, len, iteration and find(); entering an active trace again is a bug."""
    w = World()
    tr = w.k.trace()
    with tr:
        w.app.sys.getpid()
        with pytest.raises(RuntimeError):
            tr.__enter__()
        assert repr(tr).startswith("<Trace active: 1 syscalls")
    assert repr(tr) == f"<Trace closed: 1 syscalls, {len(tr)} nodes>"
    assert [n.func for n in tr.find("sys_getpid")] == ["sys_getpid"]
    assert tr.failures() == []
    root = tr.calls[0]
    assert root.kind == "syscall" and root.result == 2 and root.errno is None and not root.failed
    assert root.label() == "[pid 2] getpid() = 2"
    assert repr(root) == "<TraceNode [pid 2] getpid() = 2>"
    assert root.children[0].chain() == [root, root.children[0]]


def test_trace_syscalls_only_sets_no_trace_function() -> None:
    """syscalls_only records the syscall nodes alone, without a trace function."""
    w = World()
    seen = []
    with w.k.trace(syscalls_only=True) as tr:
        seen.append(sys.gettrace())
        w.app.sys.readlink(w.entry)
    assert [c.label() for c in tr.calls] == [
        '[pid 2] readlink("/proc/2/map_files/400000-402000", "/tmp/lib.so", 4096) = 11']
    assert tr.calls[0].children == []
    assert str(tr) == tr.calls[0].label()


def test_trace_max_depth_counts_hidden_calls() -> None:
    """max_depth=1 keeps the syscall's entry function and counts what ran below it."""
    w = World()
    with w.k.trace(max_depth=1) as tr:
        w.app.sys.readlink(w.entry)
    root = tr.calls[0]
    assert [c.func for c in root.children] == ["do_readlinkat"]
    entry = root.children[0]
    assert entry.children == [] and entry.hidden > 10
    assert tr.lines()[-1] == f"    ... {entry.hidden} deeper calls"
    with w.k.trace(max_depth=0) as tr0:
        w.app.sys.getpid()
    hidden = tr0.calls[0].hidden
    assert tr0.calls[0].children == [] and tr0.lines()[-1] == f"  ... {hidden} deeper call{'s' if hidden > 1 else ''}"
    one = TraceNode("call", "f", "m", "", None)
    one.hidden = 1
    tr0.calls[0].children.append(one)
    assert tr0.lines()[1:3] == ["  f()", "    ... 1 deeper call"]


def test_trace_nested_syscall_is_a_child() -> None:
    """A syscall made while a traced one runs becomes a child node of it."""
    w = World()
    t = w.app
    with w.k.trace() as tr:
        t.sys._call("outer", lambda current: current.sys.getpid())
    outer = tr.calls[0]
    assert outer.label() == "[pid 2] outer() = 2"
    assert [c.label() for c in outer.children] == ["[pid 2] getpid() = 2"]


def test_trace_non_kernel_error_is_marked() -> None:
    """A simulator error (not an errno) leaving a function is shown as raised, not as a return value."""
    w = World()
    with w.k.trace() as tr:
        with pytest.raises(RuntimeError):
            w.k.init.sys.exit(0)
    exit_node = tr.calls[0].children[0]
    assert exit_node.func == "do_exit" and exit_node.ret == "raised RuntimeError"
    assert tr.calls[0].error is None


def test_trace_records_errors_handled_inside() -> None:
    """A KernelError raised and caught inside the kernel stays on its node (orange in HTML)."""
    tr = _run("deny_ptrace")
    inner = tr.find("__ptrace_may_access")[0]
    assert inner.errno == E.EPERM and tr.calls[0].errno == E.EACCES
    assert inner.error is not tr.calls[0].error


def test_trace_renders_null_and_key_arguments() -> None:
    """Pointer-returning functions show NULL; masks, caps and modes show by name."""
    text = str(_run("deny_follow_cap"))
    assert "d_lookup(dentry '2/map_files', \"400000-402000\") = NULL" in text or "= NULL" in text
    assert "MAY_EXEC" in text and "CAP_SYS_ADMIN" in text
    assert "[pid 2] openat(AT_FDCWD, \"/proc/2/map_files/400000-402000\", O_RDONLY) = -1 EPERM" in text


def test_render_value_examples() -> None:
    """render_value() in a few characters, by parameter name."""
    w = World()
    assert render_value(w.app) == "task 2"
    assert render_value(5, "mask") == "MAY_EXEC|MAY_READ"
    assert render_value(0x300, "mask") == "768"
    assert render_value(0, "mask") == "0"
    assert render_value(CAP_SYS_ADMIN, "cap") == "CAP_SYS_ADMIN"
    assert render_value(99, "cap") == "99"
    assert render_value(-100, "dfd") == "AT_FDCWD"
    assert render_value(0o644, "mode") == "0644" and render_value(0, "mode") == "0"
    assert render_value(9, "mode", "ptrace_may_access") == "PTRACE_MODE_READ|PTRACE_MODE_FSCREDS"
    assert render_value(0x80, "mode", "ptrace_may_access") == "0x80"
    assert render_value(0x22, "flags") == "0x22" and render_value(0, "flags") == "0"
    assert render_value(0x7F0000001000) == "0x7f0000001000" and render_value(-0x20000) == "-0x20000"
    assert render_value(12) == "12" and render_value(None) == "None" and render_value(True) == "True"
    assert render_value("x" * 80).endswith('..."'[:3]) and len(render_value("x" * 80)) == 48
    assert render_value(b"ab") == "b'ab'"
    assert render_value((1, 2, 3, 4, 5)) == "(1, 2, 3, 4, ...)"
    assert render_value([1]) == "[1]"
    assert render_value(w.app.mm).startswith("mm ")
    assert render_value(w.app.cred) == "cred 1000"
    assert render_value(list(w.app.mm)[0]) == "vma 400000-402000"
    assert render_value(w.app.fs.root) == "path /"
    f = list(w.app.mm)[0].vm_file
    assert render_value(f) == "file /tmp/lib.so"
    assert render_value(f.f_inode).startswith("inode ")
    assert render_value(f.f_path.mnt).startswith("mount ")
    assert render_value(f.f_inode.i_sb).startswith("sb ")
    assert render_value(w.app.thread_pid) == "pid 2"
    assert render_value(w.k.init_user_ns) == "init_user_ns"
    assert render_value(w.app.sys.stat("/tmp")).startswith("stat(ino=")
    assert render_value(len) == "len"
    assert render_value(object()) == "object"
    assert render_value(w.app.signal.exec_update_lock) == "&sig->exec_update_lock"


def test_render_value_user_namespace_levels() -> None:
    """A child user namespace renders with its level."""
    w = World()
    t = w.spawn(uid=1000, gid=1000)
    t.sys.unshare(0x10000000)
    assert render_value(t.cred.user_ns) == "user_ns level 1"
    c = t.cred
    from attrs import evolve
    assert render_value(evolve(c, euid=0)) == "cred 1000/0/1000/1000"


def test_hook_chain_keeps_order_and_restores() -> None:
    """Layers run outermost first; removing them restores the hook table; removing twice is harmless."""
    w = World()
    order: list[str] = []

    def layer(tag: str) -> Callable[..., Any]:
        def run(name, fn, current, args, call_next):  # type: ignore[no-untyped-def]
            order.append(tag)
            return call_next(fn, current, *args)
        return run
    a, b = layer("a"), layer("b")
    install_syscall_layer(w.k, a)
    install_syscall_layer(w.k, b)
    assert isinstance(w.k.hooks["syscall"], SyscallHookChain)
    w.app.sys.getpid()
    assert order == ["a", "b"]
    remove_syscall_layer(w.k, a)
    remove_syscall_layer(w.k, b)
    remove_syscall_layer(w.k, b)
    assert "syscall" not in w.k.hooks


# -- HTML -------------------------------------------------------------------------------------------------

class _Tree(HTMLParser):
    """Checks nesting and counts the structure of the trace HTML."""

    VOID = {"br", "img", "meta", "hr", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.open_details = 0
        self.red: list[str] = []
        self._in_red = False
        self.max_depth = 0

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag not in self.VOID:
            self.stack.append(tag)
        self.counts[tag] = self.counts.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "details":
            self.max_depth = max(self.max_depth, self.stack.count("details"))
            if "open" in a:
                self.open_details += 1
        if tag == "summary":
            assert self.stack[-2] == "details", "summary must be the first child of details"
        self._in_red = "c0392b" in (a.get("style") or "")

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._in_red and data.strip():
            self.red.append(data)


def test_trace_html_is_a_collapsible_tree() -> None:
    """The HTML parses, nests properly, has one <details> per node with children, and opens the failing path."""
    tr = _run("deny_follow_cap")
    p = _Tree()
    p.feed(tr._repr_html_())
    p.close()
    assert p.stack == []
    with_children = sum(1 for n in tr if n.children or n.hidden)
    assert p.counts["details"] == p.counts["summary"] == with_children
    failing_path = [n for n in tr if n.error is tr.calls[0].error]
    assert p.open_details >= len([n for n in failing_path if n.children])
    assert any("proc_map_files_get_link" in r for r in p.red)
    assert p.max_depth > 5
    assert p.counts.get("pre") == 1   # the why() text


def test_trace_html_empty_and_hidden() -> None:
    """An empty trace says so; hidden calls are shown as a count."""
    w = World()
    with w.k.trace() as tr:
        pass
    assert "no system calls traced" in tr._repr_html_()
    with w.k.trace(max_depth=1) as tr1:
        w.app.sys.getpid()
    assert "deeper call" in tr1._repr_html_()


def test_tracenode_plain() -> None:
    """A node outside a trace: label without return value, no error."""
    n = TraceNode("call", "f", "m", "1, 2", None)
    assert n.label() == "f(1, 2)" and n.errno is None and list(n.walk()) == [n]
    n.error = KernelError(E.EINTR)
    assert n.label() == "f(1, 2) = -EINTR"


# -- the event handlers, replayed -------------------------------------------------------------------------
# sys.settrace callbacks run with tracing off, so a coverage tool cannot see them run inside a real trace.
# These tests replay the events the interpreter sends (call, exception, return) on frames of real kernel
# functions, so the same code paths are exercised where they can be measured.

class FakeFrame:
    """What the handlers read from a frame: code, globals, locals, last instruction."""

    def __init__(self, fn: Any, f_locals: dict[str, Any] | None = None, lasti: int = 0) -> None:
        self.f_code = fn.__code__
        self.f_globals = fn.__globals__
        self.f_locals = f_locals or {}
        self.f_lasti = lasti
        self.f_trace_lines = True


def _offset(fn: Any, opnames: tuple[str, ...]) -> int:
    import dis
    return next(i.offset for i in dis.get_instructions(fn) if i.opname in opnames)


def _started(w: World, **kw: Any) -> Trace:
    tr = Trace(w.k, **kw)
    root = TraceNode("syscall", "getpid", "", "", None, pid=2)
    tr.calls.append(root)
    tr._stack.append(root)
    return tr


def test_handlers_call_exception_return() -> None:
    """A call, a child raising a KernelError, a normal return with a value, a NULL return."""
    from simkernel.fs.dcache import d_lookup
    from simkernel.kernel.ptrace import __ptrace_may_access as pma
    from simkernel.kernel.ptrace import ptrace_may_access
    w = World()
    tr = _started(w)
    outer = FakeFrame(ptrace_may_access, {"current": w.app, "task": w.k.init, "mode": 9})
    assert tr._global(outer, "call", None) == tr._local
    assert outer.f_trace_lines is False
    inner = FakeFrame(pma, {"current": w.app, "task": w.k.init, "mode": 9})
    tr._global(inner, "call", None)
    err = KernelError(E.EPERM, "no")
    tr._local(inner, "exception", (KernelError, err, None))
    inner.f_lasti = _offset(pma, ("RAISE_VARARGS",))
    tr._local(inner, "return", None)
    outer.f_lasti = _offset(ptrace_may_access, ("RETURN_VALUE",))
    tr._local(outer, "exception", (KernelError, err, None))   # caught inside: the return is normal
    tr._local(outer, "return", False)
    look = FakeFrame(d_lookup, {"parent": w.k.init.fs.root.dentry, "name": "x"},
                     _offset(d_lookup, ("RETURN_VALUE", "RETURN_CONST")))
    tr._global(look, "call", None)
    tr._local(look, "return", None)
    assert tr.lines() == [
        "[pid 2] getpid() = 0",
        "  ptrace_may_access(task 1, PTRACE_MODE_READ|PTRACE_MODE_FSCREDS) = False",
        "    __ptrace_may_access(task 1, PTRACE_MODE_READ|PTRACE_MODE_FSCREDS) = -EPERM",
        "  d_lookup(dentry '/', \"x\") = NULL",
    ]


def test_handlers_other_exception_and_void() -> None:
    """A non-KernelError leaving a frame is marked; a void function returning None shows nothing."""
    from simkernel.fs.dcache import d_add
    from simkernel.kernel.exit import do_exit
    w = World()
    tr = _started(w)
    f = FakeFrame(do_exit, {"current": w.k.init, "code": 0}, _offset(do_exit, ("RAISE_VARARGS",)))
    tr._global(f, "call", None)
    tr._local(f, "exception", (RuntimeError, RuntimeError("x"), None))
    tr._local(f, "return", None)
    g = FakeFrame(d_add, {"dentry": w.k.init.fs.root.dentry, "inode": None},
                  _offset(d_add, ("RETURN_VALUE", "RETURN_CONST")))
    tr._global(g, "call", None)
    tr._local(g, "return", None)
    tr._local(g, "line", None)
    assert tr.lines()[1:] == ["  do_exit(0) = raised RuntimeError", "  d_add(dentry '/', None)"]


def test_handlers_max_depth_hides_and_counts() -> None:
    """Beyond max_depth frames are hidden (and their children too), counted on the last shown node."""
    from simkernel.fs.dcache import d_add, d_alloc, d_lookup
    w = World()
    tr = _started(w, max_depth=1)
    root = w.k.init.fs.root.dentry
    a = FakeFrame(d_lookup, {"parent": root, "name": "a"}, _offset(d_lookup, ("RETURN_VALUE", "RETURN_CONST")))
    b = FakeFrame(d_alloc, {"parent": root, "name": "b"}, _offset(d_alloc, ("RETURN_VALUE", "RETURN_CONST")))
    c = FakeFrame(d_add, {"dentry": root, "inode": None}, _offset(d_add, ("RETURN_VALUE", "RETURN_CONST")))
    tr._global(a, "call", None)
    tr._global(b, "call", None)     # depth 2: hidden
    tr._global(c, "call", None)     # below a hidden frame: hidden
    tr._local(c, "return", None)
    tr._local(b, "return", root)
    tr._local(a, "return", root)
    assert tr.lines()[1:] == ["  d_lookup(dentry '/', \"a\") = dentry '/'", "    ... 2 deeper calls"]


def test_wanted_rules() -> None:
    """Which frames are kernel functions: the module, name and kind rules of the module docstring."""
    from simkernel.fs.inode import Inode
    from simkernel.fs.proc.map_files import _parse_hex, proc_map_files_lookup
    from simkernel.kernel.ptrace import __ptrace_may_access as pma
    from simkernel.strace import quote
    w = World()
    tr = Trace(w.k)
    inode = list(w.app.mm)[0].vm_file.f_inode
    cred = w.app.cred

    def want(fn: Any, f_locals: dict[str, Any] | None = None) -> bool:
        return tr._wanted(FakeFrame(fn, f_locals))
    assert want(proc_map_files_lookup) and want(pma)
    assert not want(_parse_hex)                            # _helper
    assert not want(quote)                                 # the strace module
    assert not want(Inode.__repr__, {"self": inode})       # dunder
    assert not want(Inode.i_dev.fget, {"self": inode})     # property getter
    assert want(type(cred).in_group_p, {"self": cred})     # a method with a kernel name
    ns: dict[str, Any] = {"__name__": "simkernel.fake"}
    exec(compile("def gen():\n    yield 1\ndef S_ISFOO(m):\n    return m\ndef plain():\n    return 1\n"
                 "lam = lambda: 1\n", "<generated>", "exec"), ns)
    exec(compile("def real():\n    return 1\n", "simkernel/fake.py", "exec"), ns)
    assert not want(ns["gen"])                             # generated code (attrs-style filename)
    assert not want(ns["lam"])
    assert not want(ns["plain"])
    assert want(ns["real"])
    ns2: dict[str, Any] = {"__name__": "simkernel.fake"}
    exec(compile("def gen():\n    yield 1\ndef S_ISFOO(m):\n    return m\n", "simkernel/fake.py", "exec"), ns2)
    assert not want(ns2["gen"])                            # a generator
    assert not want(ns2["S_ISFOO"])                        # a macro
    ns3: dict[str, Any] = {"__name__": "other.module"}
    exec(compile("def f():\n    return 1\n", "other.py", "exec"), ns3)
    assert not want(ns3["f"])
    ns4: dict[str, Any] = {"__name__": "simkernel.uapi.fake"}
    exec(compile("def f():\n    return 1\n", "u.py", "exec"), ns4)
    assert not want(ns4["f"])


def test_render_args_of_a_frame() -> None:
    """current and the Kernel are left out; self is shown when it has a kernel rendering."""
    from simkernel.trace import render_args
    w = World()

    def probe(current: Any, k: Any, mask: int, self: Any = None) -> str:
        return render_args(sys._getframe())
    assert probe(w.app, w.k, 4, w.app.fs.root.dentry) == "MAY_READ, dentry '/'"
    assert probe(w.app, w.k, 1, object()) == "MAY_EXEC"


def test_render_more_kernel_objects() -> None:
    """The nameidata, mount namespace, pid entries and proc mount info render compactly."""
    from simkernel.fs.namei import path_init
    from simkernel.fs.proc.base import TGID_BASE_STUFF
    w = World()
    nd = path_init(w.app, -100, "/tmp", 0)
    assert render_value(nd) == "nd@/"
    assert render_value(w.k.init_mnt_ns).startswith("mnt_ns ")
    assert render_value(TGID_BASE_STUFF[0]) == f"pid_entry '{TGID_BASE_STUFF[0].name}'"
    proc = [m for m in w.k.init_mnt_ns.mounts if m.mnt_sb.s_type.name == "proc"][0]
    assert render_value(proc.mnt_sb.s_fs_info) == "proc_fs_info"
    assert render_value(proc.mnt_root) == "dentry '/'"
    from simkernel.kernel.locking import Mutex
    assert render_value(Mutex("&m")) == "&m"


# -- every denial explains itself ---------------------------------------------------------------------------
# Each path by which map_files, procfs, the path walk or a capability gate refuses, driven through system
# calls: the OSError carries a non-empty .explain, and why() names the function that decided.

def _o(w: World, **kw: Any) -> Task:
    return w.spawn(**kw)


def _reaped_child_dir(w: World) -> int:
    c = w.app.sys.fork()
    fd = w.k.init.sys.open(f"/proc/{c.pid}/map_files", O_RDONLY | O_DIRECTORY)
    c.sys.exit(0)
    w.app.sys.waitpid(c.pid, 0)
    return fd


def _hidepid(w: World, opt: str) -> Task:
    w.k.init.sys.mkdir("/tmp/p", 0o755)
    w.k.init.sys.mount("proc", "/tmp/p", "proc", 0, f"hidepid={opt}")
    return _o(w, uid=1001, gid=1001)


def _nondumpable(w: World) -> None:
    from simkernel.uapi import prctl as P
    w.app.sys.prctl(P.PR_SET_DUMPABLE, 0)


def _zombie(w: World) -> int:
    c = w.app.sys.fork()
    c.sys.exit(0)
    return c.pid


def _loop(w: World) -> None:
    w.k.init.sys.symlink("/tmp/l2", "/tmp/l1")
    w.k.init.sys.symlink("/tmp/l1", "/tmp/l2")


def _fatal(w: World) -> Task:
    t = _o(w)
    t.fatal_signal_pending = True
    return t


DENIALS: dict[str, tuple[Callable[[World], Any], int]] = {
    # map_files
    "mf_dir_dac": (lambda w: _o(w, uid=1001, gid=1001).sys.listdir(w.dir), E.EACCES),
    "mf_lookup_ptrace": (lambda w: _o(w, uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH]).sys.readlink(w.entry),
                         E.EACCES),
    "mf_readdir_ptrace": (lambda w: _o(w, uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH]).sys.listdir(w.dir),
                          E.EACCES),
    # root without CAP_SYS_PTRACE, and without CAP_PERFMON/CAP_SYS_ADMIN (perfmon_capable() would let it read)
    "mf_root_without_ptrace": (lambda w: _o(w, caps=[c for c in range(41)
                                                     if c not in (CAP_SYS_PTRACE, CAP_PERFMON, CAP_SYS_ADMIN)])
                               .sys.listdir(w.dir), E.EACCES),
    "mf_not_dumpable_dac": (lambda w: (_nondumpable(w), _o(w, uid=1000, gid=1000).sys.readlink(w.entry)),
                            E.EACCES),
    "mf_not_dumpable_ptrace": (lambda w: (_nondumpable(w), _o(w, uid=1000, gid=1000, caps=[CAP_DAC_READ_SEARCH])
                                          .sys.readlink(w.entry)), E.EACCES),
    "mf_follow_cap": (lambda w: w.app.sys.open(w.entry, O_RDONLY), E.EPERM),
    "mf_bad_name": (lambda w: w.app.sys.readlink(f"{w.dir}/0400000-402000"), E.ENOENT),
    "mf_no_vma": (lambda w: w.app.sys.readlink(f"{w.dir}/400000-401000"), E.ENOENT),
    "mf_anon": (lambda w: w.app.sys.readlink(f"{w.dir}/600000-601000"), E.ENOENT),
    "mf_readdir_reaped": (lambda w: w.k.init.sys.getdents(_reaped_child_dir(w), 4096), E.ENOENT),
    "mf_lookup_reaped": (lambda w: w.k.init.sys.readlink("400000-402000", dir_fd=_reaped_child_dir(w)), E.ENOENT),
    "mf_zombie_no_mm": (lambda w: w.k.init.sys.readlink(f"/proc/{_zombie(w)}/map_files/400000-402000"), E.ESRCH),
    "mf_fatal_signal": (lambda w: _fatal(w).sys.readlink(w.entry), E.EINTR),
    # procfs
    "proc_hidepid_noaccess": (lambda w: _hidepid(w, "1").sys.stat("/tmp/p/2/status"), E.EPERM),
    "proc_hidepid_invisible": (lambda w: _hidepid(w, "2").sys.stat("/tmp/p/2"), E.ENOENT),
    "proc_hidepid_ptraceable": (lambda w: _hidepid(w, "ptraceable").sys.stat("/tmp/p/2"), E.ENOENT),
    "proc_no_pid": (lambda w: w.k.init.sys.stat("/proc/999"), E.ENOENT),
    "proc_no_entry": (lambda w: w.k.init.sys.stat("/proc/2/nosuch"), E.ENOENT),
    "proc_no_root_entry": (lambda w: w.k.init.sys.stat("/proc/nosuch"), E.ENOENT),
    "proc_fd_closed": (lambda w: w.k.init.sys.stat("/proc/2/fd/99"), E.ENOENT),
    "proc_fd_bad": (lambda w: w.k.init.sys.stat("/proc/2/fd/abc"), E.ENOENT),
    "proc_task_bad": (lambda w: w.k.init.sys.stat("/proc/2/task/999"), E.ENOENT),
    "proc_link_ptrace": (lambda w: _o(w, uid=1001, gid=1001).sys.readlink("/proc/2/cwd"), E.EACCES),
    "proc_exe_none": (lambda w: w.k.init.sys.readlink("/proc/2/exe"), E.ENOENT),
    "proc_read_dir": (lambda w: w.k.init.sys.read(w.k.init.sys.open("/proc/2", O_RDONLY), 10), E.EISDIR),
    # the path walk and open
    "walk_missing": (lambda w: w.app.sys.stat("/tmp/nope/x"), E.ENOENT),
    "walk_notdir": (lambda w: w.app.sys.stat("/tmp/lib.so/x"), E.ENOTDIR),
    "walk_loop": (lambda w: (_loop(w), w.app.sys.stat("/tmp/l1")), E.ELOOP),
    "walk_too_long": (lambda w: w.app.sys.stat("/" + "a" * 5000), E.ENAMETOOLONG),
    "walk_empty": (lambda w: w.app.sys.stat(""), E.ENOENT),
    "walk_search_denied": (lambda w: (w.k.init.sys.mkdir("/tmp/priv", 0o700), w.app.sys.stat("/tmp/priv/x")),
                           E.EACCES),
    "walk_bad_dirfd": (lambda w: w.app.sys.open("x", O_RDONLY, dir_fd=77), E.EBADF),
    "walk_dirfd_not_dir": (lambda w: w.app.sys.open("x", O_RDONLY, dir_fd=w.app.sys.open("/tmp/lib.so", O_RDONLY)),
                           E.ENOTDIR),
    "open_o_directory": (lambda w: w.app.sys.open("/tmp/lib.so", O_RDONLY | O_DIRECTORY), E.ENOTDIR),
    "open_nofollow": (lambda w: (w.k.init.sys.symlink("/tmp/lib.so", "/tmp/ln"),
                                 w.app.sys.open("/tmp/ln", O_RDONLY | O_NOFOLLOW)), E.ELOOP),
    "open_dir_write": (lambda w: w.k.init.sys.open("/tmp", O_WRONLY), E.EISDIR),
    "open_excl": (lambda w: w.k.init.sys.open("/tmp/lib.so", O_CREAT | O_EXCL | O_WRONLY, 0o600), E.EEXIST),
    "open_dac": (lambda w: w.app.sys.open("/tmp/lib.so", O_WRONLY), E.EACCES),
    # capability gates
    "cap_chroot": (lambda w: w.app.sys.chroot("/tmp"), E.EPERM),
    "cap_chown": (lambda w: w.app.sys.chown("/tmp/lib.so", 1000, 1000), E.EPERM),
    "cap_chmod": (lambda w: w.app.sys.chmod("/tmp/lib.so", 0o777), E.EPERM),
    "cap_capset": (lambda w: w.app.sys.capset(1, 1, 0), E.EPERM),
    "cap_mmap_min_addr": (lambda w: w.app.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED),
                          E.EPERM),
    "cap_bset_drop": (lambda w: w.app.sys.prctl(24, CAP_SYS_ADMIN), E.EPERM),
    "cap_setuid": (lambda w: w.app.sys.setuid(0), E.EPERM),
    "cap_mount": (lambda w: w.app.sys.mount("proc", "/tmp", "proc", 0, ""), E.EPERM),
}


@pytest.mark.parametrize("name", list(DENIALS))
def test_every_denial_carries_an_explanation(name: str) -> None:
    """The errno is the kernel's, .explain is non-empty, and why() names the deciding function with it."""
    action, errno = DENIALS[name]
    w = World()
    with w.k.trace() as tr:
        err = _expect_errno(errno, lambda: action(w))
    assert err is not None
    explain = getattr(err, "explain", None)
    assert explain and explain.strip(), f"{name}: no explanation"
    first = tr.why().splitlines()[0]
    from simkernel.errors import errno_name
    assert first.startswith(f"{errno_name(errno)} from "), first
    assert "(no explanation recorded)" not in first
    origin = first.split(" from ", 1)[1].split(":", 1)[0]
    assert tr.find(origin), f"{name}: why() names {origin!r}, which is not in the trace"


def test_not_dumpable_is_decided_by_the_dumpable_check() -> None:
    """Same uid, DAC passed by capability: __ptrace_may_access refuses because the mm is not dumpable."""
    action, _ = DENIALS["mf_not_dumpable_ptrace"]
    w = World()
    with w.k.trace() as tr:
        _expect_errno(E.EACCES, lambda: action(w))
    why = tr.why()
    assert "the target is not dumpable (dumpable=0)" in why.splitlines()[0]
    assert "said no: __ptrace_may_access -> EPERM: ptrace PTRACE_MODE_READ_FSCREDS: the target is not dumpable" \
        in why
