"""The commoncap LSM: POSIX capabilities, the hooks every kernel runs first.

Each hook raises `KernelError` to deny (C: returns a negative errno) and returns normally to allow.
Hooks that modify the proposed credentials return the new `Cred` (C: they write through `struct cred *new`),
as creds are frozen here.

Linux: security/commoncap.c, include/linux/capability.h, include/linux/securebits.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import frozen

import attrs

from simkernel.errors import KernelError
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import (CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER,
                                       CAP_FSETID, CAP_FULL_SET, CAP_LAST_CAP, CAP_LINUX_IMMUTABLE,
                                       CAP_MAC_OVERRIDE, CAP_MKNOD, CAP_NAMES, CAP_SETPCAP, CAP_SETUID,
                                       CAP_SYS_PTRACE, CAP_SYS_RAWIO)

if TYPE_CHECKING:
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task
    from simkernel.kernel.user_namespace import UserNamespace

__all__ = ["CAP_OPT_NONE", "CAP_OPT_NOAUDIT", "CAP_OPT_INSETID", "CAP_FS_SET", "CAP_VALID_MASK",
           "LSM_SETID_ID", "LSM_SETID_RE", "LSM_SETID_RES", "LSM_SETID_FS", "cap_valid", "cap_raised",
           "cap_issubset", "cap_name", "cap_capable", "cap_ptrace_access_check", "cap_capget", "cap_capset",
           "cap_task_fix_setuid", "cap_task_fix_setgid", "cap_task_prctl", "cap_mmap_addr",
           "cap_bprm_creds_from_file", "BprmResult", "cap_ambient_invariant_ok", "issecure", "SECURE_ALL_BITS",
           "SECURE_ALL_LOCKS", "SECURE_ALL_UNPRIVILEGED"]

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
# CAP_FS_SET (include/linux/capability.h): what follows fsuid 0 <-> non-0.  Observed on 6.18: setfsuid(1000)
# as root clears chown, dac_override, dac_read_search, fowner, fsetid, linux_immutable, mknod, mac_override.
CAP_FS_SET = ((1 << CAP_CHOWN) | (1 << CAP_MKNOD) | (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)
              | (1 << CAP_FOWNER) | (1 << CAP_FSETID) | (1 << CAP_LINUX_IMMUTABLE) | (1 << CAP_MAC_OVERRIDE))

# securebits (include/uapi/linux/securebits.h); bits 8-11 since v6.14
SECURE_NOROOT = 0
SECURE_NO_SETUID_FIXUP = 2
SECURE_KEEP_CAPS = 4
SECURE_KEEP_CAPS_LOCKED = 5
SECURE_NO_CAP_AMBIENT_RAISE = 6
SECURE_EXEC_RESTRICT_FILE = 8
SECURE_EXEC_DENY_INTERACTIVE = 10
SECURE_ALL_BITS = ((1 << SECURE_NOROOT) | (1 << SECURE_NO_SETUID_FIXUP) | (1 << SECURE_KEEP_CAPS)
                   | (1 << SECURE_NO_CAP_AMBIENT_RAISE) | (1 << SECURE_EXEC_RESTRICT_FILE)
                   | (1 << SECURE_EXEC_DENY_INTERACTIVE))
SECURE_ALL_LOCKS = SECURE_ALL_BITS << 1
SECURE_ALL_UNPRIVILEGED = (1 << SECURE_EXEC_RESTRICT_FILE) | (1 << SECURE_EXEC_DENY_INTERACTIVE)


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


def cap_capable(cred: Cred, target_ns: UserNamespace, cap: int, opts: int = CAP_OPT_NONE) -> int:
    """Does `cred` hold `cap` over `target_ns`?

    Walks from `target_ns` up towards the cred's namespace: in its own namespace the cred needs `cap` in
    cap_effective; the owner (euid) of a child namespace of the cred's namespace has every capability in it
    and in all its descendants; a namespace that is not below the cred's never grants anything.

    Returns 0 when held (as C does); never returns a negative value.

    Raises:
        KernelError(EPERM): the capability is not held (explain names the deciding step).

    Linux: security/commoncap.c:cap_capable() (cap_capable_helper())
    """
    cred_ns = cred.user_ns
    ns = target_ns
    while True:
        if ns is cred_ns:
            if cap_raised(cred.cap_effective, cap):
                return 0
            raise KernelError(E.EPERM, explain=f"{cap_name(cap)} is not in the effective set")
        if ns.level <= cred_ns.level:
            raise KernelError(E.EPERM, explain=f"{cap_name(cap)}: the target user namespace is not the caller's "
                                               "nor one of its descendants")
        if ns.parent is cred_ns and ns.owner == cred.euid:
            return 0
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


# -- uid changes ---------------------------------------------------------------------------------------------

def _cap_emulate_setxuid(new: Cred, old: Cred) -> Cred:
    """Capabilities follow [res]uid changes the way root privilege did.

    * Leaving root entirely (some of ruid/euid/suid was root, none is now): permitted and effective are
      cleared unless SECURE_KEEP_CAPS; ambient is always cleared.
    * euid root -> non-root: effective cleared.  euid non-root -> root: effective = permitted.
    "Root" is the root of the cred's user namespace (make_kuid(old->user_ns, 0)).

    Linux: security/commoncap.c:cap_emulate_setxuid()
    """
    from simkernel.kernel.user_namespace import make_kuid
    root = make_kuid(old.user_ns, 0)
    eff, prm, amb = new.cap_effective, new.cap_permitted, new.cap_ambient
    if (root in (old.uid, old.euid, old.suid)) and root not in (new.uid, new.euid, new.suid):
        if not issecure(old, SECURE_KEEP_CAPS):
            prm = eff = 0
        amb = 0
    if old.euid == root and new.euid != root:
        eff = 0
    if old.euid != root and new.euid == root:
        eff = prm
    return attrs.evolve(new, cap_effective=eff, cap_permitted=prm, cap_ambient=amb)


def cap_task_fix_setuid(new: Cred, old: Cred, flags: int) -> Cred:
    """Adjust capabilities after a uid change; returns the adjusted `new`.

    LSM_SETID_ID/RE/RES: cap_emulate_setxuid().  LSM_SETID_FS: fsuid root -> non-root drops CAP_FS_SET
    from effective, non-root -> root raises it (limited to permitted).  Nothing when
    SECURE_NO_SETUID_FIXUP is set.

    Raises:
        KernelError(EINVAL): unknown flags.

    Linux: security/commoncap.c:cap_task_fix_setuid()
    """
    from simkernel.kernel.user_namespace import make_kuid
    if flags in (LSM_SETID_RE, LSM_SETID_ID, LSM_SETID_RES):
        if not issecure(old, SECURE_NO_SETUID_FIXUP):
            new = _cap_emulate_setxuid(new, old)
        return new
    if flags == LSM_SETID_FS:
        if not issecure(old, SECURE_NO_SETUID_FIXUP):
            root = make_kuid(old.user_ns, 0)
            if old.fsuid == root and new.fsuid != root:
                new = attrs.evolve(new, cap_effective=new.cap_effective & ~CAP_FS_SET)
            if old.fsuid != root and new.fsuid == root:
                new = attrs.evolve(new, cap_effective=new.cap_effective | (new.cap_permitted & CAP_FS_SET))
        return new
    raise KernelError(E.EINVAL, explain=f"cap_task_fix_setuid: bad flags {flags}")


def cap_task_fix_setgid(new: Cred, old: Cred, flags: int) -> Cred:
    """commoncap has no gid hook: gid changes never move capabilities."""
    return new


# -- prctl ---------------------------------------------------------------------------------------------------

_ULONG = 0xFFFFFFFFFFFFFFFF
_CAP_PRCTLS = frozenset((PR.PR_CAPBSET_READ, PR.PR_CAPBSET_DROP, PR.PR_SET_SECUREBITS, PR.PR_GET_SECUREBITS,
                         PR.PR_GET_KEEPCAPS, PR.PR_SET_KEEPCAPS, PR.PR_CAP_AMBIENT))


def _cap_prctl_drop(current: Task, cap: int) -> int:
    """PR_CAPBSET_DROP: CAP_SETPCAP in the own namespace first, then a valid cap.

    Linux: security/commoncap.c:cap_prctl_drop()
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.kernel.cred import commit_creds, prepare_creds
    if not ns_capable(current, current.cred.user_ns, CAP_SETPCAP):
        raise KernelError(E.EPERM, explain="PR_CAPBSET_DROP needs CAP_SETPCAP")
    if not cap_valid(cap):
        raise KernelError(E.EINVAL, explain=f"PR_CAPBSET_DROP: {cap} is not a capability")
    new = prepare_creds(current)
    return commit_creds(current, attrs.evolve(new, cap_bset=new.cap_bset & ~(1 << cap)))


def cap_task_prctl(current: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int | None:
    """The capability prctls; None for every other option (C: -ENOSYS, "not mine").

    PR_CAPBSET_READ/DROP, PR_SET/GET_SECUREBITS, PR_SET/GET_KEEPCAPS, PR_CAP_AMBIENT.  Arguments are
    unsigned long as in C (a negative Python int wraps).

    Raises:
        KernelError(EINVAL): an invalid capability number or sub-option, stray non-zero arguments.
        KernelError(EPERM): a locked or unsupported securebit, missing CAP_SETPCAP, SECURE_KEEP_CAPS_LOCKED,
            ambient raise of a cap not in permitted and inheritable or under SECURE_NO_CAP_AMBIENT_RAISE.

    Linux: security/commoncap.c:cap_task_prctl()
    """
    from simkernel.kernel.cred import commit_creds, prepare_creds
    if option not in _CAP_PRCTLS:
        return None
    arg2, arg3, arg4, arg5 = arg2 & _ULONG, arg3 & _ULONG, arg4 & _ULONG, arg5 & _ULONG
    old = current.cred
    if option == PR.PR_CAPBSET_READ:
        if not cap_valid(arg2):
            raise KernelError(E.EINVAL, explain=f"PR_CAPBSET_READ: {arg2} is not a capability")
        return int(cap_raised(old.cap_bset, arg2))
    if option == PR.PR_CAPBSET_DROP:
        return _cap_prctl_drop(current, arg2)
    if option == PR.PR_SET_SECUREBITS:
        sb = old.securebits
        if ((sb & SECURE_ALL_LOCKS) >> 1) & (sb ^ arg2):
            raise KernelError(E.EPERM, explain="PR_SET_SECUREBITS: a locked bit would change")
        if sb & SECURE_ALL_LOCKS & ~arg2:
            raise KernelError(E.EPERM, explain="PR_SET_SECUREBITS: locks cannot be released")
        if arg2 & ~(SECURE_ALL_LOCKS | SECURE_ALL_BITS):
            raise KernelError(E.EPERM, explain="PR_SET_SECUREBITS: unsupported bit")
        try:
            cap_capable(old, old.user_ns, CAP_SETPCAP, CAP_OPT_NONE)
        except KernelError:
            changed = sb ^ arg2
            if not changed:
                raise KernelError(E.EPERM, explain="PR_SET_SECUREBITS without CAP_SETPCAP (even a no-op)") from None
            if changed & ~(SECURE_ALL_UNPRIVILEGED | SECURE_ALL_UNPRIVILEGED << 1):
                raise KernelError(E.EPERM, explain="PR_SET_SECUREBITS: changing privileged bits needs "
                                                   "CAP_SETPCAP") from None
        return commit_creds(current, attrs.evolve(prepare_creds(current), securebits=arg2))
    if option == PR.PR_GET_SECUREBITS:
        return old.securebits
    if option == PR.PR_GET_KEEPCAPS:
        return int(issecure(old, SECURE_KEEP_CAPS))
    if option == PR.PR_SET_KEEPCAPS:
        if arg2 > 1:
            raise KernelError(E.EINVAL, explain="PR_SET_KEEPCAPS takes 0 or 1")
        if issecure(old, SECURE_KEEP_CAPS_LOCKED):
            raise KernelError(E.EPERM, explain="PR_SET_KEEPCAPS: SECURE_KEEP_CAPS is locked")
        new = prepare_creds(current)
        bits = new.securebits | (1 << SECURE_KEEP_CAPS) if arg2 else new.securebits & ~(1 << SECURE_KEEP_CAPS)
        return commit_creds(current, attrs.evolve(new, securebits=bits))
    if option == PR.PR_CAP_AMBIENT:
        if arg2 == PR.PR_CAP_AMBIENT_CLEAR_ALL:
            if arg3 | arg4 | arg5:
                raise KernelError(E.EINVAL, explain="PR_CAP_AMBIENT_CLEAR_ALL takes no further arguments")
            return commit_creds(current, attrs.evolve(prepare_creds(current), cap_ambient=0))
        if not cap_valid(arg3) or arg4 or arg5:
            raise KernelError(E.EINVAL, explain="PR_CAP_AMBIENT: invalid capability or stray arguments")
        if arg2 == PR.PR_CAP_AMBIENT_IS_SET:
            return int(cap_raised(old.cap_ambient, arg3))
        if arg2 not in (PR.PR_CAP_AMBIENT_RAISE, PR.PR_CAP_AMBIENT_LOWER):
            raise KernelError(E.EINVAL, explain=f"PR_CAP_AMBIENT: unknown sub-option {arg2}")
        if arg2 == PR.PR_CAP_AMBIENT_RAISE:
            if not cap_raised(old.cap_permitted, arg3) or not cap_raised(old.cap_inheritable, arg3):
                raise KernelError(E.EPERM, explain=f"ambient raise of {cap_name(arg3)} needs it in both permitted "
                                                   "and inheritable")
            if issecure(old, SECURE_NO_CAP_AMBIENT_RAISE):
                raise KernelError(E.EPERM, explain="ambient raise forbidden by SECURE_NO_CAP_AMBIENT_RAISE")
        new = prepare_creds(current)
        amb = new.cap_ambient | (1 << arg3) if arg2 == PR.PR_CAP_AMBIENT_RAISE else new.cap_ambient & ~(1 << arg3)
        return commit_creds(current, attrs.evolve(new, cap_ambient=amb))
    raise AssertionError(option)  # pragma: no cover - _CAP_PRCTLS lists exactly the options above


# -- mmap ----------------------------------------------------------------------------------------------------

def cap_mmap_addr(current: Task, addr: int) -> None:
    """Mapping below vm.mmap_min_addr needs CAP_SYS_RAWIO over the initial namespace.

    Raises:
        KernelError(EPERM): addr < mmap_min_addr without CAP_SYS_RAWIO.

    Linux: security/commoncap.c:cap_mmap_addr()
    """
    from simkernel.kernel.task import PF_SUPERPRIV
    min_addr = current.kernel.sysctl["vm.mmap_min_addr"]
    if addr < min_addr:
        try:
            cap_capable(current.cred, current.kernel.init_user_ns, CAP_SYS_RAWIO, CAP_OPT_NONE)
        except KernelError:
            raise KernelError(E.EPERM, explain=f"address {addr:#x} is below vm.mmap_min_addr ({min_addr:#x}) and "
                                               "the caller lacks CAP_SYS_RAWIO") from None
        current.flags |= PF_SUPERPRIV


# -- exec ----------------------------------------------------------------------------------------------------

LSM_UNSAFE_SHARE = 1
LSM_UNSAFE_PTRACE = 2
LSM_UNSAFE_NO_NEW_PRIVS = 4


@frozen
class BprmResult:
    """What cap_bprm_creds_from_file() decides: the new creds and the linux_binprm flags it sets."""

    cred: Cred
    cap_effective: bool      # bprm->cap_effective: pE' = pP'
    secureexec: bool         # AT_SECURE for the new program
    per_clear: bool          # PER_CLEAR_ON_SETID (dangerous personality flags cleared)


def cap_bprm_creds_from_file(current: Task, old: Cred, new: Cred, *, file_caps: tuple[int, int, bool] | None = None,
                             nosuid: bool = False, unsafe: int = 0) -> BprmResult:
    """Recalculate capabilities for execve() (a pure function of its arguments).

    `new` is bprm->cred with euid/egid already set from the file's set-uid/set-gid bits (bprm_fill_uid);
    `file_caps` is (fP, fI, fE) from security.capability, None when the file has none; `unsafe` holds
    LSM_UNSAFE_* (ptraced, shared fs, no_new_privs).

    The rules, with root = root of new.user_ns and X = the bounding set:
      pP' = (X & fP) | (pI & fI);  if euid or ruid is root (no SECURE_NOROOT): pP' = X | pI, fE' = euid root
      (a set-uid-root file that also has file caps gets only the file caps);
      a set[ug]id or cap-raising exec under ptrace without a capable tracer, or with no_new_privs, keeps the
      old ids (unless CAP_SETUID, never with no_new_privs) and pP' &= pP;
      suid = fsuid = euid, sgid = fsgid = egid; file caps or a set-id exec clear ambient;
      pP' |= pA', pE' = fE' ? pP' : pA'; SECURE_KEEP_CAPS is cleared.

    Raises:
        KernelError(EPERM): file caps with the effective bit whose permitted set cannot be granted in full.

    Linux: security/commoncap.c:cap_bprm_creds_from_file(), handle_privileged_root(), get_file_caps()
    """
    from simkernel.kernel.capability import ns_capable, ptracer_capable
    from simkernel.kernel.user_namespace import make_kuid
    effective = has_fcap = False
    prm = 0                                          # bprm_clear_caps()
    if file_caps is not None and not nosuid:
        f_p, f_i, f_e = file_caps
        effective, has_fcap = bool(f_e), True
        prm = (new.cap_bset & f_p) | (new.cap_inheritable & f_i)
        if f_e and f_p & ~prm:
            raise KernelError(E.EPERM, explain="file capabilities demand caps outside the bounding/inheritable sets")
    new = attrs.evolve(new, cap_permitted=prm)
    root = make_kuid(new.user_ns, 0)
    is_real, is_eff = new.uid == root, new.euid == root
    if not issecure(old, SECURE_NOROOT):             # handle_privileged_root()
        if has_fcap and (not is_real and is_eff):
            pass                                     # warn_setuid_and_fcaps_mixed()
        else:
            if is_eff or is_real:
                new = attrs.evolve(new, cap_permitted=old.cap_bset | old.cap_inheritable)
            if is_eff:
                effective = True
    per_clear = not cap_issubset(new.cap_permitted, old.cap_permitted)
    id_changed = new.euid != old.euid or not old.in_group_p(new.egid)
    if (id_changed or not cap_issubset(new.cap_permitted, old.cap_permitted)) and (
            (unsafe & ~LSM_UNSAFE_PTRACE) or not ptracer_capable(current, new.user_ns)):
        if not ns_capable(current, new.user_ns, CAP_SETUID) or unsafe & LSM_UNSAFE_NO_NEW_PRIVS:
            new = attrs.evolve(new, euid=new.uid, egid=new.gid)
        new = attrs.evolve(new, cap_permitted=new.cap_permitted & old.cap_permitted)
    new = attrs.evolve(new, suid=new.euid, fsuid=new.euid, sgid=new.egid, fsgid=new.egid)
    amb = new.cap_ambient
    if has_fcap or new.euid != old.uid or new.egid != old.gid:
        amb = 0
    prm = new.cap_permitted | amb
    new = attrs.evolve(new, cap_ambient=amb, cap_permitted=prm, cap_effective=prm if effective else amb,
                       securebits=new.securebits & ~(1 << SECURE_KEEP_CAPS))
    secureexec = (id_changed or new.euid != old.uid or new.egid != old.gid
                  or (new.uid != root and (effective or not cap_issubset(prm, amb))))
    return BprmResult(cred=new, cap_effective=effective, secureexec=secureexec, per_clear=per_clear)
