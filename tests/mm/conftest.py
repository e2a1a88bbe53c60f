"""Fixtures for the memory tests: a booted kernel `k`, a root task `t` and a uid-1000 task `user`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.mm.mmkit import boot


@pytest.fixture
def k() -> Any:
    """A freshly booted simulated kernel."""
    return boot()


@pytest.fixture
def t(k: Any) -> Any:
    """A root task (all capabilities) forked from init."""
    return k.spawn("mmtest")


@pytest.fixture
def user(k: Any) -> Any:
    """A uid/gid 1000 task without capabilities."""
    return k.spawn("user", uid=1000, gid=1000)
