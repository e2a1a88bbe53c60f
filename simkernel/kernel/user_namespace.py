"""User namespaces: id maps and the namespace tree.

Ids inside the simulation are *kernel* ids (kuid_t/kgid_t): the value the id has in the initial user
namespace. A namespace's uid_map translates between the ids userspace sees inside it and kuids.

Linux: kernel/user_namespace.c, include/linux/user_namespace.h
"""

from __future__ import annotations

from attrs import define, field, frozen

__all__ = ["UidGidExtent", "UserNamespace", "INVALID_UID", "OVERFLOW_UID", "make_kuid", "from_kuid",
           "from_kuid_munged", "kuid_has_mapping", "make_kgid", "from_kgid", "from_kgid_munged",
           "kgid_has_mapping", "in_userns"]

INVALID_UID = -1          # INVALID_UID / INVALID_GID: (uid_t)-1
OVERFLOW_UID = 65534      # /proc/sys/kernel/overflowuid


@frozen
class UidGidExtent:
    """struct uid_gid_extent: ids [first, first+count) inside map to [lower_first, ...) in the parent."""

    first: int
    lower_first: int
    count: int


@define(eq=False)
class UserNamespace:
    """struct user_namespace (include/linux/user_namespace.h).

    The initial namespace has the identity map over all 32-bit ids and no parent.
    """

    level: int
    owner: int                      # kuid of the creator
    group: int                      # kgid of the creator
    parent: UserNamespace | None = field(default=None, repr=False)
    uid_map: tuple[UidGidExtent, ...] = ()
    gid_map: tuple[UidGidExtent, ...] = ()
    setgroups_allowed: bool = True  # /proc/<pid>/setgroups "allow"
    ns_id: int = 0

    @classmethod
    def initial(cls) -> UserNamespace:
        full = (UidGidExtent(0, 0, 4294967295),)
        return cls(level=0, owner=0, group=0, parent=None, uid_map=full, gid_map=full, ns_id=0)


def _map_down(extents: tuple[UidGidExtent, ...], id_: int) -> int:
    for e in extents:
        if e.first <= id_ < e.first + e.count:
            return id_ - e.first + e.lower_first
    return INVALID_UID


def _map_up(extents: tuple[UidGidExtent, ...], id_: int) -> int:
    for e in extents:
        if e.lower_first <= id_ < e.lower_first + e.count:
            return id_ - e.lower_first + e.first
    return INVALID_UID


def _lower_to_kernel(ns: UserNamespace, id_: int, gid: bool) -> int:
    """Map an id of `ns` down through every ancestor to a kernel id."""
    while ns.parent is not None and id_ != INVALID_UID:
        id_ = _map_down(ns.gid_map if gid else ns.uid_map, id_)
        ns = ns.parent
    return id_


def _kernel_to_ns(ns: UserNamespace, kid: int, gid: bool) -> int:
    chain: list[UserNamespace] = []
    n: UserNamespace | None = ns
    while n is not None and n.parent is not None:
        chain.append(n)
        n = n.parent
    id_ = kid
    for n in reversed(chain):
        if id_ == INVALID_UID:
            break
        id_ = _map_up(n.gid_map if gid else n.uid_map, id_)
    return id_


def make_kuid(ns: UserNamespace, uid: int) -> int:
    """make_kuid(): the kuid of `uid` as seen in `ns`, or INVALID_UID. Linux: kernel/user_namespace.c"""
    return _lower_to_kernel(ns, uid, gid=False)


def from_kuid(ns: UserNamespace, kuid: int) -> int:
    """from_kuid(): the uid `ns` sees for `kuid`, or INVALID_UID (-1). Linux: kernel/user_namespace.c"""
    return _kernel_to_ns(ns, kuid, gid=False)


def from_kuid_munged(ns: UserNamespace, kuid: int) -> int:
    """from_kuid_munged(): like from_kuid() but unmapped ids read as overflowuid (65534)."""
    uid = from_kuid(ns, kuid)
    return OVERFLOW_UID if uid == INVALID_UID else uid


def kuid_has_mapping(ns: UserNamespace, kuid: int) -> bool:
    return from_kuid(ns, kuid) != INVALID_UID


def make_kgid(ns: UserNamespace, gid: int) -> int:
    return _lower_to_kernel(ns, gid, gid=True)


def from_kgid(ns: UserNamespace, kgid: int) -> int:
    return _kernel_to_ns(ns, kgid, gid=True)


def from_kgid_munged(ns: UserNamespace, kgid: int) -> int:
    gid = from_kgid(ns, kgid)
    return OVERFLOW_UID if gid == INVALID_UID else gid


def kgid_has_mapping(ns: UserNamespace, kgid: int) -> bool:
    return from_kgid(ns, kgid) != INVALID_UID


def in_userns(ancestor: UserNamespace, child: UserNamespace) -> bool:
    """in_userns(): is `child` equal to or below `ancestor`? Linux: kernel/user_namespace.c"""
    ns: UserNamespace | None = child
    while ns is not None and ns.level > ancestor.level:
        ns = ns.parent
    return ns is ancestor
