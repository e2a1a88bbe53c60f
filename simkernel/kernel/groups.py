"""Supplementary groups: getgroups(2), setgroups(2), in_group_p.

The group list lives in the cred as a sorted tuple of kernel gids (struct group_info after groups_sort()).

Linux: kernel/groups.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import attrs

from simkernel.errors import KernelError
from simkernel.kernel.capability import ns_capable_setid
from simkernel.kernel.cred import commit_creds, prepare_creds
from simkernel.kernel.user_namespace import from_kgid_munged, make_kgid, userns_may_setgroups
from simkernel.security.lsm import security_task_fix_setgroups
from simkernel.uapi import errno as E
from simkernel.uapi.capability import CAP_SETGID

if TYPE_CHECKING:
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task

__all__ = ["NGROUPS_MAX", "sys_getgroups", "sys_setgroups", "may_setgroups", "set_groups", "set_current_groups",
           "groups_search", "in_group_p", "in_egroup_p"]

NGROUPS_MAX = 65536


def sys_getgroups(current: Task) -> list[int]:
    """getgroups(2) with a large enough buffer: the sorted list as gids of the caller's namespace
    (unmapped ones read as overflowgid).

    Linux: kernel/groups.c:SYSCALL_DEFINE2(getgroups)
    """
    c = current.cred
    return [from_kgid_munged(c.user_ns, g) for g in c.groups]


def may_setgroups(current: Task) -> bool:
    """CAP_SETGID in the own namespace, and the namespace allows setgroups (gid_map written, not "deny").

    Linux: kernel/groups.c:may_setgroups()
    """
    ns = current.cred.user_ns
    return ns_capable_setid(current, ns, CAP_SETGID) and userns_may_setgroups(ns)


def set_groups(new: Cred, groups: Sequence[int]) -> Cred:
    """Put a (sorted) group list in prepared credentials. Linux: kernel/groups.c:set_groups()"""
    return attrs.evolve(new, groups=tuple(groups))


def set_current_groups(current: Task, groups: Sequence[int]) -> None:
    """Linux: kernel/groups.c:set_current_groups()"""
    old = current.cred
    new = set_groups(prepare_creds(current), groups)
    new = security_task_fix_setgroups(current, new, old)
    commit_creds(current, new)


def sys_setgroups(current: Task, groups: Sequence[int]) -> None:
    """setgroups(2): replace the supplementary groups (sorted, duplicates kept, as the kernel does).

    Raises (in this order):
        KernelError(EPERM): no CAP_SETGID in the caller's namespace, or the namespace forbids setgroups.
        KernelError(EINVAL): more than NGROUPS_MAX (65536) groups; a gid without mapping.

    Linux: kernel/groups.c:SYSCALL_DEFINE2(setgroups)
    """
    if not may_setgroups(current):
        ns = current.cred.user_ns
        if ns.parent is not None and not userns_may_setgroups(ns):
            why = "the user namespace has no gid_map yet or setgroups is 'deny'"
        else:
            why = "the caller lacks CAP_SETGID in its user namespace"
        raise KernelError(E.EPERM, explain=f"setgroups: {why}")
    if len(groups) > NGROUPS_MAX:
        raise KernelError(E.EINVAL, explain=f"setgroups: more than NGROUPS_MAX ({NGROUPS_MAX}) groups")
    ns = current.cred.user_ns
    kgids = []
    for g in groups:
        kg = make_kgid(ns, g)
        if kg == -1:
            raise KernelError(E.EINVAL, explain=f"setgroups: gid {g & 0xFFFFFFFF} has no mapping")
        kgids.append(kg)
    set_current_groups(current, sorted(kgids))


def groups_search(groups: Sequence[int], kgid: int) -> bool:
    """Linux: kernel/groups.c:groups_search()"""
    return kgid in groups


def in_group_p(current: Task, kgid: int) -> bool:
    """fsgid or a supplementary group of current's subjective cred. Linux: kernel/groups.c:in_group_p()"""
    return current.cred.in_group_p(kgid)


def in_egroup_p(current: Task, kgid: int) -> bool:
    """egid or a supplementary group. Linux: kernel/groups.c:in_egroup_p()"""
    return current.cred.in_egroup_p(kgid)
