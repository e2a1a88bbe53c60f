"""Task credentials: struct cred, immutable once committed.

Credentials change only by preparing a copy (`attrs.evolve`) and committing it with `commit_creds`, as
the kernel treats a committed cred as read-only.  Ids are kernel ids (see user_namespace.py).

Linux: include/linux/cred.h, kernel/cred.c
"""

from __future__ import annotations

from attrs import field, frozen

from simkernel.kernel.user_namespace import UserNamespace

__all__ = ["Cred"]


@frozen
class Cred:
    """struct cred (include/linux/cred.h).

    Capability sets are 64-bit masks over `1 << CAP_*`.  `groups` is the sorted supplementary group list
    (struct group_info).
    """

    uid: int = 0
    gid: int = 0
    suid: int = 0
    sgid: int = 0
    euid: int = 0
    egid: int = 0
    fsuid: int = 0
    fsgid: int = 0
    securebits: int = 0
    cap_inheritable: int = 0
    cap_permitted: int = 0
    cap_effective: int = 0
    cap_bset: int = 0
    cap_ambient: int = 0
    groups: tuple[int, ...] = ()
    user_ns: UserNamespace = field(default=None, repr=False)  # type: ignore[assignment]

    def in_group_p(self, kgid: int) -> bool:
        """in_group_p(): fsgid or a supplementary group. Linux: kernel/groups.c"""
        return kgid == self.fsgid or kgid in self.groups

    def in_egroup_p(self, kgid: int) -> bool:
        """in_egroup_p(): egid or a supplementary group. Linux: kernel/groups.c"""
        return kgid == self.egid or kgid in self.groups
