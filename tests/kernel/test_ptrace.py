"""kernel/ptrace.c: __ptrace_may_access order of checks and the words it reports."""

from __future__ import annotations

import attrs
import pytest

from simkernel.kernel import ptrace as P
from simkernel.uapi import errno as E
from simkernel.uapi.capability import CAP_FULL_SET, CAP_KILL, CAP_SYS_PTRACE
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, child_ns, make_task, root_cred, user_cred

R = P.PTRACE_MODE_READ_FSCREDS


@pytest.fixture
def k():
    return MiniKernel()


def test_ptrace_may_access_same_uid_allowed(k):
    """Same uids/gids, dumpable, no caps on either side: allowed."""
    a, b = make_task(k, user_cred(k)), make_task(k, user_cred(k))
    assert P.ptrace_may_access(a, b, R)
    assert P.ptrace_may_access_explain(a, b, R) == (True, "allowed")


def test_ptrace_may_access_needs_one_creds_flag(k):
    """A mode with neither or both of FSCREDS/REALCREDS is refused, even for oneself."""
    a = make_task(k, root_cred(k))
    with kraises(E.EPERM) as info:
        P.__ptrace_may_access(a, a, P.PTRACE_MODE_READ)
    assert "FSCREDS" in info.value.explain
    assert not P.ptrace_may_access(a, a, P.PTRACE_MODE_READ | P.PTRACE_MODE_FSCREDS | P.PTRACE_MODE_REALCREDS)


def test_ptrace_may_access_same_thread_group_shortcut(k):
    """A thread of the same process is always allowed (before the dumpable check)."""
    a = make_task(k, user_cred(k))
    a.mm.set_dumpable(0)
    th = make_task(k, root_cred(k), thread_of=a)
    assert P.__ptrace_may_access(th, a, R) == 0


def test_ptrace_may_access_uid_mismatch_eperm(k):
    """Different uid without CAP_SYS_PTRACE: EPERM naming the ids."""
    a, b = make_task(k, user_cred(k, 1000)), make_task(k, user_cred(k, 1001))
    with kraises(E.EPERM) as info:
        P.__ptrace_may_access(a, b, R)
    assert "does not match" in info.value.explain


def test_ptrace_may_access_fscreds_vs_realcreds(k):
    """FSCREDS compares the caller's fsuid, REALCREDS its real uid."""
    caller = make_task(k, user_cred(k, 1000, fsuid=2000))
    target = make_task(k, user_cred(k, 2000))
    assert P.ptrace_may_access(caller, target, R)
    assert not P.ptrace_may_access(caller, target, P.PTRACE_MODE_READ_REALCREDS)


def test_ptrace_may_access_target_saved_uid_must_match(k):
    """A target whose suid differs (a set-uid program) is not the caller's to inspect."""
    a = make_task(k, user_cred(k, 1000))
    b = make_task(k, user_cred(k, 1000, suid=0))
    assert not P.ptrace_may_access(a, b, R)


def test_ptrace_may_access_nondumpable_eperm(k):
    """Same uid but dumpable 0: EPERM; CAP_SYS_PTRACE over mm->user_ns overrides."""
    a, b = make_task(k, user_cred(k)), make_task(k, user_cred(k))
    b.mm.set_dumpable(0)
    with kraises(E.EPERM) as info:
        P.__ptrace_may_access(a, b, R)
    assert "dumpable" in info.value.explain
    b.mm.set_dumpable(2)
    assert not P.ptrace_may_access(a, b, R)
    tracer = make_task(k, user_cred(k, cap_permitted=1 << CAP_SYS_PTRACE, cap_effective=1 << CAP_SYS_PTRACE))
    assert P.ptrace_may_access(tracer, b, R)


def test_ptrace_may_access_without_mm_skips_dumpable(k):
    """Kernel threads / exited tasks (mm None) skip the dumpable check."""
    a = make_task(k, root_cred(k))
    kt = make_task(k, root_cred(k), with_mm=False)
    assert P.ptrace_may_access(a, kt, R)


def test_ptrace_may_access_commoncap_subset(k):
    """Root caller with an empty effective set cannot read a full-caps root target (FSCREDS)."""
    a = make_task(k, root_cred(k, cap_effective=0))
    b = make_task(k, root_cred(k))
    ok, why = P.ptrace_may_access_explain(a, b, R)
    assert not ok and "commoncap" in why
    assert P.ptrace_may_access(a, b, P.PTRACE_MODE_READ_REALCREDS)


def test_ptrace_may_access_noaudit_same_answer(k):
    """PTRACE_MODE_NOAUDIT changes auditing only."""
    a = make_task(k, root_cred(k))
    b = make_task(k, user_cred(k))
    assert P.ptrace_may_access(a, b, R | P.PTRACE_MODE_NOAUDIT)


def test_ptrace_may_access_ns_owner_can_read_ns_members(k):
    """The owner of a user namespace holds CAP_SYS_PTRACE over tasks inside it."""
    ns = child_ns(k.init_user_ns, 1000)
    inside = make_task(k, root_cred(k, user_ns=ns, uid=1000, euid=1000, suid=1000, fsuid=1000, gid=5, egid=5,
                                    sgid=5, fsgid=5))
    inside.mm.user_ns = k.init_user_ns
    owner = make_task(k, user_cred(k, 1000))
    assert P.ptrace_may_access(owner, inside, R)
    inside.mm.set_dumpable(0)   # mm->user_ns is the parent: the owner has no CAP_SYS_PTRACE there
    assert not P.ptrace_may_access(owner, inside, R)


def test_ptrace_has_cap(k):
    """ptrace_has_cap: CAP_SYS_PTRACE over the namespace, audited or not."""
    a = make_task(k, root_cred(k))
    assert P.ptrace_has_cap(a, k.init_user_ns, 0) and P.ptrace_has_cap(a, k.init_user_ns, P.PTRACE_MODE_NOAUDIT)
    b = make_task(k, user_cred(k, cap_effective=1 << CAP_KILL, cap_permitted=CAP_FULL_SET))
    assert not P.ptrace_has_cap(b, k.init_user_ns, 0)
    assert P._mode_name(0) == "0"


def test_ptrace_may_access_uses_objective_target_cred(k):
    """The target's real_cred decides, not an override in ->cred."""
    a = make_task(k, user_cred(k))
    b = make_task(k, user_cred(k))
    b.cred = attrs.evolve(b.cred, uid=0)
    assert P.ptrace_may_access(a, b, R)
