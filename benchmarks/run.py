#!/usr/bin/env python3
"""simkernel at kernel scale, measured against this machine's kernel in the same run (issue 9).

    python benchmarks/run.py                 # N = 100, 1,000, 10,000, 60,000; 7 repetitions; exit 1 on a FAIL
    python benchmarks/run.py --quick         # N = 100, 2,000 (CI: checks only that it runs and prints)
    python benchmarks/run.py --plot          # also draw benchmarks/scaling.png
    python benchmarks/run.py --json PATH     # results as JSON (default benchmarks/results/run-<mode>.json)
    python -m simkernel bench [same options]

The workload (benchmarks/scale.py): one sparse file mapped N pages, every other page re-protected, so N
file VMAs; then the first listdir of /proc/<pid>/map_files, readlinks of its entries, and /proc/<pid>/maps read
and parsed.  Each figure is the median of the repetitions, in CPU seconds of the process making the calls; the
ratio is the median of simulation / host over the repetitions, each pair measured back to back.  The targets are
checked at the largest N.  The host side needs Linux x86-64 and root (it maps at a fixed address in forked
children); without them the table says so and shows the simulation alone.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import debug_overhead  # noqa: E402
from scale import (PAGE, PHASES, host_available, host_run, host_slab_sizes, in_child, overhead_rounds,  # noqa: E402
                   readlink_scaling, sim_memory, sim_run)

FULL_SIZES = [100, 1000, 10000, 60000]
QUICK_SIZES = [100, 2000]
TIMED = ("build", "listdir", "readlink", "maps")
LABELS = {"build": "build N VMAs (mmap + N/2 mprotect)", "listdir": "listdir map_files (first)",
          "readlink": "readlink of one entry", "maps": "read + parse /proc/<pid>/maps",
          "readlinkat": "readlinkat(map_files dirfd, entry)",
          "mem_vma": "Python heap per VMA", "mem_dentry": "Python heap per map_files dentry"}
# figure -> (kind, limit): "ratio" sim/host <= limit; "abs" sim value <= limit
TARGETS = {"listdir": ("ratio", 1.0), "readlink": ("ratio", 3.0), "build": ("ratio", 3.0),
           "maps": ("ratio", 1.5), "mem_vma": ("abs", 300.0), "mem_dentry": ("abs", 1024.0)}
READLINK_LOG_LIMIT = 1.3        # readlink time at the largest N over the time at the smallest
SCENARIO_LIMIT_S = 10.0
OVERHEAD_LIMIT = 1.05


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) // (1 << 20)} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {"system": platform.system(), "release": platform.release(), "machine": platform.machine(),
            "cpu": cpu, "cpus": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "load_avg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def fmt_value(fig: str, v: float | None) -> str:
    if v is None:
        return "-"
    if fig.startswith("mem"):
        return f"{v:.0f} B"
    if fig in ("readlink", "readlinkat"):
        return f"{v * 1e6:.1f} us"
    return f"{v:.4f} s" if v < 1 else f"{v:.3f} s"


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def measure(sizes: list[int], repeats: int, host: bool, log: Callable[[str], None]) -> dict[str, Any]:
    """Repetitions at each N, the two sides interleaved phase by phase (which side goes first alternates), so that
    a change in the machine's speed touches both members of a pair alike: {N: {"sim": {fig: [...]}, "host":
    {...}, "ratio": {fig: [sim/host of each pair]}}}."""
    results: dict[str, Any] = {}
    tmp = tempfile.NamedTemporaryFile(prefix="simkernel-bench-", dir="/tmp", delete=False)
    tmp.truncate(max(sizes) * PAGE)   # sparse
    tmp.close()
    try:
        for n in sizes:
            cell: dict[str, dict[str, list[float]]] = {"sim": {}, "host": {}, "ratio": {}}
            t0 = time.perf_counter()
            for i in range(repeats):
                for phase in PHASES:
                    got: dict[str, dict[str, float]] = {}
                    for side in (("sim", "host") if i % 2 == 0 else ("host", "sim")) if host else ("sim",):
                        gc.collect()
                        got[side] = (sim_run(n, phases=(phase,)) if side == "sim"
                                     else host_run(n, tmp.name, phases=(phase,)))
                        for fig, v in got[side].items():
                            cell[side].setdefault(fig, []).append(v)
                    for fig, v in got.get("host", {}).items():
                        if v and fig in got["sim"]:
                            cell["ratio"].setdefault(fig, []).append(got["sim"][fig] / v)
            cell["sim"].update({k: [v] for k, v in sim_memory(n).items()})
            results[str(n)] = cell
            log(f"  N={n:,}: {time.perf_counter() - t0:.1f} s")
    finally:
        os.unlink(tmp.name)
    return results


def tracer_overhead(n: int, rounds: int) -> dict[str, Any]:
    """Cost of the disabled tracer: benchmarks/scale.py's tracer_overhead() in a forked child (see there)."""
    return in_child(overhead_rounds, n, rounds) | {"n": n}


def scenario_library(log: Callable[[str], None], repeats: int) -> dict[str, Any]:
    """The whole scenario library (simkernel/scenarios) on every release profile: simkernel.matrix.run_matrix()
    in a forked child, CPU seconds, median of the repetitions."""
    import importlib.util
    if importlib.util.find_spec("simkernel.matrix") is None or importlib.util.find_spec("simkernel.scenarios") is None:
        return {"present": False, "note": "simkernel/scenarios (the scenario library) does not exist in this tree"}
    runs = [in_child(_run_library) for _ in range(repeats)]
    s = statistics.median(r["seconds"] for r in runs)
    shape = runs[0]
    note = (f"{shape['scenarios']:.0f} scenarios, {shape['rows']:.0f} observations x {shape['kernels']:.0f} release "
            "profiles")
    log(f"  scenario library: {s:.2f} s ({note})")
    return {"present": True, "seconds": s, "runs": [r["seconds"] for r in runs], "note": note}


def _run_library() -> dict[str, float]:
    from simkernel.matrix import run_matrix
    from simkernel.scenarios import SCENARIOS
    t0 = time.process_time()
    m = run_matrix()
    return {"seconds": time.process_time() - t0, "scenarios": len(SCENARIOS), "rows": len(m.rows),
            "kernels": len(m.kernels)}


def evaluate(res: dict[str, Any], sizes: list[int], host: bool) -> list[dict[str, Any]]:
    """One row per target: sim, host, ratio, target text, PASS/FAIL (at the largest N)."""
    n = str(max(sizes))
    cell = res["results"][n]
    rows = []
    for fig, (kind, limit) in TARGETS.items():
        sim = median(cell["sim"].get(fig, []))
        hostv = median(cell["host"].get(fig, [])) if host else None
        if fig.startswith("mem"):
            hostv = res["slab"].get(fig)
        ratio = median(cell["ratio"].get(fig, [])) if host else None
        if ratio is None and sim is not None and hostv:
            ratio = sim / hostv
        if kind == "ratio":
            ok = None if ratio is None else ratio <= limit
            target = f"ratio <= {limit:g}"
        else:
            ok = sim is not None and sim <= limit
            target = f"<= {limit:.0f} B"
        rows.append({"figure": fig, "label": LABELS[fig], "n": int(n), "sim": sim, "host": hostv, "ratio": ratio,
                     "target": target, "pass": ok})
        if fig == "listdir" and cell["sim"].get("vma_visits"):
            rows[-1]["note"] = (f"the kernel's own walk, counted by the model (kernel.stats): "
                                f"{median(cell['sim']['vma_visits']):,.0f} VMA visits for one listing")
    sim = median(cell["sim"].get("readlinkat", []))
    hostv = median(cell["host"].get("readlinkat", [])) if host else None
    rows.append({"figure": "readlinkat", "label": LABELS["readlinkat"], "n": int(n), "sim": sim, "host": hostv,
                 "ratio": median(cell["ratio"].get("readlinkat", [])) if host else None, "target": "(no target)",
                 "pass": None})
    rl = res["readlink_scaling"]
    rows.append({"figure": "readlink_log", "label": f"readlink time N={rl['hi_n']:,} / N={rl['lo_n']:,} (sim)",
                 "n": rl["hi_n"], "sim": rl["ratio"], "host": None, "ratio": None,
                 "target": f"<= {READLINK_LOG_LIMIT}", "pass": rl["ratio"] <= READLINK_LOG_LIMIT,
                 "note": f"{rl['lo'] * 1e6:.1f} us and {rl['hi'] * 1e6:.1f} us, measured alternately in one process"})
    sc = res["scenarios"]
    rows.append({"figure": "scenarios", "label": "scenario library, all profiles", "n": None,
                 "sim": sc.get("seconds"), "host": None, "ratio": None, "target": f"< {SCENARIO_LIMIT_S:g} s",
                 "pass": None if "seconds" not in sc else sc["seconds"] < SCENARIO_LIMIT_S,
                 "note": sc.get("note")})
    ov = res["overhead"]
    rows.append({"figure": "tracer_off", "label": f"tracer off: overhead (N={ov['n']:,})", "n": ov["n"],
                 "sim": ov["ratio"], "host": None, "ratio": None, "target": f"<= {OVERHEAD_LIMIT}",
                 "pass": ov["ratio"] <= OVERHEAD_LIMIT,
                 "note": f"after a closed trace block x{ov['after_trace']:.3f}, syscall hook look-up "
                         f"x{ov['hook_check']:.3f}"})
    dbg = res.get("debug_off")
    if dbg is not None:
        rows.append({"figure": "debug_off", "label": f"lockdep/ledger/fail-nth/sched off (N={dbg['n']:,})",
                     "n": dbg["n"], "sim": dbg["ratio"], "host": None, "ratio": None,
                     "target": f"<= {OVERHEAD_LIMIT}", "pass": dbg["ratio"] <= OVERHEAD_LIMIT,
                     "note": f"{dbg['current_s']:.3f} s vs {dbg['baseline_s']:.3f} s for the same workload on "
                             f"{dbg['baseline']}, the commit before their hooks (benchmarks/debug_overhead.py)"})
    return rows


def _cell(row: dict[str, Any], key: str) -> str:
    v = row[key]
    if v is None:
        return "-"
    if row["figure"] in ("readlink_log", "tracer_off", "debug_off"):
        return f"x{v:.3f}"
    if row["figure"] == "scenarios":
        return f"{v:.2f} s"
    return fmt_value(row["figure"], v)


def render_table(rows: list[dict[str, Any]], res: dict[str, Any]) -> str:
    head = f"{'figure':<42} {'sim':>12} {'host':>12} {'ratio':>7}  {'target':<15} result"
    out = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "-"
        result = {True: "PASS", False: "FAIL", None: "n/a"}[r["pass"]]
        if res["mode"] == "quick" and r["pass"] is not None:
            result = f"({result})"   # the targets are set for N = 60,000
        label = r["label"] + (f" (N={r['n']:,})" if r["figure"] in TARGETS or r["figure"] == "readlinkat" else "")
        out.append(f"{label:<42} {_cell(r, 'sim'):>12} {_cell(r, 'host'):>12} {ratio:>7}  {r['target']:<15} "
                   f"{result}")
        if r.get("note"):
            out.append(f"    {r['note']}")
    return "\n".join(out)


def render_scaling(res: dict[str, Any], sizes: list[int], host: bool) -> str:
    head = f"{'N':>8}  " + "  ".join(f"{f:>24}" for f in TIMED) + f"  {'heap/VMA':>9} {'heap/dentry':>11}"
    out = ["scaling (sim / host / ratio, the median of the pairs' ratios):", head]
    for n in sizes:
        cell = res["results"][str(n)]
        cols = []
        for f in TIMED:
            s = median(cell["sim"][f])
            h = median(cell["host"].get(f, [])) if host else None
            r = median(cell["ratio"].get(f, [])) if host else None
            cols.append(f"{fmt_value(f, s)} / {fmt_value(f, h)} / " + (f"{r:.2f}" if r is not None else "-"))
        out.append(f"{n:>8,}  " + "  ".join(f"{c:>24}" for c in cols)
                   + f"  {cell['sim']['mem_vma'][0]:>7.0f} B {cell['sim']['mem_dentry'][0]:>9.0f} B")
    return "\n".join(out)


def plot(res: dict[str, Any], sizes: list[int], host: bool, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    for ax, f in zip(axes.flat, TIMED + ("mem_vma", "mem_dentry")):
        sim = [median(res["results"][str(n)]["sim"][f]) for n in sizes]
        scale = 1e6 if f == "readlink" else 1.0
        ax.plot(sizes, [v * scale for v in sim], "o-", label="simkernel")
        if f.startswith("mem"):
            if res["slab"].get(f):
                ax.axhline(res["slab"][f], color="C1", ls=":", label="host kernel slab object")
            ax.axhline(TARGETS[f][1], color="C3", ls="--", label="target")
            ax.set_ylabel("bytes")
        else:
            if host:
                hv = [median(res["results"][str(n)]["host"][f]) for n in sizes]
                ax.plot(sizes, [v * scale for v in hv], "s-", label=f"host Linux {platform.release()}")
            ax.set_yscale("log")
            ax.set_ylabel("CPU µs per call" if f == "readlink" else "CPU seconds")
        ax.set_xscale("log")
        ax.set_xlabel("N (file VMAs)")
        ax.set_title(LABELS[f])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("simkernel vs the host kernel (medians; benchmarks/run.py)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None, prog: str = "benchmarks/run.py") -> int:
    """Run the benchmark; returns the exit status (1: a target failed in a full run)."""
    ap = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 100 and 2,000 only; never fails on a target")
    ap.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="comma-separated N values")
    ap.add_argument("--repeats", type=int, help="repetitions per N and side (default 7; 5 with --quick)")
    ap.add_argument("--json", type=Path, help="write results here (default benchmarks/results/run-<mode>.json)")
    ap.add_argument("--plot", action="store_true", help="draw the scaling curves into benchmarks/scaling.png")
    ap.add_argument("--no-host", action="store_true", help="simulation only")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    if args.repeats is None:
        args.repeats = 5 if args.quick else 7
    sizes = sorted(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    ok, why = host_available()
    host = ok and not args.no_host
    host_note = why if ok else f"HOST SIDE NOT RUN: {why}"
    if args.no_host:
        host_note = "HOST SIDE NOT RUN: --no-host"
    log(f"simkernel benchmark ({mode}): N = {', '.join(f'{n:,}' for n in sizes)}, {args.repeats} repetitions; "
        f"host: {host_note}")
    res: dict[str, Any] = {"mode": mode, "sizes": sizes, "repeats": args.repeats, "machine": machine(),
                           "host": {"measured": host, "note": host_note}, "clock": "time.process_time (CPU)"}
    t0 = time.perf_counter()
    res["results"] = measure(sizes, args.repeats, host, log)
    res["slab"] = host_slab_sizes() if host else {}
    res["readlink_scaling"] = readlink_scaling(min(sizes), max(sizes)) | {"lo_n": min(sizes), "hi_n": max(sizes)}
    res["overhead"] = tracer_overhead(min(max(sizes), 10000), rounds=11 if not args.quick else 5)
    res["scenarios"] = scenario_library(log, 3)
    res["debug_off"] = debug_overhead.measure(min(max(sizes), 10000), rounds=7 if not args.quick else 2)
    if res["debug_off"] is None:
        log("debugging facilities' cost not measured: git cannot extract the baseline commit here")
    rows = evaluate(res, sizes, host)
    res["table"] = rows
    res["wall_seconds"] = time.perf_counter() - t0
    m = res["machine"]
    print(f"simkernel vs host kernel, N = {max(sizes):,} (medians of {args.repeats}, CPU time; "
          f"{m['system']} {m['release']} {m['machine']}, {m['cpu']} x{m['cpus']}, Python {m['python']})")
    if not host:
        print(f"*** {host_note} -- only the simulation was measured, no ratios ***")
    if mode == "quick":
        print("quick mode: the targets are set for N = 60,000; (PASS)/(FAIL) at these sizes are for information")
    print(render_table(rows, res))
    print()
    print(render_scaling(res, sizes, host))
    out = args.json or HERE / "results" / f"run-{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1, default=str) + "\n")
    print(f"\nJSON: {out}")
    if args.plot:
        png = HERE / "scaling.png"
        plot(res, sizes, host, png)
        print(f"plot: {png}")
    failed = [r["figure"] for r in rows if r["pass"] is False]
    if mode == "quick":
        return 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
