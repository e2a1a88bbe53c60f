"""Host tests: run scenarios on this machine's real kernel and compare with the simulation.

Every test under tests/host is marked `host`.  Without a usable host (not Linux, not root, ...) they are
skipped with the reason, unless SIMKERNEL_REQUIRE_HOST=1 (CI): then each fails instead.  Fixtures:

* `host`: a booted `simkernel.host.HostKernel`, closed (every process killed and reaped) after the test;
* `compared`: counts compared observations; `compared.check(sim, host, label)` asserts equality.

At the end the terminal summary prints the totals, and `.host-tests.json` in the rootdir records
{"tests_run", "tests_skipped", "tests_failed", "observations", ...} so CI can fail when host tests were
skipped or compared nothing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

from simkernel.host import HostKernel, available

HERE = Path(__file__).parent
REQUIRE_ENV = "SIMKERNEL_REQUIRE_HOST"
RESULTS_FILE = ".host-tests.json"


class HostTally:
    """Session totals of the host tests (kept on `config.stash`, not in a module global)."""

    def __init__(self) -> None:
        self.observations = 0
        self.comparing_tests: set[str] = set()
        self.outcomes: dict[str, str] = {}  # nodeid -> "passed" | "failed" | "skipped" | "xfailed"

    def record(self, report: pytest.TestReport) -> None:
        """Fold one phase report into the test's outcome (a failure or skip in any phase wins)."""
        if hasattr(report, "wasxfail"):
            # an expected failure ran (xfail) or unexpectedly passed (xpass): it ran, it was not skipped
            self.outcomes[report.nodeid] = "xfailed" if report.skipped else "failed" if report.failed else "passed"
        elif report.skipped:
            self.outcomes[report.nodeid] = "skipped"
        elif report.failed:
            self.outcomes[report.nodeid] = "failed"
        elif report.when == "call":
            self.outcomes.setdefault(report.nodeid, "passed")

    def totals(self) -> dict[str, Any]:
        values = list(self.outcomes.values())
        return {
            "tests_run": values.count("passed") + values.count("failed") + values.count("xfailed"),
            "tests_xfailed": values.count("xfailed"),
            "tests_skipped": values.count("skipped"),
            "tests_failed": values.count("failed"),
            "observations": self.observations,
            "tests_comparing": len(self.comparing_tests),
            "host": available()[1],
            "required": os.environ.get(REQUIRE_ENV) == "1",
        }


TALLY = pytest.StashKey[HostTally]()


class Compared:
    """Per-test handle on the session tally: `add(n)` counts observations, `check` compares one."""

    def __init__(self, tally: HostTally, nodeid: str) -> None:
        self._tally = tally
        self._nodeid = nodeid
        self.count = 0

    def add(self, n: int = 1) -> None:
        """Count `n` observations compared by the test itself."""
        self.count += n
        self._tally.observations += n
        self._tally.comparing_tests.add(self._nodeid)

    def check(self, sim: Any, host: Any, label: str) -> None:
        """Assert that the simulation's observation equals the host's; count it; show both on mismatch."""
        self.add(1)
        if sim != host:
            raise AssertionError(f"simulation and host differ: {label}\n  sim:  {sim!r}\n  host: {host!r}"
                                 f"{_first_difference(sim, host)}")


def _first_difference(sim: Any, host: Any) -> str:
    if isinstance(sim, (list, tuple)) and isinstance(host, (list, tuple)):
        for i, (a, b) in enumerate(zip(sim, host)):
            if a != b:
                return f"\n  first difference at [{i}]: sim {a!r} != host {b!r}"
        return f"\n  lengths differ: sim {len(sim)} != host {len(host)}"
    return ""


def _in_host_dir(path: Path) -> bool:
    return HERE == path or HERE in path.parents


class _TallyPlugin:
    """Feeds every host test's phase reports into the tally (registered globally, filtered by marker)."""

    def __init__(self, tally: HostTally) -> None:
        self.tally = tally

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if "host" in report.keywords:
            self.tally.record(report)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[TALLY] = tally = HostTally()
    config.pluginmanager.register(_TallyPlugin(tally), "simkernel-host-tally")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _in_host_dir(Path(item.path)):
            item.add_marker(pytest.mark.host)


@pytest.fixture(autouse=True)
def _require_host(request: pytest.FixtureRequest) -> None:
    """Skip (locally) or fail (SIMKERNEL_REQUIRE_HOST=1) every host test when the host is unusable."""
    ok, reason = available()
    if not ok:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"host kernel required ({REQUIRE_ENV}=1) but unusable: {reason}", pytrace=False)
        pytest.skip(f"host kernel unusable: {reason}")


@pytest.fixture
def host() -> Iterator[HostKernel]:
    """A booted HostKernel; every process it made is killed and reaped after the test."""
    with HostKernel() as k:
        yield k


@pytest.fixture
def compared(request: pytest.FixtureRequest) -> Compared:
    """Count compared observations: `compared.check(sim_value, host_value, "label")` or `compared.add(n)`."""
    return Compared(request.config.stash[TALLY], request.node.nodeid)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    totals = config.stash[TALLY].totals()
    if not totals["tests_run"] and not totals["tests_skipped"]:
        return
    terminalreporter.write_sep("-", "simkernel host tests")
    terminalreporter.write_line(
        f"host comparisons: {totals['observations']} observations compared in {totals['tests_comparing']} tests "
        f"({totals['tests_run']} host tests run, {totals['tests_skipped']} skipped, "
        f"{totals['tests_failed']} failed; {totals['host']})")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller writes the file
        return
    totals = session.config.stash[TALLY].totals()
    path = Path(session.config.rootpath) / RESULTS_FILE
    path.write_text(json.dumps(totals, indent=2, sort_keys=True) + "\n")
