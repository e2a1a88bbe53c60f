"""Capability checks (capable, ns_capable, ...) and the capget/capset system calls.

`ns_capable(current, ns, cap)` is the question almost every permission check asks: does the *subjective*
credential of `current` hold `cap` over user namespace `ns`?  The answer comes from the LSM hooks
(security/lsm.py -> commoncap's cap_capable, which walks the namespace tree).  `has_ns_capability()` asks
the same about another task's *objective* credential.

Linux: kernel/capability.c, include/linux/capability.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.security.commoncap import (CAP_OPT_INSETID, CAP_OPT_NOAUDIT, CAP_OPT_NONE, CAP_VALID_MASK,
                                          cap_valid)
from simkernel.kernel.task import PF_SUPERPRIV
from simkernel.uapi import errno as E
from simkernel.uapi.capability import CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN

if TYPE_CHECKING:
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task
    from simkernel.kernel.user_namespace import UserNamespace
    from simkernel.machine import Kernel

__all__ = ["capable", "ns_capable", "ns_capable_noaudit", "ns_capable_setid", "has_ns_capability",
           "has_ns_capability_noaudit", "has_capability", "has_capability_noaudit", "file_ns_capable",
           "privileged_wrt_inode_uidgid", "capable_wrt_inode_uidgid", "checkpoint_restore_ns_capable",
           "ptracer_capable", "perfmon_capable", "cred_capable", "sys_capget", "sys_capset"]


def cred_capable(kernel: Kernel, cred: Cred, ns: UserNamespace, cap: int, opts: int = CAP_OPT_NONE) -> bool:
    """security_capable(cred, ns, cap, opts) == 0, as a predicate (no PF_SUPERPRIV side effect)."""
    from simkernel.security.lsm import security_capable
    try:
        security_capable(kernel, cred, ns, cap, opts)
    except KernelError:
        return False
    return True


def _ns_capable_common(current: Task, ns: UserNamespace, cap: int, opts: int) -> bool:
    """Linux: kernel/capability.c:ns_capable_common()"""
    if not cap_valid(cap):
        raise AssertionError(f"capable() called with invalid cap={cap}")  # BUG() in the kernel
    if cred_capable(current.kernel, current.cred, ns, cap, opts):
        current.flags |= PF_SUPERPRIV
        return True
    return False


def ns_capable(current: Task, ns: UserNamespace, cap: int) -> bool:
    """Does current's subjective cred hold `cap` over `ns`? Sets PF_SUPERPRIV when it does.

    Linux: kernel/capability.c:ns_capable()
    """
    return _ns_capable_common(current, ns, cap, CAP_OPT_NONE)


def ns_capable_noaudit(current: Task, ns: UserNamespace, cap: int) -> bool:
    """ns_capable() without an audit record. Linux: kernel/capability.c:ns_capable_noaudit()"""
    return _ns_capable_common(current, ns, cap, CAP_OPT_NOAUDIT)


def ns_capable_setid(current: Task, ns: UserNamespace, cap: int) -> bool:
    """ns_capable() for set*id paths (CAP_OPT_INSETID, seen by SafeSetID). Linux: kernel/capability.c"""
    return _ns_capable_common(current, ns, cap, CAP_OPT_INSETID)


def capable(current: Task, cap: int) -> bool:
    """ns_capable(&init_user_ns, cap). Linux: kernel/capability.c:capable()"""
    return ns_capable(current, current.kernel.init_user_ns, cap)


def has_ns_capability(t: Task, ns: UserNamespace, cap: int) -> bool:
    """Does task `t`'s objective cred (real_cred) hold `cap` over `ns`? No PF_SUPERPRIV.

    Linux: kernel/capability.c:has_ns_capability()
    """
    return cred_capable(t.kernel, t.real_cred, ns, cap, CAP_OPT_NONE)


def has_capability(t: Task, cap: int) -> bool:
    """Linux: kernel/capability.c:has_capability()"""
    return has_ns_capability(t, t.kernel.init_user_ns, cap)


def has_ns_capability_noaudit(t: Task, ns: UserNamespace, cap: int) -> bool:
    """Linux: kernel/capability.c:has_ns_capability_noaudit()"""
    return cred_capable(t.kernel, t.real_cred, ns, cap, CAP_OPT_NOAUDIT)


def has_capability_noaudit(t: Task, cap: int) -> bool:
    """Linux: kernel/capability.c:has_capability_noaudit()"""
    return has_ns_capability_noaudit(t, t.kernel.init_user_ns, cap)


def file_ns_capable(kernel: Kernel, file: Any, ns: UserNamespace, cap: int) -> bool:
    """Did the opener of `file` (file.f_cred) hold `cap` over `ns`?

    Linux: kernel/capability.c:file_ns_capable()
    """
    return cred_capable(kernel, file.f_cred, ns, cap, CAP_OPT_NONE)


def privileged_wrt_inode_uidgid(ns: UserNamespace, inode: Any) -> bool:
    """Both the inode's owner and group have a mapping in `ns`.

    Simplification: no idmapped mounts (the idmap is always nop_mnt_idmap).

    Linux: kernel/capability.c:privileged_wrt_inode_uidgid()
    """
    from simkernel.kernel.user_namespace import kgid_has_mapping, kuid_has_mapping
    return kuid_has_mapping(ns, inode.i_uid) and kgid_has_mapping(ns, inode.i_gid)


def capable_wrt_inode_uidgid(current: Task, inode: Any, cap: int) -> bool:
    """`cap` in current's own user namespace, and the inode's uid and gid are mapped there.

    Linux: kernel/capability.c:capable_wrt_inode_uidgid()
    """
    ns = current.cred.user_ns
    return ns_capable(current, ns, cap) and privileged_wrt_inode_uidgid(ns, inode)


def checkpoint_restore_ns_capable(current: Task, ns: UserNamespace) -> bool:
    """CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN over `ns` (since v5.9).

    Linux: include/linux/capability.h:checkpoint_restore_ns_capable()
    """
    return ns_capable(current, ns, CAP_CHECKPOINT_RESTORE) or ns_capable(current, ns, CAP_SYS_ADMIN)


def perfmon_capable(current: Task) -> bool:
    """CAP_PERFMON or CAP_SYS_ADMIN over the initial namespace (mm_access's third rule for READ).

    Linux: include/linux/capability.h:perfmon_capable()
    """
    from simkernel.uapi.capability import CAP_PERFMON
    return capable(current, CAP_PERFMON) or capable(current, CAP_SYS_ADMIN)


def ptracer_capable(current: Task, ns: UserNamespace) -> bool:
    """Not ptraced, or the tracer held CAP_SYS_PTRACE over `ns` when it attached.

    Simplification: the tracer's current objective cred stands in for the ptracer_cred saved at attach.

    Linux: kernel/capability.c:ptracer_capable()
    """
    from simkernel.uapi.capability import CAP_SYS_PTRACE
    tracer = current.ptrace_parent
    if tracer is None:
        return True
    return cred_capable(current.kernel, tracer.real_cred, ns, CAP_SYS_PTRACE, CAP_OPT_NOAUDIT)


def _cap_get_target(current: Task, pid: int) -> Task:
    """Linux: kernel/capability.c:cap_get_target_pid()"""
    from simkernel.kernel.sys import task_pid_vnr, find_task_by_vpid
    if pid and pid != task_pid_vnr(current, current):
        target = find_task_by_vpid(current, pid)
        if target is None:
            raise KernelError(E.ESRCH, explain=f"capget: no task with pid {pid}")
        return target
    return current


def sys_capget(current: Task, pid: int) -> tuple[int, int, int]:
    """capget(2) with a _LINUX_CAPABILITY_VERSION_3 header: (effective, permitted, inheritable).

    Raises:
        KernelError(EINVAL): pid < 0.
        KernelError(ESRCH): no such task.

    Linux: kernel/capability.c:SYSCALL_DEFINE2(capget)
    """
    from simkernel.security.lsm import security_capget
    if pid < 0:
        raise KernelError(E.EINVAL, explain="capget: negative pid")
    return security_capget(_cap_get_target(current, pid))


def sys_capset(current: Task, pid: int, effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) with a _LINUX_CAPABILITY_VERSION_3 header: set current's three sets.

    Bits above CAP_LAST_CAP are dropped silently (mk_kernel_cap() masks with CAP_VALID_MASK).

    Raises:
        KernelError(EPERM): pid names another task ("may only affect current now"), or cap_capset refuses.

    Linux: kernel/capability.c:SYSCALL_DEFINE2(capset)
    """
    from simkernel.kernel.cred import commit_creds, prepare_creds
    from simkernel.kernel.sys import task_pid_vnr
    from simkernel.security.lsm import security_capset
    if pid != 0 and pid != task_pid_vnr(current, current):
        raise KernelError(E.EPERM, explain="capset: may only change the calling task")
    mask = CAP_VALID_MASK
    effective, permitted, inheritable = effective & mask, permitted & mask, inheritable & mask
    old = current.cred
    new = security_capset(current, prepare_creds(current), old, effective, inheritable, permitted)
    commit_creds(current, new)
