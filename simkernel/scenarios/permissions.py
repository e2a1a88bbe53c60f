"""Scenarios about who may list, readlink and follow: the capability gates, the ptrace credential rules and
the directory permission, release by release.

Linux: fs/proc/base.c (map_files), fs/proc/fd.c:proc_fd_permission(), kernel/ptrace.c:__ptrace_may_access(),
kernel/fork.c:mm_access(), security/commoncap.c:cap_ptrace_access_check(), security/yama/yama_lsm.c
"""

from __future__ import annotations

from typing import Any

from simkernel.scenarios.observe import (BASE, FIXED, PAGE, Obs, Observation, lstat_view, make_file, mf, open_close,
                                         rng, spawn)
from simkernel.scenarios.registry import scenario
from simkernel.uapi import (CAP_CHECKPOINT_RESTORE, CAP_DAC_READ_SEARCH, CAP_LAST_CAP, CAP_PERFMON, CAP_SETGID,
                            CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_PTRACE, CLONE_FILES, CLONE_FS, CLONE_SIGHAND,
                            CLONE_THREAD, CLONE_VM, MAP_PRIVATE, O_RDONLY, PR_GET_DUMPABLE, PR_SET_DUMPABLE,
                            PROT_READ)

__all__ = ["map_target", "look"]

R = (BASE, BASE + 2 * PAGE)
THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


def map_target(k: Any, d: str, t: Any, path: str | None = None) -> str:
    """Map `path` (default d/f, created) read-only at R in `t`; returns the entry name."""
    if path is None:
        path = f"{d}/f"
        make_file(k, path, 4 * PAGE)
    fd = t.sys.open(path, O_RDONLY)
    t.sys.mmap(R[0], R[1] - R[0], PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    t.sys.close(fd)
    return rng(*R)


def _count(w: Any, path: str) -> Any:
    names = w.sys.listdir(path)
    return sum(1 for n in names if n == rng(*R))


def look(o: Obs, who: str, w: Any, t: Any, name: str, follow: bool = True) -> None:
    """List, readlink and (optionally) follow `t`'s entry as `w`: the three map_files permissions."""
    o.do(f"{who}: list", _count, w, mf(t))
    o.do(f"{who}: readlink", w.sys.readlink, mf(t, name))
    if follow:
        o.add(f"{who}: open through", open_close(w, mf(t, name), O_RDONLY))


@scenario("cap-sys-admin-gate")
def scenario_cap_sys_admin(k: Any, d: str) -> list[Observation]:
    """Listing and readlink without CAP_SYS_ADMIN: refused until v4.3 (EACCES, EPERM from v3.9), then only
    following keeps needing a capability (bdb4d100afe9; CAP_CHECKPOINT_RESTORE too from 12886f8ab10c, v5.9).

    Sources: fs/proc/base.c:proc_map_files_lookup(), proc_map_files_readdir(), map_files_d_revalidate(),
    proc_map_files_get_link() in 3.3.8, 3.9.6, 4.4.121, 6.18.
    """
    o = Obs()
    t = spawn(k, "target", uid=1000)
    name = map_target(k, d, t)
    look(o, "the task itself", t, t, name)
    look(o, "same uid", spawn(k, "same", uid=1000), t, name)
    look(o, "same uid + CAP_SYS_ADMIN", spawn(k, "admin", uid=1000, caps=[CAP_SYS_ADMIN]), t, name)
    look(o, "same uid + CAP_CHECKPOINT_RESTORE", spawn(k, "cr", uid=1000, caps=[CAP_CHECKPOINT_RESTORE]), t, name)
    look(o, "root", spawn(k, "root"), t, name)
    return o.items


@scenario("realcreds-vs-fscreds")
def scenario_realcreds(k: Any, d: str) -> list[Observation]:
    """Callers whose real and filesystem ids differ: before v4.5 the ptrace check used the real uid/gid and,
    in commoncap, the permitted set (REALCREDS); since caaee6234d05 fsuid/fsgid and the effective set.

    Observers of a uid-1000 target: fsuid 1000 with real uid 1001 (FSCREDS lets it in), real uid 1000 with
    fsuid 1001 and CAP_DAC_READ_SEARCH (REALCREDS lets it in).  Of a root target: root with an empty
    effective set (commoncap's subset rule passes on the permitted set only).

    Sources: kernel/ptrace.c:__ptrace_may_access(), security/commoncap.c:cap_ptrace_access_check() before and
    after caaee6234d05 (reference §6.1, §6.2).
    """
    o = Obs()
    t = spawn(k, "target", uid=1000)
    name = map_target(k, d, t)
    fs = spawn(k, "fsuid-only", uid=1001, caps=[CAP_SETUID, CAP_SETGID])
    fs.sys.setfsgid(1000)
    fs.sys.setfsuid(1000)
    look(o, "fsuid 1000, real 1001", fs, t, name, follow=False)
    real = spawn(k, "real-only", uid=1000, caps=[CAP_SETUID, CAP_SETGID, CAP_DAC_READ_SEARCH])
    real.sys.setresgid(1000, 1001, 1000)
    real.sys.setresuid(1000, 1001, 1000)
    look(o, "real 1000, fsuid 1001", real, t, name, follow=False)
    rt = spawn(k, "root-target")
    rname = map_target(k, d, rt, f"{d}/f")
    eff0 = spawn(k, "root-eff0")
    perm = eff0.sys.capget()[1]
    eff0.sys.capset(0, perm, 0)
    look(o, "root, empty effective set -> root target", eff0, rt, rname, follow=False)
    return o.items


@scenario("suid-dump-root", host=False)
def scenario_suid_dump_root(k: Any, d: str) -> list[Observation]:
    """A target left SUID_DUMP_ROOT (fs.suid_dumpable = 2 across a uid change): `!dumpable` let it through
    until v3.13 (d049f74f2dbe), since then only SUID_DUMP_USER does.

    The directory is root-owned (task_dumpable() is false for 2), so the observers carry
    CAP_DAC_READ_SEARCH; before v4.3 they also need CAP_SYS_ADMIN to use map_files at all.

    Sources: kernel/ptrace.c:__ptrace_may_access() in 3.11 and 3.13 (reference §6.1); kernel/cred.c:
    commit_creds() (set_dumpable(suid_dumpable)).  Simulation only: it changes a sysctl.
    """
    o = Obs()
    k.sysctl["fs.suid_dumpable"] = 2
    make_file(k, f"{d}/f", 4 * PAGE)
    t = k.spawn("target", uid=1000, gid=1000, dumpable=False)
    name = map_target(k, d, t, f"{d}/f")
    o.do("target dumpable", t.sys.prctl, PR_GET_DUMPABLE)
    o.do("dir owner", lambda: lstat_view(t.sys.lstat(mf(t)))["uid"])
    look(o, "same uid + DAC_READ_SEARCH", spawn(k, "drs", uid=1000, caps=[CAP_DAC_READ_SEARCH]), t, name, False)
    look(o, "same uid + DAC_READ_SEARCH + SYS_ADMIN",
         spawn(k, "drsadm", uid=1000, caps=[CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN]), t, name, False)
    return o.items


@scenario("sub-threads")
def scenario_sub_threads(k: Any, d: str) -> list[Observation]:
    """A non-dumpable process with two threads reads its own map_files through /proc/<tgid> and /proc/<tid>.

    The directory is root-owned, so proc_fd_permission()'s fallback decides: the caller's own pid (v3.3-3.11),
    its tgid (96d0df79f264, v3.12), any thread of the group (54708d2858e7, v4.4).  Then ptrace's shortcut:
    `task == current` until 73af963f9f30 (v3.12), the same thread group since.  The process holds
    CAP_SYS_ADMIN so that releases before v4.3 let it use map_files at all.

    Sources: fs/proc/fd.c:proc_fd_permission(), kernel/ptrace.c:__ptrace_may_access() (reference §7.4, §5.1).
    """
    o = Obs()
    t = spawn(k, "leader", uid=1000, caps=[CAP_SYS_ADMIN])
    name = map_target(k, d, t)
    th = t.sys.clone(THREAD)
    t.sys.prctl(PR_SET_DUMPABLE, 0)
    for who, w in (("leader", t), ("thread", th)):
        for where, pid in (("/proc/<tgid>", t.pid), ("/proc/<tid>", th.pid)):
            base = f"/proc/{pid}/map_files"
            o.do(f"{who} lists {where}", lambda w=w, b=base: sum(1 for n in w.sys.listdir(b) if n == name))
            o.do(f"{who} readlinks via {where}", w.sys.readlink, f"{base}/{name}")
    return o.items


@scenario("checkpoint-restore-follow")
def scenario_checkpoint_restore(k: Any, d: str) -> list[Observation]:
    """Following an entry whose file sits in a root-only directory, with CAP_CHECKPOINT_RESTORE alone.

    Reaching the file by its path fails (EACCES from the directory).  Through map_files: before v4.3 nothing
    but CAP_SYS_ADMIN gets in; v4.3-5.8 following needs CAP_SYS_ADMIN (EPERM); since 12886f8ab10c (v5.9)
    CAP_CHECKPOINT_RESTORE is enough -- and the file's own mode still applies.

    Sources: fs/proc/base.c:proc_map_files_get_link() (reference §5.2, §6.5); include/linux/capability.h:
    checkpoint_restore_ns_capable().
    """
    o = Obs()
    k.init.sys.mkdir(f"{d}/secret", 0o700)
    k.init.sys.chmod(f"{d}/secret", 0o700)
    make_file(k, f"{d}/secret/f.txt", 2 * PAGE, 0o644)
    t = spawn(k, "target")
    name = map_target(k, d, t, f"{d}/secret/f.txt")
    t.sys.setresgid(65534, 65534, 65534)
    t.sys.setresuid(65534, 65534, 65534)
    t.sys.prctl(PR_SET_DUMPABLE, 1)
    for who, caps in (("nobody", None), ("nobody + CAP_CHECKPOINT_RESTORE", [CAP_CHECKPOINT_RESTORE]),
                      ("nobody + CAP_SYS_ADMIN", [CAP_SYS_ADMIN])):
        w = spawn(k, "observer", uid=65534, caps=caps)
        o.add(f"{who}: open by path", open_close(w, f"{d}/secret/f.txt", O_RDONLY))
        o.do(f"{who}: readlink", w.sys.readlink, mf(t, name))
        o.add(f"{who}: open through", open_close(w, mf(t, name), O_RDONLY))
    return o.items


@scenario("perfmon-observer")
def scenario_perfmon(k: Any, d: str) -> list[Observation]:
    """An observer that fails the ptrace check but holds CAP_PERFMON (and CAP_DAC_READ_SEARCH to pass the
    directory): mm_access() lets it read since v6.15; map_files readdir and lookup use mm_access() only since
    the 2026 back-port, readlink never (a plain ptrace check).

    Sources: kernel/fork.c:may_access_mm() ("mm,procfs: allow read-only remote mm access under
    CAP_PERFMON"); fs/proc/base.c (2026 form, reference §8).
    """
    o = Obs()
    t = spawn(k, "target", uid=1000)
    name = map_target(k, d, t)
    w = spawn(k, "perfmon", uid=1001, caps=[CAP_PERFMON, CAP_DAC_READ_SEARCH])
    look(o, "other uid + CAP_PERFMON", w, t, name, follow=False)
    o.do("other uid + CAP_PERFMON: lstat", lambda: oct(w.sys.lstat(mf(t, name)).st_mode))
    return o.items


@scenario("yama-ptrace-scope", host=False)
def scenario_yama(k: Any, d: str) -> list[Observation]:
    """kernel.yama.ptrace_scope = 1 (relational) on a kernel built with Yama: it restricts PTRACE_MODE_ATTACH
    only, which map_files used in v3.3 alone (lock_trace) -- before Yama existed.  On `Kernel(version="3.3",
    yama=True)` a non-ancestor is refused; its parent, and every observer of later releases, is not.

    Without Yama (the default) the sysctl changes nothing.  Observers hold CAP_SYS_ADMIN (pre-4.3 gate) but
    not CAP_SYS_PTRACE (which Yama would accept).

    Sources: fs/proc/base.c:lock_trace() (3.3), security/yama/yama_lsm.c:yama_ptrace_access_check().
    Simulation only: the host has no Yama.
    """
    o = Obs()
    k.sysctl["kernel.yama.ptrace_scope"] = 1
    parent = spawn(k, "parent", uid=1000, caps=[CAP_SYS_ADMIN])
    t = parent.sys.fork()          # the target is the parent's child: a descendant for Yama
    name = map_target(k, d, t)
    look(o, "unrelated same uid + CAP_SYS_ADMIN", spawn(k, "other", uid=1000, caps=[CAP_SYS_ADMIN]), t, name,
         follow=False)
    look(o, "parent", parent, t, name, follow=False)
    return o.items


def all_caps_but(k: Any, *drop: int) -> list[int]:
    """Every capability init holds, minus `drop`."""
    perm = k.init.sys.capget()[1]
    return [c for c in range(CAP_LAST_CAP + 1) if perm >> c & 1 and c not in drop]


@scenario("root-without-ptrace")
def scenario_root_without_ptrace(k: Any, d: str) -> list[Observation]:
    """Root without CAP_SYS_PTRACE reading another user's process: the uid check fails; what still lets it
    list differs by release (perfmon_capable() in mm_access since v6.15, used by readdir since 2026).

    Sources: kernel/ptrace.c:__ptrace_may_access(), kernel/fork.c:may_access_mm() (reference §10.13).
    """
    o = Obs()
    t = spawn(k, "target", uid=1000)
    name = map_target(k, d, t)
    look(o, "root - CAP_SYS_PTRACE", spawn(k, "rootnp", caps=all_caps_but(k, CAP_SYS_PTRACE)), t, name)
    return o.items
