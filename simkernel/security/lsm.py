"""The LSM hook list: security_*() calls commoncap, then Yama (when built in), then extra hook objects.

The kernel keeps one static list of hooks per operation; here each `Kernel` has its own:
commoncap always runs first, Yama runs when `kernel.yama` is true, and then every object in
`kernel.lsm_hooks` that defines a method of the hook's name.  A design experiment appends such an object:

    class DenyMapFiles:                               # an extra LSM
        def ptrace_access_check(self, current, child, mode): ...   # raise KernelError to deny
    k.lsm_hooks.append(DenyMapFiles())

Extra hook signatures (each optional; raise `KernelError` to deny, return None to allow):
    capable(cred, ns, cap, opts)
    ptrace_access_check(current, child, mode)
    task_fix_setuid(new, old, flags) -> Cred | None       (a returned Cred replaces `new`)
    task_fix_setgid(new, old, flags) -> Cred | None
    task_fix_setgroups(new, old) -> Cred | None
    capset(new, old, effective, inheritable, permitted) -> Cred | None
    mmap_addr(current, addr)
    task_prctl(current, option, arg2, arg3, arg4, arg5) -> int | None   (None: "not mine", C's -ENOSYS)
    inode_permission(current, inode, mask)
    create_user_ns(current, cred)

Linux: security/security.c (call_int_hook and the security_*() wrappers)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from simkernel.security import commoncap

if TYPE_CHECKING:
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task
    from simkernel.kernel.user_namespace import UserNamespace
    from simkernel.machine import Kernel

__all__ = ["security_capable", "security_ptrace_access_check", "security_task_fix_setuid",
           "security_task_fix_setgid", "security_task_fix_setgroups", "security_capset", "security_capget",
           "security_mmap_addr", "security_task_prctl", "security_inode_permission", "security_create_user_ns",
           "extra_hooks"]


def extra_hooks(kernel: Kernel, name: str) -> Iterator[Any]:
    """The bound `name` methods of the extra hook objects in `kernel.lsm_hooks`, in list order."""
    for obj in kernel.lsm_hooks:
        fn = getattr(obj, name, None)
        if fn is not None:
            yield fn


def security_capable(kernel: Kernel, cred: Cred, ns: UserNamespace, cap: int,
                     opts: int = commoncap.CAP_OPT_NONE) -> None:
    """Every LSM's capable hook; the first denial wins.

    `kernel` selects the hook list (C has one global list).

    Raises:
        KernelError(EPERM): commoncap or an extra hook denies.

    Linux: security/security.c:security_capable()
    """
    commoncap.cap_capable(cred, ns, cap, opts)
    if kernel.lsm_hooks:
        for fn in extra_hooks(kernel, "capable"):
            fn(cred, ns, cap, opts)


def security_ptrace_access_check(current: Task, child: Task, mode: int) -> None:
    """commoncap, Yama (if built in), extra hooks; the first denial wins.

    Linux: security/security.c:security_ptrace_access_check()
    """
    commoncap.cap_ptrace_access_check(current, child, mode)
    k = current.kernel
    if k.yama:
        from simkernel.security.yama import yama_ptrace_access_check
        yama_ptrace_access_check(current, child, mode)
    for fn in extra_hooks(k, "ptrace_access_check"):
        fn(current, child, mode)


def _fix(current: Task, name: str, new: Cred, *args: Any) -> Cred:
    for fn in extra_hooks(current.kernel, name):
        got = fn(new, *args)
        if got is not None:
            new = got
    return new


def security_task_fix_setuid(current: Task, new: Cred, old: Cred, flags: int) -> Cred:
    """Adjust `new` after a uid change (commoncap drops or raises capabilities); returns the new Cred.

    Linux: security/security.c:security_task_fix_setuid()
    """
    new = commoncap.cap_task_fix_setuid(new, old, flags)
    return _fix(current, "task_fix_setuid", new, old, flags)


def security_task_fix_setgid(current: Task, new: Cred, old: Cred, flags: int) -> Cred:
    """No built-in LSM here acts on gid changes (SafeSetID would). Linux: security/security.c"""
    return _fix(current, "task_fix_setgid", new, old, flags)


def security_task_fix_setgroups(current: Task, new: Cred, old: Cred) -> Cred:
    """Linux: security/security.c:security_task_fix_setgroups()"""
    return _fix(current, "task_fix_setgroups", new, old)


def security_capget(target: Task) -> tuple[int, int, int]:
    """Linux: security/security.c:security_capget()"""
    return commoncap.cap_capget(target)


def security_capset(current: Task, new: Cred, old: Cred, effective: int, inheritable: int,
                    permitted: int) -> Cred:
    """commoncap's capset validation, then extra hooks. Linux: security/security.c:security_capset()"""
    new = commoncap.cap_capset(new, old, effective, inheritable, permitted)
    return _fix(current, "capset", new, old, effective, inheritable, permitted)


def security_mmap_addr(current: Task, addr: int) -> None:
    """Low-address mmap check. Linux: security/security.c:security_mmap_addr()"""
    commoncap.cap_mmap_addr(current, addr)
    for fn in extra_hooks(current.kernel, "mmap_addr"):
        fn(current, addr)


def security_task_prctl(current: Task, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int | None:
    """Offer a prctl to every LSM. None means nobody handled it (C: -ENOSYS); a hook returning 0 lets the
    next hooks run, a positive result stops the walk, a denial raises.

    Linux: security/security.c:security_task_prctl()
    """
    rc: int | None = None
    hooks: list[Any] = [commoncap.cap_task_prctl]
    if current.kernel.yama:
        from simkernel.security.yama import yama_task_prctl
        hooks.append(yama_task_prctl)
    hooks.extend(extra_hooks(current.kernel, "task_prctl"))
    for fn in hooks:
        this = fn(current, option, arg2, arg3, arg4, arg5)
        if this is not None:
            rc = this
            if this != 0:
                break
    return rc


def security_inode_permission(current: Task, inode: Any, mask: int) -> None:
    """Extra hooks only: commoncap and Yama have no inode_permission hook.

    Linux: security/security.c:security_inode_permission()
    """
    if current.kernel.lsm_hooks:     # (no generator to build on the path walk's hot path)
        for fn in extra_hooks(current.kernel, "inode_permission"):
            fn(current, inode, mask)


def security_create_user_ns(current: Task, cred: Cred) -> None:
    """Linux: security/security.c:security_create_user_ns()"""
    for fn in extra_hooks(current.kernel, "create_user_ns"):
        fn(current, cred)
