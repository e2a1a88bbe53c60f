"""`Kernel.spawn`: start a process with chosen credentials the way a login or `setpriv` would.

Not a kernel function: a convenience made of real system calls run by the new task itself, so the
kernel's capability rules apply to every step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from simkernel.uapi import prctl as P

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["spawn", "caps_mask"]


def caps_mask(caps: Iterable[int]) -> int:
    """A 64-bit capability mask from CAP_* numbers: caps_mask([CAP_SYS_ADMIN]) == 1 << 21."""
    mask = 0
    for c in caps:
        mask |= 1 << int(c)
    return mask


def spawn(k: Kernel, comm: str, uid: int = 0, gid: int = 0, groups: tuple[int, ...] = (), caps: Any = None,
          parent: Task | None = None, dumpable: bool = True) -> Task:
    """fork `parent` (default init), then as the child: PR_SET_NAME, setgroups, setresgid, setresuid.

    With `caps` (CAP_* numbers) the child first sets PR_SET_KEEPCAPS so its permitted set survives the uid
    change, then capset(caps, caps, 0) and clears keepcaps: effective = permitted = exactly `caps`.
    Without `caps` the kernel's rules decide (a non-root result has no capabilities).

    A credential change makes the mm non-dumpable (commit_creds with fs.suid_dumpable = 0); a real
    process would become dumpable again by exec'ing a program, so `dumpable=True` (the default) ends with
    prctl(PR_SET_DUMPABLE, 1).  Pass dumpable=False to keep what the kernel left.
    """
    parent = parent if parent is not None else k.init
    t = parent.sys.fork()
    s = t.sys
    s.prctl(P.PR_SET_NAME, comm)
    s.setgroups(list(groups))
    mask = caps_mask(caps) if caps is not None else None
    if mask is not None:
        s.prctl(P.PR_SET_KEEPCAPS, 1)
    s.setresgid(gid, gid, gid)
    s.setresuid(uid, uid, uid)
    if mask is not None:
        _eff, perm, _inh = s.capget()
        s.capset(mask & perm, mask & perm, 0)
        s.prctl(P.PR_SET_KEEPCAPS, 0)
    if dumpable:
        s.prctl(P.PR_SET_DUMPABLE, 1)
    return t
