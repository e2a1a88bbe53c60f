"""Checkpoint/restore on the real kernel: the dumper and restorer of simkernel/cr, unchanged, on real processes.

Each scenario of tests/cr/scenarios.py runs on the host and on the simulation; the two images (dumped through
map_files by a root task of each machine, limited to the scenario window) must agree in canonical form --
tree, credentials, dumpable flags, VMAs, open modes, objects and their sharing -- and the host tree must survive
a restore and re-dump unchanged, regular files being the very same inodes.
"""

from __future__ import annotations

import os

import pytest

from simkernel.cr import canonical, compare, dump, host_parasite, restore, sim_parasite
from simkernel.cr.cost import APPROACHES, Counter, CountedTask, build_shared_tree, run_host_cell
from simkernel.cr.local import LocalTask
from simkernel.host import SCENARIO_BASE, SCENARIO_SPAN
from tests.cr.conftest import boot
from tests.cr.scenarios import SCENARIOS

WINDOW = (SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN)
PAGE = 4096


def _cap_mask() -> int:
    """Capabilities this test process has: host tasks cannot hold more (a container may withhold some)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_cr_host_image_matches_simulation(host, compared, name):
    """The same scenario dumped on the host and on the simulation gives the same canonical image."""
    d = host.tmpdir()
    hroot = SCENARIOS[name](host, d)
    himage = dump(host.spawn("criu"), hroot.pid, window=WINDOW, parasite=host_parasite(host), source="host")
    k = boot(d)
    sroot = SCENARIOS[name](k, d)
    simage = dump(k.spawn("criu"), sroot.pid, window=WINDOW, parasite=sim_parasite(k), source="sim")
    mask = _cap_mask()
    h = canonical(himage, with_how=True, cap_mask=mask)
    s = canonical(simage, with_how=True, cap_mask=mask)
    compared.check(len(s["tasks"]), len(h["tasks"]), f"{name}: tasks")
    for i, (st, ht) in enumerate(zip(s["tasks"], h["tasks"])):
        compared.check(st, ht, f"{name}: task {i}")
    compared.check(s["files"], h["files"], f"{name}: objects")
    compared.check(sorted(map(len, simage.shared_groups().values())),
                   sorted(map(len, himage.shared_groups().values())), f"{name}: shared group sizes")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_cr_host_round_trip(host, compared, name):
    """Dump a real tree, restore it below a real root task, dump again: nothing differs."""
    d = host.tmpdir()
    root = SCENARIOS[name](host, d)
    criu = host.spawn("criu")
    image = dump(criu, root.pid, window=WINDOW, parasite=host_parasite(host))
    assert image.restorable, image.impossible()
    result = restore(image, criu, check_inodes=True)
    again = dump(criu, result.root.pid, window=WINDOW, parasite=host_parasite(host))
    compared.check([], compare(image, again, same_inodes=True, with_how=True), f"{name}: restored state")


def test_cr_host_local_dumper_same_image(host, compared):
    """The calling process as dumper (LocalTask, no RPC) sees what a root host task sees."""
    d = host.tmpdir()
    root = SCENARIOS["forked"](host, d)
    by_task = dump(host.spawn("criu"), root.pid, window=WINDOW)
    local = dump(LocalTask(), root.pid, window=WINDOW)
    assert LocalTask().pid == os.getpid()
    compared.check(canonical(by_task, with_how=True), canonical(local, with_how=True), "local vs task dumper")


def test_cr_host_cost_map_files_beats_maps(compared):
    """On real processes: re-reading maps reads more bytes and makes more calls than map_files, in both
    phases; the restore through map_files makes the same calls as on the simulation (prctl aside, which
    depends on the host's bounding set)."""
    rows = run_host_cell(2, 8, ("map_files", "maps"), SCENARIO_BASE)
    by = {(c.approach, c.phase): c for c in rows}
    for phase in ("dump", "restore"):
        assert by["map_files", phase].bytes_read < by["maps", phase].bytes_read
        assert by["map_files", phase].syscalls < by["maps", phase].syscalls
    compared.add(4)


def test_cr_host_restore_calls_match_simulation(host, compared):
    """The restore of one workload makes the same system calls on both machines (prctl aside)."""
    import simkernel
    calls = []
    k = simkernel.Kernel()
    for machine, path in ((k, "/tmp/w"), (host, host.tmpdir() + "/w")):
        root = build_shared_tree(machine, 2, 6, path, SCENARIO_BASE)
        criu = machine.spawn("criu")
        image = dump(criu, root.pid, lookup=APPROACHES["map_files"](), window=WINDOW)
        c = Counter()
        restore(image, CountedTask(criu, c))
        calls.append({name: n for name, n in c.calls.items() if name != "prctl"})
    compared.check(calls[0], calls[1], "restore system calls")
