"""Random credential pairs: the simulated access decisions for map_files equal the host's.

Hypothesis draws a target (uids, gids, dumpable) and an observer (uids, gids, supplementary groups,
capabilities, an attempted setfsuid/setfsgid); both machines run the same pair and record, for listdir,
lstat, readlink and open through the link, the value or errno.  ~30 examples, derandomized, one HostKernel
for all of them (each example spawns its own tasks; the kernel object is closed by the fixture).

The capability pool includes CAP_SYS_ADMIN and CAP_PERFMON (mm_access()'s perfmon_capable() rule) and
CAP_CHECKPOINT_RESTORE (following).
"""

from __future__ import annotations

from typing import Any

import simkernel
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simkernel.uapi import (
    CAP_CHECKPOINT_RESTORE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_PERFMON, CAP_SETGID,
    CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_PTRACE, MAP_PRIVATE, O_RDONLY, O_RDWR, PR_SET_DUMPABLE, PROT_READ,
)
from tests.host.scenarios_procfs import (
    BASE, FIXED, PAGE, Obs, listing, lstat_view, make_file, mf, open_close, rng, sim_prepare_dir, spawn,
)

IDS = st.sampled_from([0, 1000, 1001])
CAPS = st.lists(st.sampled_from([CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE, CAP_CHECKPOINT_RESTORE,
                                 CAP_SETUID, CAP_SETGID, CAP_FOWNER, CAP_SYS_ADMIN, CAP_PERFMON]),
                unique=True, max_size=4)
R = (BASE, BASE + PAGE)

target_st = st.fixed_dictionaries({
    "uid": IDS, "gid": IDS, "dumpable": st.sampled_from([0, 1]),
    "resuid": st.one_of(st.none(), st.tuples(IDS, IDS, IDS)),
})
observer_st = st.fixed_dictionaries({
    "uid": IDS, "gid": IDS, "groups": st.lists(IDS, unique=True, max_size=2),
    "caps": st.one_of(st.none(), CAPS), "fsuid": st.one_of(st.none(), IDS), "fsgid": st.one_of(st.none(), IDS),
})


def scenario_pair(k: Any, d: str, tgt: dict[str, Any], obs: dict[str, Any]) -> list[tuple[str, Any]]:
    """One target/observer pair: what the observer may do with the target's map_files."""
    o = Obs()
    make_file(k, f"{d}/f", PAGE, 0o644)
    t = spawn(k, "target", uid=tgt["uid"], gid=tgt["gid"])
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(R[0], R[1] - R[0], PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    if tgt["resuid"] is not None and tgt["uid"] == 0:
        t.sys.setresuid(*tgt["resuid"])
    t.sys.prctl(PR_SET_DUMPABLE, tgt["dumpable"])
    w = spawn(k, "observer", uid=obs["uid"], gid=obs["gid"], groups=obs["groups"], caps=obs["caps"])
    if obs["fsgid"] is not None:
        w.sys.setfsgid(obs["fsgid"])     # silently ignored without CAP_SETGID, on both machines
    if obs["fsuid"] is not None:
        w.sys.setfsuid(obs["fsuid"])
    e = mf(t, rng(*R))
    o.add("ids", (w.sys.getresuid(), t.sys.getresuid()))
    o.add("listdir", listing(w, mf(t)))
    o.do("lstat", lambda: lstat_view(w.sys.lstat(e)))
    o.do("readlink", w.sys.readlink, e)
    o.add("open", open_close(w, e, O_RDONLY))
    o.add("open rdwr", open_close(w, e, O_RDWR))
    return o.items


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(target_st, observer_st)
def test_random_credential_pairs_decide_like_the_host(host: Any, compared: Any, tgt: dict[str, Any],
                                                       obs: dict[str, Any]) -> None:
    """For random credentials the simulated listdir/lstat/readlink/open decisions equal the host's."""
    d = host.tmpdir()
    h = scenario_pair(host, d, tgt, obs)
    k = simkernel.Kernel()
    sim_prepare_dir(k, d)
    s = scenario_pair(k, d, tgt, obs)
    for (label, sv), (_, hv) in zip(s, h):
        compared.add(1)
        assert sv == hv, f"{label}: sim {sv!r} != host {hv!r} for target {tgt} observer {obs}"
    for task in list(host.tasks):   # keep the host lean across examples: only init survives
        if task is not host.init and task.state == "running":
            try:
                task.sys.exit(0)
            except Exception:  # noqa: BLE001 - a task that cannot exit is killed at close()
                pass
