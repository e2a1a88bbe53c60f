"""The scenario registry: named, documented scenarios that run on any kernel.

A scenario is a function `(machine, d) -> list[Observation]` written against the public API (`k.spawn`,
`k.init`, `task.sys.*`), where `d` is a scratch directory (created when not given).  It runs unchanged on
every release profile, on patched kernels, and -- when `host=True` -- on `simkernel.host.HostKernel()`.
Scenarios with `host=False` use what only a simulation has (a fatal signal set on a task, a race injected
with a patch, tens of thousands of VMAs built directly, sysctls the host test must not change).
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from attrs import frozen

from simkernel.scenarios.observe import Observation, is_sim, scratch_dir

__all__ = ["Scenario", "scenario", "SCENARIOS", "get_scenario"]


@frozen
class Scenario:
    """One named scenario.

    Attributes:
        name: the registry name ("selftest-001").
        fn: `fn(machine, d) -> list[Observation]`.
        summary: the first paragraph of the function's docstring, on one line.
        doc: the whole docstring (what it shows, which kernel sources it follows).
        host: whether it may run on the host kernel.
    """

    name: str
    fn: Callable[..., list[Observation]]
    summary: str
    doc: str
    host: bool = True

    def run(self, machine: Any, d: str | None = None) -> list[Observation]:
        """The observations of this scenario on `machine` (a Kernel, or a HostKernel when `host`).

        Raises:
            ValueError: a host-only-on-simulation scenario asked to run on the host kernel.
        """
        if not self.host and not is_sim(machine):
            raise ValueError(f"scenario {self.name!r} needs a simulated kernel")
        return [Observation(*o) for o in self.fn(machine, d if d is not None else scratch_dir(machine))]

    def __call__(self, machine: Any, d: str | None = None) -> list[Observation]:
        return self.run(machine, d)


SCENARIOS: dict[str, Scenario] = {}
"""Every registered scenario by name, in library order."""


def scenario(name: str, host: bool = True) -> Callable[[Callable[..., list[Any]]], Callable[..., list[Any]]]:
    """Register `fn` as scenario `name` (the function itself stays a plain function)."""
    def register(fn: Callable[..., list[Any]]) -> Callable[..., list[Any]]:
        doc = inspect.cleandoc(fn.__doc__ or "")
        assert name not in SCENARIOS, f"scenario {name!r} registered twice"
        summary = " ".join(doc.split("\n\n", 1)[0].split()) if doc else name
        SCENARIOS[name] = Scenario(name, fn, summary, doc, host)
        return fn
    return register


def get_scenario(name: str) -> Scenario:
    """The scenario called `name`.

    Raises:
        KeyError: no such scenario (the message lists them).
    """
    try:
        return SCENARIOS[name]
    except KeyError:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
