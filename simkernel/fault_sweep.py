"""The fail-nth sweep: run one call with its 1st, 2nd, ... fault point failing until a run injects nothing.

For each n the sweep checks what a kernel developer checks by hand with /proc/self/fail-nth
(tools/testing/fault-injection/failcmd.sh, syzkaller's fault-call mode):

* the outcome is the kernel's for the injected kind: ENOMEM for "alloc" and "dentry", EINTR for "lock", the
  path's no-mm answer for "mm" (ENOENT, ESRCH, or the unfaulted outcome where no mm reads as empty); the
  unfaulted outcome is also accepted where the kernel's path absorbs the failure (`ABSORBED`);
* the observable state after the call equals the state before it (`observable_state`: maps, map_files names,
  fd tables with paths, flags, positions and file counts, cwd/root, credentials, mm counts and locks held);
* the refcount ledger (`Kernel(ref_tracker=True)`, simkernel/lib/ref_tracker.py) reports nothing new.

Example:
    >>> import simkernel
    >>> from simkernel.fault_sweep import fail_nth_sweep
    >>> k = simkernel.Kernel()
    >>> rep = fail_nth_sweep(k, k.init, lambda: k.init.sys.listdir("/proc/self/fd"))
    >>> rep.ok, rep.injected > 0
    (True, True)

Linux: Documentation/fault-injection/fault-injection.rst ("fail-nth"), tools/testing/fault-injection/failcmd.sh
"""

from __future__ import annotations

from errno import errorcode
from typing import TYPE_CHECKING, Any, Callable, Mapping

from attrs import define, field, frozen

from simkernel.lib.fault_inject import FaultRecord, fail_nth_state, set_fail_nth
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["EXPECTED", "SITE_EXPECTED", "CALLER_EXPECTED", "ABSORBED", "merge_splits", "SweepStep", "SweepReport", "fail_nth_sweep",
           "observable_state", "absorbed_by", "shrink_proc_dcache"]

# The errno each fault kind turns into where it is not absorbed.
EXPECTED: dict[str, frozenset[int]] = {
    "alloc": frozenset({E.ENOMEM}),
    "dentry": frozenset({E.ENOMEM}),
    "lock": frozenset({E.EINTR}),
    # get_task_mm() NULL: map_files lookup/get_link ENOENT; mm_access() ESRCH (v6.13+); readdir, maps and
    # status read a task without mm as empty (accepted through ABSORBED below)
    "mm": frozenset({E.ENOENT, E.ESRCH}),
}
# Sites whose callers choose another errno than their kind's.
SITE_EXPECTED: dict[str, frozenset[int]] = {
    # proc_pid_make_inode() NULL: every procfs instantiate answers ERR_PTR(-ENOENT) (fs/proc/base.c)
    "new_inode": frozenset({E.ENOENT}),
}
# Callers that answer their own errno for any failure below them.
CALLER_EXPECTED: dict[str, frozenset[int]] = {
    # v3.3-3.x map_files lookup/readdir: `result = -EACCES; if (lock_trace(task)) goto out` -- lock_trace()'s
    # EINTR from mutex_lock_killable(cred_guard_mutex) is dropped for EACCES (fs/proc/base.c, v3.3)
    "_map_files_access": frozenset({E.EACCES}),
}
# Callers that absorb a failure below them; the outcome is then the unfaulted one.
ABSORBED: dict[str, str] = {
    "proc_fill_cache": "fs/proc/base.c:proc_fill_cache(): the name is emitted with ino 1, DT_UNKNOWN",
    "map_files_d_revalidate": "a d_revalidate that cannot check says 'invalid': the walk looks the name up again",
    "pid_revalidate": "a d_revalidate that cannot check says 'invalid': the walk looks the name up again",
}
GETDENTS_ABSORBS = "fs/readdir.c: getdents64 returns the records already in the buffer and drops the error"


def absorbed_by(rec: FaultRecord) -> str | None:
    """Why the unfaulted outcome is acceptable for `rec` (None: it must fail with its kind's errno)."""
    for name in rec.stack:
        why = ABSORBED.get(name)
        if why is not None:
            return why
    if rec.kind == "mm":
        return "no mm is an exiting task: readdir lists nothing, maps is empty, status has no Vm* lines"
    if rec.emitted > 0:
        return GETDENTS_ABSORBS
    return None


@frozen
class SweepStep:
    """One run of the sweep: countdown `n`, the fault injected (None on the last, clean run), the errno
    (0: success), and what was wrong (empty: nothing)."""

    n: int
    record: FaultRecord | None
    errno: int
    problems: tuple[str, ...] = ()

    def __str__(self) -> str:
        out = "ok" if self.errno == 0 else errorcode.get(self.errno, str(self.errno))
        what = str(self.record) if self.record is not None else "(nothing injected)"
        bad = "" if not self.problems else "   <-- " + "; ".join(self.problems)
        return f"n={self.n:<3} {what:<78} -> {out}{bad}"


@define(eq=False)
class SweepReport:
    """The runs of one sweep.  `injected` counts the faults injected; `ok` is True when no step had a
    problem (unexpected errno, state change, ledger report)."""

    label: str
    baseline_errno: int
    steps: list[SweepStep] = field(factory=list)

    @property
    def injected(self) -> int:
        return sum(1 for s in self.steps if s.record is not None)

    @property
    def problems(self) -> list[str]:
        return [f"{self.label} n={s.n} {s.record}: {p}" for s in self.steps for p in s.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def sites(self) -> list[str]:
        return [f"{s.record.kind}@{s.record.site}" for s in self.steps if s.record is not None]

    def __str__(self) -> str:
        base = "ok" if self.baseline_errno == 0 else errorcode.get(self.baseline_errno, str(self.baseline_errno))
        head = f"{self.label}: {self.injected} faults injected, unfaulted outcome {base}"
        return "\n".join([head] + [f"  {s}" for s in self.steps])


def _run(call: Callable[[], Any]) -> int:
    try:
        call()
    except OSError as err:
        return err.errno or 0
    return 0


def fail_nth_sweep(k: Kernel, task: Task, call: Callable[[], Any], *, label: str = "",
                   expect: Mapping[str, Any] | None = None, readonly: bool = True,
                   before_each: Callable[[], Any] | None = None, splits_ok: bool = False,
                   max_n: int = 1000) -> SweepReport:
    """Run `call()` (syscalls of `task` through task.sys) once unfaulted, then with the countdown armed at
    n = 1, 2, ... for the whole call, until a run injects nothing.

    Args:
        expect: extra accepted errnos by kind or site name ({"alloc": {E.EACCES}}), added to EXPECTED.
        readonly: the call changes nothing when it succeeds (the state is compared after every run); False
            compares only after failures and takes a new reference state after each success.
        before_each: run (unarmed) before every run, e.g. `lambda: shrink_proc_dcache(k)` so that each run
            instantiates its procfs dentries and inodes again (the cold-cache fault points).
        splits_ok: compare the maps with split neighbours merged back (`merge_splits`): a munmap or mprotect
            that fails on its second split leaves the first one, in Linux too (mm/vma.c: vma_modify(),
            vms_gather_munmap_vmas() do not undo a split), which only the VMA boundaries show.

    Returns:
        A SweepReport; `report.ok` and `report.injected` are what a CI test asserts.
    """
    rt = k.ref_tracker
    st = fail_nth_state(k)
    state = (lambda: merge_splits(observable_state(k))) if splits_ok else (lambda: observable_state(k))
    before = state()
    nrep = len(rt.reports) if rt is not None else 0
    if before_each is not None:
        before_each()
    base = _run(call)
    rep = SweepReport(label or getattr(call, "__name__", "call"), base)
    after = state()
    if readonly and after != before:
        rep.steps.append(SweepStep(0, None, base, (_diff(before, after, "the unfaulted call"),)))
    before = after
    if rt is not None and len(rt.reports) > nrep:
        rep.steps.append(SweepStep(0, None, base, tuple(f"ledger: {r}" for r in rt.reports[nrep:])))
    for n in range(1, max_n + 1):
        nlog = len(st.log)
        nrep = len(rt.reports) if rt is not None else 0
        if before_each is not None:
            before_each()
            before = state()
        set_fail_nth(task, n)
        try:
            errno = _run(call)
        finally:
            set_fail_nth(task, 0)
        fired = st.log[nlog:]
        rec = fired[0] if fired else None
        problems: list[str] = []
        if len(fired) > 1:
            problems.append(f"{len(fired)} faults injected by one countdown")
        if rec is not None:
            allowed = set(SITE_EXPECTED.get(rec.site, EXPECTED[rec.kind]))
            for name in rec.stack:
                allowed |= CALLER_EXPECTED.get(name, frozenset())
            if expect:
                allowed |= set(expect.get(rec.kind, ())) | set(expect.get(rec.site, ()))
            if absorbed_by(rec) is not None:
                allowed.add(base)
            if rec.kind == "mm":    # no mm before the permission check: proc_mem_open() reads it as empty
                allowed.add(0)
            if errno not in allowed:
                got = "success" if errno == 0 else errorcode.get(errno, str(errno))
                problems.append(f"unexpected outcome {got} (accepted: "
                                f"{', '.join('success' if e == 0 else errorcode[e] for e in sorted(allowed))})")
        elif errno != base:
            problems.append(f"nothing injected, but the outcome {errno} differs from the unfaulted {base}")
        after = state()
        if (readonly or errno != 0) and after != before:
            problems.append(_diff(before, after, "the call"))
        if not readonly and errno == 0:
            before = after
        if rt is not None and len(rt.reports) > nrep:
            problems.extend(f"ledger: {r}" for r in rt.reports[nrep:])
        rep.steps.append(SweepStep(n, rec, errno, tuple(problems)))
        if rec is None:
            break
    else:
        rep.steps.append(SweepStep(max_n, None, -1, (f"still injecting after {max_n} runs",)))
    return rep


def _diff(a: dict[Any, Any], b: dict[Any, Any], what: str) -> str:
    for key in sorted(set(a) | set(b), key=repr):
        if a.get(key) != b.get(key):
            return f"{what} changed observable state: {key!r}: {a.get(key)!r} -> {b.get(key)!r}"
    return f"{what} changed observable state"


def observable_state(k: Kernel) -> dict[Any, Any]:
    """What user space could observe of every task, read from the kernel objects (no syscalls), flat:
    {(tid, item): value}.  Independent of the dcache (a failed lookup may leave or drop cached dentries).

    Per task: state, credentials (real and subjective), cwd and root, the fd table (fd -> path, flags,
    position, close-on-exec, the file's reference count), and for its mm: the maps text, the map_files names,
    mm_users and the mmap lock's holders; the thread group's cred_guard_mutex and exec_update_lock.
    """
    from simkernel.fs.d_path import d_path
    from simkernel.fs.proc.task_mmu import render_maps
    out: dict[Any, Any] = {}
    init_root = k.init.fs.root if k.init is not None and k.init.fs is not None else None
    for tid in sorted(k.tasks):
        t = k.tasks[tid]
        root = t.fs.root if t.fs is not None else init_root
        out[(tid, "state")] = (t.state, t.exit_code, t.flags)
        out[(tid, "cred")] = (t.real_cred, t.cred)
        if t.fs is not None:
            out[(tid, "fs")] = (d_path(t.fs.pwd, root), d_path(t.fs.root, init_root or root), t.fs.umask)
        if t.files is not None:
            out[(tid, "files")] = tuple(
                (fd, d_path(f.f_path, root), f.f_flags, f.f_pos, f.f_count, fd in t.files.close_on_exec)
                for fd, f in sorted(t.files.fdt.items()))
        mm = t.mm
        if mm is not None:
            out[(tid, "maps")] = render_maps(mm, root)
            out[(tid, "map_files")] = tuple(f"{v.vm_start:x}-{v.vm_end:x}" for v in mm if v.vm_file is not None)
            lock = mm.mmap_lock
            # mm_users pins the mappings; mm_count (mmgrab) only the struct, which user space never sees
            out[(tid, "mm")] = (mm.mm_users, lock.readers, lock.writer is not None)
        sig = t.signal
        out[(tid, "signal")] = (sig.cred_guard_mutex.owner is not None, sig.exec_update_lock.readers,
                                sig.exec_update_lock.writer is not None)
    return out


def shrink_proc_dcache(k: Kernel) -> int:
    """Drop every procfs dentry nothing pins (echo 2 > /proc/sys/vm/drop_caches, procfs part): the next
    lookup or readdir instantiates it again (new inode), through the fault points of the cold path.

    Pinned: the dentries of open files, of each task's cwd and root, of mapped files and exe files, mount
    points, and their ancestors.  Returns how many dentries were dropped.

    Linux: fs/drop_caches.c:drop_caches_sysctl_handler() -> shrink_dcache_sb() (unused dentries only)
    """
    from simkernel.fs.dcache import d_drop
    pinned: set[int] = set()

    def pin(d: Any) -> None:
        while id(d) not in pinned:
            pinned.add(id(d))
            if d.d_parent is d or d.d_parent is None:
                break
            d = d.d_parent

    roots: list[Any] = []
    namespaces: list[Any] = []
    for t in k.tasks.values():
        if t.files is not None:
            for f in t.files.fdt.values():
                pin(f.f_path.dentry)
        if t.fs is not None:
            pin(t.fs.pwd.dentry)
            pin(t.fs.root.dentry)
        if t.mm is not None:
            for v in t.mm:
                if v.vm_file is not None:
                    pin(v.vm_file.f_path.dentry)
            if t.mm.exe_file is not None:
                pin(t.mm.exe_file.f_path.dentry)
        ns = t.nsproxy.mnt_ns if t.nsproxy is not None else None
        if ns is not None and all(ns is not n for n in namespaces):
            namespaces.append(ns)
    for ns in namespaces:
        for m in ns.mounts:
            pin(m.mnt_mountpoint)
            if m.mnt_sb.s_type.name == "proc" and all(m.mnt_root is not r for r in roots):
                roots.append(m.mnt_root)
    dropped = 0

    def prune(d: Any) -> None:
        nonlocal dropped
        for child in list(d.d_subdirs.values()):
            prune(child)
            if id(child) not in pinned:
                d_drop(child)
                dropped += 1

    for r in roots:
        prune(r)
    return dropped



def merge_splits(state: dict[Any, Any]) -> dict[Any, Any]:
    """`state` with each task's maps lines merged where a split could be undone (neighbours with the same
    permissions, device, inode and name, and contiguous offsets for files), without the map_files names
    (which follow the same boundaries) and the files' reference counts (one per VMA): what a failed
    munmap/mprotect may change in Linux.

    Example: "1000-2000 r--p 00000000 08:01 5 /f" and "2000-3000 r--p 00001000 08:01 5 /f" become one line
    "1000-3000 r--p 00000000 08:01 5 /f".
    """
    out: dict[Any, Any] = {}
    for key, value in state.items():
        if key[1] == "map_files":
            continue
        if key[1] == "files":   # each VMA of a split holds its own file reference: drop f_count (the ledger
            out[key] = tuple(f[:4] + f[5:] for f in value)   # still checks the references balance)
            continue
        if key[1] != "maps":
            out[key] = value
            continue
        merged: list[list[Any]] = []
        for line in value.splitlines():
            parts = line.split(None, 5)
            start, end = (int(x, 16) for x in parts[0].split("-"))
            rest = [parts[1], parts[3], parts[4], parts[5] if len(parts) > 5 else ""]
            off = int(parts[2], 16)
            if merged:
                p = merged[-1]
                contiguous = off == p[2] + (p[1] - p[0]) or (rest[3] == "" and off == 0 and p[2] == 0)
                if p[1] == start and p[3] == rest and contiguous:
                    p[1] = end
                    continue
            merged.append([start, end, off, rest])
        out[key] = tuple((m[0], m[1], m[2], tuple(m[3])) for m in merged)
    return out
