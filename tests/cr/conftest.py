"""Fixtures for the checkpoint/restore tests: a simulated kernel with a scenario directory, and its dumper."""

from __future__ import annotations

from typing import Any

import pytest

import simkernel

SCENARIO_DIR = "/srv/cr"


def boot(d: str = SCENARIO_DIR) -> simkernel.Kernel:
    """A fresh simulated kernel with directory `d` (and its parents) created by init, mode 0755."""
    k = simkernel.Kernel()
    path = ""
    for part in d.strip("/").split("/"):
        path += "/" + part
        try:
            k.init.sys.mkdir(path, 0o755)
        except FileExistsError:
            pass
    return k


@pytest.fixture
def k() -> simkernel.Kernel:
    """A fresh kernel with SCENARIO_DIR."""
    return boot()


@pytest.fixture
def criu(k: simkernel.Kernel) -> Any:
    """The dumping/restoring task: root with every capability."""
    return k.spawn("criu")
