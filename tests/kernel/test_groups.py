"""kernel/groups.c: getgroups/setgroups."""

from __future__ import annotations

import pytest

from simkernel.kernel import groups as G
from simkernel.kernel.user_namespace import UidGidExtent
from simkernel.uapi import errno as E
from simkernel.uapi.capability import CAP_SETGID
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, child_ns, make_task, root_cred, user_cred


@pytest.fixture
def k():
    return MiniKernel()


def test_sys_setgroups_sorts_keeps_duplicates(k):
    """setgroups stores a sorted list; duplicates stay (groups_sort does not dedupe)."""
    t = make_task(k, root_cred(k))
    G.sys_setgroups(t, [30, 10, 20, 10])
    assert G.sys_getgroups(t) == [10, 10, 20, 30]
    assert G.in_group_p(t, 20) and not G.in_egroup_p(t, 99) and G.groups_search(t.cred.groups, 30)


def test_sys_setgroups_unprivileged_eperm(k):
    """Without CAP_SETGID: EPERM, even for an empty list."""
    t = make_task(k, user_cred(k))
    with kraises(E.EPERM) as info:
        G.sys_setgroups(t, [])
    assert "CAP_SETGID" in info.value.explain


def test_sys_setgroups_cap_setgid_suffices(k):
    """CAP_SETGID alone is enough."""
    t = make_task(k, user_cred(k, cap_effective=1 << CAP_SETGID, cap_permitted=1 << CAP_SETGID))
    G.sys_setgroups(t, [5])
    assert t.cred.groups == (5,)


def test_sys_setgroups_too_many_einval(k):
    """More than NGROUPS_MAX (65536): EINVAL; exactly 65536 is fine."""
    t = make_task(k, root_cred(k))
    with kraises(E.EINVAL):
        G.sys_setgroups(t, range(65537))
    G.sys_setgroups(t, range(65536))
    assert len(t.cred.groups) == 65536


def test_sys_setgroups_unmapped_einval(k):
    """A gid without mapping in the caller's namespace: EINVAL."""
    t = make_task(k, root_cred(k))
    with kraises(E.EINVAL):
        G.sys_setgroups(t, [-1])


def test_sys_setgroups_in_ns_without_gid_map_eperm(k):
    """In a namespace without gid_map, setgroups is EPERM even with full caps there."""
    ns = child_ns(k.init_user_ns, 1000, uid_map=(UidGidExtent(0, 1000, 1),))
    t = make_task(k, root_cred(k, user_ns=ns, uid=1000, euid=1000))
    with kraises(E.EPERM) as info:
        G.sys_setgroups(t, [0])
    assert "gid_map" in info.value.explain


def test_sys_getgroups_translates(k):
    """Groups read through the caller's namespace; unmapped ones as 65534."""
    ns = child_ns(k.init_user_ns, 1000, gid_map=(UidGidExtent(0, 1000, 1),))
    t = make_task(k, user_cred(k, user_ns=ns, groups=(5, 1000)))
    assert G.sys_getgroups(t) == [65534, 0]
