"""The commoncap LSM: POSIX capabilities, the hooks every kernel runs first.

Each hook raises `KernelError` to deny (C: returns a negative errno) and returns normally to allow.
Hooks that modify the proposed credentials return the new `Cred` (C: they write through `struct cred *new`),
as creds are frozen here.

Linux: security/commoncap.c, include/linux/capability.h, include/linux/securebits.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from simkernel.errors import KernelError
from simkernel.uapi import errno as E
from simkernel.uapi.capability import (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
                                       CAP_FSETID, CAP_FULL_SET, CAP_LAST_CAP, CAP_MAC_OVERRIDE, CAP_MKNOD,
                                       CAP_NAMES, CAP_SETPCAP, CAP_SYS_PTRACE, CAP_SYS_RAWIO)

if TYPE_CHECKING:
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task
    from simkernel.kernel.user_namespace import UserNamespace

__all__ = ["CAP_OPT_NONE", "CAP_OPT_NOAUDIT", "CAP_OPT_INSETID", "CAP_FS_SET", "CAP_VALID_MASK",
           "LSM_SETID_ID", "LSM_SETID_RE", "LSM_SETID_RES", "LSM_SETID_FS", "cap_valid", "cap_raised",
           "cap_issubset", "cap_name", "cap_capable", "cap_ptrace_access_check", "cap_capget", "cap_capset",
           "cap_task_fix_setuid", "cap_task_fix_setgid", "cap_task_prctl", "cap_mmap_addr",
           "cap_bprm_creds_from_file", "BprmCreds", "cap_ambient_invariant_ok", "issecure"]

# capability options (include/linux/security.h)
CAP_OPT_NONE = 0x0
CAP_OPT_NOAUDIT = 0x2
CAP_OPT_INSETID = 0x4

# LSM_SETID_* (include/linux/security.h)
LSM_SETID_ID = 1
LSM_SETID_RE = 2
LSM_SETID_RES = 4
LSM_SETID_FS = 8

CAP_VALID_MASK = CAP_FULL_SET
# CAP_FS_SET (include/linux/capability.h): what follows fsuid 0 <-> non-0
CAP_FS_SET = ((1 << CAP_CHOWN) | (1 << CAP_MKNOD) | (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)
              | (1 << CAP_FOWNER) | (1 << CAP_FSETID) | (1 << CAP_MAC_OVERRIDE))


def cap_valid(cap: int) -> bool:
    """cap_valid(): 0 <= cap <= CAP_LAST_CAP. Linux: include/linux/capability.h"""
    return 0 <= cap <= CAP_LAST_CAP


def cap_raised(capset: int, cap: int) -> bool:
    """cap_raised(). Linux: include/linux/capability.h"""
    return bool(capset >> cap & 1)


def cap_issubset(a: int, b: int) -> bool:
    """cap_issubset(a, set): every capability of `a` is in `b`. Linux: include/linux/capability.h"""
    return a & ~b == 0


def cap_name(cap: int) -> str:
    return CAP_NAMES.get(cap, f"cap_{cap}").upper()


def issecure(cred: Cred, bit: int) -> bool:
    """issecure(X) on `cred` (C reads current_cred()->securebits). Linux: include/linux/securebits.h"""
    return bool(cred.securebits >> bit & 1)


def _capset_names(mask: int) -> str:
    return ",".join(cap_name(c).lower() for c in range(CAP_LAST_CAP + 1) if mask >> c & 1) or "none"


def cap_capable(cred: Cred, target_ns: UserNamespace, cap: int, opts: int = CAP_OPT_NONE) -> None:
    """Does `cred` hold `cap` over `target_ns`?

    Walks from `target_ns` up towards the cred's namespace: in its own namespace the cred needs `cap` in
    cap_effective; the owner (euid) of a child namespace of the cred's namespace has every capability in it
    and in all its descendants; a namespace that is not below the cred's never grants anything.

    Raises:
        KernelError(EPERM): the capability is not held (explain names the deciding step).

    Linux: security/commoncap.c:cap_capable() (cap_capable_helper())
    """
    cred_ns = cred.user_ns
    ns = target_ns
    while True:
        if ns is cred_ns:
            if cap_raised(cred.cap_effective, cap):
                return
            raise KernelError(E.EPERM, explain=f"{cap_name(cap)} is not in the effective set")
        if ns.level <= cred_ns.level:
            raise KernelError(E.EPERM, explain=f"{cap_name(cap)}: the target user namespace is not the caller's "
                                               "nor one of its descendants")
        if ns.parent is cred_ns and ns.owner == cred.euid:
            return
        ns = ns.parent  # type: ignore[assignment]


def cap_ptrace_access_check(current: Task, child: Task, mode: int) -> None:
    """commoncap's ptrace check: the tracer must hold every capability the target is permitted.

    Same user namespace and child's cap_permitted ⊆ caller's cap_effective (PTRACE_MODE_FSCREDS) or
    cap_permitted (PTRACE_MODE_REALCREDS); otherwise CAP_SYS_PTRACE in the child's user namespace.

    Raises:
        KernelError(EPERM): neither holds.

    Linux: security/commoncap.c:cap_ptrace_access_check()
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.kernel.ptrace import PTRACE_MODE_FSCREDS
    cred = current.cred
    child_cred = child.real_cred
    if mode & PTRACE_MODE_FSCREDS:
        caller_caps, which = cred.cap_effective, "effective"
    else:
        caller_caps, which = cred.cap_permitted, "permitted"
    if cred.user_ns is child_cred.user_ns and cap_issubset(child_cred.cap_permitted, caller_caps):
        return
    if ns_capable(current, child_cred.user_ns, CAP_SYS_PTRACE):
        return
    if cred.user_ns is not child_cred.user_ns:
        why = "the target is in another user namespace"
    else:
        why = (f"the target is permitted {_capset_names(child_cred.cap_permitted & ~caller_caps)} which the "
               f"caller's {which} set lacks")
    raise KernelError(E.EPERM, explain=f"commoncap: {why}, and the caller lacks CAP_SYS_PTRACE over the target's "
                                       "user namespace")


def cap_capget(target: Task) -> tuple[int, int, int]:
    """The target's (effective, permitted, inheritable). Linux: security/commoncap.c:cap_capget()"""
    cred = target.real_cred
    return cred.cap_effective, cred.cap_permitted, cred.cap_inheritable


def _cap_inh_is_capped(old: Cred) -> bool:
    """Inheritable is limited to old inheritable|permitted unless CAP_SETPCAP in the own namespace.

    Linux: security/commoncap.c:cap_inh_is_capped()
    """
    try:
        cap_capable(old, old.user_ns, CAP_SETPCAP, CAP_OPT_NONE)
    except KernelError:
        return True
    return False


def cap_ambient_invariant_ok(cred: Cred) -> bool:
    """Ambient ⊆ permitted ∩ inheritable. Linux: security/commoncap.c:cap_ambient_invariant_ok()"""
    return cap_issubset(cred.cap_ambient, cred.cap_permitted & cred.cap_inheritable)


def cap_capset(new: Cred, old: Cred, effective: int, inheritable: int, permitted: int) -> Cred:
    """Validate capset(2)'s three sets against `old` and return `new` carrying them.

    Raises (in this order):
        KernelError(EPERM): new inheritable ⊄ old inheritable|permitted without CAP_SETPCAP;
            new inheritable ⊄ old inheritable|bounding set; new permitted ⊄ old permitted;
            new effective ⊄ new permitted.

    Ambient bits no longer both permitted and inheritable are dropped.

    Linux: security/commoncap.c:cap_capset()
    """
    if _cap_inh_is_capped(old) and not cap_issubset(inheritable, old.cap_inheritable | old.cap_permitted):
        raise KernelError(E.EPERM, explain="capset: new inheritable exceeds old inheritable|permitted and the "
                                           "caller lacks CAP_SETPCAP")
    if not cap_issubset(inheritable, old.cap_inheritable | old.cap_bset):
        raise KernelError(E.EPERM, explain="capset: new inheritable exceeds old inheritable|bounding set")
    if not cap_issubset(permitted, old.cap_permitted):
        raise KernelError(E.EPERM, explain="capset: new permitted is not a subset of the old permitted set")
    if not cap_issubset(effective, permitted):
        raise KernelError(E.EPERM, explain="capset: new effective is not a subset of the new permitted set")
    new = attrs.evolve(new, cap_effective=effective, cap_inheritable=inheritable, cap_permitted=permitted,
                       cap_ambient=new.cap_ambient & permitted & inheritable)
    if not cap_ambient_invariant_ok(new):  # pragma: no cover - WARN_ON in the kernel
        raise KernelError(E.EINVAL, explain="capset: ambient invariant broken")
    return new
