"""The lock validator (lockdep): lock classes, the dependency graph between them, and its reports.

`Kernel(lockdep=True)` creates one `Lockdep` for the kernel (`k.lockdep`); every lock the model takes
(`Mutex`, `RwSemaphore`, `SpinLock`: kernel/locking/) and every `might_fault()` (mm/memory.py) reports to it
through `lock_acquire()`/`lock_release()` (mutex.py).  As in the kernel:

* a lock *class* is what the lock's name says ("&mm->mmap_lock" is one class for every mm), so a problem seen
  with two different mms, or with another task's locks, is still reported;
* each task has a stack of held locks; taking lock B while holding A records the dependency A -> B with the
  places both were taken (the "chain");
* a new dependency that closes a cycle is a possible ABBA deadlock: "possible circular locking dependency
  detected", printed with the existing chain and the new acquisition (check_noncircular());
* taking a class already held is "possible recursive locking detected" (check_deadlock()) -- for an
  rw_semaphore also read after read: its readers are not recursive (lockdep's read == 1), because a writer
  that queues between the two reads blocks the second one behind it while the first is never released.
  Only recursive readers (read == 2: rwlock_t readers, RCU) may nest, and the model has none, so every
  dependency is also a "strong" one for the cycle search (Documentation/locking/lockdep-design.rst);
* releasing a lock the task does not hold is "bad unlock balance detected" (print_unlock_imbalance_bug());
* a lock still held when a system call returns is "lock held when returning to user space!"
  (lockdep_sys_exit(), run here as a `k.syscall_work` item).

Reports are `LockdepReport` objects in `k.lockdep.reports`; `str(report)` prints it the way lockdep writes the
splat to the kernel log (without addresses; a place is "function() [module]" with the kernel-named callers
below it; the text is built in lockdep_report.py). They are not oopses: the kernel only warns. The same
problem (same kind, same classes) is reported once. Where the kernel records only the dependency from the most
recent held lock to the new one (check_prevs_add() stops at the first non-trylock entry), the model records
one from every held lock: the same cycles are found (each held lock reaches the newest one through the
kernel's edges), but a circular report may print a shorter existing chain than the kernel's. Simplifications:
no irq-safety states, no nesting annotations (down_read_nested), no trylocks; the kernel turns itself off
after its first splat (debug_locks_off()), the model keeps checking.

Linux: kernel/locking/lockdep.c (check_deadlock, check_noncircular, check_prev_add, print_circular_bug,
print_deadlock_bug, print_unlock_imbalance_bug, lockdep_sys_exit), include/linux/lockdep.h
"""

from __future__ import annotations

import sys
from collections import deque
from typing import TYPE_CHECKING, Any, Iterator

from attrs import define, field, frozen

from simkernel.kernel.locking.lockdep_report import (CIRCULAR, HELD_AT_EXIT, RECURSIVE, UNLOCK_IMBALANCE,
                                                     LockdepReport, print_circular_bug, print_deadlock_bug,
                                                     print_held_at_exit, print_unlock_imbalance_bug, task_name)
from simkernel.kernel.locking.rwsem import RwSemaphore
from simkernel.uapi.stat import S_ISDIR

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Lockdep", "LockdepReport", "LockGraph", "LockClass", "LockSite", "Dependency", "HeldLock",
           "CIRCULAR", "RECURSIVE", "UNLOCK_IMBALANCE", "HELD_AT_EXIT"]

_STACK_DEPTH = 8
# Frames that are not "kernel-named callers": the locks themselves, the patch and syscall machinery.
_SKIP_PREFIXES = ("simkernel.kernel.locking", "simkernel.patch.", "simkernel.trace",
                  "simkernel.strace", "simkernel.kernel.sched")
_SKIP_MODULES = frozenset({"simkernel.patch"})


@frozen
class LockSite:
    """Where a lock was taken: the nearest kernel-named function outside kernel/locking, and its callers
    (innermost first) as (function, module) pairs -- the model's stack trace."""

    stack: tuple[tuple[str, str], ...]

    @property
    def function(self) -> str:
        return self.stack[0][0] if self.stack else "?"

    @property
    def module(self) -> str:
        return self.stack[0][1] if self.stack else "?"

    def __str__(self) -> str:
        return f"{self.function}() [{self.module}]"

    def backtrace(self, indent: str = "       ") -> str:
        return "\n".join(f"{indent}{fn}() [{mod}]" for fn, mod in self.stack)

    @classmethod
    def here(cls, cache: dict[Any, Any] | None = None, depth: int = 1) -> LockSite:
        """The kernel-named callers of the caller (sys._getframe), innermost first, up to the syscall entry.

        `cache` memoizes what each code object is (a kernel function, a frame to skip, the syscall layer)."""
        if cache is None:
            cache = {}
        f: Any = sys._getframe(depth)
        out: list[tuple[str, str]] = []
        while f is not None and len(out) < _STACK_DEPTH:
            code = f.f_code
            what = cache.get(code, _UNKNOWN)
            if what is _UNKNOWN:
                what = cache[code] = _classify(code, f.f_globals.get("__name__", ""))
            if what is _STOP:
                break
            if what is not None:
                out.append(what)
            f = f.f_back
        return cls(tuple(out))


_UNKNOWN = object()
_STOP = object()


def _classify(code: Any, mod: str) -> Any:
    """A frame's place in a LockSite: (qualified name, module) for a kernel-named function, None to skip it,
    _STOP at the system call layer (what lies beyond is the caller's program)."""
    if mod == "simkernel.syscalls":
        return _STOP
    name = code.co_name
    if (not mod.startswith("simkernel.") or mod in _SKIP_MODULES or mod.startswith(_SKIP_PREFIXES)
            or name.startswith("<") or (name.startswith("_") and not name.startswith("__"))
            or (name.startswith("__") and name.endswith("__"))):
        return None
    return (code.co_qualname, mod)


@define(eq=False)
class HeldLock:
    """One entry of a task's held-lock stack (struct held_lock)."""

    lock: Any = field(repr=False)
    cls: str
    mode: str
    site: LockSite

    def describe(self) -> str:
        return f"({self.cls}){{{self.mode}}}, at: {self.site}"


@frozen
class Dependency:
    """A recorded dependency prev -> next (struct lock_list): `next` was taken (`next_site`) while `prev`,
    taken at `prev_site`, was held."""

    prev: str
    next: str
    prev_site: LockSite
    next_site: LockSite

    def __str__(self) -> str:
        return f"{self.prev} -> {self.next}  ({self.prev_site}; then {self.next_site})"


@define(eq=False)
class LockClass:
    """struct lock_class: a name, where it was first taken, how often it was taken."""

    name: str
    first_site: LockSite
    acquisitions: int = 0


@define(eq=False, repr=False)
class LockGraph:
    """The class dependency graph: `classes` by name and `edges` by (prev, next), in the order first seen."""

    classes: dict[str, LockClass] = field(factory=dict)
    edges: dict[tuple[str, str], Dependency] = field(factory=dict)
    _succ: dict[str, list[str]] = field(factory=dict, repr=False, alias="_succ")

    def add(self, dep: Dependency) -> None:
        key = (dep.prev, dep.next)
        if key not in self.edges:
            self.edges[key] = dep
            self._succ.setdefault(dep.prev, []).append(dep.next)

    def after(self, name: str) -> list[str]:
        """The classes taken while `name` was held (its direct dependencies)."""
        return list(self._succ.get(name, ()))

    def path(self, src: str, dst: str) -> list[Dependency] | None:
        """The shortest recorded chain src -> ... -> dst (breadth-first, deterministic), None if there is none."""
        if src == dst:
            return []
        parent: dict[str, str] = {src: src}
        todo = deque([src])
        while todo:
            node = todo.popleft()
            for nxt in self._succ.get(node, ()):
                if nxt in parent:
                    continue
                parent[nxt] = node
                if nxt == dst:
                    chain = []
                    while nxt != src:
                        chain.append(self.edges[(parent[nxt], nxt)])
                        nxt = parent[nxt]
                    return chain[::-1]
                todo.append(nxt)
        return None

    def __repr__(self) -> str:
        return f"<LockGraph {len(self.classes)} classes, {len(self.edges)} dependencies>"

    def to_dot(self) -> str:
        """Graphviz text of the graph (edges labelled with the function that took the second lock)."""
        lines = ["digraph lockdep {"]
        lines += [f'  "{a}" -> "{b}" [label="{d.next_site.function}"];' for (a, b), d in self.edges.items()]
        return "\n".join(lines + ["}"])


@define(eq=False, repr=False)
class Lockdep:
    """The validator of one kernel (`k.lockdep`).  See the module docstring.

    API for notebooks: `reports` (LockdepReport list), `graph` (LockGraph: `.classes`, `.edges`, `.path(a, b)`,
    `.to_dot()`), `held_locks(task)`, `dmesg()` (every splat as text), `clear()` (forget the reports).
    """

    kernel: Kernel = field(repr=False)
    graph: LockGraph = field(factory=LockGraph)
    reports: list[LockdepReport] = field(factory=list)
    held: dict[Any, list[HeldLock]] = field(factory=dict, repr=False)
    _seen: set[Any] = field(factory=set, repr=False, alias="_seen")
    _i_rwsems: dict[Any, Any] = field(factory=dict, repr=False, alias="_i_rwsems")
    _frames: dict[Any, Any] = field(factory=dict, repr=False, alias="_frames")   # LockSite.here()'s memo

    def __attrs_post_init__(self) -> None:
        self.kernel.syscall_work.append(self)

    # -- the hooks (mutex.py lock_acquire/lock_release) ------------------------------------------------
    def acquire(self, current: Task, lock: Any, mode: str, push: bool = True) -> None:
        """lock_acquire(): check the new acquisition against the held locks, record dependencies, push it
        (not with `push=False`: might_lock()).  The place is looked up only when something will keep it: a
        new class, a new dependency, a report, or the held-lock entry.

        Linux: kernel/locking/lockdep.c:__lock_acquire(), validate_chain(), check_deadlock(), check_prevs_add()
        """
        name = lock.name
        graph = self.graph
        new: HeldLock | None = None
        cls = graph.classes.get(name)
        if cls is None:
            new = HeldLock(lock, name, mode, LockSite.here(self._frames))
            cls = graph.classes[name] = LockClass(name, new.site)
        cls.acquisitions += 1
        stack = self.held.get(current)
        if stack is None:
            stack = self.held[current] = []
        for h in stack:
            if h.cls == name:
                if new is None:
                    new = HeldLock(lock, name, mode, LockSite.here(self._frames))
                self._recursive(current, stack, h, new)
                break
        else:
            edges = graph.edges
            for h in stack:
                if (h.cls, name) not in edges:
                    if new is None:
                        new = HeldLock(lock, name, mode, LockSite.here(self._frames))
                    self._add_dependency(current, stack, h, new)
        if push:
            stack.append(new if new is not None else HeldLock(lock, name, mode, LockSite.here(self._frames)))

    def release(self, current: Task, lock: Any) -> None:
        """lock_release(): pop the entry (any position); a lock not held is an unlock imbalance.

        Linux: kernel/locking/lockdep.c:__lock_release(), print_unlock_imbalance_bug()
        """
        stack = self.held.get(current)
        if stack:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i].lock is lock:
                    del stack[i]
                    return
        self._unlock_imbalance(current, lock, LockSite.here(self._frames))

    def might_lock(self, current: Task, lock: Any, mode: str) -> None:
        """might_lock()/might_lock_read(): the checks of taking `lock` (acquire and release at once).

        Linux: include/linux/lockdep.h:might_lock_read()
        """
        self.acquire(current, lock, mode, push=False)

    # -- syscall work: lockdep_sys_exit() --------------------------------------------------------------
    def syscall_enter(self, current: Task, name: str) -> None:
        return None

    def syscall_exit(self, current: Task, name: str, errno: int) -> None:
        """lockdep_sys_exit(): no lock may stay held on the way back to user space.

        Linux: kernel/locking/lockdep.c:lockdep_sys_exit()
        """
        stack = self.held.get(current)
        if stack and self._once((HELD_AT_EXIT, current, tuple(h.cls for h in stack))):
            who = task_name(current)
            self._report(HELD_AT_EXIT, who, tuple(h.cls for h in stack), (tuple(h.site for h in stack),),
                         print_held_at_exit(who, stack, name))

    def i_rwsem(self, inode: Any) -> Any:
        """inode->i_rwsem of `inode`, created on first use: the VFS takes it for the validator only (no
        inode carries a lock object when lockdep is off).  Its class is per filesystem type and directory
        or not, as lockdep_annotate_inode_mutex_key() sets it: "&type->i_mutex_dir_key#proc" (the kernel
        tells apart classes of the same name by a number, "#3"; the model by the filesystem type).

        Linux: include/linux/fs.h (inode_lock_shared), fs/inode.c:lockdep_annotate_inode_mutex_key()
        """
        sem = self._i_rwsems.get(inode)
        if sem is None:
            key = "i_mutex_dir_key" if S_ISDIR(inode.i_mode) else "i_mutex_key"
            sem = self._i_rwsems[inode] = RwSemaphore(f"&type->{key}#{inode.i_sb.s_type.name}")
        return sem

    # -- introspection -----------------------------------------------------------------------------------
    def held_locks(self, task: Task) -> tuple[HeldLock, ...]:
        """The locks `task` holds now, oldest first.

        Linux: kernel/locking/lockdep.c:lockdep_print_held_locks()
        """
        return tuple(self.held.get(task, ()))

    def dmesg(self) -> str:
        """Every report, in order, as the kernel log would show them."""
        return "\n".join(r.text for r in self.reports)

    def clear(self) -> None:
        """Forget the reports (the graph and the held locks stay)."""
        self.reports.clear()
        self._seen.clear()

    def __iter__(self) -> Iterator[LockdepReport]:
        return iter(self.reports)

    def __repr__(self) -> str:
        g = self.graph
        return f"<Lockdep {len(g.classes)} classes, {len(g.edges)} dependencies, {len(self.reports)} reports>"

    # -- the checks ----------------------------------------------------------------------------------------
    def _add_dependency(self, current: Task, stack: list[HeldLock], prev: HeldLock, nxt: HeldLock) -> None:
        """check_prev_add(): a new prev -> next must not close a cycle (check_noncircular()).

        Linux: kernel/locking/lockdep.c:check_prev_add()
        """
        back = self.graph.path(nxt.cls, prev.cls)
        dep = Dependency(prev.cls, nxt.cls, prev.site, nxt.site)
        if back is not None:
            self._circular(current, stack, prev, nxt, back, dep)
        self.graph.add(dep)

    def _once(self, key: tuple[Any, ...]) -> bool:
        """True the first time a problem (kind and classes, or places) is seen: each is reported once."""
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _circular(self, current: Task, stack: list[HeldLock], prev: HeldLock, nxt: HeldLock,
                  back: list[Dependency], dep: Dependency) -> None:
        """print_circular_bug(): the existing chain next -> ... -> prev, then the new prev -> next (once per
        cycle of classes).

        Linux: kernel/locking/lockdep.c:print_circular_bug()
        """
        cycle = tuple(sorted({prev.cls, nxt.cls, *(d.next for d in back)}))
        if self._once((CIRCULAR, cycle)):
            who = task_name(current)
            self._report(CIRCULAR, who, cycle, (tuple(back), (dep,)), print_circular_bug(who, stack, prev, nxt, back))

    def _recursive(self, current: Task, stack: list[HeldLock], held: HeldLock, new: HeldLock) -> None:
        """print_deadlock_bug(): the class is already held by this task (no recursive readers modelled).

        Linux: kernel/locking/lockdep.c:check_deadlock()
        """
        if self._once((RECURSIVE, held.cls, held.site.function, new.site.function)):
            who = task_name(current)
            self._report(RECURSIVE, who, (held.cls,), ((held.site,), (new.site,)),
                         print_deadlock_bug(who, stack, held, new))

    def _unlock_imbalance(self, current: Task, lock: Any, site: LockSite) -> None:
        """print_unlock_imbalance_bug(): releasing a lock the task does not hold.

        Linux: kernel/locking/lockdep.c:print_unlock_imbalance_bug()
        """
        if self._once((UNLOCK_IMBALANCE, lock.name, site.function)):
            who = task_name(current)
            self._report(UNLOCK_IMBALANCE, who, (lock.name,), ((site,),),
                         print_unlock_imbalance_bug(who, self.held.get(current, []), lock.name, site))

    def _report(self, kind: str, who: str, classes: tuple[str, ...], chains: tuple[tuple[Any, ...], ...],
                lines: list[str]) -> None:
        self.reports.append(LockdepReport(kind, who, classes, chains, "\n".join(lines) + "\n"))
