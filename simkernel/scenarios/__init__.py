"""The scenario library: named, documented scenarios that run unchanged on any kernel.

Each scenario is a function `(machine, d) -> list[Observation]` registered in `SCENARIOS` (library order);
`Scenario.run(machine)` creates the scratch directory `d`.  The same scenario runs on every release profile
(`simkernel.Kernel(version=...)`), on patched kernels (simkernel/patch.py) and, where `host` is true, on this
machine's real kernel (`simkernel.host.HostKernel`) -- the host differential tests use the same helpers
(simkernel/scenarios/observe.py).  `simkernel.matrix` runs scenarios across kernels.

    >>> import simkernel
    >>> from simkernel.scenarios import SCENARIOS
    >>> obs = SCENARIOS["selftest-001"].run(simkernel.Kernel(version="4.16"))
    >>> obs[0].value, obs[1].value
    (1, "fail '0%x-%x': resolved")

Modules: selftests.py (proc-self-map-files-001/002), names.py (name grammars), permissions.py (who may
list, readlink, follow), lifecycle.py (exit, races, signals, positions, 40,000 mappings), observe.py (the
observation helpers), fast.py (many VMAs at once), registry.py.
"""

from __future__ import annotations

from simkernel.scenarios.observe import OOPS, Obs, Observation, attempt
from simkernel.scenarios.registry import SCENARIOS, Scenario, get_scenario, scenario
from simkernel.scenarios import selftests, names, permissions, lifecycle  # noqa: F401,E402  (registration)

__all__ = ["SCENARIOS", "Scenario", "Observation", "Obs", "OOPS", "attempt", "scenario", "get_scenario"]
