"""Task credentials: struct cred, immutable once committed.

Credentials change only by preparing a copy (`prepare_creds`, then `attrs.evolve`) and committing it with
`commit_creds`, as the kernel treats a committed cred as read-only.  Ids are kernel ids (kuid_t/kgid_t, see
user_namespace.py); the system calls translate with the caller's user namespace.

Linux: include/linux/cred.h, kernel/cred.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import field, frozen

from simkernel.kernel.user_namespace import UserNamespace
from simkernel.uapi.capability import CAP_FULL_SET

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Cred", "prepare_creds", "commit_creds", "cred_init_full", "cred_cap_issubset", "abort_creds"]


@frozen
class Cred:
    """struct cred (include/linux/cred.h).

    Capability sets are 64-bit masks over `1 << CAP_*`.  `groups` is the sorted supplementary group list
    (struct group_info), as kernel gids.
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


def cred_init_full(kernel: Kernel) -> Cred:
    """The credentials of init (init_cred): root, every capability permitted, effective and bounding.

    Linux: kernel/cred.c:init_cred
    """
    return Cred(uid=0, gid=0, suid=0, sgid=0, euid=0, egid=0, fsuid=0, fsgid=0, securebits=0,
                cap_inheritable=0, cap_permitted=CAP_FULL_SET, cap_effective=CAP_FULL_SET,
                cap_bset=CAP_FULL_SET, cap_ambient=0, groups=(), user_ns=kernel.init_user_ns)


def prepare_creds(current: Task) -> Cred:
    """A copy of current's credentials to modify and commit (here: the frozen cred itself; `evolve` copies).

    Linux: kernel/cred.c:prepare_creds()
    """
    return current.cred


def abort_creds(new: Cred) -> None:
    """Discard prepared credentials (nothing to free here). Linux: kernel/cred.c:abort_creds()"""


def cred_cap_issubset(set_: Cred, subset: Cred) -> bool:
    """Are `subset`'s capabilities a subset of `set_`'s?

    Same user namespace: permitted ⊆ permitted.  Different namespaces: only if `set_`'s namespace is the
    parent of `subset`'s namespace or of one of its ancestors, owned by `set_`'s euid (the creator of a
    namespace holds every capability in it anyway).

    Linux: kernel/cred.c:cred_cap_issubset()
    """
    set_ns, subset_ns = set_.user_ns, subset.user_ns
    if set_ns is subset_ns:
        return subset.cap_permitted & ~set_.cap_permitted == 0
    ns = subset_ns
    while ns is not None and ns.parent is not None:
        if ns.parent is set_ns and ns.owner == set_.euid:
            return True
        ns = ns.parent
    return False


def commit_creds(current: Task, new: Cred) -> int:
    """Install `new` as current's objective and subjective credentials.

    When euid, egid, fsuid or fsgid change, or the new capabilities are not a subset of the old ones
    (cred_cap_issubset), the mm becomes dumpable per fs.suid_dumpable (set_dumpable(mm, suid_dumpable)) and
    pdeath_signal is cleared.

    Returns 0.

    Linux: kernel/cred.c:commit_creds()
    """
    old = current.real_cred
    assert current.cred is old, "commit_creds() during an override_creds()"
    if (old.euid != new.euid or old.egid != new.egid or old.fsuid != new.fsuid or old.fsgid != new.fsgid
            or not cred_cap_issubset(old, new)):
        if current.mm is not None:
            current.mm.set_dumpable(current.kernel.sysctl["fs.suid_dumpable"])
        if hasattr(current, "pdeath_signal"):
            current.pdeath_signal = 0
    current.real_cred = new
    current.cred = new
    return 0
