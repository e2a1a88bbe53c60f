"""The refcount ledger (simkernel/lib/ref_tracker.py): balanced after every syscall, and it catches leaks and
double puts with the site that took or dropped the reference."""

from __future__ import annotations

import sys
from typing import Any

import pytest

import simkernel
from simkernel.fs.file_table import fput, get_file
from simkernel.lib.ref_tracker import RefReport, RefTracker, structural_holders
from simkernel.mm.vma import find_exact_vma
from simkernel.scenarios import SCENARIOS
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_CREAT, O_RDONLY, O_RDWR
from simkernel.uapi.sched import CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM
from simkernel.uapi.mman import MAP_PRIVATE, MAP_SHARED, MREMAP_MAYMOVE, PROT_READ, PROT_WRITE

PAGE = 4096


def _boot(version: str | None = None) -> tuple[Any, Any, list[int]]:
    """A ledger-enabled kernel; an app (root, so v3.3's CAP_SYS_ADMIN gate passes) with three file mappings."""
    k = simkernel.Kernel(version=version, ref_tracker=True)
    t = k.spawn("app")
    s = t.sys
    fd = s.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    s.ftruncate(fd, 8 * PAGE)
    addrs = [s.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, i * 2 * PAGE) for i in range(3)]
    s.close(fd)
    assert k.ref_tracker.reports == []
    return k, t, addrs


def _caller(depth: int = 2) -> str:
    """The name of the kernel function that called a patched function (skipping the patch machinery)."""
    f = sys._getframe(depth)
    while f is not None and f.f_globals.get("__name__") == "simkernel.patch":
        f = f.f_back
    return f.f_code.co_name if f is not None else ""


def _put_skipped_in(caller: str) -> Any:
    """A patch of a put helper that does nothing when called from `caller`: a forgotten put there."""
    def put(orig: Any, obj: Any) -> None:
        if _caller() != caller:
            orig(obj)
    return put


def test_ref_tracker_off_by_default_installs_nothing() -> None:
    """Without ref_tracker=True there is no ledger and no syscall work for it."""
    k = simkernel.Kernel()
    assert k.ref_tracker is None
    assert not any(isinstance(w, RefTracker) for w in k.syscall_work)


def test_ref_tracker_balanced_after_each_procfs_syscall() -> None:
    """listdir/readlink/open/read/close of map_files, maps, fd and status: every reference taken is put."""
    k, t, addrs = _boot()
    rt = k.ref_tracker
    s = t.sys
    before = rt.checked
    names = s.listdir(f"/proc/{t.pid}/map_files")
    assert len(names) == 3
    for name in names:
        assert s.readlink(f"/proc/{t.pid}/map_files/{name}") == "/tmp/f"
    for path in (f"/proc/{t.pid}/maps", f"/proc/{t.pid}/status", f"/proc/{t.pid}/map_files"):
        fd = s.open(path, O_RDONLY)
        if path.endswith("map_files"):
            assert len(s.getdents(fd, 32768)) == 5
        else:
            assert s.read(fd, 65536)
        s.close(fd)
    fd = s.open("/tmp/f", O_RDONLY)
    assert str(fd) in s.listdir(f"/proc/{t.pid}/fd")
    assert s.readlink(f"/proc/{t.pid}/fd/{fd}") == "/tmp/f"
    s.close(fd)
    s.stat(f"/proc/{t.pid}")
    with pytest.raises(FileNotFoundError):
        s.readlink(f"/proc/{t.pid}/map_files/1-2")
    assert rt.reports == [], rt.summary()
    assert rt.checked - before >= 15


def test_ref_tracker_balanced_across_mm_and_task_lifecycle() -> None:
    """mmap/mprotect/mremap/munmap, fork, a thread, exec, exit and wait: structures account for every change."""
    k, t, addrs = _boot()
    rt = k.ref_tracker
    s = t.sys
    fd = s.open("/tmp/f", O_RDWR)
    a = s.mmap(0, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    s.mprotect(a + PAGE, PAGE, PROT_READ)
    b = s.mremap(a + 2 * PAGE, 2 * PAGE, 6 * PAGE, MREMAP_MAYMOVE)    # one VMA (mprotect split the rest)
    s.munmap(b + 2 * PAGE, PAGE)
    child = s.fork()
    child.sys.listdir(f"/proc/{t.pid}/map_files")
    thread = t.sys.clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
    thread.sys.exit(0)
    from tests.fs.test_exec import LD, PIE, put
    put(k.init, "/usr/bin/prog", PIE)
    put(k.init, "/lib64/ld.so", LD)
    child.sys.execve("/usr/bin/prog", ["prog"])
    child.sys.exit(3)
    assert s.waitpid(child.pid, 0)[0] == child.pid
    s.close(fd)
    assert rt.reports == [], rt.summary()
    assert child.usage == 0 and child.pid not in k.tasks


def test_structural_holders_match_the_counters_at_rest() -> None:
    """Between syscalls every file's f_count and every mm's mm_users equal the structures holding them."""
    k, t, addrs = _boot()
    t.sys.fork()
    counts, objs = structural_holders(k)
    for i, o in objs.items():
        if hasattr(o, "f_count"):
            assert o.f_count == counts[i], o
        elif hasattr(o, "mm_users"):
            assert o.mm_users == counts[i], o
        elif hasattr(o, "usage"):
            assert o.usage == counts[i] == 1, o


def test_ref_tracker_reports_a_forgotten_mmput_with_the_get_site() -> None:
    """A patch that forgets map_files_get_link()'s mmput(): a leak of the mm, taken by get_task_mm() there."""
    k, t, addrs = _boot()
    name = f"{addrs[0]:x}-{addrs[0] + PAGE:x}"
    with k.patched("kernel/fork.c:mmput", _put_skipped_in("map_files_get_link")):
        t.sys.readlink(f"/proc/{t.pid}/map_files/{name}")
    [r] = k.ref_tracker.reports
    assert isinstance(r, RefReport)
    assert (r.kind, r.ref_type, r.obj, r.syscall) == ("leak", "mm", t.mm, "readlink")
    assert [s.function for s in r.sites] == ["map_files_get_link"]
    assert r.sites[0].module == "simkernel.fs.proc.map_files"
    assert "get_task_mm" in [fn for fn, _mod, _line in r.sites[0].stack]
    text = str(r)
    assert "leaked reference." in text and "allocated in: get in map_files_get_link()" in text
    assert r.object is t.mm
    assert k.ref_tracker.summary() == text                   # the summary is every report's text
    assert repr(k.ref_tracker).endswith("reports=1>")
    k.ref_tracker.clear()
    assert k.ref_tracker.summary().endswith("syscalls checked, every reference balanced")


def test_ref_tracker_reports_a_double_mmput_with_both_put_sites() -> None:
    """A patch that puts the mm twice in map_files_get_link(): one put more than the references taken."""
    k, t, addrs = _boot()

    def twice(orig: Any, mm: Any) -> None:
        orig(mm)
        if _caller() == "map_files_get_link":
            orig(mm)

    name = f"{addrs[1]:x}-{addrs[1] + PAGE:x}"
    with k.patched("kernel/fork.c:mmput", twice):
        t.sys.readlink(f"/proc/{t.pid}/map_files/{name}")
    [r] = k.ref_tracker.reports
    assert (r.kind, r.ref_type, r.obj) == ("double put", "mm", t.mm)
    assert [s.function for s in r.sites].count("map_files_get_link") == 2
    assert "reference already released." in str(r) and "freed in: put in map_files_get_link()" in str(r)


def test_ref_tracker_put_below_zero_is_reported_at_once_and_refused() -> None:
    """release_task() run twice: the second put_task_struct() finds usage 0; both sites, and no underflow."""
    k, t, addrs = _boot()
    from simkernel.kernel.exit import release_task
    child = t.sys.fork()
    child.sys.exit(0)

    def twice(orig: Any, task: Any) -> None:
        orig(task)
        orig(task)

    with k.patched(release_task, twice):
        t.sys.waitpid(child.pid, 0)
    below = [r for r in k.ref_tracker.reports if r.ref_type == "task"]
    assert [r.kind for r in below] == ["double put"]
    assert len(below[0].sites) == 2 and "already 0" in below[0].detail
    assert child.usage == 0


def test_ref_tracker_fput_of_a_dead_file_outside_a_syscall() -> None:
    """Outside any syscall only the put below zero is checked: reported with the put that freed the file."""
    k, t, addrs = _boot()
    f = find_exact_vma(t.mm, addrs[0], addrs[0] + PAGE).vm_file
    extra = get_file(f)
    fput(extra)
    n = f.f_count
    for _ in range(n):
        fput(f)
    assert f.f_count == 0 and k.ref_tracker.reports == []
    fput(f)
    [r] = k.ref_tracker.reports
    assert (r.kind, r.ref_type, r.syscall) == ("double put", "file", "(no syscall)")
    assert len(r.sites) == 2 and f.f_count == 0


def test_ref_tracker_v3_3_readdir_file_references_balance() -> None:
    """v3.3-3.6 readdir pins each mapped file with get_file() between its passes and puts them all."""
    k, t, addrs = _boot("3.3")
    f = find_exact_vma(t.mm, addrs[0], addrs[0] + PAGE).vm_file
    count = f.f_count
    assert len(t.sys.listdir(f"/proc/{t.pid}/map_files")) == 3
    assert k.ref_tracker.reports == [], k.ref_tracker.summary()
    assert f.f_count == count


def test_ref_tracker_v3_3_readdir_missing_fput_is_a_leak() -> None:
    """The same readdir with its pass-2 fput() skipped: the files leak, taken in proc_map_files_readdir()."""
    k, t, addrs = _boot("3.3")
    with k.patched("fs/file_table.c:fput", _put_skipped_in("_emit_entries")):
        t.sys.listdir(f"/proc/{t.pid}/map_files")
    reports = k.ref_tracker.reports
    assert [r.kind for r in reports] == ["leak"]      # one struct file, mapped three times: three references
    assert reports[0].ref_type == "file" and "3 references" in reports[0].detail
    assert {s.function for s in reports[0].sites} == {"proc_map_files_readdir"}


def test_ref_tracker_leaked_get_proc_task() -> None:
    """A lookup that forgets put_task_struct(): the task leaks, taken by get_proc_task() in the lookup."""
    k, t, addrs = _boot()
    name = f"{addrs[2]:x}-{addrs[2] + PAGE:x}"
    with k.patched("kernel/fork.c:put_task_struct", _put_skipped_in("proc_map_files_lookup")):
        t.sys.lstat(f"/proc/{t.pid}/map_files/{name}")
    [r] = k.ref_tracker.reports
    assert (r.kind, r.ref_type, r.obj) == ("leak", "task", t)
    assert [s.function for s in r.sites] == ["proc_map_files_lookup"]


def test_ref_tracker_dget_without_dput_is_a_leak() -> None:
    """The model's VFS holds no dentry references between syscalls: a dget() not dput() is a leak."""
    k, t, addrs = _boot()
    from simkernel.fs.dcache import dget

    def pin(orig: Any, current: Any, dentry: Any, flags: int) -> Any:
        dget(dentry)
        return orig(current, dentry, flags)

    name = f"{addrs[0]:x}-{addrs[0] + PAGE:x}"
    t.sys.lstat(f"/proc/{t.pid}/map_files/{name}")
    with k.patched("fs/proc/base.c:map_files_d_revalidate", pin):
        t.sys.lstat(f"/proc/{t.pid}/map_files/{name}")
    [r] = k.ref_tracker.reports
    assert (r.kind, r.ref_type, r.obj.d_name) == ("leak", "dentry", name)


def test_ref_tracker_errno_paths_balance() -> None:
    """Failing calls put what they took: a reaped pid, a denied ptrace check, a bad name."""
    k, t, addrs = _boot()
    other = k.spawn("other", uid=1000, gid=1000)
    with pytest.raises(PermissionError):
        other.sys.listdir(f"/proc/{t.pid}/map_files")
    with pytest.raises(OSError) as e:
        other.sys.readlink(f"/proc/{t.pid}/map_files/{addrs[0]:x}-{addrs[0] + PAGE:x}")
    assert e.value.errno == E.EACCES
    child = t.sys.fork()
    fd = t.sys.open(f"/proc/{child.pid}/status", O_RDONLY)
    child.sys.exit(0)
    t.sys.waitpid(child.pid, 0)
    with pytest.raises(ProcessLookupError):
        t.sys.read(fd, 100)
    t.sys.close(fd)
    assert k.ref_tracker.reports == [], k.ref_tracker.summary()


@pytest.mark.parametrize("version", sorted(simkernel.VERSIONS))
def test_ref_tracker_scenario_library_is_balanced(version: str) -> None:
    """Every scenario of the library, on every release profile, leaves the ledger without a report."""
    for name, sc in SCENARIOS.items():
        k = simkernel.Kernel(version=version, ref_tracker=True)
        sc.run(k)
        assert k.ref_tracker.reports == [], f"{name} on {version}:\n{k.ref_tracker.summary()}"


def test_describe_names_objects_briefly() -> None:
    """Reports name a task as comm/pid, an mm by id, a file by name, a dentry by name, a pid by number."""
    from types import SimpleNamespace as NS
    from simkernel.lib.ref_tracker import describe
    k = simkernel.Kernel()
    t = k.spawn("app")
    assert describe(t) == f"app/{t.pid}"
    assert describe(t.mm).startswith("mm#") and "mm_users" in describe(t.mm)
    assert describe(NS(f_count=2, f_path=NS(dentry=NS(d_name="data")))) == "file 'data' (f_count 2)"
    assert describe(NS(d_count=1, d_name="map_files")) == "dentry 'map_files' (d_count 1)"
    assert describe(NS(nr=42)) == "pid 42"
    assert describe(7) == "7"
