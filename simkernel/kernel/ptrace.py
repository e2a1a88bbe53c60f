"""ptrace access checks: may `current` inspect or attach to `task`?

Used by procfs (map_files, fd, environ, mem, hidepid=) with PTRACE_MODE_READ_FSCREDS and by ptrace(2)
itself with PTRACE_MODE_ATTACH_REALCREDS.

Linux: kernel/ptrace.c, include/linux/ptrace.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.kernel.capability import (has_ns_capability, has_ns_capability_noaudit, ns_capable,
                                         ns_capable_noaudit)
from simkernel.kernel.locking.spinlock import task_lock, task_unlock
from simkernel.kernel.task import same_thread_group
from simkernel.security.lsm import security_ptrace_access_check
from simkernel.uapi import errno as E
from simkernel.uapi.capability import CAP_SYS_PTRACE
from simkernel.uapi.prctl import SUID_DUMP_USER

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.kernel.user_namespace import UserNamespace

__all__ = ["__ptrace_may_access", "ptrace_may_access", "ptrace_may_access_explain", "ptrace_has_cap", "PTRACE_MODE_READ", "PTRACE_MODE_ATTACH", "PTRACE_MODE_NOAUDIT", "PTRACE_MODE_FSCREDS",
           "PTRACE_MODE_REALCREDS", "PTRACE_MODE_READ_FSCREDS", "PTRACE_MODE_READ_REALCREDS",
           "PTRACE_MODE_ATTACH_FSCREDS", "PTRACE_MODE_ATTACH_REALCREDS"]

PTRACE_MODE_READ = 0x01
PTRACE_MODE_ATTACH = 0x02
PTRACE_MODE_NOAUDIT = 0x04
PTRACE_MODE_FSCREDS = 0x08
PTRACE_MODE_REALCREDS = 0x10
PTRACE_MODE_READ_FSCREDS = PTRACE_MODE_READ | PTRACE_MODE_FSCREDS
PTRACE_MODE_READ_REALCREDS = PTRACE_MODE_READ | PTRACE_MODE_REALCREDS
PTRACE_MODE_ATTACH_FSCREDS = PTRACE_MODE_ATTACH | PTRACE_MODE_FSCREDS
PTRACE_MODE_ATTACH_REALCREDS = PTRACE_MODE_ATTACH | PTRACE_MODE_REALCREDS


def ptrace_has_cap(current: Task, ns: UserNamespace, mode: int) -> bool:
    """CAP_SYS_PTRACE over `ns` in current's subjective cred (no audit with PTRACE_MODE_NOAUDIT).

    Since commit 6b3ad6649a4c (v5.6, profile switch `ptrace_has_cap_subjective`); before, the caller's
    objective cred (real_cred) was asked with has_ns_capability().  The two differ only under
    override_creds().

    Linux: kernel/ptrace.c:ptrace_has_cap()
    """
    if not current.kernel.version.ptrace_has_cap_subjective:
        if mode & PTRACE_MODE_NOAUDIT:
            return has_ns_capability_noaudit(current, ns, CAP_SYS_PTRACE)
        return has_ns_capability(current, ns, CAP_SYS_PTRACE)
    if mode & PTRACE_MODE_NOAUDIT:
        return ns_capable_noaudit(current, ns, CAP_SYS_PTRACE)
    return ns_capable(current, ns, CAP_SYS_PTRACE)


def _mode_name(mode: int) -> str:
    parts = [n for bit, n in ((PTRACE_MODE_READ, "READ"), (PTRACE_MODE_ATTACH, "ATTACH"),
                              (PTRACE_MODE_FSCREDS, "FSCREDS"), (PTRACE_MODE_REALCREDS, "REALCREDS"),
                              (PTRACE_MODE_NOAUDIT, "NOAUDIT")) if mode & bit]
    return "PTRACE_MODE_" + "_".join(parts) if parts else "0"


def __ptrace_may_access(current: Task, task: Task, mode: int) -> int:
    """May `current` inspect (PTRACE_MODE_READ) or attach to (PTRACE_MODE_ATTACH) `task`?

    Returns 0 when allowed; a denial raises `KernelError(EPERM)` whose `explain` names the deciding check
    (callers such as mm_access() turn it into their own errno and may keep the words).

    Order of checks:
      1. exactly one of PTRACE_MODE_FSCREDS / PTRACE_MODE_REALCREDS, else EPERM (a WARN in the kernel);
      2. same thread group: allowed, no LSM is asked;
      3. the caller's fsuid/fsgid (FSCREDS) or ruid/rgid (REALCREDS) equal the target's (objective)
         ruid, euid, suid and rgid, egid, sgid -- or CAP_SYS_PTRACE over the target's cred user_ns;
      4. the target's mm (absent for kernel threads and exited tasks: check skipped) is dumpable
         (== SUID_DUMP_USER) -- or CAP_SYS_PTRACE over mm->user_ns;
      5. security_ptrace_access_check(): commoncap's capability-subset rule, Yama, extra LSMs.

    Older releases (profile switches): before v4.5 (caaee6234d05, `ptrace_fscreds`) no FSCREDS existed and
    every check used the real ids and, in commoncap, the permitted set -- modelled by treating FSCREDS as
    REALCREDS; before v3.12 (73af963f9f30, `ptrace_same_thread_group`) only `task == current` skipped the
    checks; before v3.13 (d049f74f2dbe, `ptrace_dumpable_user_only`) only SUID_DUMP_DISABLE counted as
    not dumpable; before v4.10 (bfedb589252c, `ptrace_dumpable_mm_user_ns`) a task without mm counted as
    not dumpable and CAP_SYS_PTRACE was asked over the target's cred namespace instead of mm->user_ns.

    Linux: kernel/ptrace.c:__ptrace_may_access()
    """
    v = current.kernel.version
    if mode & PTRACE_MODE_FSCREDS and not v.ptrace_fscreds:
        mode = mode & ~PTRACE_MODE_FSCREDS | PTRACE_MODE_REALCREDS
    if bool(mode & PTRACE_MODE_FSCREDS) == bool(mode & PTRACE_MODE_REALCREDS):
        raise KernelError(E.EPERM, explain=f"ptrace mode {_mode_name(mode)} lacks exactly one of FSCREDS/REALCREDS")
    if task.signal is current.signal if v.ptrace_same_thread_group else task is current:   # same_thread_group()
        return 0
    cred = current.cred
    if mode & PTRACE_MODE_FSCREDS:
        caller_uid, caller_gid, which = cred.fsuid, cred.fsgid, "fsuid/fsgid"
    else:
        caller_uid, caller_gid, which = cred.uid, cred.gid, "uid/gid"
    tcred = task.real_cred
    if not (caller_uid == tcred.euid == tcred.suid == tcred.uid
            and caller_gid == tcred.egid == tcred.sgid == tcred.gid):
        if not ptrace_has_cap(current, tcred.user_ns, mode):
            raise KernelError(E.EPERM, explain=(
                f"ptrace {_mode_name(mode)}: caller {which} {caller_uid}/{caller_gid} does not match target "
                f"uids {tcred.uid}/{tcred.euid}/{tcred.suid} and gids {tcred.gid}/{tcred.egid}/{tcred.sgid}, "
                "and the caller lacks CAP_SYS_PTRACE over the target's user namespace"))
    mm = task.mm
    if not v.ptrace_dumpable_mm_user_ns:
        _ptrace_dumpable_pre410(current, task, mode)
    elif mm is not None and mm.get_dumpable() != SUID_DUMP_USER and not ptrace_has_cap(current, mm.user_ns, mode):
        raise KernelError(E.EPERM, explain=(
            f"ptrace {_mode_name(mode)}: the target is not dumpable (dumpable={mm.get_dumpable()}) and the caller "
            "lacks CAP_SYS_PTRACE over the user namespace of its mm"))
    security_ptrace_access_check(current, task, mode)
    return 0


def _ptrace_dumpable_pre410(current: Task, task: Task, mode: int) -> None:
    """The dumpable test of v3.3-4.9: no mm counts as dumpable 0; the cap is asked over the cred's namespace.

    `!dumpable` (v3.3-3.12) or `dumpable != SUID_DUMP_USER` (v3.13-4.9, `ptrace_dumpable_user_only`).

    Linux: kernel/ptrace.c:__ptrace_may_access() before commit bfedb589252c
    """
    from simkernel.uapi.prctl import SUID_DUMP_USER
    mm = task.mm
    dumpable = mm.get_dumpable() if mm is not None else 0
    denied = dumpable != SUID_DUMP_USER if current.kernel.version.ptrace_dumpable_user_only else dumpable == 0
    if denied and not ptrace_has_cap(current, task.real_cred.user_ns, mode):
        what = "has no mm (dumpable counts as 0)" if mm is None else f"is not dumpable (dumpable={dumpable})"
        raise KernelError(E.EPERM, explain=(
            f"ptrace {_mode_name(mode)}: the target {what} and the caller lacks CAP_SYS_PTRACE over the "
            "target's user namespace"))


def ptrace_may_access(current: Task, task: Task, mode: int, why: list[str] | None = None) -> bool:
    """task_lock(task); __ptrace_may_access() == 0.

    `why` (simulation only): a list that receives the deciding check in words when access is denied, so
    callers can explain their errno while traces keep showing the kernel's function name.

    Linux: kernel/ptrace.c:ptrace_may_access()
    """
    k = current.kernel
    watched = k.lockdep is not None or k.sched is not None    # task_lock() only when it can be observed
    if watched:
        task_lock(current, task)
    try:
        __ptrace_may_access(current, task, mode)
    except KernelError as err:
        if why is not None:
            why.append(err.explain or "denied")
        return False
    finally:
        if watched:
            task_unlock(current, task)
    return True


def ptrace_may_access_explain(current: Task, task: Task, mode: int) -> tuple[bool, str]:
    """ptrace_may_access() with the deciding check in words (for tracing and `explain` texts)."""
    why: list[str] = []
    ok = ptrace_may_access(current, task, mode, why)
    return ok, why[0] if why else "allowed"
