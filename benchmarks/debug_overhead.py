"""What the debugging facilities cost when they are off (issue 9: "tracer, lock validator and refcount ledger
disabled: no more than 5 % overhead").

The lock validator, the refcount ledger, fail-nth and the interleaving scheduler (issue 6) put tests on hot
paths (`kernel.lockdep`, `kernel.ref_tracker`, `task.fail_nth`, `kernel.sched` in lock acquire/release, get/put,
allocation sites and preemption points).  With them off, the only fair reference is the same code without
those tests: a checkout of the commit before they were added (BASELINE_REV, or --baseline REV), extracted
with `git archive` into a temporary directory.  The same workload (build N VMAs, listdir map_files, the
readlink sample, read and parse maps, munmap; benchmarks/scale.py's phases) runs in two child interpreters,
one importing the baseline's `simkernel`, one this tree's, alternating round by round; CPU time; the fastest
round of each side (the least disturbed by other load), after one warm-up round.

    python benchmarks/debug_overhead.py [--baseline REV] [--n 10000] [--rounds 7]

Prints the two times and the ratio; `measure()` returns them for benchmarks/run.py.  Needs git and the
repository (a clean clone has both); says so and returns None otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The last commit before the lock validator / ledger / fail-nth / scheduler hooks (7e96ed4 added the first).
BASELINE_REV = "4d63b2a"

# The workload, run by `python -c` in a child whose sys.path starts with the tree to measure, then this
# directory: benchmarks/scale.py's phases (which use only the public API, so they run on both trees).
_CHILD = r"""
import gc, json, sys, time
sys.path.insert(1, sys.argv[2])
import simkernel
from scale import BASE, PAGE, _sim_boot, _sim_build, _sim_read_maps, readlink_sample
n = int(sys.argv[1])
k, t, fd = _sim_boot(n)
d = f"/proc/{t.pid}/map_files/"
sample = [d + name for name in readlink_sample(n)]
gc.collect()
t0 = time.process_time()
_sim_build(t, fd, n)
t.sys.listdir(d)
for _ in range(5):
    for p in sample:
        t.sys.readlink(p)
_sim_read_maps(t)
t.sys.munmap(BASE, n * PAGE)
print(json.dumps({"cpu_s": time.process_time() - t0, "file": simkernel.__file__}))
"""


def extract(rev: str, dest: Path) -> bool:
    """`git archive REV simkernel` into dest; False when git or the revision is not there."""
    try:
        data = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev, "simkernel"],
                              check=True, capture_output=True, timeout=120).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    tar_path = dest / "src.tar"
    tar_path.write_bytes(data)
    with tarfile.open(tar_path) as tar:
        tar.extractall(dest, filter="data")
    return True


def _run(tree: Path, n: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", _CHILD, str(n), str(HERE)], check=True, capture_output=True, text=True,
                         env=env, cwd=tree, timeout=600).stdout
    res = json.loads(out.strip().splitlines()[-1])
    assert res["file"].startswith(str(tree)), f"child imported {res['file']}, not the tree under {tree}"
    return float(res["cpu_s"])


def measure(n: int = 10000, rounds: int = 7, baseline: str = BASELINE_REV) -> dict[str, Any] | None:
    """{"baseline_s", "current_s", "ratio", "baseline", "n"}: the fastest of `rounds` alternating runs each."""
    with tempfile.TemporaryDirectory(prefix="simk-baseline-") as tmp:
        base = Path(tmp)
        if not extract(baseline, base):
            return None
        times: dict[str, list[float]] = {"baseline": [], "current": []}
        for r in range(rounds + 1):
            order = ("baseline", "current") if r % 2 == 0 else ("current", "baseline")
            for side in order:
                took = _run(base if side == "baseline" else ROOT, n)
                if r:
                    times[side].append(took)
    b, c = min(times["baseline"]), min(times["current"])
    return {"baseline_s": b, "current_s": c, "ratio": c / b, "baseline": baseline, "n": n, "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="benchmarks/debug_overhead.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", default=BASELINE_REV, help=f"commit without the hooks (default {BASELINE_REV})")
    ap.add_argument("--n", type=int, default=10000, help="VMAs in the workload (default 10000)")
    ap.add_argument("--rounds", type=int, default=7, help="measured rounds per side (default 7, +1 warm-up)")
    args = ap.parse_args(argv)
    res = measure(args.n, args.rounds, args.baseline)
    if res is None:
        print(f"cannot extract {args.baseline} with git: run this from a clone of the repository")
        return 2
    print(f"debugging facilities off, N={res['n']:,}: {res['current_s']:.3f} s vs {res['baseline_s']:.3f} s "
          f"at {res['baseline']} (fastest of {res['rounds']}): x{res['ratio']:.3f} (target <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
