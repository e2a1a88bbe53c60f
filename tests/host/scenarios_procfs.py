"""Shared helpers for the procfs host comparisons (tests/host/test_map_files*_host.py, test_procfs*_host.py).

A *scenario* is a function `scenario(k, d, ...) -> list[(label, value)]` written once against the public API
(`k.spawn`, `k.init`, `task.sys.*`, `task.pid`), so it runs unchanged on `simkernel.Kernel()` and on
`simkernel.host.HostKernel()`.  `d` is a scratch directory with the same absolute path on both machines (the
host's `tmpdir()`; created with the same path on the simulation), so readlink texts compare literally.

Observations are plain values: names restricted to the scenario window, readlink text, selected lstat fields,
booleans for dev/inode relations (never raw inode numbers or pids, which legitimately differ), and every
failure as its errno *name* prefixed with "!" (`"!ENOENT"`).  `run_compare` runs a scenario on both machines
and compares observation by observation, counting each with the `compared` fixture.

The observation helpers live in the scenario library (simkernel/scenarios/observe.py), which the behaviour
matrix shares; this module re-exports them and adds the host comparison.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import simkernel
from simkernel.scenarios.observe import (  # noqa: F401  (re-exported for the host test modules)
    BASE, ERRNAME, FIXED, PAGE, Obs, attempt, files_below_window, getdents_view, in_window, is_sim, listing,
    lstat_view, make_file, maps_view, mf, open_close, read_all, rng, same_file, sim_prepare_dir, spawn, stat_view,
    status_view,
)

__all__ = ["BASE", "PAGE", "Obs", "attempt", "run_compare", "spawn", "make_file", "mf", "rng", "in_window",
           "listing", "lstat_view", "stat_view", "read_all", "maps_view", "status_view", "getdents_view",
           "same_file", "open_close", "sim_prepare_dir", "ERRNAME", "files_below_window", "FIXED", "is_sim"]


# -- running on both machines ----------------------------------------------------------------------
def run_compare(host: Any, compared: Any, scenario: Callable[..., list[tuple[str, Any]]], *args: Any,
                ignore: Iterable[str] = (), **kwargs: Any) -> list[tuple[str, Any]]:
    """Run `scenario` on the host and on a fresh simulation; compare every observation.

    `ignore` names labels whose difference is a known defect outside procfs, proved by an xfail test that is
    cited next to the call.  Returns the host's observations.
    """
    d = host.tmpdir()
    h = scenario(host, d, *args, **kwargs)
    k = simkernel.Kernel()
    sim_prepare_dir(k, d)
    s = scenario(k, d, *args, **kwargs)
    h_labels = [label for label, _ in h]
    s_labels = [label for label, _ in s]
    assert h_labels == s_labels, f"the scenario made different observations:\n sim {s_labels}\n host {h_labels}"
    skip = set(ignore)
    bad = []
    for (label, sv), (_, hv) in zip(s, h):
        if label in skip:
            continue
        compared.add(1)
        if sv != hv:
            bad.append(f"  {label}:\n    sim:  {sv!r}\n    host: {hv!r}")
    if bad:
        raise AssertionError(f"{len(bad)} of {len(h)} observations differ (host is right):\n" + "\n".join(bad))
    return h
