"""kernel/user_namespace.c: id translation, create_user_ns, uid_map/gid_map writes, setgroups."""

from __future__ import annotations

import pytest

from simkernel.kernel import user_namespace as U
from simkernel.kernel.cred import commit_creds
from simkernel.kernel.groups import sys_setgroups
from simkernel.kernel.sys import sys_getuid, sys_setuid
from simkernel.uapi import errno as E
from simkernel.uapi.capability import CAP_FULL_SET, CAP_SETFCAP
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, make_task, root_cred, user_cred


@pytest.fixture
def k():
    return MiniKernel()


def enter_userns(k, cred):
    """A task that ran unshare(CLONE_NEWUSER) and its parent-side twin."""
    t = make_task(k, cred)
    commit_creds(t, U.unshare_userns(t))
    return t


def test_make_kuid_initial_identity_but_not_minus_one(k):
    """The initial namespace maps every id to itself except (uid_t)-1."""
    ns = k.init_user_ns
    assert U.make_kuid(ns, 1234) == 1234 and U.make_kgid(ns, 0) == 0
    assert U.make_kuid(ns, -1) == U.INVALID_UID and U.make_kgid(ns, 0xFFFFFFFF) == U.INVALID_GID
    assert U.from_kuid(ns, -1) == -1 and U.from_kgid(ns, -1) == -1


def test_from_kuid_munged_overflow(k):
    """Unmapped kuids read as 65534."""
    ns = U.UserNamespace(level=1, owner=1000, group=1000, parent=k.init_user_ns,
                         uid_map=(U.UidGidExtent(0, 1000, 1),), gid_map=(U.UidGidExtent(0, 1000, 1),))
    assert U.from_kuid_munged(ns, 1000) == 0 and U.from_kuid_munged(ns, 0) == 65534
    assert U.from_kgid_munged(ns, 1000) == 0 and U.from_kgid_munged(ns, 5) == 65534
    assert U.kuid_has_mapping(ns, 1000) and not U.kgid_has_mapping(ns, 5)


def test_in_userns(k):
    """A namespace is in itself and its ancestors."""
    a = U.UserNamespace(level=1, owner=0, group=0, parent=k.init_user_ns)
    b = U.UserNamespace(level=2, owner=0, group=0, parent=a)
    assert U.in_userns(k.init_user_ns, b) and U.in_userns(a, a) and not U.in_userns(b, a)


def test_create_user_ns_full_caps_inside(k):
    """unshare(CLONE_NEWUSER): full caps bound to the new ns, owner = euid, empty maps, flags inherited."""
    t = enter_userns(k, user_cred(k, 1000, 1000, cap_inheritable=1, cap_ambient=1, cap_permitted=1,
                                  securebits=16))
    c = t.cred
    ns = c.user_ns
    assert (ns.level, ns.owner, ns.group, ns.parent) == (1, 1000, 1000, k.init_user_ns)
    assert (c.cap_permitted, c.cap_effective, c.cap_bset, c.cap_inheritable, c.cap_ambient, c.securebits) == \
        (CAP_FULL_SET, CAP_FULL_SET, CAP_FULL_SET, 0, 0, 0)
    assert ns.uid_map == () and not ns.parent_could_setfcap
    assert sys_getuid(t) == 65534
    assert t.mm.get_dumpable() == 1


def test_create_user_ns_records_setfcap(k):
    """The creator's CAP_SETFCAP is remembered for mapping root later."""
    t = enter_userns(k, root_cred(k))
    assert t.cred.user_ns.parent_could_setfcap


def test_create_user_ns_depth_limit_enospc(k):
    """33 nested namespaces is the limit: ENOSPC."""
    t = make_task(k, root_cred(k))
    for _ in range(33):
        commit_creds(t, U.unshare_userns(t))
        ns = t.cred.user_ns
        ns.uid_map = ns.gid_map = (U.UidGidExtent(0, 0, 1),)
    assert t.cred.user_ns.level == 33
    with kraises(E.ENOSPC):
        U.unshare_userns(t)


def test_create_user_ns_unmapped_creator_eperm(k):
    """The creator's euid must be mapped in the parent namespace."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    with kraises(E.EPERM):
        U.unshare_userns(t)


def test_map_write_unprivileged_own_uid(k):
    """The owner may map exactly its own euid ("0 1000 1"), and only once."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    assert U.map_write(t, t, "uid", "0 1000 1\n") == 9
    assert U.make_kuid(t.cred.user_ns, 0) == 1000 and sys_getuid(t) == 0
    with kraises(E.EPERM) as info:
        U.map_write(t, t, "uid", "0 1000 1")
    assert "write-once" in info.value.explain


def test_map_write_unprivileged_other_uid_eperm(k):
    """Mapping anything else than the own euid needs CAP_SETUID over the parent."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    with kraises(E.EPERM):
        U.map_write(t, t, "uid", "0 1001 1")
    with kraises(E.EPERM):
        U.map_write(t, t, "uid", "0 1000 2")


def test_map_write_gid_needs_setgroups_deny(k):
    """An unprivileged gid map needs setgroups "deny" first."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    with kraises(E.EPERM) as info:
        U.map_write(t, t, "gid", "0 1000 1")
    assert "deny" in info.value.explain
    assert U.proc_setgroups_write(t, t, "deny") == 4
    assert U.proc_setgroups_show(t) == "deny\n"
    U.map_write(t, t, "gid", "0 1000 1")
    with kraises(E.EPERM):
        U.proc_setgroups_write(t, t, "allow")
    with kraises(E.EPERM):
        sys_setgroups(t, [0])


def test_proc_setgroups_write_parse_and_order(k):
    """setgroups file: EACCES without CAP_SYS_ADMIN, EINVAL on junk, EPERM for deny after gid_map."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    with kraises(E.EINVAL):
        U.proc_setgroups_write(t, t, "maybe")
    with kraises(E.EINVAL):
        U.proc_setgroups_write(t, t, "allow  x")
    with kraises(E.EINVAL):
        U.proc_setgroups_write(t, t, "denydeny")
    assert U.proc_setgroups_write(t, t, b"allow \n") == 7
    assert U.proc_setgroups_show(t) == "allow\n"
    root = make_task(k, root_cred(k))
    U.map_write(root, t, "gid", "0 1000 1")
    with kraises(E.EPERM):
        U.proc_setgroups_write(t, t, "deny")
    stranger = make_task(k, user_cred(k, 1001, 1001))
    with kraises(E.EACCES):
        U.proc_setgroups_write(stranger, t, "deny")


def test_map_write_privileged_parent_maps_range(k):
    """Root in the parent maps a range; lower ids become kernel ids; the show reads them back."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    root = make_task(k, root_cred(k))
    U.map_write(root, t, "uid", "0 100000 65536\n")
    assert U.make_kuid(t.cred.user_ns, 5) == 100005
    assert U.proc_id_map_show(root, t, "uid") == "         0     100000      65536\n"
    assert U.proc_id_map_show(t, t, "uid") == "         0     100000      65536\n"
    sys_setuid(t, 7)
    assert t.cred.uid == 100007


def test_map_write_nested_lower_ids_are_mapped_down(k):
    """In a grandchild, lower ids are the child's ids, stored as kernel ids."""
    root = make_task(k, root_cred(k))
    mid = enter_userns(k, user_cred(k, 100000, 100000))
    U.map_write(root, mid, "uid", "0 100000 1000")
    U.map_write(root, mid, "gid", "0 100000 1000")
    inner = make_task(k, mid.cred)
    commit_creds(inner, U.unshare_userns(inner))
    U.map_write(mid, inner, "uid", "0 10 5")
    assert U.make_kuid(inner.cred.user_ns, 2) == 100012
    assert U.proc_id_map_show(mid, inner, "uid").split() == ["0", "10", "5"]
    assert U.proc_id_map_show(root, inner, "uid").split() == ["0", "100010", "5"]
    inner2 = make_task(k, mid.cred)
    commit_creds(inner2, U.unshare_userns(inner2))
    with kraises(E.EPERM) as info:
        U.map_write(mid, inner2, "uid", "0 999 5")
    assert "not mapped in the parent" in info.value.explain


def test_map_write_root_mapping_needs_setfcap(k):
    """Mapping parent root: from outside needs CAP_SETFCAP; from inside it must have been held at unshare."""
    t = enter_userns(k, root_cred(k, cap_effective=CAP_FULL_SET & ~(1 << CAP_SETFCAP)))
    with kraises(E.EPERM):
        U.map_write(t, t, "uid", "0 0 1")
    root = make_task(k, root_cred(k))
    U.map_write(root, t, "uid", "0 0 1")
    u = enter_userns(k, root_cred(k, cap_effective=CAP_FULL_SET & ~(1 << CAP_SETFCAP)))
    weak = make_task(k, root_cred(k, cap_effective=CAP_FULL_SET & ~(1 << CAP_SETFCAP)))
    with kraises(E.EPERM):
        U.map_write(weak, u, "uid", "0 0 1")


def test_map_write_gid_map_by_root_then_setgroups(k):
    """Once root wrote a gid_map with setgroups allowed, setgroups works inside."""
    t = enter_userns(k, user_cred(k, 1000, 1000))
    root = make_task(k, root_cred(k))
    U.map_write(root, t, "gid", "0 1000 1\n1 2000 1")
    sys_setgroups(t, [1, 0])
    assert t.cred.groups == (1000, 2000)


def test_map_write_access_rules(k):
    """Initial ns map: EPERM; unrelated namespace: EPERM; too long: EINVAL; no CAP_SYS_ADMIN: EPERM."""
    root = make_task(k, root_cred(k))
    with kraises(E.EPERM):
        U.map_write(root, root, "uid", "0 0 1")
    a = enter_userns(k, user_cred(k, 1000, 1000))
    b = enter_userns(k, user_cred(k, 1000, 1000))
    with kraises(E.EPERM) as info:
        U.map_write(a, b, "uid", "0 1000 1")
    assert "neither" in info.value.explain
    with kraises(E.EINVAL):
        U.map_write(root, a, "uid", "0 0 1\n" * 700)
    stranger = make_task(k, user_cred(k, 1001, 1001))
    with kraises(E.EPERM) as info:
        U.map_write(stranger, a, "uid", "0 1001 1")
    assert "CAP_SYS_ADMIN" in info.value.explain


@pytest.mark.parametrize("text", ["", "\n", "0 1000", "0 1000 1 x", "0 1000 1x", "a 1000 1", "0 b 1",
                                  "0 1000 0", "4294967295 0 1", "0 4294967295 1", "4294967290 0 10",
                                  "0 4294967290 10", "0 0 10\n5 100 1", "0 0 10\n100 5 1"])
def test_parse_id_map_rejects(text):
    """Malformed, zero-count, wrapping, (uid_t)-1 and overlapping extents are EINVAL."""
    with kraises(E.EINVAL):
        U.parse_id_map(text)


def test_parse_id_map_accepts_spacing_and_limits():
    """Any whitespace between numbers; 340 lines fit, 341 do not."""
    assert U.parse_id_map("  0\t1000   1  \n") == [U.UidGidExtent(0, 1000, 1)]
    ok = "".join(f"{i} {i} 1\n" for i in range(340))
    assert len(U.parse_id_map(ok)) == 340
    with kraises(E.EINVAL):
        U.parse_id_map(ok + "340 340 1")
    assert U.parse_id_map("0 1 1\0junk") == [U.UidGidExtent(0, 1, 1)]
