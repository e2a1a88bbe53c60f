"""The scenario library on the host kernel: every scenario that may run there gives the host's answers on the
default profile (6.18.44), observation by observation -- the same scenarios the behaviour matrix runs on
every older profile, so the matrix's last column is anchored to the real kernel.
"""

from __future__ import annotations

from typing import Any

import pytest

from simkernel.matrix import run_matrix
from simkernel.scenarios import SCENARIOS
from tests.host.scenarios_procfs import run_compare

HOST_SCENARIOS = [name for name, sc in SCENARIOS.items() if sc.host]


@pytest.mark.parametrize("name", HOST_SCENARIOS)
def test_library_scenario_matches_the_host(host: Any, compared: Any, name: str) -> None:
    """The scenario's observations on 6.18.44 equal the host kernel's."""
    run_compare(host, compared, SCENARIOS[name].fn)


def test_matrix_host_column_equals_the_default_profile(compared: Any) -> None:
    """`matrix --host`: for the host-capable scenarios the host column equals the 6.18.44 column, except where
    a value names the scratch directory (the host's differs) -- compared with the directory replaced."""
    m = run_matrix(["names", "cap-sys-admin-gate", "sub-threads", "zombie"], ["6.18.44"], host=True)
    for row in m.rows:
        sim, real = row.values
        if isinstance(real, str) and real.startswith("/tmp/"):
            real = "/srv/" + real.split("/", 3)[3]
        compared.check(sim, real, f"{row.scenario}: {row.label}")
