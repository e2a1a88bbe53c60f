"""Identity system calls and prctl: get*id, set*uid/set*gid, setfs*id, prctl.

Every set*id call translates its arguments with the caller's user namespace (make_kuid), rejects ids
without a mapping (EINVAL), checks permission against the *old* credentials (CAP_SETUID/CAP_SETGID over
the caller's own namespace, via ns_capable_setid), prepares new credentials, lets the LSMs adjust them
(commoncap moves capabilities with uid changes) and commits them (which may clear the dumpable flag).
Arguments are uid_t/gid_t: a Python -1 is (uid_t)-1, "leave unchanged" where the call allows it.

Linux: kernel/sys.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from simkernel.errors import KernelError
from simkernel.kernel.capability import ns_capable_setid
from simkernel.kernel.cred import commit_creds, prepare_creds
from simkernel.kernel.user_namespace import (from_kgid_munged, from_kuid_munged, make_kgid, make_kuid)
from simkernel.security.commoncap import LSM_SETID_FS, LSM_SETID_ID, LSM_SETID_RE, LSM_SETID_RES
from simkernel.security.lsm import security_task_fix_setgid, security_task_fix_setuid, security_task_prctl
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import CAP_SETGID, CAP_SETUID

if TYPE_CHECKING:
    from simkernel.kernel.task import PidNamespace, Task

__all__ = ["sys_getpid", "sys_gettid", "sys_getppid", "sys_getuid", "sys_geteuid", "sys_getgid", "sys_getegid",
           "sys_getresuid", "sys_getresgid", "sys_setuid", "sys_setgid", "sys_setreuid", "sys_setregid",
           "sys_setresuid", "sys_setresgid", "sys_setfsuid", "sys_setfsgid", "sys_prctl", "task_active_pid_ns",
           "task_pid_vnr", "task_tgid_vnr", "find_task_by_vpid", "TASK_COMM_LEN"]

U32 = 0xFFFFFFFF
NOCHANGE = U32            # (uid_t)-1
TASK_COMM_LEN = 16
_ULONG = 0xFFFFFFFFFFFFFFFF


# -- pids as seen by current (kernel/pid.c helpers) ----------------------------------------------------------

def task_active_pid_ns(task: Task) -> PidNamespace:
    """The pid namespace the task was born in (its deepest pid number). Linux: kernel/pid.c"""
    return task.thread_pid.numbers[-1][0]


def task_pid_vnr(current: Task, task: Task) -> int:
    """task's thread id as current sees it (0 if invisible). Linux: include/linux/pid.h:task_pid_vnr()"""
    return task.thread_pid.nr_ns(task_active_pid_ns(current))


def task_tgid_vnr(current: Task, task: Task) -> int:
    """task's process id as current sees it. Linux: include/linux/sched.h:task_tgid_vnr()"""
    leader = task.group_leader if task.group_leader is not None else task
    return leader.thread_pid.nr_ns(task_active_pid_ns(current))


def find_task_by_vpid(current: Task, nr: int) -> Task | None:
    """The task with thread id `nr` in current's pid namespace. Linux: kernel/pid.c:find_task_by_vpid()"""
    pid = task_active_pid_ns(current).pid_hash.get(nr)
    return None if pid is None else pid.task


def sys_getpid(current: Task) -> int:
    """getpid(2): the thread group id. Linux: kernel/sys.c:SYSCALL_DEFINE0(getpid)"""
    return task_tgid_vnr(current, current)


def sys_gettid(current: Task) -> int:
    """gettid(2). Linux: kernel/sys.c:SYSCALL_DEFINE0(gettid)"""
    return task_pid_vnr(current, current)


def sys_getppid(current: Task) -> int:
    """getppid(2): real_parent's tgid, 0 when not visible. Linux: kernel/sys.c:SYSCALL_DEFINE0(getppid)"""
    parent = current.real_parent
    return 0 if parent is None else task_tgid_vnr(current, parent)


# -- getters -------------------------------------------------------------------------------------------------

def sys_getuid(current: Task) -> int:
    """Linux: kernel/sys.c:SYSCALL_DEFINE0(getuid)"""
    return from_kuid_munged(current.cred.user_ns, current.cred.uid)


def sys_geteuid(current: Task) -> int:
    """Linux: kernel/sys.c:SYSCALL_DEFINE0(geteuid)"""
    return from_kuid_munged(current.cred.user_ns, current.cred.euid)


def sys_getgid(current: Task) -> int:
    """Linux: kernel/sys.c:SYSCALL_DEFINE0(getgid)"""
    return from_kgid_munged(current.cred.user_ns, current.cred.gid)


def sys_getegid(current: Task) -> int:
    """Linux: kernel/sys.c:SYSCALL_DEFINE0(getegid)"""
    return from_kgid_munged(current.cred.user_ns, current.cred.egid)


def sys_getresuid(current: Task) -> tuple[int, int, int]:
    """(ruid, euid, suid) in the caller's namespace. Linux: kernel/sys.c:SYSCALL_DEFINE3(getresuid)"""
    c = current.cred
    return (from_kuid_munged(c.user_ns, c.uid), from_kuid_munged(c.user_ns, c.euid),
            from_kuid_munged(c.user_ns, c.suid))


def sys_getresgid(current: Task) -> tuple[int, int, int]:
    """(rgid, egid, sgid) in the caller's namespace. Linux: kernel/sys.c:SYSCALL_DEFINE3(getresgid)"""
    c = current.cred
    return (from_kgid_munged(c.user_ns, c.gid), from_kgid_munged(c.user_ns, c.egid),
            from_kgid_munged(c.user_ns, c.sgid))


# -- uid setters ---------------------------------------------------------------------------------------------

def _kid(current: Task, id_: int, gid: bool, name: str, optional: bool) -> int | None:
    """Translate one uid_t/gid_t argument; None for (uid_t)-1 when `optional`."""
    id_ &= U32
    if optional and id_ == NOCHANGE:
        return None
    ns = current.cred.user_ns
    k = make_kgid(ns, id_) if gid else make_kuid(ns, id_)
    if k == -1:
        raise KernelError(E.EINVAL, explain=f"{name} {id_} has no mapping in the caller's user namespace")
    return k


def _eperm(what: str, cap: str) -> KernelError:
    return KernelError(E.EPERM, explain=f"{what}, and the caller lacks {cap} in its user namespace")


def sys_setuid(current: Task, uid: int) -> None:
    """setuid(2), SysV with saved ids.

    With CAP_SETUID: ruid = suid = euid = fsuid = uid.  Without: uid must be the ruid or suid, and only
    euid and fsuid change.

    Raises:
        KernelError(EINVAL): uid has no mapping.
        KernelError(EPERM): unprivileged and uid is neither ruid nor suid.

    Linux: kernel/sys.c:__sys_setuid()
    """
    kuid = _kid(current, uid, False, "uid", optional=False)
    old = current.cred
    new = prepare_creds(current)
    if ns_capable_setid(current, old.user_ns, CAP_SETUID):
        new = attrs.evolve(new, uid=kuid, suid=kuid)
    elif kuid != old.uid and kuid != new.suid:
        raise _eperm(f"setuid: {uid} is neither the real nor the saved uid", "CAP_SETUID")
    new = attrs.evolve(new, euid=kuid, fsuid=kuid)
    new = security_task_fix_setuid(current, new, old, LSM_SETID_ID)
    commit_creds(current, new)


def sys_setreuid(current: Task, ruid: int, euid: int) -> None:
    """setreuid(2), BSD style.

    Unprivileged: ruid may be set to the old ruid or euid; euid to the old ruid, euid or suid.  suid follows
    the new euid when ruid is set, or euid is set to something other than the old ruid.

    Raises:
        KernelError(EINVAL): an id has no mapping.
        KernelError(EPERM): see above, without CAP_SETUID.

    Linux: kernel/sys.c:__sys_setreuid()
    """
    kruid = _kid(current, ruid, False, "ruid", optional=True)
    keuid = _kid(current, euid, False, "euid", optional=True)
    old = current.cred
    new = prepare_creds(current)
    if kruid is not None:
        new = attrs.evolve(new, uid=kruid)
        if kruid != old.uid and kruid != old.euid and not ns_capable_setid(current, old.user_ns, CAP_SETUID):
            raise _eperm(f"setreuid: ruid {ruid & U32} is neither the real nor the effective uid", "CAP_SETUID")
    if keuid is not None:
        new = attrs.evolve(new, euid=keuid)
        if (keuid not in (old.uid, old.euid, old.suid)
                and not ns_capable_setid(current, old.user_ns, CAP_SETUID)):
            raise _eperm(f"setreuid: euid {euid & U32} is not the real, effective or saved uid", "CAP_SETUID")
    if kruid is not None or (keuid is not None and keuid != old.uid):
        new = attrs.evolve(new, suid=new.euid)
    new = attrs.evolve(new, fsuid=new.euid)
    new = security_task_fix_setuid(current, new, old, LSM_SETID_RE)
    commit_creds(current, new)


def sys_setresuid(current: Task, ruid: int, euid: int, suid: int) -> None:
    """setresuid(2): each id that is not -1 is set; fsuid follows euid.

    A request that changes nothing (euid also equal to fsuid) returns at once.  Unprivileged callers may
    only use ids among the old ruid, euid and suid.

    Raises:
        KernelError(EINVAL): an id has no mapping (checked in the order ruid, euid, suid).
        KernelError(EPERM): a new id outside {ruid, euid, suid} without CAP_SETUID.

    Linux: kernel/sys.c:__sys_setresuid()
    """
    kr = _kid(current, ruid, False, "ruid", optional=True)
    ke = _kid(current, euid, False, "euid", optional=True)
    ks = _kid(current, suid, False, "suid", optional=True)
    old = current.cred
    if ((kr is None or kr == old.uid) and (ke is None or (ke == old.euid and ke == old.fsuid))
            and (ks is None or ks == old.suid)):
        return
    olds = (old.uid, old.euid, old.suid)
    if any(k is not None and k not in olds for k in (kr, ke, ks)) and not ns_capable_setid(current, old.user_ns,
                                                                                            CAP_SETUID):
        raise _eperm("setresuid: a new id is not among the real, effective and saved uids", "CAP_SETUID")
    new = prepare_creds(current)
    if kr is not None:
        new = attrs.evolve(new, uid=kr)
    if ke is not None:
        new = attrs.evolve(new, euid=ke)
    if ks is not None:
        new = attrs.evolve(new, suid=ks)
    new = attrs.evolve(new, fsuid=new.euid)
    new = security_task_fix_setuid(current, new, old, LSM_SETID_RES)
    commit_creds(current, new)


def sys_setfsuid(current: Task, uid: int) -> int:
    """setfsuid(2): returns the previous fsuid and never fails.

    The change happens only when uid is mapped and is the ruid, euid, suid or fsuid, or the caller has
    CAP_SETUID.  commoncap then moves the filesystem capabilities (CAP_FS_SET) with fsuid 0 <-> non-0.

    Linux: kernel/sys.c:__sys_setfsuid()
    """
    old = current.cred
    old_fsuid = from_kuid_munged(old.user_ns, old.fsuid)
    kuid = make_kuid(old.user_ns, uid)
    if kuid == -1:
        return old_fsuid
    if (kuid in (old.uid, old.euid, old.suid, old.fsuid)
            or ns_capable_setid(current, old.user_ns, CAP_SETUID)):
        if kuid != old.fsuid:
            new = attrs.evolve(prepare_creds(current), fsuid=kuid)
            try:
                new = security_task_fix_setuid(current, new, old, LSM_SETID_FS)
            except KernelError:
                return old_fsuid
            commit_creds(current, new)
    return old_fsuid


# -- gid setters ---------------------------------------------------------------------------------------------

def sys_setgid(current: Task, gid: int) -> None:
    """setgid(2): with CAP_SETGID all four gids; otherwise gid must be the rgid or sgid (egid, fsgid change).

    Raises:
        KernelError(EINVAL): gid has no mapping.
        KernelError(EPERM): see above.

    Linux: kernel/sys.c:__sys_setgid()
    """
    kgid = _kid(current, gid, True, "gid", optional=False)
    old = current.cred
    new = prepare_creds(current)
    if ns_capable_setid(current, old.user_ns, CAP_SETGID):
        new = attrs.evolve(new, gid=kgid, egid=kgid, sgid=kgid, fsgid=kgid)
    elif kgid == old.gid or kgid == old.sgid:
        new = attrs.evolve(new, egid=kgid, fsgid=kgid)
    else:
        raise _eperm(f"setgid: {gid} is neither the real nor the saved gid", "CAP_SETGID")
    new = security_task_fix_setgid(current, new, old, LSM_SETID_ID)
    commit_creds(current, new)


def sys_setregid(current: Task, rgid: int, egid: int) -> None:
    """setregid(2), BSD style (see sys_setreuid).

    Linux: kernel/sys.c:__sys_setregid()
    """
    krgid = _kid(current, rgid, True, "rgid", optional=True)
    kegid = _kid(current, egid, True, "egid", optional=True)
    old = current.cred
    new = prepare_creds(current)
    if krgid is not None:
        if krgid == old.gid or krgid == old.egid or ns_capable_setid(current, old.user_ns, CAP_SETGID):
            new = attrs.evolve(new, gid=krgid)
        else:
            raise _eperm(f"setregid: rgid {rgid & U32} is neither the real nor the effective gid", "CAP_SETGID")
    if kegid is not None:
        if kegid in (old.gid, old.egid, old.sgid) or ns_capable_setid(current, old.user_ns, CAP_SETGID):
            new = attrs.evolve(new, egid=kegid)
        else:
            raise _eperm(f"setregid: egid {egid & U32} is not the real, effective or saved gid", "CAP_SETGID")
    if krgid is not None or (kegid is not None and kegid != old.gid):
        new = attrs.evolve(new, sgid=new.egid)
    new = attrs.evolve(new, fsgid=new.egid)
    new = security_task_fix_setgid(current, new, old, LSM_SETID_RE)
    commit_creds(current, new)


def sys_setresgid(current: Task, rgid: int, egid: int, sgid: int) -> None:
    """setresgid(2) (see sys_setresuid).

    Linux: kernel/sys.c:__sys_setresgid()
    """
    kr = _kid(current, rgid, True, "rgid", optional=True)
    ke = _kid(current, egid, True, "egid", optional=True)
    ks = _kid(current, sgid, True, "sgid", optional=True)
    old = current.cred
    if ((kr is None or kr == old.gid) and (ke is None or (ke == old.egid and ke == old.fsgid))
            and (ks is None or ks == old.sgid)):
        return
    olds = (old.gid, old.egid, old.sgid)
    if any(k is not None and k not in olds for k in (kr, ke, ks)) and not ns_capable_setid(current, old.user_ns,
                                                                                            CAP_SETGID):
        raise _eperm("setresgid: a new id is not among the real, effective and saved gids", "CAP_SETGID")
    new = prepare_creds(current)
    if kr is not None:
        new = attrs.evolve(new, gid=kr)
    if ke is not None:
        new = attrs.evolve(new, egid=ke)
    if ks is not None:
        new = attrs.evolve(new, sgid=ks)
    new = attrs.evolve(new, fsgid=new.egid)
    new = security_task_fix_setgid(current, new, old, LSM_SETID_RES)
    commit_creds(current, new)


def sys_setfsgid(current: Task, gid: int) -> int:
    """setfsgid(2): returns the previous fsgid, never fails (see sys_setfsuid).

    Linux: kernel/sys.c:__sys_setfsgid()
    """
    old = current.cred
    old_fsgid = from_kgid_munged(old.user_ns, old.fsgid)
    kgid = make_kgid(old.user_ns, gid)
    if kgid == -1:
        return old_fsgid
    if (kgid in (old.gid, old.egid, old.sgid, old.fsgid)
            or ns_capable_setid(current, old.user_ns, CAP_SETGID)):
        if kgid != old.fsgid:
            new = attrs.evolve(prepare_creds(current), fsgid=kgid)
            try:
                new = security_task_fix_setgid(current, new, old, LSM_SETID_FS)
            except KernelError:
                return old_fsgid
            commit_creds(current, new)
    return old_fsgid


# -- prctl ---------------------------------------------------------------------------------------------------

def sys_prctl(current: Task, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int | str:
    """prctl(2): the LSMs first (capability options, Yama's PR_SET_PTRACER), then the generic options.

    Modelled here: PR_SET/GET_DUMPABLE (0 or 1 only), PR_SET/GET_NAME (comm, 15 bytes; PR_GET_NAME returns
    the name as str -- C copies it to arg2), PR_SET/GET_NO_NEW_PRIVS.  Capability options live in
    commoncap.cap_task_prctl().  Any other option: EINVAL (as an unknown option is in the kernel).

    Raises:
        KernelError(EINVAL): unknown option, bad argument.
        KernelError(EPERM): from the capability options.

    Linux: kernel/sys.c:SYSCALL_DEFINE5(prctl)
    """
    rc = security_task_prctl(current, option, arg2, arg3, arg4, arg5)
    if rc is not None:
        return rc
    a2, a3, a4, a5 = (arg2 & _ULONG if isinstance(arg2, int) else arg2), arg3 & _ULONG, arg4 & _ULONG, arg5 & _ULONG
    if option == PR.PR_GET_DUMPABLE:
        return current.mm.get_dumpable() if current.mm is not None else 0
    if option == PR.PR_SET_DUMPABLE:
        if a2 not in (PR.SUID_DUMP_DISABLE, PR.SUID_DUMP_USER):
            raise KernelError(E.EINVAL, explain="PR_SET_DUMPABLE takes 0 or 1")
        if current.mm is not None:
            current.mm.set_dumpable(a2)
        return 0
    if option == PR.PR_SET_NAME:
        name = a2.encode() if isinstance(a2, str) else bytes(a2) if isinstance(a2, (bytes, bytearray)) else b""
        name = name.split(b"\0", 1)[0][:TASK_COMM_LEN - 1]
        current.comm = name.decode("utf-8", "replace")
        return 0
    if option == PR.PR_GET_NAME:
        return current.comm[:TASK_COMM_LEN - 1]
    if option == PR.PR_SET_NO_NEW_PRIVS:
        if a2 != 1 or a3 or a4 or a5:
            raise KernelError(E.EINVAL, explain="PR_SET_NO_NEW_PRIVS takes exactly (1, 0, 0, 0)")
        current.no_new_privs = True
        return 0
    if option == PR.PR_GET_NO_NEW_PRIVS:
        if a2 or a3 or a4 or a5:
            raise KernelError(E.EINVAL, explain="PR_GET_NO_NEW_PRIVS takes no arguments")
        return int(current.no_new_privs)
    raise KernelError(E.EINVAL, explain=f"prctl option {option} is not modelled (EINVAL, as unknown options)")
