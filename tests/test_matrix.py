"""simkernel/matrix.py: the behaviour matrix, its golden file, its renderings and `python -m simkernel matrix`.

The golden file tests/golden/matrix.txt is the whole scenario library across every release profile plus three
variants (3.3 with Yama, and 6.18.44 with each shipped experiment).  A change of behaviour in any profile is a
visible diff there.  Regenerate it with `SIMKERNEL_REGOLD=1 python -m pytest tests/test_matrix.py` and review
the diff: it is the history of map_files as the simulation tells it.
"""

from __future__ import annotations

import doctest
import io
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import simkernel.matrix as M
from simkernel.cli import main
from simkernel.scenarios import SCENARIOS
from simkernel.versions import VERSIONS

GOLDEN = Path(__file__).parent / "golden" / "matrix.txt"
REGOLD = os.environ.get("SIMKERNEL_REGOLD") == "1"
GOLDEN_KERNELS = [*VERSIONS, "3.3+yama", "6.18.44+readdir-by-address", "6.18.44+lookup-permission-first"]


@pytest.fixture(scope="module")
def full() -> M.Matrix:
    return M.run_matrix(kernels=GOLDEN_KERNELS)


def test_full_matrix_matches_the_golden_file(full: M.Matrix) -> None:
    """The whole library on every profile (and the variants) answers exactly as tests/golden/matrix.txt says."""
    text = full.to_text()
    if REGOLD:
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text(), "the behaviour matrix changed; see this module's docstring to regenerate"


def test_full_matrix_is_fast() -> None:
    """The library across all profiles runs well under 10 s of CPU time (about 4 s on the CI machine; a
    coverage or trace hook slows every Python line, so under one the budget is five times larger).  CPU time,
    not wall time: other load on a shared machine must not fail it (it took 12 s of wall time at load 5)."""
    cov = sys.modules.get("coverage")
    traced = sys.gettrace() is not None or (cov is not None and cov.Coverage.current() is not None)
    budget = 50 if traced else 10
    t0 = time.process_time()
    m = M.run_matrix()
    assert time.process_time() - t0 < budget
    assert len(m.kernels) == len(VERSIONS) and {r.scenario for r in m.rows} == set(SCENARIOS)


def test_no_scenario_breaks_on_any_kernel(full: M.Matrix) -> None:
    """No cell is an !ERROR, every scenario has rows, and the default kernel never oopses."""
    assert not [r for r in full.rows if any(str(v).startswith("!ERROR") for v in r.values)]
    col = full.columns.index("6.18.44")
    assert all(r.values[col] != "!OOPS" for r in full.rows)


def test_selftests_pass_and_fail_by_release(full: M.Matrix) -> None:
    """Reference §11: both selftests fail before 4.17 (sscanf accepts whitespace, then 4.16's leading zeros)
    and pass from 4.17; as nobody, releases before 4.3 already fail the pass() check."""
    for name in ("selftest-001", "selftest-001-nobody", "selftest-002"):
        for v in VERSIONS:
            status = full.cell(name, "exit status", v)
            assert status == (0 if VERSIONS[v].release >= (4, 17) else 1), (name, v)
    assert full.cell("selftest-001", "first failing check", "4.11") == "fail ' %x-%x': resolved"
    assert full.cell("selftest-001", "first failing check", "4.16") == "fail '0%x-%x': resolved"
    assert full.cell("selftest-002", "first failing check", "4.16") == "fail '0%x-%x': resolved"
    assert full.cell("selftest-001-nobody", "first failing check", "3.7") == "pass '%x-%x': EACCES"
    assert full.cell("selftest-001-nobody", "first failing check", "3.14") == "pass '%x-%x': EPERM"


def test_yama_mattered_in_3_3_only(full: M.Matrix) -> None:
    """With Yama scope 1, 3.3's lock_trace (ATTACH) refuses a non-ancestor; its parent passes."""
    assert full.cell("yama-ptrace-scope", "unrelated same uid + CAP_SYS_ADMIN: list", "3.3+yama") == "!EACCES"
    assert full.cell("yama-ptrace-scope", "parent: list", "3.3+yama") == 1
    assert full.cell("yama-ptrace-scope", "unrelated same uid + CAP_SYS_ADMIN: list", "3.3") == 1


def test_changed_cells_and_differing_rows() -> None:
    """changed() marks a cell that differs from its left neighbour; n/a never counts."""
    m = M.Matrix(kernels=[M.KernelSpec("a"), M.KernelSpec("b"), M.KernelSpec("c")], scenarios=[("s", "sum")],
                 rows=[M.Row("s", "x", (1, 1, 2)), M.Row("s", "y", ("n/a", 3, 3)), M.Row("s", "z", (5, 5, 5))])
    assert m.changed(m.rows[0]) == [False, False, True]
    assert m.changed(m.rows[1]) == [False, False, False]
    assert [r.label for r in m.differing_rows()] == ["x"]
    assert m.cell("s", "y", "b") == 3
    with pytest.raises(KeyError):
        m.cell("s", "nope", "a")
    text = m.to_text(only_diff=True, width=4)
    assert "  x" in text and "  z" not in text and "2*" in text
    runs = m.to_text(layout="runs")
    assert "  x: a..b 1 | c 2" in runs and "  z: a..c 5" in runs
    assert str(m) == m.to_text()


def test_long_values_get_a_legend() -> None:
    """A value wider than the cell is shown as a letter explained under the row."""
    m = M.Matrix(kernels=[M.KernelSpec("a"), M.KernelSpec("b")], scenarios=[("s", "")],
                 rows=[M.Row("s", "x", ("a-long-value", ["l", ("t", 1)]))])
    text = m.to_text(width=5)
    assert "    A = a-long-value" in text and "    B = [l, (t, 1)]" in text


def test_html_rendering_highlights_changes() -> None:
    """_repr_html_ is a table with the scenario summaries and the changed cells highlighted."""
    m = M.run_matrix(["selftest-001"], ["4.16", "4.17"])
    html = m._repr_html_()
    assert html.startswith("<table") and "selftest-001" in html and "background:#ffd591" in html
    assert "2 of 2 observations, 2 kernels" in html
    assert "zombie" not in M.run_matrix(["zombie"], ["6.18", "6.18"]).to_html(only_diff=True)


def test_kernel_specs() -> None:
    """Column names: profiles, +yama, +experiment, host; unknown ones are refused."""
    spec = M.kernel_spec("3.3+yama+lookup-permission-first")
    assert (spec.version, spec.yama, len(spec.patches)) == ("3.3", True, 1)
    k = spec.boot()
    assert k.yama and k.version.name == "3.3" and len(k.patches) == 1
    assert M.kernel_spec(spec) is spec and M.kernel_spec("host").host
    with pytest.raises(ValueError):
        M.kernel_spec("6.18.44+nonsense")
    with pytest.raises(ValueError):
        M.kernel_spec("2.6")
    with pytest.raises(KeyError):
        M.run_matrix(["no-such-scenario"])


def test_a_scenario_that_fails_becomes_an_error_cell(monkeypatch: Any) -> None:
    """An exception inside a scenario on one kernel is shown in its cells, the other kernels still run."""
    from simkernel.scenarios.registry import Scenario

    def boom(k: Any, d: str) -> list[Any]:
        if k.version.name == "3.3":
            raise RuntimeError("broken")
        return [("x", 1)]
    monkeypatch.setitem(SCENARIOS, "boom", Scenario("boom", boom, "explodes on 3.3", "", True))
    m = M.run_matrix(["boom"], ["3.3", "4.3"])
    assert m.rows[0].values == ("!ERROR RuntimeError: broken", 1)


def test_host_column_not_available(monkeypatch: Any) -> None:
    """Without a usable host (or for simulation-only scenarios) the host column says n/a."""
    import simkernel.host
    monkeypatch.setattr(simkernel.host, "available", lambda: (False, "test"))
    m = M.run_matrix(["selftest-001", "fatal-signal"], ["6.18.44"], host=True)
    assert m.columns == ["6.18.44", "host"]
    assert {r.values[1] for r in m.rows} == {"n/a"}


def _cli(*args: str) -> tuple[int, str, str]:
    import contextlib
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["matrix", *args])
    return rc, out.getvalue(), err.getvalue()


def test_cli_matrix_subcommand() -> None:
    """`matrix --scenarios --kernels --only-diff` prints the table; --layout runs the runs; status 0."""
    rc, out, err = _cli("--scenarios", "names", "--kernels", "4.11", "4.16", "4.17", "--only-diff")
    assert rc == 0 and err == ""
    assert "readlink leading zero start" in out and "readlink canonical" not in out
    rc, out, _ = _cli("--scenarios", "selftest-001", "--kernels", "4.16", "4.17", "--layout", "runs")
    assert rc == 0 and "exit status: 4.16 1 | 4.17 0" in out


def test_cli_matrix_list_and_errors() -> None:
    """--list names every scenario and variant; an unknown kernel or scenario is a usage error (2)."""
    rc, out, _ = _cli("--list")
    assert rc == 0 and all(name in out for name in SCENARIOS) and "V+readdir-by-address" in out
    assert "(simulation only)" in out
    rc, _, err = _cli("--kernels", "9.9")
    assert rc == 2 and "unknown kernel version '9.9'" in err
    rc, _, err = _cli("--scenarios", "nope")
    assert rc == 2 and "unknown scenario 'nope'" in err


def test_matrix_doctest() -> None:
    """The example of the module docstring runs."""
    assert doctest.testmod(M, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0
