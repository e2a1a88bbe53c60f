#!/usr/bin/env python3
"""Does map_files make checkpoint/restore cheaper than re-reading /proc/<pid>/maps?  Measured, sim and host.

Commit 640708a2cff7 (v3.3) claims that finding mappings through /proc/$pid/maps "brings repeatable re-reading
and reparsing for this text file which slows down restore procedure significantly".  This benchmark runs the
same dump and restore (simkernel/cr) of N tasks sharing M one-page file VMAs each (alternating protections so
none merge), three ways:

    map_files   follow /proc/<pid>/map_files/<range> for each lookup (a fixed number of calls)
    maps        re-read and re-parse /proc/<pid>/maps for each lookup (the commit's alternative)
    maps-once   read each task's maps once and cache it (how much of the cost is the *re*-reading)

on the simulation and on this machine's kernel (real processes through simkernel.host; the host dump runs in
this process, the host restore in forked host tasks driven by RPC), counting system calls, bytes read and
seconds, and prints the table, the maps/map_files ratios side by side for sim and host, and how each metric
grows with M and with N.  JSON goes to benchmarks/results/cr_bench-<mode>.json.

    python benchmarks/cr_bench.py            # quick (CI): N x M up to 2 x 256 and 16 x 16
    python benchmarks/cr_bench.py --full     # N up to 1000, M up to 10,000 (maps cells over budget skipped)
    python benchmarks/cr_bench.py --no-host  # simulation only
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simkernel.cr.cost import APPROACHES, Cost, format_table, growth, ratios, run_host_cell, run_sim_cell  # noqa: E402
from simkernel.host import SCENARIO_BASE, available  # noqa: E402

GRIDS = {
    # (N, M) cells; the first list varies M at fixed N, the second N at fixed M
    "quick": [(2, 16), (2, 64), (2, 256), (1, 16), (4, 16), (16, 16)],
    "full": [(10, 10), (10, 100), (10, 1000), (10, 10000), (100, 10), (1000, 10)],
}
# re-reading maps costs ~N*M^2 lines; cells above this are skipped and projected from a measured one
BUDGET = {"quick": 2e6, "full": {"sim": 2e7, "host": 2e8}}


def budget(mode: str, machine: str) -> float:
    b = BUDGET[mode]
    return b[machine] if isinstance(b, dict) else b


def run(mode: str, host: bool) -> tuple[list[Cost], list[dict]]:
    rows: list[Cost] = []
    skipped: list[dict] = []
    machines = ["sim"] + (["host"] if host else [])
    for machine in machines:
        for n, m in GRIDS[mode]:
            approaches = [a for a in APPROACHES if a != "maps" or n * m * m <= budget(mode, machine)]
            t0 = time.perf_counter()
            cell = (run_sim_cell if machine == "sim" else run_host_cell)(n, m, approaches, SCENARIO_BASE)
            rows += cell
            if "maps" not in approaches:
                skipped.append(project(rows, machine, n, m))
            print(f"  {machine} N={n} M={m}: {time.perf_counter() - t0:.1f} s"
                  + ("" if "maps" in approaches else " (maps skipped: over budget, projected)"), file=sys.stderr)
    return rows, skipped


def project(rows: list[Cost], machine: str, n: int, m: int) -> dict:
    """maps cost of a skipped cell, scaled from the largest measured maps cell of this machine: syscalls and
    seconds by N*M (lookups) times the maps size ratio M/M0, bytes the same way (N*M^2 growth)."""
    done = [c for c in rows if c.machine == machine and c.approach == "maps"]
    out = {"machine": machine, "tasks": n, "vmas": m, "approach": "maps", "projected": {}}
    for phase in ("dump", "restore"):
        ref = max((c for c in done if c.phase == phase), key=lambda c: c.tasks * c.vmas ** 2)
        f = (n * m * m) / (ref.tasks * ref.vmas ** 2)
        out["projected"][phase] = {"from": [ref.tasks, ref.vmas], "bytes": ref.bytes_read * f,
                                   "seconds": ref.seconds * f}
    return out


def side_by_side(rows: list[Cost]) -> str:
    """maps / map_files ratios of bytes, syscalls and seconds, simulation beside host."""
    r = {(x["machine"], x["phase"], x["tasks"], x["vmas"]): x for x in ratios(rows) if x["approach"] == "maps"}
    keys = sorted({(p, n, m) for (_mach, p, n, m) in r})
    head = (f"{'phase':7} {'N':>4} {'M':>6} | {'sim bytes':>10} {'syscalls':>9} {'seconds':>8} | "
            f"{'host bytes':>10} {'syscalls':>9} {'seconds':>8}")
    lines = [head, "-" * len(head)]
    for p, n, m in keys:
        cols = []
        for mach in ("sim", "host"):
            x = r.get((mach, p, n, m))
            cols.append(f"{x['bytes']:>10.1f} {x['syscalls']:>9.2f} {x['seconds']:>8.2f}" if x else f"{'-':>29}")
        lines.append(f"{p:7} {n:>4} {m:>6} | {cols[0]} | {cols[1]}")
    lines.append("(restore bytes: inf -- opening a map_files entry reads no bytes at all)")
    return "\n".join(lines)


def growth_table(rows: list[Cost], along: str) -> str:
    other = "tasks" if along == "vmas" else "vmas"
    g = [x for x in growth(rows, along=along) if x["approach"] in ("map_files", "maps")]
    head = (f"{'machine':7} {'approach':9} {'phase':7} {other[0].upper():>5} {along[0].upper() + ' from->to':>14} | "
            f"{'bytes x':>8} {'exp':>5} | {'syscalls x':>10} {'exp':>5} | {'seconds x':>9} {'exp':>5}")
    lines = [head, "-" * len(head)]
    for x in g:
        def fmt(key: str, w: int) -> str:
            v, e = x[key], x[key + "_exp"]
            return f"{v:>{w}.2f} {e:>5.2f}" if not math.isnan(v) else f"{'-':>{w}} {'-':>5}"
        lines.append(f"{x['machine']:7} {x['approach']:9} {x['phase']:7} {x[other]:>5} "
                     f"{str(x['from']) + '->' + str(x['to']):>14} | {fmt('bytes', 8)} | {fmt('syscalls', 10)} | "
                     f"{fmt('seconds', 9)}")
    return "\n".join(lines)


def _finite(x: object) -> object:
    """JSON has no NaN or Infinity: NaN becomes null, inf the string "inf"."""
    if isinstance(x, float) and not math.isfinite(x):
        return None if math.isnan(x) else "inf"
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="the large grid (minutes)")
    ap.add_argument("--no-host", action="store_true", help="simulation only")
    ap.add_argument("--out", type=Path, default=None, help="JSON path (default benchmarks/results/...)")
    args = ap.parse_args(argv)
    mode = "full" if args.full else "quick"
    ok, why = available()
    host = ok and not args.no_host
    if not host:
        print(f"host kernel not measured: {why if not ok else '--no-host'}", file=sys.stderr)
    rows, skipped = run(mode, host)

    print(f"\n== checkpoint/restore cost, {mode} grid: N tasks x M shared file VMAs each "
          f"(simulation: simkernel; host: Linux {platform.release()}) ==")
    print(format_table(rows))
    for s in skipped:
        d, r = s["projected"]["dump"], s["projected"]["restore"]
        print(f"  skipped {s['machine']} maps N={s['tasks']} M={s['vmas']}: projected dump {d['bytes']:.3g} B "
              f"{d['seconds']:.3g} s, restore {r['bytes']:.3g} B {r['seconds']:.3g} s")
    print("\n== maps / map_files (how many times more) ==")
    print(side_by_side(rows))
    print("\n== growth with M (exp: 1 = linear, 2 = quadratic) ==")
    print(growth_table(rows, "vmas"))
    print("\n== growth with N ==")
    print(growth_table(rows, "tasks"))

    out = args.out or ROOT / "benchmarks" / "results" / f"cr_bench-{mode}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"mode": mode, "grid": GRIDS[mode], "host": why if host else None, "kernel": platform.release(),
           "rows": [attrs.asdict(c) for c in rows], "ratios": ratios(rows),
           "growth_vmas": growth(rows, "vmas"), "growth_tasks": growth(rows, "tasks"), "skipped": skipped}
    out.write_text(json.dumps(_finite(doc), indent=1) + "\n")
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
