"""simkernel/scenarios: the registry, and every scenario on a few kernels (the matrix runs them on all)."""

from __future__ import annotations

import doctest
from typing import Any

import pytest

import simkernel
import simkernel.scenarios as S
from simkernel.scenarios import OOPS, SCENARIOS, Obs, Observation, attempt, get_scenario
from simkernel.scenarios.observe import in_window, is_sim, scratch_dir
from simkernel.scenarios.selftests import selftest_001, selftest_002, selftest_checks


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_runs_with_the_same_labels_everywhere(name: str) -> None:
    """Each scenario runs on the oldest profile, a middle one and the default, with the same observations."""
    sc = SCENARIOS[name]
    runs = [sc.run(simkernel.Kernel(version=v)) for v in ("3.3", "4.16", "6.18.44")]
    labels = [[o.label for o in r] for r in runs]
    assert labels[0] == labels[1] == labels[2] and labels[0]
    assert all(isinstance(o, Observation) for r in runs for o in r)
    assert sc.summary and sc.doc and sc(simkernel.Kernel())[0].label == labels[0][0]


def test_registry_and_lookup() -> None:
    """get_scenario names the known ones; a scenario cannot be registered twice."""
    assert get_scenario("zombie").name == "zombie"
    with pytest.raises(KeyError, match="unknown scenario 'x'; known: selftest-001"):
        get_scenario("x")
    with pytest.raises(AssertionError):
        S.scenario("zombie")(lambda k, d: [])


def test_simulation_only_scenarios_refuse_the_host() -> None:
    """A scenario flagged host=False does not run on anything but a simulated kernel."""
    only_sim = [sc for sc in SCENARIOS.values() if not sc.host]
    assert {sc.name for sc in only_sim} >= {"flex-array-enomem", "vanished-vma-race", "fatal-signal"}

    class FakeHost:
        pass
    with pytest.raises(ValueError):
        only_sim[0].run(FakeHost())
    assert not is_sim(FakeHost())


def test_attempt_and_obs() -> None:
    """attempt() turns OSError into the errno name and a KernelBug into "!OOPS"; Obs collects observations."""
    from simkernel.errors import KernelBug

    def bug() -> None:
        raise KernelBug("f", "r")
    assert attempt(bug) == OOPS
    assert attempt(lambda: 1 + 1) == 2
    o = Obs()
    o.do("x", lambda: (_ for _ in ()).throw(FileNotFoundError(2, "x")))
    assert o.items == [("x", "!ENOENT")]
    assert not in_window("zz-1") and scratch_dir(simkernel.Kernel()) == "/srv"


def test_selftest_harness() -> None:
    """The harness: 001 and 002 pass on the default kernel; a wrong range fails pass()."""
    k = simkernel.Kernel()
    t = k.spawn("s")
    assert selftest_001(t) == (0, "")
    assert selftest_002(k.spawn("z"))[:2] == (0, "")
    status, why = selftest_checks(k.spawn("w"), 0x10000, 0x11000)
    assert status == 1 and why == "pass '%x-%x': ENOENT"


def test_selftest_002_without_any_mappable_page() -> None:
    """When mmap refuses every page below 1 MiB the test exits 1 ("mmap doesn't like you")."""
    k = simkernel.Kernel()
    k.sysctl["vm.mmap_min_addr"] = 1 << 21
    t = k.spawn("nobody", uid=65534, gid=65534)
    assert selftest_002(t) == (1, "error: mmap doesn't like you", -1)


def test_selftest_oops_counts_as_no_answer(monkeypatch: Any) -> None:
    """A KernelBug during a check is a failure, not a crash of the harness."""
    from simkernel.errors import KernelBug
    from simkernel.scenarios import selftests as T

    class Sys:
        def readlink(self, path: str, bufsiz: int) -> str:
            raise KernelBug("f", "r")

    class Task:
        sys = Sys()
    assert T._readlink64(Task(), "/x") == -1
    assert T.selftest_checks(Task(), 1, 2) == (1, "pass '%x-%x': -1")


def test_scenarios_doctest() -> None:
    """The package docstring's example runs."""
    assert doctest.testmod(S).failed == 0
