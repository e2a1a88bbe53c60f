"""kernel/capability.c: capable, ns_capable and friends, capget/capset."""

from __future__ import annotations


from simkernel.kernel import capability as C
from simkernel.kernel.task import PF_SUPERPRIV
from simkernel.kernel.user_namespace import UidGidExtent
from simkernel.uapi import errno as E
from simkernel.uapi.capability import (CAP_CHECKPOINT_RESTORE, CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FULL_SET,
                                       CAP_KILL, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_PTRACE)
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, child_ns, make_task, root_cred, user_cred


class FakeInode:
    def __init__(self, uid: int, gid: int) -> None:
        self.i_uid, self.i_gid = uid, gid


def test_capable_root_has_every_cap():
    """init's full effective set answers yes, and capable() marks PF_SUPERPRIV."""
    k = MiniKernel()
    t = make_task(k, root_cred(k))
    assert C.capable(t, CAP_SYS_ADMIN)
    assert t.flags & PF_SUPERPRIV


def test_capable_without_effective_bit_is_refused():
    """A cap in permitted but not effective does not count."""
    k = MiniKernel()
    t = make_task(k, root_cred(k, cap_effective=0))
    assert not C.capable(t, CAP_CHOWN)
    assert not t.flags & PF_SUPERPRIV


def test_ns_capable_child_ns_owner_has_all_caps():
    """The owner (euid) of a child namespace holds every cap in it, even with an empty effective set."""
    k = MiniKernel()
    cred = user_cred(k, 1000)
    ns = child_ns(k.init_user_ns, owner=1000)
    t = make_task(k, cred)
    assert C.ns_capable(t, ns, CAP_SYS_ADMIN)
    assert not C.ns_capable(t, k.init_user_ns, CAP_SYS_ADMIN)
    grandchild = child_ns(ns, owner=5)
    assert C.ns_capable(t, grandchild, CAP_KILL)


def test_ns_capable_non_owner_of_child_ns_is_refused():
    """Another uid gains nothing from a namespace it does not own, without effective caps."""
    k = MiniKernel()
    t = make_task(k, user_cred(k, 1001))
    assert not C.ns_capable(t, child_ns(k.init_user_ns, owner=1000), CAP_KILL)


def test_ns_capable_caps_in_child_ns_never_count_in_parent():
    """Full caps inside a child namespace give nothing over the initial namespace."""
    k = MiniKernel()
    ns = child_ns(k.init_user_ns, owner=1000)
    t = make_task(k, root_cred(k, user_ns=ns, uid=1000, euid=1000))
    assert C.ns_capable(t, ns, CAP_SYS_ADMIN)
    assert not C.capable(t, CAP_SYS_ADMIN)
    sibling = child_ns(k.init_user_ns, owner=1000)
    assert not C.ns_capable(t, sibling, CAP_SYS_ADMIN)


def test_ns_capable_noaudit_and_setid_same_answer():
    """The option flags change auditing, not the answer."""
    k = MiniKernel()
    t = make_task(k, root_cred(k))
    assert C.ns_capable_noaudit(t, k.init_user_ns, CAP_SETUID)
    assert C.ns_capable_setid(t, k.init_user_ns, CAP_SETUID)


def test_ns_capable_invalid_cap_is_a_bug():
    """capable(41) is a kernel BUG(), a simulator AssertionError here."""
    import pytest
    k = MiniKernel()
    t = make_task(k, root_cred(k))
    with pytest.raises(AssertionError):
        C.capable(t, 64)


def test_has_ns_capability_uses_objective_cred():
    """has_capability() looks at real_cred, not an override in ->cred."""
    k = MiniKernel()
    t = make_task(k, user_cred(k))
    t.cred = root_cred(k)
    assert not C.has_capability(t, CAP_KILL)
    assert not C.has_capability_noaudit(t, CAP_KILL)
    assert C.capable(t, CAP_KILL)
    t2 = make_task(k, root_cred(k))
    assert C.has_ns_capability(t2, k.init_user_ns, CAP_KILL)
    assert C.has_ns_capability_noaudit(t2, k.init_user_ns, CAP_KILL)
    assert not t2.flags & PF_SUPERPRIV


def test_file_ns_capable_uses_opener_cred():
    """file_ns_capable() asks about file->f_cred."""
    k = MiniKernel()

    class F:
        f_cred = root_cred(k)
    assert C.file_ns_capable(k, F(), k.init_user_ns, CAP_SYS_ADMIN)
    F.f_cred = user_cred(k)
    assert not C.file_ns_capable(k, F(), k.init_user_ns, CAP_SYS_ADMIN)


def test_capable_wrt_inode_uidgid_needs_mapped_owner():
    """CAP_DAC_OVERRIDE in a child namespace only works on inodes whose uid and gid are mapped there."""
    k = MiniKernel()
    ns = child_ns(k.init_user_ns, owner=1000, uid_map=(UidGidExtent(0, 1000, 1),),
                  gid_map=(UidGidExtent(0, 1000, 1),))
    t = make_task(k, root_cred(k, user_ns=ns, uid=1000, euid=1000, fsuid=1000, gid=1000, egid=1000))
    assert C.capable_wrt_inode_uidgid(t, FakeInode(1000, 1000), CAP_DAC_OVERRIDE)
    assert not C.capable_wrt_inode_uidgid(t, FakeInode(0, 1000), CAP_DAC_OVERRIDE)
    assert not C.capable_wrt_inode_uidgid(t, FakeInode(1000, 0), CAP_DAC_OVERRIDE)
    assert C.privileged_wrt_inode_uidgid(k.init_user_ns, FakeInode(0, 0))


def test_capable_wrt_inode_uidgid_without_cap_is_refused():
    """A mapped inode does not help without the capability."""
    k = MiniKernel()
    t = make_task(k, user_cred(k))
    assert not C.capable_wrt_inode_uidgid(t, FakeInode(0, 0), CAP_DAC_OVERRIDE)


def test_checkpoint_restore_ns_capable_either_cap():
    """CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN suffices; neither refuses."""
    k = MiniKernel()
    for caps, ok in ((1 << CAP_CHECKPOINT_RESTORE, True), (1 << CAP_SYS_ADMIN, True), (1 << CAP_KILL, False)):
        t = make_task(k, user_cred(k, cap_effective=caps, cap_permitted=caps))
        assert C.checkpoint_restore_ns_capable(t, k.init_user_ns) is ok


def test_ptracer_capable_untraced_and_traced():
    """Untraced: yes; traced by an unprivileged tracer: no; by one with CAP_SYS_PTRACE: yes."""
    k = MiniKernel()
    t = make_task(k, user_cred(k))
    assert C.ptracer_capable(t, k.init_user_ns)
    t.ptrace_parent = make_task(k, user_cred(k))
    assert not C.ptracer_capable(t, k.init_user_ns)
    t.ptrace_parent = make_task(k, user_cred(k, cap_effective=1 << CAP_SYS_PTRACE,
                                            cap_permitted=1 << CAP_SYS_PTRACE))
    assert C.ptracer_capable(t, k.init_user_ns)


def test_security_capable_extra_hook_can_deny():
    """An object in kernel.lsm_hooks with a capable() method is asked after commoncap."""
    from simkernel.errors import KernelError

    class NoAdmin:
        def capable(self, cred, ns, cap, opts):
            if cap == CAP_SYS_ADMIN:
                raise KernelError(E.EPERM, explain="NoAdmin")
    k = MiniKernel()
    k.lsm_hooks.append(NoAdmin())
    t = make_task(k, root_cred(k))
    assert not C.capable(t, CAP_SYS_ADMIN)
    assert C.capable(t, CAP_KILL)


def test_sys_capget_self_and_other():
    """capget(0) reads oneself, capget(pid) another task; ESRCH for none; EINVAL for negative."""
    k = MiniKernel()
    t = make_task(k, root_cred(k))
    u = make_task(k, user_cred(k, cap_effective=1, cap_permitted=3, cap_inheritable=2))
    assert C.sys_capget(t, 0) == (CAP_FULL_SET, CAP_FULL_SET, 0)
    assert C.sys_capget(t, t.pid) == (CAP_FULL_SET, CAP_FULL_SET, 0)
    assert C.sys_capget(t, u.pid) == (1, 3, 2)
    with kraises(E.ESRCH):
        C.sys_capget(t, 999)
    with kraises(E.EINVAL):
        C.sys_capget(t, -1)


def test_sys_capset_only_self():
    """capset on another pid is EPERM; own pid works; high bits are masked off silently."""
    k = MiniKernel()
    t = make_task(k, root_cred(k))
    u = make_task(k, user_cred(k))
    with kraises(E.EPERM):
        C.sys_capset(t, u.pid, 0, 0, 0)
    C.sys_capset(t, t.pid, (1 << 63) | 1, (1 << 63) | 1, 0)
    assert C.sys_capget(t, 0) == (1, 1, 0)


def test_sys_capset_drop_then_regain_refused():
    """Dropped permitted caps cannot come back: EPERM; dropping makes the commit keep dumpable."""
    k = MiniKernel()
    t = make_task(k, root_cred(k))
    C.sys_capset(t, 0, 1 << CAP_KILL, 1 << CAP_KILL, 0)
    assert t.mm.get_dumpable() == 1
    with kraises(E.EPERM):
        C.sys_capset(t, 0, 0, 1 << CAP_CHOWN, 0)


def test_perfmon_capable_either_cap():
    """CAP_PERFMON or CAP_SYS_ADMIN in the initial namespace."""
    from simkernel.uapi.capability import CAP_PERFMON
    k = MiniKernel()
    for caps, ok in ((1 << CAP_PERFMON, True), (1 << CAP_SYS_ADMIN, True), (1 << CAP_KILL, False)):
        t = make_task(k, user_cred(k, cap_effective=caps, cap_permitted=caps))
        assert C.perfmon_capable(t) is ok
