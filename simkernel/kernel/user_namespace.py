"""User namespaces: id maps, the namespace tree, namespace creation and /proc/<pid>/{uid,gid}_map writes.

Ids inside the simulation are *kernel* ids (kuid_t/kgid_t): the value the id has in the initial user
namespace.  As in the kernel, a namespace's map extents translate ids seen inside it directly to kernel
ids (map_write() stores `lower_first` already mapped down through the parent), so `make_kuid()` and
`from_kuid()` are one lookup each.  The initial namespace maps [0, 4294967295) to itself; (uid_t)-1 has
no mapping anywhere.

Example: a namespace created by kuid 1000 with uid_map "0 1000 1" turns uid 0 into kuid 1000:
    make_kuid(ns, 0) == 1000; from_kuid(ns, 1000) == 0; from_kuid(ns, 0) == INVALID_UID.

Linux: kernel/user_namespace.c, include/linux/user_namespace.h, include/linux/uidgid.h
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from attrs import define, field, frozen

from simkernel.errors import KernelError
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task

__all__ = ["UidGidExtent", "UserNamespace", "INVALID_UID", "INVALID_GID", "OVERFLOW_UID", "UID_GID_MAP_MAX_EXTENTS",
           "make_kuid", "from_kuid", "from_kuid_munged", "kuid_has_mapping", "make_kgid", "from_kgid",
           "from_kgid_munged", "kgid_has_mapping", "in_userns", "current_user_ns", "create_user_ns",
           "unshare_userns", "set_cred_user_ns", "map_write", "proc_id_map_show", "proc_setgroups_write",
           "proc_setgroups_show", "userns_may_setgroups", "new_idmap_permitted", "parse_id_map"]

INVALID_UID = -1          # INVALID_UID / INVALID_GID: (uid_t)-1, returned as -1
INVALID_GID = -1
OVERFLOW_UID = 65534      # /proc/sys/kernel/overflowuid
U32 = 0xFFFFFFFF
UID_GID_MAP_MAX_EXTENTS = 340
PAGE_SIZE = 4096
MAX_USER_NS_LEVEL = 32    # create_user_ns(): parent level > 32 -> ENOSPC


@frozen
class UidGidExtent:
    """struct uid_gid_extent: ids [first, first+count) of the namespace are kernel ids [lower_first, ...)."""

    first: int
    lower_first: int
    count: int


@define(eq=False)
class UserNamespace:
    """struct user_namespace (include/linux/user_namespace.h).

    `owner`/`group` are the creator's euid/egid (kernel ids).  `setgroups_allowed` is the
    USERNS_SETGROUPS_ALLOWED flag (/proc/<pid>/setgroups "allow"/"deny"), inherited from the parent.
    `parent_could_setfcap` records whether the creator had CAP_SETFCAP (needed later to map root).
    """

    level: int
    owner: int
    group: int
    parent: UserNamespace | None = field(default=None, repr=False)
    uid_map: tuple[UidGidExtent, ...] = ()
    gid_map: tuple[UidGidExtent, ...] = ()
    setgroups_allowed: bool = True
    ns_id: int = 0
    parent_could_setfcap: bool = False

    @classmethod
    def initial(cls) -> UserNamespace:
        """init_user_ns: the identity map over [0, 4294967295). Linux: kernel/user.c:init_user_ns"""
        full = (UidGidExtent(0, 0, 4294967295),)
        return cls(level=0, owner=0, group=0, parent=None, uid_map=full, gid_map=full, ns_id=0)


def map_id_range_down(extents: tuple[UidGidExtent, ...], id_: int, count: int) -> int:
    """The lower id of [id_, id_+count) when one extent holds all of it, else -1.

    Linux: kernel/user_namespace.c:map_id_range_down()
    """
    last = id_ + count - 1
    for e in extents:
        if e.first <= id_ and last <= e.first + e.count - 1:
            return id_ - e.first + e.lower_first
    return -1


def _map_up(extents: tuple[UidGidExtent, ...], id_: int) -> int:
    for e in extents:
        if e.lower_first <= id_ < e.lower_first + e.count:
            return id_ - e.lower_first + e.first
    return -1


def make_kuid(ns: UserNamespace, uid: int) -> int:
    """The kuid of `uid` (taken as uid_t) as seen in `ns`, or INVALID_UID. Linux: kernel/user_namespace.c"""
    return map_id_range_down(ns.uid_map, uid & U32, 1)


def from_kuid(ns: UserNamespace, kuid: int) -> int:
    """The uid `ns` sees for `kuid`, or INVALID_UID (-1). Linux: kernel/user_namespace.c:from_kuid()"""
    return -1 if kuid < 0 else _map_up(ns.uid_map, kuid)


def from_kuid_munged(ns: UserNamespace, kuid: int) -> int:
    """Like from_kuid() but unmapped ids read as overflowuid (65534). Linux: kernel/user_namespace.c"""
    uid = from_kuid(ns, kuid)
    return OVERFLOW_UID if uid == INVALID_UID else uid


def kuid_has_mapping(ns: UserNamespace, kuid: int) -> bool:
    """Linux: include/linux/uidgid.h:kuid_has_mapping()"""
    return from_kuid(ns, kuid) != INVALID_UID


def make_kgid(ns: UserNamespace, gid: int) -> int:
    """Linux: kernel/user_namespace.c:make_kgid()"""
    return map_id_range_down(ns.gid_map, gid & U32, 1)


def from_kgid(ns: UserNamespace, kgid: int) -> int:
    """Linux: kernel/user_namespace.c:from_kgid()"""
    return -1 if kgid < 0 else _map_up(ns.gid_map, kgid)


def from_kgid_munged(ns: UserNamespace, kgid: int) -> int:
    """Linux: kernel/user_namespace.c:from_kgid_munged()"""
    gid = from_kgid(ns, kgid)
    return OVERFLOW_UID if gid == INVALID_GID else gid


def kgid_has_mapping(ns: UserNamespace, kgid: int) -> bool:
    """Linux: include/linux/uidgid.h:kgid_has_mapping()"""
    return from_kgid(ns, kgid) != INVALID_GID


def in_userns(ancestor: UserNamespace, child: UserNamespace) -> bool:
    """Is `child` equal to or below `ancestor`? Linux: kernel/user_namespace.c:in_userns()"""
    ns: UserNamespace | None = child
    while ns is not None and ns.level > ancestor.level:
        ns = ns.parent
    return ns is ancestor


def current_user_ns(current: Task) -> UserNamespace:
    """current_user_ns(): the user namespace of current's subjective cred. Linux: include/linux/cred.h"""
    return current.cred.user_ns


# -- creation ------------------------------------------------------------------------------------------------

def set_cred_user_ns(cred: Cred, user_ns: UserNamespace) -> Cred:
    """Full (but namespace-bound) capabilities in `user_ns`: bset/permitted/effective full, no
    inheritable/ambient, securebits cleared.

    Linux: kernel/user_namespace.c:set_cred_user_ns()
    """
    from simkernel.uapi.capability import CAP_FULL_SET
    return attrs.evolve(cred, securebits=0, cap_inheritable=0, cap_permitted=CAP_FULL_SET,
                        cap_effective=CAP_FULL_SET, cap_ambient=0, cap_bset=CAP_FULL_SET, user_ns=user_ns)


def _current_chrooted(current: Task) -> bool:
    """current_chrooted() (fs/namespace.c): is current's root not the root of its mount namespace?"""
    try:
        from simkernel.fs.namespace import current_chrooted  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - the VFS part may not exist yet
        return False
    return bool(current_chrooted(current))


def create_user_ns(current: Task, new: Cred) -> Cred:
    """Create a child of new.user_ns owned by new.euid/egid and return `new` moved into it.

    Raises:
        KernelError(ENOSPC): the parent is already 32 levels deep.
        KernelError(EPERM): current is chrooted; the creator's euid or egid has no mapping in the parent.
        or the errno of an LSM create_user_ns hook.

    Simplification: the user.max_user_namespaces ucount is not modelled.

    Linux: kernel/user_namespace.c:create_user_ns()
    """
    from simkernel.security.commoncap import cap_raised
    from simkernel.security.lsm import security_create_user_ns
    from simkernel.uapi.capability import CAP_SETFCAP
    parent_ns = new.user_ns
    owner, group = new.euid, new.egid
    if parent_ns.level > MAX_USER_NS_LEVEL:
        raise KernelError(E.ENOSPC, explain="user namespaces nest at most 32 deep")
    if _current_chrooted(current):
        raise KernelError(E.EPERM, explain="a chrooted task may not create a user namespace")
    if not kuid_has_mapping(parent_ns, owner) or not kgid_has_mapping(parent_ns, group):
        raise KernelError(E.EPERM, explain="the creator's euid/egid has no mapping in the parent namespace")
    security_create_user_ns(current, new)
    k = current.kernel
    ns_id = k.next_id("user_ns") if hasattr(k, "next_id") else 0
    ns = UserNamespace(level=parent_ns.level + 1, owner=owner, group=group, parent=parent_ns,
                       setgroups_allowed=parent_ns.setgroups_allowed, ns_id=ns_id,
                       parent_could_setfcap=cap_raised(new.cap_effective, CAP_SETFCAP))
    return set_cred_user_ns(new, ns)


def unshare_userns(current: Task) -> Cred:
    """The prepared credentials for unshare(CLONE_NEWUSER); the caller (ksys_unshare) commits them.

    Raises: as create_user_ns().

    Linux: kernel/user_namespace.c:unshare_userns()
    """
    from simkernel.kernel.cred import prepare_creds
    return create_user_ns(current, prepare_creds(current))


# -- /proc/<pid>/uid_map, gid_map ----------------------------------------------------------------------------

_SPACES = " \t\n\v\f\r"


def _strtoul(s: str, i: int) -> tuple[int, int]:
    """simple_strtoul(s+i, &end, 10): digits only (no sign), wraps at 64 bits."""
    v, j = 0, i
    while j < len(s) and "0" <= s[j] <= "9":
        v = (v * 10 + ord(s[j]) - 48) & 0xFFFFFFFFFFFFFFFF
        j += 1
    return v, j


def _skip_spaces(s: str, i: int) -> int:
    while i < len(s) and s[i] in _SPACES:
        i += 1
    return i


def _mappings_overlap(extents: list[UidGidExtent], e: UidGidExtent) -> bool:
    """Linux: kernel/user_namespace.c:mappings_overlap()"""
    upper_last = (e.first + e.count - 1) & U32
    lower_last = (e.lower_first + e.count - 1) & U32
    for p in extents:
        if p.first <= upper_last and (p.first + p.count - 1) & U32 >= e.first:
            return True
        if p.lower_first <= lower_last and (p.lower_first + p.count - 1) & U32 >= e.lower_first:
            return True
    return False


def parse_id_map(text: str) -> list[UidGidExtent]:
    """Parse an id map write: lines of "first lower_first count" (decimal, any whitespace between).

    "0 1000 1" parses; "0 1000 1\\n" too (one trailing newline ends the list); "0 1000" does not (a line
    needs three numbers), nor "0 1000 0" (count 0), overlapping extents, or more than 340 lines.

    Raises:
        KernelError(EINVAL): any malformed line, empty map, overlap or too many extents.

    Linux: kernel/user_namespace.c:map_write() (the parsing loop)
    """
    def bad(why: str) -> KernelError:
        return KernelError(E.EINVAL, explain=f"id map: {why}")
    extents: list[UidGidExtent] = []
    pos: str | None = text
    while pos is not None:
        nl = pos.find("\n")
        if nl >= 0:
            line, rest = pos[:nl], pos[nl + 1:]
            next_line: str | None = rest if rest != "" else None
        else:
            line, next_line = pos, None
        nul = line.find("\0")
        if nul >= 0:
            line = line[:nul]
        i = _skip_spaces(line, 0)
        first, i = _strtoul(line, i)
        if i >= len(line) or line[i] not in _SPACES:
            raise bad(f"{line!r}: expected 'first lower_first count'")
        i = _skip_spaces(line, i)
        lower, i = _strtoul(line, i)
        if i >= len(line) or line[i] not in _SPACES:
            raise bad(f"{line!r}: expected 'first lower_first count'")
        i = _skip_spaces(line, i)
        count, i = _strtoul(line, i)
        if i < len(line) and line[i] not in _SPACES:
            raise bad(f"{line!r}: junk after the count")
        i = _skip_spaces(line, i)
        if i != len(line):
            raise bad(f"{line!r}: trailing junk")
        first, lower, count = first & U32, lower & U32, count & U32
        if first == U32 or lower == U32:
            raise bad("4294967295 is not a valid id")
        if (first + count) & U32 <= first or (lower + count) & U32 <= lower:
            raise bad("count is zero or the extent wraps")
        e = UidGidExtent(first, lower, count)
        if _mappings_overlap(extents, e):
            raise bad("extents overlap")
        if len(extents) + 1 == UID_GID_MAP_MAX_EXTENTS and next_line is not None:
            raise bad(f"more than {UID_GID_MAP_MAX_EXTENTS} extents")
        extents.append(e)
        pos = next_line
    if not extents:  # pragma: no cover - an empty write fails in the first line already
        raise bad("empty map")
    return extents


def _verify_root_map(kernel: Any, f_cred: Cred, map_ns: UserNamespace, extents: list[UidGidExtent]) -> bool:
    """Mapping the parent's root (lower_first 0) needs CAP_SETFCAP: at unshare time for the namespace's
    own members, or now over the parent for a writer outside (since v5.12).

    Linux: kernel/user_namespace.c:verify_root_map()
    """
    from simkernel.kernel.capability import cred_capable
    from simkernel.uapi.capability import CAP_SETFCAP
    if not any(e.lower_first == 0 for e in extents):
        return True
    file_ns = f_cred.user_ns
    if map_ns is file_ns:
        return file_ns.parent_could_setfcap
    return cred_capable(kernel, f_cred, map_ns.parent, CAP_SETFCAP)  # type: ignore[arg-type]


def new_idmap_permitted(current: Task, f_cred: Cred, ns: UserNamespace, cap_setid: int,
                        extents: list[UidGidExtent]) -> bool:
    """May this writer install `extents` (lower ids as seen in the parent) in `ns`?

    Allowed: one extent of count 1 mapping the namespace owner's own euid (uid_map), or own egid once
    setgroups is "deny" (gid_map), written by the owner; otherwise CAP_SETUID/CAP_SETGID over the parent
    both for the writer now and for the opener of the file.  Mapping root first passes verify_root_map().

    Linux: kernel/user_namespace.c:new_idmap_permitted()
    """
    from simkernel.kernel.capability import cred_capable, ns_capable
    from simkernel.uapi.capability import CAP_SETUID
    if cap_setid == CAP_SETUID and not _verify_root_map(current.kernel, f_cred, ns, extents):
        return False
    assert ns.parent is not None
    if len(extents) == 1 and extents[0].count == 1 and ns.owner == f_cred.euid:
        id_ = extents[0].lower_first
        if cap_setid == CAP_SETUID:
            if make_kuid(ns.parent, id_) == f_cred.euid:
                return True
        elif not ns.setgroups_allowed and make_kgid(ns.parent, id_) == f_cred.egid:
            return True
    return ns_capable(current, ns.parent, cap_setid) and cred_capable(current.kernel, f_cred, ns.parent,
                                                                        cap_setid)


def map_write(current: Task, target_task: Task, which: str, text: str | bytes,
              f_cred: Cred | None = None) -> int:
    """Write /proc/<target>/uid_map or gid_map ("uid" or "gid"); returns the byte count written.

    Order of checks: the target's namespace must have a parent and be the writer's own namespace or its
    child (EPERM); the write is < PAGE_SIZE (EINVAL); the map is still empty (EPERM, maps are write-once);
    the opener holds CAP_SYS_ADMIN over the namespace (EPERM); the text parses (EINVAL);
    new_idmap_permitted (EPERM); each extent maps down through the parent's map (EPERM).

    `f_cred` is the cred of the file's opener; default: the writer's (open and write by one task).
    Simplification: the write is at offset 0 in one call.

    Linux: kernel/user_namespace.c:proc_uid_map_write(), proc_gid_map_write(), map_write()
    """
    from simkernel.kernel.capability import cred_capable
    from simkernel.uapi.capability import CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN
    assert which in ("uid", "gid"), which
    f_cred = current.cred if f_cred is None else f_cred
    raw = text.encode() if isinstance(text, str) else bytes(text)
    ns = target_task.real_cred.user_ns
    seq_ns = f_cred.user_ns
    if ns.parent is None:
        raise KernelError(E.EPERM, explain=f"{which}_map of the initial user namespace is fixed")
    if seq_ns is not ns and seq_ns is not ns.parent:
        raise KernelError(E.EPERM, explain=f"{which}_map: the opener is neither in the namespace nor its parent")
    if len(raw) >= PAGE_SIZE:
        raise KernelError(E.EINVAL, explain=f"{which}_map writes must be shorter than a page")
    cap_setid = CAP_SETUID if which == "uid" else CAP_SETGID
    if (ns.uid_map if which == "uid" else ns.gid_map):
        raise KernelError(E.EPERM, explain=f"{which}_map was already written (maps are write-once)")
    if not cred_capable(current.kernel, f_cred, ns, CAP_SYS_ADMIN):
        raise KernelError(E.EPERM, explain=f"{which}_map: the opener lacks CAP_SYS_ADMIN over the namespace")
    extents = parse_id_map(raw.decode("latin-1"))
    if not new_idmap_permitted(current, f_cred, ns, cap_setid, extents):
        if which == "gid" and ns.setgroups_allowed and len(extents) == 1 and extents[0].count == 1:
            why = "gid_map: an unprivileged single-gid map needs setgroups 'deny' first"
        else:
            why = f"{which}_map: mapping ids other than the owner's own needs CAP_SET{which.upper()} over the parent"
        raise KernelError(E.EPERM, explain=why)
    parent_map = ns.parent.uid_map if which == "uid" else ns.parent.gid_map
    lowered = []
    for e in extents:
        lower = map_id_range_down(parent_map, e.lower_first, e.count)
        if lower == -1:
            raise KernelError(E.EPERM, explain=f"{which}_map: ids {e.lower_first}+{e.count} are not mapped in the "
                                               "parent namespace")
        lowered.append(UidGidExtent(e.first, lower, e.count))
    if which == "uid":
        ns.uid_map = tuple(lowered)
    else:
        ns.gid_map = tuple(lowered)
    return len(raw)


def proc_id_map_show(current: Task, target_task: Task, which: str) -> str:
    """Read /proc/<target>/uid_map or gid_map as `current`: lower ids as seen from the reader's namespace
    (or its parent when the reader is inside the namespace shown).

    Linux: kernel/user_namespace.c:uid_m_show(), gid_m_show()
    """
    ns = target_task.real_cred.user_ns
    lower_ns = current.cred.user_ns
    if lower_ns is ns and lower_ns.parent is not None:
        lower_ns = lower_ns.parent
    out = []
    for e in (ns.uid_map if which == "uid" else ns.gid_map):
        lower = from_kuid(lower_ns, e.lower_first) if which == "uid" else from_kgid(lower_ns, e.lower_first)
        out.append(f"{e.first:10d} {lower & U32:10d} {e.count:10d}\n")
    return "".join(out)


def userns_may_setgroups(ns: UserNamespace) -> bool:
    """setgroups(2) is possible once a gid map exists and setgroups is "allow".

    Linux: kernel/user_namespace.c:userns_may_setgroups()
    """
    return bool(ns.gid_map) and ns.setgroups_allowed


def proc_setgroups_show(target_task: Task) -> str:
    """Read /proc/<pid>/setgroups. Linux: kernel/user_namespace.c:proc_setgroups_show()"""
    return "allow\n" if target_task.real_cred.user_ns.setgroups_allowed else "deny\n"


def proc_setgroups_write(current: Task, target_task: Task, text: str | bytes) -> int:
    """Write "allow" or "deny" to /proc/<target>/setgroups; returns the byte count.

    Raises (in order):
        KernelError(EACCES): opening for write needs CAP_SYS_ADMIN over the target's namespace.
        KernelError(EINVAL): 8 bytes or more, or not "allow"/"deny" (optionally followed by spaces).
        KernelError(EPERM): "allow" after "deny"; "deny" after the gid_map was written.

    Linux: kernel/user_namespace.c:proc_setgroups_open(), proc_setgroups_write()
    """
    from simkernel.kernel.capability import ns_capable
    from simkernel.uapi.capability import CAP_SYS_ADMIN
    ns = target_task.real_cred.user_ns
    if not ns_capable(current, ns, CAP_SYS_ADMIN):
        raise KernelError(E.EACCES, explain="setgroups: opening for write needs CAP_SYS_ADMIN over the namespace")
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if len(raw) >= 8:
        raise KernelError(E.EINVAL, explain="setgroups: write 'allow' or 'deny'")
    s = raw.decode("latin-1").split("\0", 1)[0]
    if s.startswith("allow"):
        rest, allowed = s[5:], True
    elif s.startswith("deny"):
        rest, allowed = s[4:], False
    else:
        raise KernelError(E.EINVAL, explain="setgroups: write 'allow' or 'deny'")
    if _skip_spaces(rest, 0) != len(rest):
        raise KernelError(E.EINVAL, explain="setgroups: trailing junk")
    if allowed:
        if not ns.setgroups_allowed:
            raise KernelError(E.EPERM, explain="setgroups: 'deny' cannot be undone")
    else:
        if ns.gid_map:
            raise KernelError(E.EPERM, explain="setgroups: cannot deny after gid_map was written")
        ns.setgroups_allowed = False
    return len(raw)
