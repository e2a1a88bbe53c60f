"""kernel/cred.c: commit_creds dumpable rules, cred_cap_issubset, init_cred."""

from __future__ import annotations

import attrs
import pytest

from simkernel.kernel import cred as C
from simkernel.uapi.capability import CAP_FULL_SET, CAP_KILL
from tests.kernel.credkit import MiniKernel, child_ns, make_task, root_cred, user_cred


@pytest.fixture
def k():
    return MiniKernel()


def test_cred_init_full_is_root_with_all_caps(k):
    """init_cred: ids 0, P = E = bset = full, no I/ambient, initial user ns."""
    c = C.cred_init_full(k)
    assert (c.uid, c.euid, c.cap_permitted, c.cap_effective, c.cap_bset, c.cap_inheritable) == \
        (0, 0, CAP_FULL_SET, CAP_FULL_SET, CAP_FULL_SET, 0)
    assert c.user_ns is k.init_user_ns


def test_commit_creds_installs_both(k):
    """real_cred and cred both point to the new cred."""
    t = make_task(k, user_cred(k))
    new = attrs.evolve(C.prepare_creds(t), groups=(5,))
    assert C.commit_creds(t, new) == 0
    assert t.cred is new and t.real_cred is new
    C.abort_creds(new)


@pytest.mark.parametrize("field", ["euid", "egid", "fsuid", "fsgid"])
def test_commit_creds_id_change_sets_suid_dumpable(k, field):
    """A changed euid/egid/fsuid/fsgid makes the mm dumpable = fs.suid_dumpable."""
    for sd in (0, 2):
        k.sysctl["fs.suid_dumpable"] = sd
        t = make_task(k, user_cred(k))
        C.commit_creds(t, attrs.evolve(t.cred, **{field: 4242}))
        assert t.mm.get_dumpable() == sd


def test_commit_creds_ruid_change_keeps_dumpable(k):
    """Changing only the real/saved ids or groups leaves dumpable alone."""
    t = make_task(k, user_cred(k))
    C.commit_creds(t, attrs.evolve(t.cred, uid=5, suid=6, gid=7, sgid=8, groups=(1,)))
    assert t.mm.get_dumpable() == 1


def test_commit_creds_cap_gain_clears_dumpable(k):
    """New permitted caps not held before: non-dumpable; dropping caps: unchanged."""
    t = make_task(k, user_cred(k))
    C.commit_creds(t, attrs.evolve(t.cred, cap_permitted=1 << CAP_KILL))
    assert t.mm.get_dumpable() == 0
    u = make_task(k, root_cred(k))
    C.commit_creds(u, attrs.evolve(u.cred, cap_permitted=0, cap_effective=0))
    assert u.mm.get_dumpable() == 1


def test_commit_creds_without_mm(k):
    """A task without mm commits fine."""
    t = make_task(k, user_cred(k), with_mm=False)
    C.commit_creds(t, attrs.evolve(t.cred, euid=3))
    assert t.cred.euid == 3


def test_cred_cap_issubset_across_namespaces(k):
    """Moving into an own child namespace is not a gain; into a foreign one it is."""
    old = user_cred(k, 1000)
    ns = child_ns(k.init_user_ns, 1000)
    new = root_cred(k, user_ns=ns, uid=1000, euid=1000)
    assert C.cred_cap_issubset(old, new)
    assert not C.cred_cap_issubset(user_cred(k, 1001), new)
    assert not C.cred_cap_issubset(new, old)
    deeper = root_cred(k, user_ns=child_ns(ns, 1000))
    assert C.cred_cap_issubset(old, deeper)


def test_cred_in_group_p(k):
    """in_group_p: fsgid or supplementary; in_egroup_p: egid or supplementary."""
    c = user_cred(k, 1, 10, fsgid=11, groups=(20,))
    assert c.in_group_p(11) and c.in_group_p(20) and not c.in_group_p(10)
    assert c.in_egroup_p(10) and c.in_egroup_p(20) and not c.in_egroup_p(11)
