"""The cost comparison (simkernel/cr/cost.py) on the simulation: counting, the workload, growth."""

from __future__ import annotations

import math

import pytest

from simkernel.cr.cost import (APPROACHES, Cost, Counter, CountedTask, build_shared_tree, format_table, growth,
                               measure, ratios, run_sim_cell)
from simkernel.cr.proc import list_dir, read_file
from tests.cr.scenarios import B, PAGE


def test_counting_sys_counts_calls_and_bytes(k):
    """Each call is one syscall; read/readlink/getdents add the bytes they returned; forks count too."""
    c = Counter()
    t = CountedTask(k.spawn("x"), c)
    data = read_file(t.sys, "/proc/self/status")
    names = list_dir(t.sys, "/proc/self")
    link = t.sys.readlink("/proc/self/cwd")
    child = t.sys.fork()
    child.sys.getpid()
    assert c.calls == {"open": 2, "read": 2, "close": 2, "getdents": 2, "readlink": 1, "fork": 1, "getpid": 1}
    assert c.syscalls == 11 and isinstance(child, CountedTask) and child.pid > t.pid
    dirents = sum((19 + len(n) + 1 + 7) & ~7 for n in names + [".", ".."])
    assert c.bytes_read == len(data) + dirents + len(link)


def test_build_shared_tree_maps_m_unmerged_vmas(k):
    """The workload: M one-page VMAs (alternating prot, so none merge) in each of N tasks."""
    root = build_shared_tree(k, 3, 6, "/tmp/w", B)
    assert len(root.sys.listdir(f"/proc/{root.pid}/map_files")) == 6
    assert len(root.sys.listdir("/proc")) >= 3 + 2


def test_run_sim_cell_map_files_beats_maps(k):
    """On one workload: map_files reads fewer bytes than re-reading maps in both phases, and restores with
    fewer syscalls; every approach dumps all N x M VMAs."""
    rows = run_sim_cell(2, 16, APPROACHES, B)
    by = {(c.approach, c.phase): c for c in rows}
    assert len(rows) == 6 and {c.machine for c in rows} == {"sim"}
    for phase in ("dump", "restore"):
        assert by["map_files", phase].bytes_read < by["maps", phase].bytes_read
    assert by["map_files", "restore"].syscalls < by["maps", "restore"].syscalls
    assert by["map_files", "dump"].seconds > 0


def test_growth_is_linear_for_map_files_and_quadratic_for_maps():
    """Bytes read grow ~M for map_files and ~M^2 when maps is re-read per lookup (exponents)."""
    rows = run_sim_cell(1, 8, ("map_files", "maps"), B) + run_sim_cell(1, 32, ("map_files", "maps"), B)
    g = {(r["approach"], r["phase"]): r for r in growth(rows, along="vmas")}
    assert g["maps", "dump"]["bytes_exp"] > 1.6
    assert g["map_files", "dump"]["bytes_exp"] < 1.3
    assert g["map_files", "restore"]["syscalls_exp"] < 1.2
    r = {(x["approach"], x["phase"], x["vmas"]): x for x in ratios(rows)}
    assert r["maps", "dump", 32]["bytes"] > r["maps", "dump", 8]["bytes"] > 1


def test_growth_along_tasks_and_degenerate_rows():
    """growth() along N; a zero metric gives NaN instead of dividing by zero."""
    rows = [Cost("sim", "maps", "restore", n, 4, 10 * n, 0, 0.1 * n) for n in (1, 2, 4)]
    g = growth(rows, along="tasks")
    assert [(r["from"], r["to"]) for r in g] == [(1, 2), (2, 4)]
    assert math.isclose(g[0]["syscalls_exp"], 1.0) and math.isnan(g[0]["bytes"]) and math.isnan(g[0]["bytes_exp"])


def test_format_table_lists_every_cell():
    """One line per (machine, phase, N, M); a missing approach prints a dash."""
    rows = [Cost("sim", "map_files", "dump", 2, 8, 10, 100, 0.5), Cost("host", "maps", "dump", 2, 8, 20, 900, 1.5),
            Cost("sim", "maps", "dump", 2, 8, 30, 800, 0.25)]
    text = format_table(rows).splitlines()
    assert len(text) == 4 and text[2].startswith("sim") and text[3].startswith("host")
    assert text[3].split("|")[1].strip() == "-"
    assert ratios(rows) == [{"machine": "sim", "phase": "dump", "tasks": 2, "vmas": 8, "approach": "maps",
                             "syscalls": 3.0, "bytes": 8.0, "seconds": 0.5}]


def test_measure_checks_the_dump(k):
    """measure() refuses a dump that does not have N x M VMAs (a broken workload)."""
    root = build_shared_tree(k, 1, 4, "/tmp/w", B)
    criu = k.spawn("criu")
    with pytest.raises(RuntimeError, match="expected 2 x 4"):
        measure("sim", "map_files", 2, 4, criu, criu, root.pid, (B, B + 4 * PAGE))
