"""The refcount ledger: every get and put of a task, pid, mm, file or dentry, and a balance check per syscall.

Linux's lib/ref_tracker.c gives each reference a tracker that records the stack that took it; a tracker still
on the list when its directory is torn down is printed as "leaked reference." with that stack, and freeing a
tracker twice prints "reference already released." with the stacks that allocated and freed it.  The model
cannot hand a tracker to every caller (the get/put functions keep their kernel signatures), so it keeps the
same evidence per *object* and decides at the end of each system call, when every temporary reference of a
correct kernel has been put:

* At syscall entry the ledger counts, for every object, the references that *structures* hold on it
  (`structural_holders()`): a file in fd-table slots, in `vma->vm_file` and in `mm->exe_file`; an mm in its
  tasks' `task->mm`; a task in the task list (`kernel.tasks`, dropped by release_task()); a pid in its task's
  `thread_pid` and in procfs inodes.  Dentries have no counted holder: the model's path walk and struct file
  take no dentry reference (dentries stay pinned by the dcache tree), so any dget() must be matched by a dput()
  in the same call.
* The first get or put of an object in the syscall records its counter (`f_count`, `mm_users`, `usage`,
  `count`, `d_count`); objects allocated during the syscall (alloc_file, mm_alloc, copy_process, alloc_pid)
  count from 0, their initial reference being the allocation's get.  Each get and put records its site.
* At syscall exit, for every touched object, the counter must have moved exactly as the structures holding it
  moved: (counter now - counter then) == (holders now - holders at entry).  More: a leak (report the get
  sites); less: a put too many (report the put sites).  A put of an object whose counter is already 0 is
  reported at once with both sites and refused (the refcount saturates, as refcount_t's would).

A site is the nearest kernel-named caller of the get/put helper: the first frame in a simkernel module whose
function name is not a reference helper (`get_task_mm`, `mmput`, `fput`...) and does not start with "_"
(model glue); the report also keeps the short stack above it, like ref_tracker's stack depot.

Off (the default) nothing of this runs: each get/put tests `kernel.ref_tracker` once.

    >>> import simkernel
    >>> k = simkernel.Kernel(ref_tracker=True)
    >>> t = k.spawn("app", uid=1000, gid=1000)
    >>> _ = t.sys.listdir(f"/proc/{t.pid}/map_files")
    >>> k.ref_tracker.reports
    []

Linux: lib/ref_tracker.c (ref_tracker_alloc, ref_tracker_free, ref_tracker_dir_exit), include/linux/refcount.h
"""

from __future__ import annotations

import sys
import weakref
from typing import TYPE_CHECKING, Any, Iterable

from attrs import define, field

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["RefTracker", "RefSite", "RefReport", "RefEntry", "REF_KINDS", "REF_HELPERS", "structural_holders"]

# kind -> the counter attribute of the object
REF_KINDS: dict[str, str] = {"task": "usage", "pid": "count", "mm": "mm_users", "file": "f_count",
                             "dentry": "d_count"}
# Holders the object itself lists (counted per touched object, reachable or not): a pid's procfs inodes.
OWN_HOLDERS: dict[str, Any] = {"pid": lambda pid: len(pid.inodes)}
# Functions that take or drop references on behalf of their caller: a site is never one of these.
REF_HELPERS = frozenset({
    "get_task_struct", "put_task_struct", "get_proc_task", "get_pid", "put_pid", "get_task_pid",
    "mmget", "mmput", "get_task_mm", "mm_access", "mm_alloc", "dup_mm", "mmget_not_zero",
    "get_file", "fput", "alloc_file", "alloc_file_pseudo", "dget", "dput", "alloc_pid", "release_task",
    "proc_pid_make_inode"})
_SKIP_MODULES = frozenset({"simkernel.lib.ref_tracker", "simkernel.patch"})
_STACK_DEPTH = 8


@define(frozen=True)
class RefSite:
    """Where a reference was taken or dropped: the kernel-named caller and the stack above it."""

    op: str                                   # "get", "put" or "alloc"
    function: str
    module: str
    line: int
    stack: tuple[tuple[str, str, int], ...] = field(default=(), repr=False, eq=False)

    def __str__(self) -> str:
        return f"{self.op} in {self.function}() ({self.module}:{self.line})"

    def format_stack(self) -> str:
        return "\n".join(f"    {fn}+{line} ({mod})" for fn, mod, line in self.stack)


def describe(obj: Any) -> str:
    """A short name for a tracked object in a report: a task as comm/pid, an mm by its id and users, a file by
    its path, a dentry by its name, a pid by its number (the attrs reprs run to hundreds of characters)."""
    comm, pid = getattr(obj, "comm", None), getattr(obj, "pid", None)
    if comm is not None and pid is not None:
        return f"{comm}/{pid}"
    if hasattr(obj, "mm_users"):
        return f"mm#{getattr(obj, 'mm_id', '?')} (mm_users {obj.mm_users})"
    if hasattr(obj, "f_count"):
        dentry = getattr(getattr(obj, "f_path", None), "dentry", None)
        return f"file {getattr(dentry, 'd_name', '?')!r} (f_count {obj.f_count})"
    if hasattr(obj, "d_count"):
        return f"dentry {obj.d_name!r} (d_count {obj.d_count})"
    nr = getattr(obj, "nr", None)
    return f"pid {nr}" if nr is not None else repr(obj)


@define(eq=False)
class RefReport:
    """One ledger finding: kind "leak" or "double put", on `obj` (of type `ref_type`), during `syscall`."""

    kind: str
    ref_type: str
    obj: Any = field(repr=False)
    sites: list[RefSite]
    syscall: str
    detail: str = ""

    @property
    def object(self) -> Any:
        """The task, pid, mm_struct, file or dentry the report is about (same as `obj`)."""
        return self.obj

    def __str__(self) -> str:
        head = ("leaked reference." if self.kind == "leak" else "reference already released.")
        lines = [f"ref_tracker: {self.ref_type} {describe(self.obj)}: {head} ({self.syscall}: {self.detail})"]
        for s in self.sites:
            lines.append(f"  {'allocated in' if s.op in ('get', 'alloc') else 'freed in'}: {s}")
            if s.stack:
                lines.append(s.format_stack())
        return "\n".join(lines)


@define(eq=False)
class RefEntry:
    """What the ledger knows of one object touched in the running syscall."""

    obj: Any = field(repr=False)
    ref_type: str
    start: int                                # the counter at the first get/put (0 if allocated here)
    own: int = 0                              # OWN_HOLDERS at the first get/put (0 if allocated here)
    gets: list[RefSite] = field(factory=list)
    puts: list[RefSite] = field(factory=list)


def _site(op: str) -> RefSite:
    """The nearest kernel-named caller of a get/put helper (sys._getframe walk; only with the ledger on)."""
    f = sys._getframe(2)
    stack: list[tuple[str, str, int]] = []
    site: tuple[str, str, int] | None = None
    depth = 0
    while f is not None and (len(stack) < _STACK_DEPTH or site is None) and depth < 64:
        depth += 1
        mod = f.f_globals.get("__name__", "?")
        name = f.f_code.co_name
        if mod not in _SKIP_MODULES:
            frame = (name, mod, f.f_lineno)
            if len(stack) < _STACK_DEPTH:
                stack.append(frame)
            if site is None and mod.startswith("simkernel.") and name not in REF_HELPERS \
                    and not name.startswith("_") and name != "<lambda>":
                site = frame
        f = f.f_back
    if site is None:
        site = stack[0] if stack else ("?", "?", 0)
    return RefSite(op, site[0], site[1], site[2], tuple(stack))


def _unmatched(gets: list[RefSite], puts: list[RefSite]) -> tuple[list[RefSite], list[RefSite]]:
    """Pair each put with the latest unpaired get of the same function (the usual get ... put in one function),
    else with the latest unpaired get; return (unpaired gets, unpaired puts), the sites a report names.

    A get that a structure legitimately keeps (an fd slot, a VMA) is unpaired too: a leak report lists it
    beside the leaking one, as the ledger cannot tell which of two identical references was meant to stay.
    """
    open_gets = list(gets)
    extra: list[RefSite] = []
    for p in puts:
        match = next((i for i in range(len(open_gets) - 1, -1, -1) if open_gets[i].function == p.function), None)
        if match is None and open_gets:
            match = len(open_gets) - 1
        if match is None:
            extra.append(p)
        else:
            del open_gets[match]
    return open_gets, extra


def structural_holders(k: Kernel) -> tuple[dict[int, int], dict[int, Any]]:
    """References that kernel structures hold, by object: (id -> count, id -> object).

    Files: fd-table slots (each files_struct once), vma->vm_file and mm->exe_file (each mm once).
    Mms: task->mm of every task in the task list.  Tasks: the task list itself.  Pids: a task's thread_pid
    (the procfs inodes on `pid.inodes` are counted per object, see OWN_HOLDERS: inodes are never evicted here).
    """
    counts: dict[int, int] = {}
    objs: dict[int, Any] = {}
    get = counts.get

    def hold(o: Any) -> None:
        i = id(o)
        counts[i] = get(i, 0) + 1
        objs[i] = o

    seen: set[int] = set()
    for t in k.tasks.values():
        hold(t)
        pid = t.thread_pid
        if pid is not None:
            hold(pid)
        mm = t.mm
        if mm is not None:
            hold(mm)
            if id(mm) not in seen:
                seen.add(id(mm))
                if mm.exe_file is not None:
                    hold(mm.exe_file)
                for vma in mm:
                    if vma.vm_file is not None:
                        hold(vma.vm_file)
        files = t.files
        if files is not None and id(files) not in seen:
            seen.add(id(files))
            for f in files.fdt.values():
                hold(f)
    return counts, objs


class RefTracker:
    """The refcount ledger of one kernel (`Kernel(ref_tracker=True)` builds it as `kernel.ref_tracker`).

    Attributes:
        reports: every `RefReport` so far, oldest first (the test of a clean run is `reports == []`).
        checked: how many syscalls were balanced-checked.
    """

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.reports: list[RefReport] = []
        self.checked = 0
        self._depth = 0
        self._syscall = ""
        self._entries: dict[int, RefEntry] = {}
        self._start: dict[int, int] = {}
        self._start_objs: dict[int, Any] = {}
        # object -> the site of the put that brought it to 0 (weak: the ledger keeps nothing alive)
        self._last_put: weakref.WeakKeyDictionary[Any, RefSite] = weakref.WeakKeyDictionary()
        kernel.syscall_work.append(self)

    # -- syscall work ------------------------------------------------------------------------------
    def syscall_enter(self, current: Task, name: str) -> None:
        """Count the structural holders (outermost syscall only: syscalls the race explorer interleaves are
        checked together when the last of them returns)."""
        self._depth += 1
        if self._depth > 1:
            return
        self._syscall = name
        self._entries = {}
        self._start, self._start_objs = structural_holders(self.kernel)

    def syscall_exit(self, current: Task, name: str, errno: int) -> None:
        self._depth -= 1
        if self._depth:
            return
        self.checked += 1
        entries, self._entries = self._entries, {}
        if entries:
            self._balance(entries, name if not errno else f"{name} (errno {errno})")
        self._start = {}
        self._start_objs = {}
        self._syscall = ""

    def _balance(self, entries: dict[int, RefEntry], syscall: str) -> None:
        end, _objs = structural_holders(self.kernel)
        start = self._start
        for i, e in entries.items():
            now = getattr(e.obj, REF_KINDS[e.ref_type])
            held = end.get(i, 0) - start.get(i, 0)
            own = OWN_HOLDERS.get(e.ref_type)
            if own is not None:
                held += own(e.obj) - e.own
            diff = (now - e.start) - held
            if diff > 0:
                self.reports.append(RefReport(
                    "leak", e.ref_type, e.obj, _unmatched(e.gets, e.puts)[0] or list(e.gets), syscall,
                    f"{diff} reference{'s' if diff > 1 else ''} taken and neither put nor kept by a structure "
                    f"(counter {e.start} -> {now}, structural holders {held:+d})"))
            elif diff < 0:
                extra = {p.function for p in _unmatched(e.gets, e.puts)[1]}
                self.reports.append(RefReport(
                    "double put", e.ref_type, e.obj, [p for p in e.puts if p.function in extra] or list(e.puts),
                    syscall,
                    f"{-diff} put{'s' if diff < -1 else ''} more than the references taken or released by "
                    f"structures (counter {e.start} -> {now}, structural holders {held:+d})"))

    # -- the hooks the get/put functions call ---------------------------------------------------------
    def _entry(self, obj: Any, ref_type: str) -> RefEntry | None:
        if not self._depth:
            return None
        i = id(obj)
        e = self._entries.get(i)
        if e is None:
            own = OWN_HOLDERS.get(ref_type)
            e = self._entries[i] = RefEntry(obj, ref_type, getattr(obj, REF_KINDS[ref_type]),
                                            own(obj) if own is not None else 0)
        return e

    def alloc(self, obj: Any, ref_type: str) -> None:
        """A new object with its initial reference (alloc_file, mm_alloc, copy_process, alloc_pid)."""
        self._last_put.pop(obj, None)
        if not self._depth:
            return
        e = self._entries[id(obj)] = RefEntry(obj, ref_type, 0)
        e.gets.append(_site("alloc"))

    def get(self, obj: Any, ref_type: str) -> None:
        """Called by a get helper before the counter goes up."""
        e = self._entry(obj, ref_type)
        if e is not None:
            e.gets.append(_site("get"))

    def put(self, obj: Any, ref_type: str) -> bool:
        """Called by a put helper before the counter goes down; False: refuse the put (already at 0)."""
        count = getattr(obj, REF_KINDS[ref_type])
        if count <= 0:
            site = _site("put")
            prev = self._last_put.get(obj)
            sites = ([prev] if prev is not None else []) + [site]
            self.reports.append(RefReport("double put", ref_type, obj, sites, self._syscall or "(no syscall)",
                                          f"put of a {ref_type} whose counter is already {count}"))
            return False
        e = self._entry(obj, ref_type)
        site = _site("put") if e is not None or count == 1 else None
        if e is not None and site is not None:
            e.puts.append(site)
        if count == 1 and site is not None:
            self._last_put[obj] = site
        return True

    # -- for notebooks ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<RefTracker checked={self.checked} reports={len(self.reports)}>"

    def clear(self) -> None:
        """Forget the reports so far."""
        self.reports.clear()

    def summary(self) -> str:
        """Every report, as ref_tracker prints them, or a one-line all-clear."""
        if not self.reports:
            return f"ref_tracker: {self.checked} syscalls checked, every reference balanced"
        return "\n".join(str(r) for r in self.reports)


def touched(tracker: RefTracker) -> Iterable[RefEntry]:
    """The objects touched so far in the running syscall (for debugging the ledger itself)."""
    return tuple(tracker._entries.values())
