"""CI: a fail-nth sweep over every map_files and procfs syscall path, on 6.18.44 and an old profile.

Each path runs once unfaulted and then with its 1st, 2nd, ... fault point failing until a run injects nothing,
with the dcache warm (the second visit of a name) and cold (procfs dentries dropped before each run, so the
lookups and readdir instantiate again).  Asserted: every failure is the kernel's errno for its kind (or the
unfaulted outcome where the kernel absorbs it), the observable state is unchanged, the refcount ledger
(Kernel(ref_tracker=True), when it exists) reports nothing, and faults were injected.  The totals are printed
(`pytest -s`, and the terminal summary line of -ra) and written to `.fail-nth.json` in the rootdir.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator

import pytest

import simkernel
from simkernel.fault_sweep import SweepReport, fail_nth_sweep, shrink_proc_dcache
from simkernel.uapi import MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDONLY, O_RDWR, PROT_READ, PROT_WRITE

PROFILES = ["6.18.44", "3.3"]
RESULTS_FILE = ".fail-nth.json"


def boot(version: str) -> tuple[simkernel.Kernel, bool]:
    """A kernel with the refcount ledger (the sweep checks it after every injected fault)."""
    return simkernel.Kernel(version=version, ref_tracker=True), True


def scenario(version: str) -> tuple[simkernel.Kernel, bool, Any, Any, list[str]]:
    """app (uid 1000) maps /tmp/f twice (read-only private, shared read-write) and an anonymous page; other
    (uid 1001) cannot ptrace it.  Returns the kernel, whether the ledger is on, app, other, the entry names."""
    k, ledger = boot(version)
    app = k.spawn("app", uid=1000, gid=1000)
    other = k.spawn("other", uid=1001, gid=1001)
    fd = app.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    app.sys.ftruncate(fd, 3 * 4096)
    a = app.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0)
    b = app.sys.mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 8192)
    app.sys.mmap(0, 4096, PROT_READ, 0x22, -1, 0)    # MAP_PRIVATE|MAP_ANONYMOUS
    return k, ledger, app, other, [f"{a:x}-{a + 8192:x}", f"{b:x}-{b + 4096:x}"]


def _open_read_close(t: Any, path: str, n: int = 4096) -> Callable[[], None]:
    def call() -> None:
        fd = t.sys.open(path, O_RDONLY)
        try:
            t.sys.read(fd, n)
        finally:
            t.sys.close(fd)
    return call


def _getdents_small(t: Any, path: str) -> Callable[[], None]:
    """opendir, getdents64 with a 64-byte buffer (two records at most) until the end, closedir."""
    def call() -> None:
        fd = t.sys.open(path, O_RDONLY | 0o200000)   # O_DIRECTORY
        try:
            while t.sys.getdents(fd, 64):
                pass
        finally:
            t.sys.close(fd)
    return call


def _getdents_from(t: Any, path: str, pos: int) -> Callable[[], None]:
    """opendir, lseek to an ordinal position, one getdents64(64) (no dots in front to absorb an error), close."""
    def call() -> None:
        fd = t.sys.open(path, O_RDONLY | 0o200000)
        try:
            t.sys.lseek(fd, pos, 0)
            t.sys.getdents(fd, 64)
        finally:
            t.sys.close(fd)
    return call


def _open_close(t: Any, path: str) -> Callable[[], None]:
    def call() -> None:
        t.sys.close(t.sys.open(path, O_RDONLY))
    return call


def paths(k: simkernel.Kernel, app: Any, other: Any, names: list[str]) -> Iterator[tuple[str, Any, Callable[[], Any]]]:
    """(label, task, call): every map_files and procfs syscall path of the CI requirement."""
    root = k.init
    mf = f"/proc/{app.pid}/map_files"
    e = f"{mf}/{names[0]}"
    yield "root: listdir map_files of app", root, lambda: root.sys.listdir(mf)
    yield "app: listdir own map_files", app, lambda: app.sys.listdir(mf)
    yield "other: listdir app's map_files (no permission)", other, lambda: other.sys.listdir(mf)
    yield "root: getdents(64) map_files", root, _getdents_small(root, mf)
    yield "app: getdents(64) own map_files", app, _getdents_small(app, mf)
    yield "root: lstat entry", root, lambda: root.sys.lstat(e)
    yield "root: stat entry (follow)", root, lambda: root.sys.stat(e)
    yield "root: readlink entry", root, lambda: root.sys.readlink(e)
    yield "app: readlink own entry", app, lambda: app.sys.readlink(e)
    yield "other: readlink app's entry (no permission)", other, lambda: other.sys.readlink(e)
    yield "root: open entry (follow)", root, _open_close(root, e)
    yield "app: open own entry (follow)", app, _open_close(app, e)
    yield "root: lstat malformed name", root, lambda: root.sys.lstat(f"{mf}/0{names[0]}")
    yield "root: lstat name without VMA", root, lambda: root.sys.lstat(f"{mf}/1000-2000")
    yield "app: maps open+read+close", app, _open_read_close(app, f"/proc/{app.pid}/maps")
    yield "other: maps of app (no permission)", other, _open_read_close(other, f"/proc/{app.pid}/maps")
    yield "app: status open+read+close", app, _open_read_close(app, f"/proc/{app.pid}/status")
    yield "app: listdir fd/", app, lambda: app.sys.listdir(f"/proc/{app.pid}/fd")
    yield "app: readlink fd/3", app, lambda: app.sys.readlink(f"/proc/{app.pid}/fd/3")
    yield "root: readlink app's fd/3", root, lambda: root.sys.readlink(f"/proc/{app.pid}/fd/3")
    yield "app: readlink /proc/self", app, lambda: app.sys.readlink("/proc/self")
    yield "app: listdir /proc/self/map_files", app, lambda: app.sys.listdir("/proc/self/map_files")
    yield "app: readlink /proc/thread-self", app, lambda: app.sys.readlink("/proc/thread-self")
    yield "root: stat map_files directory", root, lambda: root.sys.stat(mf)
    yield "root: getdents(64) from the middle of map_files", root, _getdents_from(root, mf, 3)
    yield "app: listdir /proc/<pid>/task", app, lambda: app.sys.listdir(f"/proc/{app.pid}/task")
    yield "app: listdir /proc/<pid>", app, lambda: app.sys.listdir(f"/proc/{app.pid}")
    yield "app: listdir /proc", app, lambda: app.sys.listdir("/proc")


def sweep_profile(version: str) -> tuple[list[SweepReport], bool]:
    k, ledger, app, other, names = scenario(version)
    reports = []
    for cold in (False, True):
        for label, task, call in paths(k, app, other, names):
            reports.append(fail_nth_sweep(k, task, call, label=f"{version} {'cold' if cold else 'warm'} {label}",
                                          before_each=(lambda: shrink_proc_dcache(k)) if cold else None))
    return reports, ledger


def _record(rootdir: Any, version: str, data: dict[str, Any]) -> None:
    path = rootdir / RESULTS_FILE
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        old = {}
    old[version] = data
    path.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("version", PROFILES)
def test_fail_nth_sweep_every_procfs_path(version: str, request: pytest.FixtureRequest) -> None:
    """Every fault point of every map_files/procfs path fails with the kernel's errno, changes nothing
    observable and leaks nothing; and there are fault points to inject."""
    reports, ledger = sweep_profile(version)
    problems = [p for r in reports for p in r.problems]
    injected = sum(r.injected for r in reports)
    kinds: dict[str, int] = {}
    for r in reports:
        for s in r.steps:
            if s.record is not None:
                kinds[s.record.kind] = kinds.get(s.record.kind, 0) + 1
    line = (f"fail-nth sweep {version}: {len(reports)} paths, {injected} faults injected "
            f"({', '.join(f'{n} {kind}' for kind, n in sorted(kinds.items()))}), "
            f"{len(problems)} problems, ledger {'on' if ledger else 'off'}")
    print(line)
    request.node.user_properties.append(("fail_nth", line))
    _record(request.config.rootpath, version, {"paths": len(reports), "injected": injected, "by_kind": kinds,
                                               "problems": problems, "ledger": ledger})
    assert not problems, "\n".join(problems[:20]) + "\n\n" + "\n\n".join(str(r) for r in reports if not r.ok)
    assert injected > 0
    assert {"alloc", "lock", "mm", "dentry"} <= set(kinds), kinds


def test_fail_nth_sweep_is_deterministic() -> None:
    """The same scenario sweeps to the same sites and outcomes (what CI compares run to run)."""
    def run() -> list[tuple[str, list[Any]]]:
        k, _ledger, app, other, names = scenario("6.18.44")
        out = []
        for label, task, call in list(paths(k, app, other, names))[:6]:
            r = fail_nth_sweep(k, task, call, label=label)
            out.append((label, [(s.n, str(s.record), s.errno) for s in r.steps]))
        return out
    assert run() == run()


@pytest.mark.parametrize("version", PROFILES)
def test_fail_nth_sweep_mm_paths(version: str) -> None:
    """mmap, munmap and mprotect of the mappings map_files lists: the killable mmap lock (EINTR) and the VMA
    allocations (vm_area_alloc, vm_area_dup: ENOMEM) fail cleanly; only a split may remain (as in Linux)."""
    k, _ledger, app, _other, _names = scenario(version)
    fd = app.sys.open("/tmp/g", O_CREAT | O_RDWR, 0o644)
    app.sys.ftruncate(fd, 5 * 4096)
    base = app.sys.mmap(0, 5 * 4096, PROT_READ, MAP_PRIVATE, fd, 0)

    free = base + 64 * 4096

    def reset() -> None:   # the 5-page mapping whole again, nothing at `free`
        app.sys.munmap(free, 2 * 4096)
        app.sys.munmap(base, 5 * 4096)
        app.sys.mmap(base, 5 * 4096, PROT_READ, MAP_PRIVATE | 0x10, fd, 0)   # MAP_FIXED
    reports = []
    for label, call in (("mmap of a new range", lambda: app.sys.mmap(free, 2 * 4096, PROT_READ, MAP_PRIVATE | 0x10, fd, 0)),
                        ("munmap of a middle page", lambda: app.sys.munmap(base + 4096, 4096)),
                        ("mprotect of a middle page", lambda: app.sys.mprotect(base + 4096, 4096, PROT_READ | PROT_WRITE))):
        reports.append(fail_nth_sweep(k, app, call, label=f"{version} {label}", readonly=False, splits_ok=True,
                                      before_each=reset))
    problems = [p for r in reports for p in r.problems]
    assert not problems, "\n".join(problems) + "\n\n" + "\n\n".join(str(r) for r in reports)
    sites = {site for r in reports for site in r.sites}
    assert {"alloc@vm_area_alloc", "alloc@vm_area_dup", "lock@down_write_killable"} <= sites, sites
