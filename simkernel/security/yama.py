"""Yama: restrict ptrace attach by relationship (kernel.yama.ptrace_scope).

Only consulted when the kernel is built with Yama (`Kernel(yama=True)`; this project's host kernel has
none).  Acts on PTRACE_MODE_ATTACH only, so procfs reads (PTRACE_MODE_READ) never see it.

Scopes: 0 classic ptrace permissions; 1 restricted: the target must be a descendant of the tracer, or
have named it with PR_SET_PTRACER, or the tracer has CAP_SYS_PTRACE over the target's user namespace;
2 admin-only: CAP_SYS_PTRACE over the target's namespace; 3 no attach at all.

A PR_SET_PTRACER exception is kept on the tracee's group leader (`task.ptracer_allowed`): None (none),
YAMA_PTRACER_ANY, or the tracer Task.  Simplification: instead of a global relation list, an exception
whose tracer has been reaped counts as gone (yama_task_free() deletes it in the kernel).

Linux: security/yama/yama_lsm.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import CAP_SYS_PTRACE

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["YAMA_SCOPE_DISABLED", "YAMA_SCOPE_RELATIONAL", "YAMA_SCOPE_CAPABILITY", "YAMA_SCOPE_NO_ATTACH",
           "YAMA_PTRACER_ANY", "yama_ptrace_access_check", "yama_task_prctl", "task_is_descendant",
           "ptracer_exception_found"]

YAMA_SCOPE_DISABLED = 0
YAMA_SCOPE_RELATIONAL = 1
YAMA_SCOPE_CAPABILITY = 2
YAMA_SCOPE_NO_ATTACH = 3
YAMA_PTRACER_ANY = "any"


def _leader(t: Task) -> Task:
    return t.group_leader if t.group_leader is not None else t


def _reaped(t: Task) -> bool:
    from simkernel.kernel.task import EXIT_DEAD
    return t.state == EXIT_DEAD


def task_is_descendant(parent: Task | None, child: Task | None) -> bool:
    """Is `child`'s process a descendant of (or the same as) `parent`'s? Linux: security/yama/yama_lsm.c"""
    if parent is None or child is None:
        return False
    parent = _leader(parent)
    walker: Task | None = child
    while walker is not None:
        walker = _leader(walker)
        if walker is parent:
            return True
        walker = walker.real_parent
    return False


def ptracer_exception_found(tracer: Task, tracee: Task) -> bool:
    """Already tracing the tracee, or the tracee named the tracer (or an ancestor of it, or anyone) with
    PR_SET_PTRACER. Linux: security/yama/yama_lsm.c:ptracer_exception_found()"""
    from simkernel.kernel.task import same_thread_group
    parent = tracee.ptrace_parent
    if parent is not None and same_thread_group(parent, tracer):
        return True
    allowed = _leader(tracee).ptracer_allowed
    if allowed is None:
        return False
    if allowed == YAMA_PTRACER_ANY:
        return True
    if _reaped(allowed):
        return False
    return task_is_descendant(allowed, tracer)


def yama_ptrace_access_check(current: Task, child: Task, mode: int) -> None:
    """Yama's ptrace_access_check hook.

    Raises:
        KernelError(EPERM): per the scope in kernel.yama.ptrace_scope (ATTACH mode only).

    Linux: security/yama/yama_lsm.c:yama_ptrace_access_check()
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.kernel.ptrace import PTRACE_MODE_ATTACH
    if not mode & PTRACE_MODE_ATTACH:
        return
    scope = current.kernel.sysctl["kernel.yama.ptrace_scope"]
    if scope == YAMA_SCOPE_DISABLED:
        return
    if scope == YAMA_SCOPE_RELATIONAL:
        if _reaped(child):
            raise KernelError(E.EPERM, explain="yama: the target is gone")
        if (not task_is_descendant(current, child) and not ptracer_exception_found(current, child)
                and not ns_capable(current, child.real_cred.user_ns, CAP_SYS_PTRACE)):
            raise KernelError(E.EPERM, explain="yama ptrace_scope=1: the target is not a descendant, did not "
                                               "name the caller with PR_SET_PTRACER, and the caller lacks "
                                               "CAP_SYS_PTRACE")
        return
    if scope == YAMA_SCOPE_CAPABILITY:
        if not ns_capable(current, child.real_cred.user_ns, CAP_SYS_PTRACE):
            raise KernelError(E.EPERM, explain="yama ptrace_scope=2: attaching needs CAP_SYS_PTRACE")
        return
    raise KernelError(E.EPERM, explain=f"yama ptrace_scope={scope}: no attach at all")


def yama_task_prctl(current: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int | None:
    """PR_SET_PTRACER: 0 clears the exception, PR_SET_PTRACER_ANY (or -1) allows anyone, a pid names the
    tracer (looked up in current's pid namespace).  Other options: None (not Yama's).

    Raises:
        KernelError(EINVAL): no task with that pid.

    Linux: security/yama/yama_lsm.c:yama_task_prctl()
    """
    from simkernel.kernel.sys import find_task_by_vpid
    if option != PR.PR_SET_PTRACER:
        return None
    myself = _leader(current)
    a2 = arg2 & 0xFFFFFFFFFFFFFFFF
    if a2 == 0:
        myself.ptracer_allowed = None
        return 0
    if a2 == PR.PR_SET_PTRACER_ANY or a2 & 0xFFFFFFFF == 0xFFFFFFFF:
        myself.ptracer_allowed = YAMA_PTRACER_ANY
        return 0
    nr = a2 & 0xFFFFFFFF                          # find_get_task_by_vpid() takes a pid_t
    tracer = find_task_by_vpid(current, nr) if nr < 2 ** 31 else None
    if tracer is None:
        raise KernelError(E.EINVAL, explain=f"PR_SET_PTRACER: no task with pid {arg2}")
    myself.ptracer_allowed = tracer
    return 0
