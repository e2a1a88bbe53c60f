"""`python -m simkernel conformance`: run the scenario library on the simulation and on this machine's kernel
and print every observation where they differ.

Only scenarios flagged as host-capable run (the others need kernels or states the host cannot have: old
releases, a fatal signal at a chosen moment, 40,000 mappings).  The host side needs Linux and root.
"""

from __future__ import annotations

import re
from typing import Any, TextIO

__all__ = ["run_conformance", "add_arguments", "cli_conformance", "same_place"]

_HOST_SCRATCH = re.compile(r"/tmp/simk-host-[^/ ]+")


def same_place(value: Any) -> Any:
    """A host observation with its scratch directory (HostKernel.tmpdir()) renamed to the simulation's
    (/srv, see simkernel/scenarios/observe.py), so that paths compare literally."""
    if isinstance(value, str):
        return _HOST_SCRATCH.sub("/srv", value)
    if isinstance(value, (tuple, list)):
        return type(value)(same_place(v) for v in value)
    return value


def run_conformance(out: TextIO, err: TextIO, scenarios: list[str] | None = None,
                    version: str | None = None) -> int:
    """Print a progress line per scenario and every difference; 0 all equal, 1 differences, 2 no host."""
    from simkernel.host import available
    from simkernel.matrix import NOT_RUN, format_value, run_matrix
    from simkernel.scenarios import SCENARIOS, get_scenario
    from simkernel.versions import DEFAULT_VERSION
    ok, why = available()
    if not ok:
        err.write(f"simkernel conformance: the host kernel cannot run scenarios here: {why}\n")
        return 2
    version = version or DEFAULT_VERSION
    names = scenarios if scenarios is not None else [n for n, sc in SCENARIOS.items() if sc.host]
    try:
        scs = [get_scenario(n) for n in names]
    except KeyError as e:
        err.write(f"simkernel conformance: unknown scenario {e.args[0]}\n")
        return 2
    total = differing = 0
    out.write(f"simulation ({version}) vs host ({why}): {len(scs)} scenarios\n")
    for i, sc in enumerate(scs, 1):
        if not sc.host:
            out.write(f"[{i}/{len(scs)}] {sc.name}: simulation only, skipped\n")
            continue
        m = run_matrix([sc.name], [version], host=True)
        rows = [r for r in m.rows if NOT_RUN not in r.values]
        diffs = [r for r in rows if r.values[0] != same_place(r.values[1])]
        total += len(rows)
        differing += len(diffs)
        out.write(f"[{i}/{len(scs)}] {sc.name}: {len(rows)} observations, "
                  f"{'all equal' if not diffs else f'{len(diffs)} differ'}\n")
        for r in diffs:
            out.write(f"    {r.label}: simulation {format_value(r.values[0])} | host {format_value(r.values[1])}\n")
    out.write(f"{total} observations compared, {differing} differ\n")
    return 1 if differing else 0


def add_arguments(p: Any) -> None:
    """The options of `python -m simkernel conformance`."""
    from simkernel.versions import DEFAULT_VERSION
    p.add_argument("--scenarios", nargs="+", metavar="NAME",
                   help="scenarios to compare (default: every host-capable scenario of the library)")
    p.add_argument("--kernel", default=DEFAULT_VERSION,
                   help=f"the simulated release to compare with the host (default {DEFAULT_VERSION})")


def cli_conformance(args: Any, out: TextIO, err: TextIO) -> int:
    return run_conformance(out, err, args.scenarios, args.kernel)
