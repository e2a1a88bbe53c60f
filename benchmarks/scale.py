"""The kernel-scale workload of benchmarks/run.py, on the simulation and on this machine's kernel, same calls.

One sparse file of N pages is mapped once (MAP_SHARED, PROT_READ) at a fixed address and every other page is
re-protected (PROT_NONE), so the mapping becomes N distinct file VMAs (one mmap + N/2 mprotect calls).  Then:

    build      the mmap and the N/2 mprotect calls
    listdir    os.listdir(/proc/<pid>/map_files), the first one (every dentry is instantiated)
    readlink   one readlink of a map_files entry: the mean over K entries spread over the mapping, each looked
               up once after the listdir (a dcache hit that revalidates, on both kernels)
    readlinkat the same entries relative to an open map_files directory (no walk through /proc/<pid>: the
               part of a readlink that is the entry itself; informative, no target)
    maps       read /proc/<pid>/maps to the end and parse every line into its fields

Every figure is CPU time of the process doing the calls (`time.process_time`: user + system), so other load on
the machine does not count.  Each repetition measures in three separate runs -- (build, listdir), (build,
listdir, readlinks), (build, maps) -- each in a freshly forked child of the benchmark process, on both sides:
no figure pays for what another left behind (fragmented Python heap, objects the garbage collector must scan,
cached dentries).  The garbage collector runs (gc.collect()) before each timed region, so that a figure pays
for the collections its own allocations cause, not for the debt of the setup before it.  The host child calls
the kernel through `os` and ctypes (fresh /proc/<pid> dentries, the interpreter's own mappings plus N); the
simulated child boots a `simkernel.Kernel()` and calls `task.sys`.

Memory (simulation only, tracemalloc): Python heap per VMA after the build, and per map_files dentry after
the listdir.  The host's kernel objects for comparison come from /proc/slabinfo (vm_area_struct; dentry +
proc_inode_cache).
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import statistics
import time
import tracemalloc
from typing import Any, Callable

import simkernel
from simkernel.host import SCENARIO_BASE, available
from simkernel.uapi import MAP_SHARED, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, PROT_NONE, PROT_READ

__all__ = ["BASE", "PAGE", "PHASES", "sim_run", "host_run", "sim_memory", "host_slab_sizes", "host_available",
           "in_child", "parse_maps", "entry_names", "readlink_sample", "readlink_scaling", "overhead_rounds"]

BASE = SCENARIO_BASE
PAGE = 4096
MAP_FIXED_NOREPLACE = 0x100000
READLINK_SAMPLE = 200
PHASES = ("listdir", "readlink", "maps")


def parse_maps(text: str) -> list[list[str]]:
    """Both sides parse maps the same way: one list of fields per line (the name may hold spaces)."""
    return [line.split(None, 5) for line in text.splitlines()]


def entry_names(n: int) -> list[str]:
    """The map_files names of the workload's N VMAs, in address order."""
    return [f"{BASE + i * PAGE:x}-{BASE + (i + 1) * PAGE:x}" for i in range(n)]


def readlink_sample(n: int) -> list[str]:
    """Up to READLINK_SAMPLE names spread evenly over the N VMAs."""
    names = entry_names(n)
    step = max(1, n // READLINK_SAMPLE)
    return names[::step][:READLINK_SAMPLE]


# -- the simulation -------------------------------------------------------------------------------------

def _sim_boot(n: int) -> tuple[Any, Any, int]:
    k = simkernel.Kernel()
    t = k.spawn("bench")
    fd = t.sys.open("/tmp/sparse", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, n * PAGE)
    return k, t, fd


def _sim_build(t: Any, fd: int, n: int) -> None:
    s = t.sys
    s.mmap(BASE, n * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0)
    mprotect = s.mprotect
    for i in range(1, n, 2):
        mprotect(BASE + i * PAGE, PAGE, PROT_NONE)


def _sim_read_maps(t: Any) -> list[list[str]]:
    s = t.sys
    fd = s.open(f"/proc/{t.pid}/maps", O_RDONLY)
    chunks = []
    while True:
        b = s.read(fd, 65536)
        if not b:
            break
        chunks.append(b)
    s.close(fd)
    return parse_maps(b"".join(chunks).decode())


def sim_run(n: int, prepare: Callable[[Any], None] | None = None,
            phases: tuple[str, ...] = PHASES) -> dict[str, float]:
    """One repetition, each phase on a fresh simulated kernel in a forked child: {figure: CPU seconds};
    readlink is per call."""
    out: dict[str, float] = {}
    for phase in phases:
        out.update(in_child(_sim_phase, n, phase, prepare))
    return out


def _sim_phase(n: int, phase: str, prepare: Callable[[Any], None] | None) -> dict[str, float]:
    clock = time.process_time
    k, t, fd = _sim_boot(n)
    if prepare is not None:
        prepare(k)
    s = t.sys
    gc.collect()
    t0 = clock()
    _sim_build(t, fd, n)
    t1 = clock()
    if phase == "maps":
        gc.collect()     # the build's garbage-collector debt is not the maps read's
        t1 = clock()
        rows = _sim_read_maps(t)
        t2 = clock()
        assert len(rows) >= n, (len(rows), n)
        return {"maps": t2 - t1}
    names = s.listdir(f"/proc/{t.pid}/map_files")
    t2 = clock()
    assert len(names) == n, (len(names), n)
    if phase == "listdir":
        return {"build": t1 - t0, "listdir": t2 - t1, "vma_visits": float(k.stats.get("vma_visits", 0))}
    d = f"/proc/{t.pid}/map_files/"
    names = readlink_sample(n)
    sample = [d + name for name in names]
    readlink = s.readlink
    gc.collect()         # nor the listing's the readlinks'
    t3 = clock()
    for p in sample:
        readlink(p)
    t4 = clock()
    dfd = s.open(d, O_RDONLY | O_DIRECTORY)
    t5 = clock()
    for name in names:
        readlink(name, dir_fd=dfd)
    t6 = clock()
    return {"readlink": (t4 - t3) / len(sample), "readlinkat": (t6 - t5) / len(names)}


def readlink_scaling(lo: int, hi: int, rounds: int = 7) -> dict[str, float]:
    """Simulated readlink time at N = lo and N = hi, measured alternately in one forked child (both kernels live
    side by side), so that a change in the machine's speed during the run touches both alike: medians per call."""
    return in_child(_readlink_scaling, lo, hi, rounds)


def _readlink_scaling(lo: int, hi: int, rounds: int) -> dict[str, float]:
    sides = []
    for n in (lo, hi):
        k, t, fd = _sim_boot(n)
        _sim_build(t, fd, n)
        d = f"/proc/{t.pid}/map_files/"
        t.sys.listdir(d)
        sides.append((t.sys.readlink, [d + name for name in readlink_sample(n)]))
    times: list[list[float]] = [[], []]
    gc.collect()
    for _ in range(rounds):
        for i, (readlink, sample) in enumerate(sides):
            t0 = time.process_time()
            for p in sample:
                readlink(p)
            times[i].append((time.process_time() - t0) / len(sample))
    med = [sorted(x)[len(x) // 2] for x in times]
    return {"lo": med[0], "hi": med[1], "ratio": med[1] / med[0]}


def overhead_rounds(n: int, rounds: int) -> dict[str, float]:
    """What the disabled tracer costs: the workload (build N VMAs on a fresh mapping, listdir, the readlink sample,
    maps, munmap) on three kernels side by side in this process, in a rotating order round by round (the first
    round is a warm-up), CPU seconds; the ratios are medians of each round's own ratios (the fastest run of each
    variant is kept as `<variant>_s`):

        plain        a kernel that never traced
        after_trace  a kernel that ran `with k.trace(): pass` and `with k.strace(): pass` first
        bare         a kernel that never traced, run with a syscall entry that has no `kernel.hooks["syscall"]`
                     look-up (the only tracer code on the syscall path when tracing is off)

    Returns those times and the median ratios after_trace/plain and plain/bare ("ratio": the larger).
    """
    import simkernel.syscalls as sc
    from simkernel.errors import KernelError, oserror_from_errno
    from simkernel.machine import CLOCK_STEP_NS

    def bare_call(self: Any, name: str, fn: Any, *args: Any, filename: Any = None, filename2: Any = None) -> Any:
        current = self.task
        current.kernel.clock_ns += CLOCK_STEP_NS     # as Sys._call advances the clock
        if current.state != "running":
            raise RuntimeError(f"{current!r} is not running")
        try:
            return fn(current, *args)
        except KernelError as err:
            raise oserror_from_errno(err.errno, filename, filename2, err.explain) from None

    def workload(t: Any, fd: int) -> float:
        s = t.sys
        d = f"/proc/{t.pid}/map_files/"
        sample = [d + name for name in readlink_sample(n)]
        gc.collect()
        t0 = time.process_time()
        _sim_build(t, fd, n)
        s.listdir(d)
        for p in sample:
            s.readlink(p)
        _sim_read_maps(t)
        s.munmap(BASE, n * PAGE)
        return time.process_time() - t0

    kernels = {"plain": _sim_boot(n), "after_trace": _sim_boot(n), "bare": _sim_boot(n)}
    with kernels["after_trace"][0].trace():
        pass
    with kernels["after_trace"][0].strace():
        pass
    order = list(kernels)
    times: dict[str, list[float]] = {v: [] for v in order}
    real_call = sc.Sys._call
    for r in range(rounds + 1):
        for variant in order[r % 3:] + order[:r % 3]:
            _k, t, fd = kernels[variant]
            sc.Sys._call = bare_call if variant == "bare" else real_call  # type: ignore[method-assign]
            try:
                took = workload(t, fd)
            finally:
                sc.Sys._call = real_call  # type: ignore[method-assign]
            if r:
                times[variant].append(took)
    best = {v: min(x) for v, x in times.items()}
    out = {f"{v}_s": m for v, m in best.items()}
    # each round's three runs are back to back: the median of the rounds' own ratios follows the machine's speed
    # changes less than a ratio of the fastest runs (those may come from different minutes)
    out["after_trace"] = statistics.median(a / p for a, p in zip(times["after_trace"], times["plain"]))
    out["hook_check"] = statistics.median(p / b for p, b in zip(times["plain"], times["bare"]))
    out["ratio"] = max(out["after_trace"], out["hook_check"])
    return out


def sim_memory(n: int) -> dict[str, float]:
    """Python heap bytes per VMA after the build and per instantiated map_files dentry (tracemalloc)."""
    return in_child(_sim_memory, n)


def _sim_memory(n: int) -> dict[str, float]:
    k, t, fd = _sim_boot(n)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _sim_build(t, fd, n)
        gc.collect()
        after_build = tracemalloc.get_traced_memory()[0]
        names = t.sys.listdir(f"/proc/{t.pid}/map_files")
        assert len(names) == n
        del names
        gc.collect()
        after_listdir = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return {"mem_vma": (after_build - before) / n, "mem_dentry": (after_listdir - after_build) / n}


# -- the host kernel ------------------------------------------------------------------------------------

def host_available() -> tuple[bool, str]:
    """Whether the host side can run: Linux x86-64, root (see simkernel.host.available)."""
    return available()


def _libc() -> Any:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.mprotect.restype = ctypes.c_int
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    return libc


def _host_child(n: int, path: str, phase: str) -> dict[str, float]:
    libc = _libc()
    fd = os.open(path, os.O_RDWR)
    pid = os.getpid()
    clock = time.process_time
    gc.collect()
    t0 = clock()
    addr = libc.mmap(BASE, n * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0)
    if addr != BASE:
        raise OSError(ctypes.get_errno(), f"mmap at {BASE:#x} failed")
    mprotect = libc.mprotect
    for i in range(1, n, 2):
        if mprotect(BASE + i * PAGE, PAGE, PROT_NONE):
            raise OSError(ctypes.get_errno(), "mprotect failed")
    t1 = clock()
    out: dict[str, float] = {}
    if phase == "maps":
        gc.collect()
        t1 = clock()
        with open(f"/proc/{pid}/maps", "rb") as f:
            rows = parse_maps(f.read().decode())
        out["maps"] = clock() - t1
        assert len(rows) >= n
    else:
        names = os.listdir(f"/proc/{pid}/map_files")
        t2 = clock()
        assert len(names) >= n
        if phase == "listdir":
            out["build"], out["listdir"] = t1 - t0, t2 - t1
        else:
            d = f"/proc/{pid}/map_files/"
            names = readlink_sample(n)
            sample = [d + name for name in names]
            readlink = os.readlink
            gc.collect()
            t3 = clock()
            for p in sample:
                readlink(p)
            t4 = clock()
            dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
            t5 = clock()
            for name in names:
                readlink(name, dir_fd=dfd)
            t6 = clock()
            os.close(dfd)
            out["readlink"], out["readlinkat"] = (t4 - t3) / len(sample), (t6 - t5) / len(names)
    libc.munmap(BASE, n * PAGE)
    os.close(fd)
    return out


def host_run(n: int, path: str, phases: tuple[str, ...] = PHASES) -> dict[str, float]:
    """One repetition, each phase in a freshly forked child of this process; `path`: a sparse file of >= N pages."""
    out: dict[str, float] = {}
    for phase in phases:
        out.update(in_child(_host_child, n, path, phase))
    return out


def in_child(fn: Callable[..., dict[str, float]], *args: Any) -> dict[str, float]:
    """fn(*args) in a forked child of this process; its result comes back as JSON through a pipe."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:   # the child: measure, report, leave without running the parent's cleanup
        status = 0
        try:
            os.close(r)
            data = json.dumps(fn(*args)).encode()
        except BaseException as e:  # noqa: BLE001 -- reported to the parent
            data = json.dumps({"error": f"{type(e).__name__}: {e}"}).encode()
            status = 1
        try:
            while data:
                data = data[os.write(w, data):]
        finally:
            os._exit(status)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    os.waitpid(pid, 0)
    out = json.loads(b"".join(chunks) or b'{"error": "the child reported nothing"}')
    if "error" in out:
        raise RuntimeError(f"{fn.__name__}{args[:3]}: {out['error']}")
    return out


def host_slab_sizes() -> dict[str, float]:
    """Kernel object sizes from /proc/slabinfo: bytes per VMA, per map_files dentry (dentry + proc inode)."""
    sizes: dict[str, int] = {}
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 3 and parts[0] in ("vm_area_struct", "dentry", "proc_inode_cache"):
                    sizes[parts[0]] = int(parts[3])
    except OSError:
        return {}
    out: dict[str, float] = {}
    if "vm_area_struct" in sizes:
        out["mem_vma"] = float(sizes["vm_area_struct"])
    if "dentry" in sizes and "proc_inode_cache" in sizes:
        out["mem_dentry"] = float(sizes["dentry"] + sizes["proc_inode_cache"])
    return out
