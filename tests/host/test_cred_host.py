"""Credentials on the real kernel and in the simulation: the same set*id/setfs*id/setgroups/capset/prctl
sequences run in a forked child of init on both sides, comparing after every call the result or errno, the
uid/gid quadruples, the groups, all five capability sets, securebits, no_new_privs and the dumpable flag.

The simulated child starts from the host child's capability sets (this host's root lacks some capabilities
in its bounding set) and the host's fs.suid_dumpable.
"""

from __future__ import annotations

import os
import shutil
from typing import Any, Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simkernel
from simkernel.host import HostKernel
from simkernel.kernel.user_namespace import from_kgid, from_kuid
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_KILL, CAP_LAST_CAP,
                                       CAP_NET_RAW, CAP_SETGID, CAP_SETPCAP, CAP_SETUID, CAP_SYS_ADMIN)

Step = tuple  # (syscall name, *args)
B = lambda *caps: sum(1 << c for c in caps)  # noqa: E731


def _outcome(fn: Any, *args: Any) -> Any:
    try:
        return ("ok", fn(*args))
    except OSError as err:
        return ("errno", err.errno, type(err).__name__)


def sim_observe(t: Any) -> dict[str, Any]:
    c = t.cred
    ns = c.user_ns
    return {
        "Uid": tuple(from_kuid(ns, x) for x in (c.uid, c.euid, c.suid, c.fsuid)),
        "Gid": tuple(from_kgid(ns, x) for x in (c.gid, c.egid, c.sgid, c.fsgid)),
        "Groups": tuple(from_kgid(ns, g) for g in c.groups),
        "CapInh": c.cap_inheritable, "CapPrm": c.cap_permitted, "CapEff": c.cap_effective,
        "CapBnd": c.cap_bset, "CapAmb": c.cap_ambient,
        "NoNewPrivs": int(t.no_new_privs),
        "dumpable": t.sys.prctl(PR.PR_GET_DUMPABLE),
        "securebits": t.sys.prctl(PR.PR_GET_SECUREBITS),
    }


def host_observe(ht: Any) -> dict[str, Any]:
    s = ht.status()
    out = {k: s[k] for k in ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")}
    out["Groups"] = tuple(s.get("Groups", ()))
    out["dumpable"] = ht.sys.prctl(PR.PR_GET_DUMPABLE)
    out["securebits"] = ht.sys.prctl(PR.PR_GET_SECUREBITS)
    return out


class Pair:
    """A forked child of init on the host and in a fresh simulated kernel, aligned at the start."""

    def __init__(self, host: HostKernel) -> None:
        self.host = host
        self.ht = host.init.sys.fork()
        start = host_observe(self.ht)
        with open("/proc/sys/fs/suid_dumpable") as f:
            suid_dumpable = int(f.read())
        self.k = simkernel.Kernel()
        self.k.sysctl["fs.suid_dumpable"] = suid_dumpable
        self.t = self.k.init.sys.fork()
        for cap in range(CAP_LAST_CAP + 1):
            if not start["CapBnd"] >> cap & 1:
                self.t.sys.prctl(PR.PR_CAPBSET_DROP, cap)
        self.t.sys.capset(start["CapEff"], start["CapPrm"], start["CapInh"])
        self.log: list[Any] = []

    def run(self, steps: Sequence[Step], compared: Any) -> None:
        compared.check(sim_observe(self.t), host_observe(self.ht), "start")
        for i, (name, *args) in enumerate(steps):
            sim = _outcome(getattr(self.t.sys, name), *args)
            real = _outcome(getattr(self.ht.sys, name), *args)
            label = f"step {i}: {name}{tuple(args)} after {[s[0] for s in steps[:i]]}"
            compared.check(sim, real, label + " -> result")
            compared.check(sim_observe(self.t), host_observe(self.ht), label + " -> state")

    def close(self) -> None:
        self.ht.sys.exit(0)
        self.host.init.sys.waitpid(self.ht.pid, 0)


def both(host: HostKernel, compared: Any, steps: Sequence[Step]) -> None:
    p = Pair(host)
    try:
        p.run(steps, compared)
    finally:
        p.close()


SCENARIOS: dict[str, list[Step]] = {
    "setuid_root_to_user_then_back": [("setuid", 1000), ("setuid", 0), ("setresuid", -1, 0, -1)],
    "setuid_invalid_ids": [("setuid", -1), ("setgid", -1), ("setresuid", 5, -1, -1), ("setresuid", -1, -1, -1)],
    "seteuid_dance": [("setresuid", -1, 1000, -1), ("setresuid", -1, 0, -1), ("setreuid", 1000, -1),
                      ("setreuid", -1, 0), ("setreuid", 0, 2000), ("setuid", 0)],
    "saved_uid_rules": [("setresuid", 1000, 2000, 0), ("setuid", 2000), ("setuid", 1000), ("setuid", 3000),
                        ("setresuid", 0, -1, -1), ("setresuid", -1, -1, 5)],
    "setreuid_saved_follows": [("setresuid", 1000, 1000, 0), ("setreuid", -1, 0), ("setreuid", -1, 1000),
                               ("setreuid", 1000, 0), ("setreuid", 7, -1)],
    "gid_family": [("setresgid", 10, 20, 30), ("setgid", 40), ("setregid", 50, -1), ("setresuid", 1000, 1000, 1000),
                   ("setgid", 20), ("setgid", 50), ("setregid", -1, 51), ("setresgid", 51, 50, 50),
                   ("setgid", 77)],
    "keepcaps_across_setuid": [("prctl", PR.PR_SET_KEEPCAPS, 1), ("setresuid", 1000, 1000, 1000),
                               ("prctl", PR.PR_GET_KEEPCAPS), ("capset", B(CAP_KILL), B(CAP_KILL, CAP_CHOWN), 0),
                               ("capset", B(CAP_SYS_ADMIN), B(CAP_KILL), 0), ("prctl", PR.PR_SET_KEEPCAPS, 2),
                               ("prctl", PR.PR_SET_KEEPCAPS, 0), ("prctl", PR.PR_GET_KEEPCAPS)],
    "setfsuid_moves_fs_caps": [("setfsuid", 1000), ("setfsuid", 0), ("setfsgid", 1000), ("setfsgid", -1),
                               ("setresuid", 1000, 1000, 1000), ("setfsuid", 0), ("setfsuid", 1000),
                               ("setfsuid", 4294967295)],
    "setfsuid_then_noop_setresuid": [("setresuid", 1000, 1000, 1000), ("setfsuid", 1000),
                                     ("setresuid", -1, -1, -1), ("setresuid", 1000, 1000, 1000)],
    "setfsuid_unprivileged": [("setresuid", 1000, 2000, 3000), ("setfsuid", 3000), ("setfsuid", 0),
                              ("setresuid", -1, -1, -1), ("setresuid", -1, 2000, -1)],
    "setgroups": [("setgroups", [3, 1, 2, 1]), ("getgroups",), ("setgroups", []), ("setgroups", [-1]),
                  ("setgroups", list(range(65537))), ("setgroups", [7]), ("setresuid", 1000, 1000, 1000),
                  ("setgroups", [1]), ("getgroups",)],
    "capset_rules": [("capset", B(CAP_KILL), B(CAP_KILL, CAP_CHOWN), B(CAP_NET_RAW)),
                     ("capset", B(CAP_KILL, CAP_SYS_ADMIN), B(CAP_KILL, CAP_CHOWN), 0),
                     ("capset", 0, B(CAP_SYS_ADMIN), 0), ("capset", 0, B(CAP_KILL), B(CAP_SYS_ADMIN)),
                     ("capset", 0, B(CAP_KILL), B(CAP_KILL, CAP_NET_RAW)), ("capset", (1 << 63) | 1, 1, 0),
                     ("capget",)],
    "capbset_drop_limits_inheritable": [("prctl", PR.PR_CAPBSET_DROP, CAP_NET_RAW),
                                        ("prctl", PR.PR_CAPBSET_READ, CAP_NET_RAW),
                                        ("capset", -1 & ((1 << 41) - 1) & ~B(CAP_NET_RAW), -1 & ((1 << 41) - 1)
                                         & ~B(24), B(CAP_NET_RAW)),
                                        ("prctl", PR.PR_CAPBSET_DROP, 41), ("prctl", PR.PR_CAPBSET_READ, 41),
                                        ("capset", 0, B(CAP_KILL), B(CAP_KILL)),
                                        ("prctl", PR.PR_CAPBSET_DROP, CAP_KILL),
                                        ("capset", 0, B(CAP_KILL), B(CAP_KILL, CAP_NET_RAW))],
    "ambient": [("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL),
                ("capset", B(CAP_KILL), B(CAP_KILL, CAP_CHOWN, CAP_SETUID, CAP_SETPCAP), B(CAP_KILL, CAP_CHOWN)),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_CHOWN),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_IS_SET, CAP_CHOWN),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_IS_SET, 41),
                ("prctl", PR.PR_CAP_AMBIENT, 9, CAP_KILL),
                ("capset", B(CAP_KILL), B(CAP_KILL, CAP_CHOWN, CAP_SETUID, CAP_SETPCAP), B(CAP_KILL)),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_CHOWN),
                ("prctl", PR.PR_SET_KEEPCAPS, 1), ("setresuid", 1000, 1000, 1000),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_CLEAR_ALL, 1),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_CLEAR_ALL)],
    "ambient_survives_setuid_without_leaving_root_set": [
                ("capset", B(CAP_KILL, CAP_SETUID), B(CAP_KILL, CAP_SETUID), B(CAP_KILL)),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL),
                ("setresuid", 1000, -1, -1), ("setresuid", -1, 1000, -1),
                ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_LOWER, CAP_KILL)],
    "securebits": [("prctl", PR.PR_SET_SECUREBITS, 1 << 12), ("prctl", PR.PR_SET_SECUREBITS, PR.SECBIT_NO_SETUID_FIXUP),
                   ("setresuid", 1000, 1000, 1000), ("prctl", PR.PR_SET_SECUREBITS, 0),
                   ("prctl", PR.PR_SET_SECUREBITS, 1 << 8), ("prctl", PR.PR_SET_SECUREBITS, 0x3ff),
                   ("prctl", PR.PR_SET_SECUREBITS, 0x3fe), ("prctl", PR.PR_SET_KEEPCAPS, 0)],
    "securebits_unprivileged": [("setresuid", 1000, 1000, 1000), ("prctl", PR.PR_SET_SECUREBITS, 0),
                                ("prctl", PR.PR_SET_SECUREBITS, 1 << 8), ("prctl", PR.PR_SET_SECUREBITS, 1 << 4),
                                ("prctl", PR.PR_SET_SECUREBITS, (1 << 8) | (1 << 9) | (1 << 10)),
                                ("prctl", PR.PR_SET_SECUREBITS, 1 << 10)],
    "dumpable": [("prctl", PR.PR_SET_DUMPABLE, 2), ("prctl", PR.PR_SET_DUMPABLE, 0), ("prctl", PR.PR_SET_DUMPABLE, 1),
                 ("setresuid", 0, 0, 1000), ("prctl", PR.PR_SET_DUMPABLE, 1), ("setresgid", -1, 5, -1),
                 ("prctl", PR.PR_SET_DUMPABLE, 1), ("setgroups", [1, 2]), ("setfsgid", 9),
                 ("prctl", PR.PR_SET_DUMPABLE, 1), ("capset", 0, 0, 0)],
    "prctl_misc": [("prctl", 9999), ("prctl", PR.PR_SET_PTRACER, 0), ("prctl", PR.PR_GET_NO_NEW_PRIVS, 1),
                   ("prctl", PR.PR_SET_NO_NEW_PRIVS, 2), ("prctl", PR.PR_SET_NO_NEW_PRIVS, 1, 1),
                   ("prctl", PR.PR_SET_NO_NEW_PRIVS, 1), ("prctl", PR.PR_GET_NO_NEW_PRIVS),
                   ("prctl", PR.PR_CAPBSET_READ, -1), ("prctl", PR.PR_SET_KEEPCAPS, -1)],
    "unprivileged_capbset_and_caps": [("setresuid", 1000, 1000, 1000), ("prctl", PR.PR_CAPBSET_DROP, 41),
                                      ("prctl", PR.PR_CAPBSET_DROP, CAP_KILL), ("capset", 0, 0, B(CAP_KILL)),
                                      ("setgroups", []), ("setresgid", 5, -1, -1), ("capget",)],
    "cap_setuid_only": [("capset", B(CAP_SETUID), B(CAP_SETUID), 0), ("setgid", 5), ("setgroups", [1]),
                        ("setresuid", 3, 4, 5), ("setuid", 0)],
    "cap_setgid_only": [("capset", B(CAP_SETGID), B(CAP_SETGID, CAP_DAC_OVERRIDE), 0), ("setuid", 5),
                        ("setresgid", 3, 4, 5), ("setgroups", [9, 8]), ("setfsuid", 0), ("setfsuid", 7)],
    "fsuid_root_raises_only_permitted_fs_caps": [
        ("capset", B(CAP_KILL, CAP_CHOWN), B(CAP_KILL, CAP_CHOWN, CAP_FOWNER, CAP_SETUID), 0),
        ("setfsuid", 1000), ("setfsuid", 0), ("setresuid", -1, 1000, -1), ("setresuid", -1, 0, -1)],
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_cred_sequences_match_host(host: HostKernel, compared: Any, name: str) -> None:
    """Each scripted credential sequence gives the same results, errnos and credentials as the real kernel."""
    both(host, compared, SCENARIOS[name])


_IDS = st.sampled_from([-1, 0, 1000, 1001])
_CAPS = st.lists(st.sampled_from([CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP,
                                  CAP_NET_RAW]), max_size=4).map(lambda cs: sum({1 << c for c in cs}))
_STEP = st.one_of(
    st.tuples(st.just("setresuid"), _IDS, _IDS, _IDS),
    st.tuples(st.just("setresgid"), _IDS, _IDS, _IDS),
    st.tuples(st.just("setreuid"), _IDS, _IDS),
    st.tuples(st.just("setregid"), _IDS, _IDS),
    st.tuples(st.just("setuid"), _IDS),
    st.tuples(st.just("setgid"), _IDS),
    st.tuples(st.just("setfsuid"), _IDS),
    st.tuples(st.just("setfsgid"), _IDS),
    st.tuples(st.just("setgroups"), st.lists(st.sampled_from([0, 5, 1000]), max_size=3)),
    st.tuples(st.just("capset"), _CAPS, _CAPS, _CAPS),
    st.tuples(st.just("prctl"), st.just(PR.PR_SET_KEEPCAPS), st.sampled_from([0, 1])),
    st.tuples(st.just("prctl"), st.just(PR.PR_CAPBSET_DROP), st.sampled_from([CAP_KILL, CAP_SETPCAP])),
    st.tuples(st.just("prctl"), st.just(PR.PR_CAP_AMBIENT),
              st.sampled_from([PR.PR_CAP_AMBIENT_RAISE, PR.PR_CAP_AMBIENT_LOWER]),
              st.sampled_from([CAP_KILL, CAP_CHOWN, CAP_SETUID])),
    st.tuples(st.just("prctl"), st.just(PR.PR_SET_SECUREBITS),
              st.sampled_from([0, PR.SECBIT_KEEP_CAPS, PR.SECBIT_NO_SETUID_FIXUP, 1 << 8, 0x3ff])),
    st.tuples(st.just("prctl"), st.just(PR.PR_SET_DUMPABLE), st.sampled_from([0, 1])),
)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(_STEP, min_size=1, max_size=8))
def test_cred_random_sequences_match_host(host: HostKernel, compared: Any, steps: list[Step]) -> None:
    """40 random credential sequences (fixed seed) behave on the simulation exactly as on the host."""
    both(host, compared, steps)


# -- execve: set-uid/set-gid bits, unreadable programs, dumpable -------------------------------------------------

_SIM_PROG = b"\x7fELF\ntype exec\nload 0x400000 0x1000 0x1000 0 rx\n"
_USER = [("setgroups", []), ("setresgid", 1000, 1000, 1000), ("setresuid", 1000, 1000, 1000)]
_EXEC_CASES = {
    "plain_by_user": (0o755, (0, 0), _USER),
    "setuid_root_by_user": (0o4755, (0, 0), _USER),
    "setgid_by_user": (0o2755, (0, 50), _USER),
    "setgid_without_group_x_by_user": (0o2745, (0, 50), _USER),
    "exec_only_by_user": (0o711, (0, 0), _USER),
    "setuid_root_under_no_new_privs": (0o4755, (0, 0), [("prctl", PR.PR_SET_NO_NEW_PRIVS, 1)] + _USER),
    "plain_by_root_after_seteuid": (0o755, (0, 0), [("setresuid", -1, 1000, -1)]),
    "setuid_user_by_root": (0o4755, (1000, 1000), []),
    "plain_by_root_with_keepcaps_user": (0o755, (0, 0), [("prctl", PR.PR_SET_KEEPCAPS, 1)] + _USER),
    "plain_by_user_with_ambient": (0o755, (0, 0), [
        ("capset", B(CAP_KILL, CAP_SETUID, CAP_SETGID), B(CAP_KILL, CAP_SETUID, CAP_SETGID), B(CAP_KILL)),
        ("prctl", PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL), ("prctl", PR.PR_SET_KEEPCAPS, 1),
        ("setresgid", 1000, 1000, 1000), ("setresuid", 1000, 1000, 1000)]),
}


def _exec_observe_host(ht: Any) -> dict[str, Any]:
    s = ht.status()
    out = {k: s[k] for k in ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    out["map_files_owner"] = os.stat(f"/proc/{ht.pid}/map_files").st_uid   # root when not dumpable
    return out


def _exec_observe_sim(p: Pair) -> dict[str, Any]:
    o = sim_observe(p.t)
    out = {k: o[k] for k in ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}
    out["map_files_owner"] = p.k.init.sys.stat(f"/proc/{p.t.pid}/map_files").st_uid
    return out


@pytest.mark.parametrize("name", sorted(_EXEC_CASES))
def test_execve_credentials_match_host(host: HostKernel, compared: Any, name: str) -> None:
    """After execve of a program with these mode bits and owner, ids, capabilities and dumpability (the
    owner of /proc/<pid>/map_files) are those of the real kernel."""
    mode, (uid, gid), steps = _EXEC_CASES[name]
    d = host.tmpdir()
    path = f"{d}/prog"
    shutil.copy("/bin/sleep", path)
    os.chown(path, uid, gid)
    os.chmod(path, mode)
    p = Pair(host)
    s = p.k.init.sys
    s.mkdir(d, 0o755)
    fd = s.open(path, 0o101, 0o600)   # O_CREAT | O_WRONLY
    s.write(fd, _SIM_PROG)
    s.close(fd)
    s.chown(path, uid, gid)
    s.chmod(path, mode)
    p.run(steps, compared)
    compared.check(_outcome(p.t.sys.execve, path, ["prog", "60"]),
                   _outcome(p.ht.sys.execve, path, ["prog", "60"]), f"{name}: execve")
    compared.check(_exec_observe_sim(p), _exec_observe_host(p.ht), f"{name}: after execve")


# -- user namespaces: uid_map / gid_map / setgroups writes --------------------------------------------------------

def _write(task: Any, path: str, text: str) -> Any:
    from simkernel.uapi.fcntl import O_WRONLY
    try:
        fd = task.sys.open(path, O_WRONLY)
    except OSError as err:
        return ("open", err.errno)
    try:
        return ("ok", task.sys.write(fd, text.encode()))
    except OSError as err:
        return ("write", err.errno)
    finally:
        task.sys.close(fd)


def _read(task: Any, path: str) -> Any:
    from simkernel.uapi.fcntl import O_RDONLY
    try:
        fd = task.sys.open(path, O_RDONLY)
    except OSError as err:
        return ("open", err.errno)
    try:
        return task.sys.read(fd, 4096).decode()
    finally:
        task.sys.close(fd)


def _ids(task: Any) -> Any:
    return (task.sys.getresuid(), task.sys.getresgid(), tuple(task.sys.getgroups()), task.sys.capget())


def userns_unprivileged(k: Any) -> list[Any]:
    """A user unshares a user namespace and writes its own maps, in the kernel's order of rules."""
    from simkernel.uapi.sched import CLONE_NEWUSER
    t = k.spawn("u", uid=1000, gid=1000)
    t.sys.unshare(CLONE_NEWUSER)
    obs: list[Any] = [_ids(t), _read(t, "/proc/self/uid_map"), _read(t, "/proc/self/setgroups")]
    for path, text in [("uid_map", "0 0 1"), ("uid_map", "0 1000 2"), ("uid_map", "0 1000"),
                       ("uid_map", "0 1000 1 junk"), ("uid_map", "0 1000 1\n"), ("uid_map", "0 1000 1"),
                       ("gid_map", "0 1000 1"), ("setgroups", "maybe"), ("setgroups", "deny"),
                       ("setgroups", "allow"), ("gid_map", "0 1001 1"), ("gid_map", "0 1000 1"),
                       ("setgroups", "deny")]:
        obs.append((path, text, _write(t, f"/proc/self/{path}", text)))
    obs += [_ids(t), _read(t, "/proc/self/uid_map"), _read(t, "/proc/self/gid_map"),
            _read(t, "/proc/self/setgroups"), _outcome(t.sys.setgroups, [0]), _outcome(t.sys.setuid, 0),
            _outcome(t.sys.setuid, 1), _outcome(t.sys.setresgid, 0, 0, 0), _ids(t)]
    return obs


def userns_from_parent(k: Any) -> list[Any]:
    """Root in the parent namespace maps a range for a child that unshared; the child then acts inside."""
    from simkernel.uapi.sched import CLONE_NEWUSER
    r = k.spawn("r")
    c = r.sys.fork()
    c.sys.unshare(CLONE_NEWUSER)
    obs: list[Any] = [_ids(c)]
    for path, text in [("uid_map", "0 100000 65536"), ("gid_map", "0 100000 1\n1 200000 10"),
                       ("uid_map", "0 0 1")]:
        obs.append((path, text, _write(r, f"/proc/{c.pid}/{path}", text)))
    obs += [_ids(c), _read(c, "/proc/self/uid_map"), _read(r, f"/proc/{c.pid}/gid_map"),
            _outcome(c.sys.setresuid, 5, 5, 5), _outcome(c.sys.setgroups, [0, 3]), _outcome(c.sys.setgid, 11),
            _ids(c)]
    g = r.sys.fork()
    g.sys.unshare(CLONE_NEWUSER)
    obs.append(("self root map", _write(g, "/proc/self/uid_map", "0 0 1"), _write(g, "/proc/self/gid_map", "0 0 1"),
                _write(g, "/proc/self/setgroups", "deny"), _write(g, "/proc/self/gid_map", "0 0 1"), _ids(g)))
    return obs


@pytest.mark.parametrize("scenario", [userns_unprivileged, userns_from_parent], ids=lambda f: f.__name__)
def test_userns_maps_match_host(host: HostKernel, compared: Any, scenario: Any) -> None:
    """uid_map/gid_map/setgroups writes: permissions, parsing and their effect on ids, as on the real kernel."""
    compared.check(scenario(simkernel.Kernel()), scenario(host), scenario.__name__)
