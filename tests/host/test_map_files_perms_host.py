"""Who may reach, list, lstat, readlink and follow map_files: the gates of reference §8.6 (E5 column).

Each test fixes one kind of target and runs the same observer matrix against it: root, root without
CAP_SYS_PTRACE, root without any capability, same uid, other uid, other uid with exactly one of
CAP_CHECKPOINT_RESTORE / CAP_DAC_READ_SEARCH / CAP_SYS_ADMIN / CAP_SYS_PTRACE, a caller whose fsuid alone
matches, mixed real/effective/saved ids, and different gid.  Every observation is a value or an errno name.
"""

from __future__ import annotations

from typing import Any

import pytest

from simkernel.uapi import (
    CAP_CHECKPOINT_RESTORE, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_LAST_CAP, CAP_PERFMON, CAP_SETGID, CAP_SETUID,
    CAP_SYS_ADMIN, CAP_SYS_PTRACE, MAP_PRIVATE, MAP_SHARED, O_DIRECTORY, O_RDONLY, O_RDWR, PR_SET_DUMPABLE, PROT_READ,
    PROT_WRITE,
)
from tests.host.scenarios_procfs import (
    BASE, ERRNAME, FIXED, PAGE, Obs, attempt, getdents_view, listing, lstat_view, make_file, maps_view, mf, open_close,
    read_all, rng, run_compare, same_file, spawn,
)

RO = (BASE, BASE + 2 * PAGE)                 # file opened O_RDONLY, MAP_PRIVATE  -> link mode 0400
RW = (BASE + 4 * PAGE, BASE + 5 * PAGE)      # file opened O_RDWR, MAP_SHARED     -> link mode 0600



def all_caps_but(k: Any, *drop: int) -> list[int]:
    """Every capability init holds (the CI host lacks some, e.g. CAP_SYS_RESOURCE in a container), minus `drop`."""
    perm = k.init.sys.capget()[1]
    return [c for c in range(CAP_LAST_CAP + 1) if perm >> c & 1 and c not in drop]


def _perfmon_observers(k: Any) -> list[tuple[str, Any]]:
    """Observers that fail the ptrace check but are perfmon_capable() (CAP_PERFMON or CAP_SYS_ADMIN):
    mm_access() lets them through (kernel/fork.c:may_access_mm()), ptrace_may_access() alone does not."""
    return [
        ("root-no-ptrace", spawn(k, "o-rootnp", caps=all_caps_but(k, CAP_SYS_PTRACE))),
        ("other+sys-admin", spawn(k, "o-admin", uid=1001, caps=[CAP_SYS_ADMIN])),
        ("other+perfmon+drs", spawn(k, "o-perfdrs", uid=1001, caps=[CAP_PERFMON, CAP_DAC_READ_SEARCH])),
        ("other+admin+drs", spawn(k, "o-admdrs", uid=1001, caps=[CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH])),
        ("same-uid+sys-admin", spawn(k, "o-sameadm", uid=1000, caps=[CAP_SYS_ADMIN])),
    ]


def _observers(k: Any) -> list[tuple[str, Any]]:
    """The observer matrix, each spawned fresh on machine k."""
    obs = [
        ("root", spawn(k, "o-root")),
        ("root-no-caps", spawn(k, "o-root0", caps=[])),
        ("root-only-dac-override", spawn(k, "o-rootdac", caps=[CAP_DAC_OVERRIDE])),
        ("same-uid", spawn(k, "o-same", uid=1000)),
        ("same-uid-other-gid", spawn(k, "o-samegid", uid=1000, gid=1001)),
        ("same-uid-with-group", spawn(k, "o-samegrp", uid=1000, gid=1001, groups=[1000])),
        ("other-uid", spawn(k, "o-other", uid=1001)),
        ("other+checkpoint-restore", spawn(k, "o-cr", uid=1001, caps=[CAP_CHECKPOINT_RESTORE])),
        ("other+dac-read-search", spawn(k, "o-drs", uid=1001, caps=[CAP_DAC_READ_SEARCH])),
        ("other+sys-ptrace", spawn(k, "o-ptrace", uid=1001, caps=[CAP_SYS_PTRACE])),
        ("other+ptrace+drs", spawn(k, "o-ptdrs", uid=1001, caps=[CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])),
        ("other+cr+ptrace+drs", spawn(k, "o-all3", uid=1001,
                                      caps=[CAP_CHECKPOINT_RESTORE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])),
        ("same-uid+checkpoint-restore", spawn(k, "o-samecr", uid=1000, caps=[CAP_CHECKPOINT_RESTORE])),
    ]
    # fsuid/fsgid alone match uid 1000 (real and effective ids stay 1001): FSCREDS decides
    fs = spawn(k, "o-fsuid", uid=1001, caps=[CAP_SETUID, CAP_SETGID])
    fs.sys.setfsgid(1000)
    fs.sys.setfsuid(1000)
    obs.append(("fsuid-only-matches", fs))
    # root whose real uid is 1000 (setresuid(1000, 0, 0)): fsuid 0, capabilities kept
    mixed = spawn(k, "o-mixed")
    mixed.sys.setresgid(1000, 0, 0)
    mixed.sys.setresuid(1000, 0, 0)
    obs.append(("mixed-r1000-e0-s0", mixed))
    # real/saved uid 1000, effective 1001 (fsuid follows euid): no capabilities, fsuid mismatch
    m2 = spawn(k, "o-mixed2")
    m2.sys.setresgid(1000, 1000, 1000)
    m2.sys.setresuid(1000, 1001, 1000)
    obs.append(("mixed-r1000-e1001-s1000", m2))
    return obs


def _target(k: Any, d: str, kind: str) -> Any:
    """A target process of the given kind, with the RO and RW file mappings."""
    if kind == "root":
        t = spawn(k, "target")
    elif kind == "mixed":   # real uid 1000, effective and saved root (still full capabilities)
        t = spawn(k, "target")
        t.sys.setresgid(1000, 0, 0)
        t.sys.setresuid(1000, 0, 0)
    else:
        t = spawn(k, "target", uid=1000, dumpable=0 if kind == "nondumpable" else 1)
    fd = t.sys.open(f"{d}/ro", O_RDONLY)
    t.sys.mmap(RO[0], RO[1] - RO[0], PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    t.sys.close(fd)
    fd = t.sys.open(f"{d}/rw", O_RDWR)
    t.sys.mmap(RW[0], RW[1] - RW[0], PROT_READ | PROT_WRITE, MAP_SHARED | FIXED, fd, 0)
    t.sys.close(fd)
    if kind == "nondumpable":
        t.sys.prctl(PR_SET_DUMPABLE, 0)
    return t


def _observe(o: Obs, k: Any, d: str, who: str, w: Any, t: Any) -> None:
    ro, rw = rng(*RO), rng(*RW)
    o.do(f"{who} lstat dir", lambda: lstat_view(w.sys.lstat(mf(t))))
    o.add(f"{who} listdir", listing(w, mf(t)))
    try:
        fd = w.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    except OSError as err:
        o.add(f"{who} opendir", ERRNAME(err))
    else:
        o.add(f"{who} opendir", "ok")
        o.add(f"{who} getdents 1", getdents_view(attempt(w.sys.getdents, fd, 32768)))
        o.add(f"{who} getdents 2", getdents_view(attempt(w.sys.getdents, fd, 32768)))
        w.sys.close(fd)
    o.do(f"{who} lstat ro", lambda: lstat_view(w.sys.lstat(mf(t, ro))))
    o.do(f"{who} lstat rw", lambda: lstat_view(w.sys.lstat(mf(t, rw))))
    o.do(f"{who} readlink ro", w.sys.readlink, mf(t, ro))
    o.do(f"{who} readlink malformed", w.sys.readlink, mf(t, "0" + ro))
    o.do(f"{who} readlink absent", w.sys.readlink, mf(t, rng(BASE + 64 * PAGE, BASE + 65 * PAGE)))
    o.do(f"{who} stat-through ro same as file",
         lambda: same_file(w.sys.stat(mf(t, ro)), k.init.sys.stat(f"{d}/ro")))
    o.add(f"{who} open ro O_RDONLY", open_close(w, mf(t, ro), O_RDONLY))
    o.add(f"{who} open ro O_RDWR", open_close(w, mf(t, ro), O_RDWR))
    o.add(f"{who} open rw O_RDWR", open_close(w, mf(t, rw), O_RDWR))
    o.add(f"{who} maps", maps_view(read_all(w, f"/proc/{t.pid}/maps")))


def scenario_gates(k: Any, d: str, kind: str, perfmon: bool = False) -> list[tuple[str, Any]]:
    """One target of `kind`; every observer of the matrix (or of the perfmon group) looks at its map_files."""
    o = Obs()
    make_file(k, f"{d}/ro", 2 * PAGE, 0o644)
    make_file(k, f"{d}/rw", 2 * PAGE, 0o666)
    t = _target(k, d, kind)
    o.add("target sees itself", listing(t, "/proc/self/map_files"))
    o.do("target readlink own ro", t.sys.readlink, f"/proc/self/map_files/{rng(*RO)}")
    o.add("target opens own ro", open_close(t, f"/proc/self/map_files/{rng(*RO)}", O_RDONLY))
    for who, w in (_perfmon_observers(k) if perfmon else _observers(k)):
        _observe(o, k, d, who, w, t)
    return o.items


def test_gates_target_uid1000_dumpable(host: Any, compared: Any) -> None:
    """Observer matrix against a dumpable uid-1000 process."""
    run_compare(host, compared, scenario_gates, "user")


def test_gates_target_uid1000_nondumpable(host: Any, compared: Any) -> None:
    """Observer matrix against a uid-1000 process after PR_SET_DUMPABLE 0 (root-owned map_files)."""
    run_compare(host, compared, scenario_gates, "nondumpable")


def test_gates_target_root(host: Any, compared: Any) -> None:
    """Observer matrix against a root process with every capability (commoncap's subset rule)."""
    run_compare(host, compared, scenario_gates, "root")


def test_gates_target_mixed_ids(host: Any, compared: Any) -> None:
    """Observer matrix against setresuid(1000, 0, 0): the uid triple no longer matches anybody."""
    run_compare(host, compared, scenario_gates, "mixed")


@pytest.mark.parametrize("kind", ["user", "root"])
def test_gates_perfmon_capable_observers(host: Any, compared: Any, kind: str) -> None:
    """Observers that are perfmon_capable() but not ptrace-capable, against a user and a root target."""
    run_compare(host, compared, scenario_gates, kind, perfmon=True)
