"""What the commit's cost claim amounts to: the same dump and restore through map_files and through maps.

Commit 640708a2cff7 says that finding shared mappings through /proc/$pid/maps "brings repeatable re-reading
and reparsing for this text file which slows down restore procedure significantly".  This module runs one
workload both ways and counts:

  * syscalls: every call the dumper and the restored tasks make (one `sys` method call is one system call:
    the helpers in simkernel/cr/proc.py never batch);
  * bytes read: what read(2)/pread(2) returned, readlink(2) text, and getdents64 records (their reclen);
  * seconds: wall time of the phase (on the simulation this is the model's Python speed, on the host the
    kernel's work plus, for restore, one RPC per call of a host task).

The workload (`build_shared_tree`): one root task maps a file M times, one page each, alternating PROT_READ
and PROT_READ|PROT_WRITE so neighbours never merge, and forks N-1 children that inherit every mapping: N tasks
sharing N*M VMAs of one object.  Dump identifies each of the N*M VMAs (use 1); restore maps the object in the
first task and lets every other VMA open it through the first task (use 3).  With map_files each lookup is a
fixed number of calls; with maps each lookup reads the whole maps text of M lines, so bytes grow as N*M^2.

Timing uses time.perf_counter: the benchmark's clock, not the simulation's (which stays deterministic).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable

from attrs import define, field, frozen

from simkernel.cr.dump import dump
from simkernel.cr.lookup import MapFilesLookup, MapsLookup
from simkernel.cr.restore import restore
from simkernel.uapi import MAP_FIXED_NOREPLACE, MAP_SHARED, O_CREAT, O_RDWR, PROT_READ, PROT_WRITE

__all__ = ["Counter", "CountingSys", "CountedTask", "Cost", "APPROACHES", "build_shared_tree", "measure",
           "run_sim_cell", "run_host_cell", "ratios", "growth", "format_table", "PAGE"]

PAGE = 4096
APPROACHES: dict[str, Callable[[], Any]] = {
    "map_files": MapFilesLookup,
    "maps": MapsLookup,
    "maps-once": lambda: MapsLookup(reread=False),
}


@define
class Counter:
    """Totals of one measured phase."""

    syscalls: int = 0
    bytes_read: int = 0
    calls: dict[str, int] = field(factory=dict)


def _reclen(name: str) -> int:
    """linux_dirent64 record length: 19 bytes of header, the name, its NUL, aligned to 8."""
    return (19 + len(name.encode("utf-8", "surrogateescape")) + 1 + 7) & ~7


class CountingSys:
    """A `sys` that counts each call (and the bytes it read) before passing it on."""

    __slots__ = ("_sys", "_counter")

    def __init__(self, sys: Any, counter: Counter) -> None:
        self._sys = sys
        self._counter = counter

    def __getattr__(self, name: str) -> Callable[..., Any]:
        fn = getattr(self._sys, name)
        counter = self._counter

        def call(*args: Any, **kwargs: Any) -> Any:
            counter.syscalls += 1
            counter.calls[name] = counter.calls.get(name, 0) + 1
            result = fn(*args, **kwargs)
            if name in ("read", "pread"):
                counter.bytes_read += len(result)
            elif name == "readlink":
                counter.bytes_read += len(result.encode("utf-8", "surrogateescape"))
            elif name == "getdents":
                counter.bytes_read += sum(_reclen(entry[0]) for entry in result)
            elif name in ("fork", "clone"):
                result = CountedTask(result, counter)
            return result
        return call


@define(eq=False)
class CountedTask:
    """A task whose `sys` counts into `counter`; tasks it forks count into the same counter."""

    task: Any
    counter: Counter

    @property
    def pid(self) -> int:
        return int(self.task.pid)

    @property
    def sys(self) -> CountingSys:
        return CountingSys(self.task.sys, self.counter)


@frozen
class Cost:
    """One measured phase of one approach on one workload."""

    machine: str       # "sim" or "host"
    approach: str      # a key of APPROACHES
    phase: str         # "dump" or "restore"
    tasks: int         # N
    vmas: int          # M, per task
    syscalls: int
    bytes_read: int
    seconds: float


def build_shared_tree(k: Any, n: int, m: int, path: str, base: int) -> Any:
    """The workload: a root task mapping `path` M times from `base`, and N-1 forked children. Returns root."""
    root = k.spawn("cr-root")
    s = root.sys
    fd = s.open(path, O_CREAT | O_RDWR, 0o644)
    s.ftruncate(fd, m * PAGE)
    for i in range(m):
        prot = PROT_READ if i % 2 == 0 else PROT_READ | PROT_WRITE
        s.mmap(base + i * PAGE, PAGE, prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, i * PAGE)
    s.close(fd)
    for _ in range(n - 1):
        s.fork()
    return root


def measure(machine: str, approach: str, n: int, m: int, dumper: Any, restorer: Any, root_pid: int,
            window: tuple[int, int]) -> tuple[list[Cost], Any]:
    """Dump `root_pid` as `dumper` and restore it below `restorer` with one approach; (costs, result)."""
    rows = []
    c = Counter()
    t0 = time.perf_counter()
    image = dump(CountedTask(dumper, c), root_pid, lookup=APPROACHES[approach](), window=window)
    rows.append(Cost(machine, approach, "dump", n, m, c.syscalls, c.bytes_read, time.perf_counter() - t0))
    if len(image.tasks) != n or any(len(t.vmas) != m for t in image.tasks):
        raise RuntimeError(f"{approach}: dumped {[len(t.vmas) for t in image.tasks]}, expected {n} x {m} VMAs")
    c = Counter()
    t0 = time.perf_counter()
    result = restore(image, CountedTask(restorer, c), lookup=APPROACHES[approach]())
    rows.append(Cost(machine, approach, "restore", n, m, c.syscalls, c.bytes_read, time.perf_counter() - t0))
    return rows, result


def run_sim_cell(n: int, m: int, approaches: Iterable[str], base: int) -> list[Cost]:
    """Each approach on a fresh simulated kernel running the workload."""
    import simkernel
    rows: list[Cost] = []
    for approach in approaches:
        k = simkernel.Kernel()
        root = build_shared_tree(k, n, m, "/tmp/cr-bench", base)
        criu = k.spawn("criu")
        got, _ = measure("sim", approach, n, m, criu, criu, root.pid, (base, base + m * PAGE))
        rows += got
    return rows


def run_host_cell(n: int, m: int, approaches: Iterable[str], base: int, timeout: float = 60.0) -> list[Cost]:
    """Each approach on real processes: dumped by this process (LocalTask), restored below a HostTask."""
    from simkernel.cr.local import LocalTask
    from simkernel.host import HostKernel
    rows: list[Cost] = []
    with HostKernel(timeout=timeout) as hk:
        root = build_shared_tree(hk, n, m, hk.tmpdir() + "/cr-bench", base)
        criu = hk.spawn("criu")
        for approach in approaches:
            got, result = measure("host", approach, n, m, LocalTask(), criu, root.pid, (base, base + m * PAGE))
            rows += got
            for t in reversed(list(result.tasks.values())):
                t.task.sys.exit(0)
    return rows


def _div(x: float, y: float) -> float:
    """x / y, inf when only y is 0 (map_files restore reads no bytes), nan when both are."""
    if y:
        return x / y
    return math.inf if x else math.nan


def ratios(costs: Iterable[Cost], base: str = "map_files") -> list[dict[str, Any]]:
    """Per (machine, phase, N, M) and approach: its syscalls, bytes and seconds over `base`'s (inf where
    `base` read no bytes)."""
    costs = list(costs)
    ref = {(c.machine, c.phase, c.tasks, c.vmas): c for c in costs if c.approach == base}
    out = []
    for c in costs:
        r = ref.get((c.machine, c.phase, c.tasks, c.vmas))
        if r is None or c.approach == base:
            continue
        out.append({"machine": c.machine, "phase": c.phase, "tasks": c.tasks, "vmas": c.vmas,
                    "approach": c.approach, "syscalls": _div(c.syscalls, r.syscalls),
                    "bytes": _div(c.bytes_read, r.bytes_read), "seconds": _div(c.seconds, r.seconds)})
    return out


def growth(costs: Iterable[Cost], along: str = "vmas") -> list[dict[str, Any]]:
    """How each metric grows between consecutive sizes along `along` ("vmas" or "tasks"), the other size
    fixed: the factor and the exponent log(factor)/log(size ratio) (1 = linear, 2 = quadratic)."""
    other = "tasks" if along == "vmas" else "vmas"
    series: dict[tuple[Any, ...], list[Cost]] = {}
    for c in costs:
        series.setdefault((c.machine, c.approach, c.phase, getattr(c, other)), []).append(c)
    out = []
    for (machine, approach, phase, fixed), cs in sorted(series.items()):
        cs.sort(key=lambda c: getattr(c, along))
        for a, b in zip(cs, cs[1:]):
            size = getattr(b, along) / getattr(a, along)
            row: dict[str, Any] = {"machine": machine, "approach": approach, "phase": phase, other: fixed,
                                   "from": getattr(a, along), "to": getattr(b, along)}
            for key, x, y in (("syscalls", a.syscalls, b.syscalls), ("bytes", a.bytes_read, b.bytes_read),
                              ("seconds", a.seconds, b.seconds)):
                f = y / x if x else math.nan
                row[key] = f
                row[key + "_exp"] = math.log(f) / math.log(size) if f > 0 and size > 1 else math.nan
            out.append(row)
    return out


def format_table(costs: Iterable[Cost]) -> str:
    """A fixed-width table: one line per (machine, phase, N, M), each approach's syscalls/bytes/seconds."""
    costs = list(costs)
    names = [a for a in APPROACHES if any(c.approach == a for c in costs)]
    cells: dict[tuple[Any, ...], dict[str, Cost]] = {}
    for c in costs:
        cells.setdefault((c.machine, c.phase, c.tasks, c.vmas), {})[c.approach] = c
    head = f"{'machine':7} {'phase':7} {'N':>4} {'M':>6}" + "".join(
        f" | {a + ' syscalls':>18} {'bytes':>12} {'seconds':>9}" for a in names)
    lines = [head, "-" * len(head)]
    for (machine, phase, n, m), by in sorted(cells.items(), key=lambda kv: (kv[0][0] != "sim", kv[0][1:])):
        line = f"{machine:7} {phase:7} {n:>4} {m:>6}"
        for a in names:
            c = by.get(a)
            line += " | " + (f"{c.syscalls:>18} {c.bytes_read:>12} {c.seconds:>9.4f}" if c else f"{'-':>41}")
        lines.append(line)
    return "\n".join(lines)
