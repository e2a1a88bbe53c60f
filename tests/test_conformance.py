"""`simkernel conformance` without a host: argument errors, the no-host message, and the difference report."""

from __future__ import annotations

import io
from typing import Any

import pytest

from simkernel import conformance
from simkernel.cli import main
from simkernel.matrix import Matrix, Row, kernel_spec


def test_same_place_renames_the_host_scratch_directory() -> None:
    """Host paths under HostKernel.tmpdir() compare equal to the simulation's /srv paths, also in tuples."""
    assert conformance.same_place("/tmp/simk-host-ab12/f (deleted)") == "/srv/f (deleted)"
    assert conformance.same_place(("ok", "/tmp/simk-host-x/secret/f.txt")) == ("ok", "/srv/secret/f.txt")
    assert conformance.same_place(13) == 13


def test_run_conformance_without_host_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """No usable host: a clear message on stderr and exit status 2, nothing compared."""
    monkeypatch.setattr("simkernel.host.available", lambda: (False, "needs root, running as euid 1000"))
    out, err = io.StringIO(), io.StringIO()
    assert conformance.run_conformance(out, err) == 2
    assert "needs root" in err.getvalue() and out.getvalue() == ""


def test_run_conformance_unknown_scenario_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown scenario name is a usage error."""
    monkeypatch.setattr("simkernel.host.available", lambda: (True, "test host"))
    out, err = io.StringIO(), io.StringIO()
    assert conformance.run_conformance(out, err, ["no-such-scenario"]) == 2
    assert "unknown scenario" in err.getvalue()


def test_run_conformance_reports_differences_and_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """A differing observation is printed with both values and the exit status is 1."""
    monkeypatch.setattr("simkernel.host.available", lambda: (True, "test host"))

    def fake_matrix(names: Any, kernels: Any, host: bool = False) -> Matrix:
        m = Matrix(kernels=[kernel_spec("6.18.44"), kernel_spec("host")], scenarios=[(names[0], "")])
        m.rows = [Row(names[0], "same", ("ok", "ok")), Row(names[0], "other", ("ENOENT", "EACCES")),
                  Row(names[0], "skipped", ("ok", "n/a"))]
        return m
    monkeypatch.setattr("simkernel.matrix.run_matrix", fake_matrix)
    out, err = io.StringIO(), io.StringIO()
    assert conformance.run_conformance(out, err, ["names"]) == 1
    text = out.getvalue()
    assert "[1/1] names: 2 observations, 1 differ" in text
    assert "other: simulation ENOENT | host EACCES" in text
    assert text.endswith("2 observations compared, 1 differ\n")


def test_run_conformance_skips_simulation_only_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scenario that cannot run on the host is named and skipped, not compared."""
    from simkernel.scenarios import SCENARIOS
    sim_only = next(n for n, sc in SCENARIOS.items() if not sc.host)
    monkeypatch.setattr("simkernel.host.available", lambda: (True, "test host"))
    out, err = io.StringIO(), io.StringIO()
    assert conformance.run_conformance(out, err, [sim_only]) == 0
    assert f"{sim_only}: simulation only, skipped" in out.getvalue()


def test_cli_conformance_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    """`conformance --help` describes the command and its exit statuses."""
    with pytest.raises(SystemExit) as info:
        main(["conformance", "--help"])
    assert info.value.code == 0
    assert "exit status" in capsys.readouterr().out
