"""kernel/sys.c: get*id, set*uid/set*gid, setfs*id and prctl, on directly built tasks."""

from __future__ import annotations

import pytest

from simkernel.kernel import sys as S
from simkernel.kernel.user_namespace import UidGidExtent
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import CAP_FULL_SET, CAP_SETGID, CAP_SETUID
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, child_ns, make_task, root_cred, user_cred

FS_DROPPED = 0x1fef6fffde0 | (CAP_FULL_SET & ~0x1fffeffffff)  # host observation: root setfsuid(1000)


def ids(t):
    c = t.cred
    return (c.uid, c.euid, c.suid, c.fsuid), (c.gid, c.egid, c.sgid, c.fsgid)


@pytest.fixture
def k():
    return MiniKernel()


def test_sys_getpid_gettid_getppid_numbers(k):
    """getpid is the tgid, gettid the thread id, getppid the parent's tgid (0 without a parent)."""
    p = make_task(k, root_cred(k))
    c = make_task(k, root_cred(k), parent=p)
    th = make_task(k, root_cred(k), thread_of=c)
    assert (S.sys_getpid(th), S.sys_gettid(th), S.sys_getppid(c), S.sys_getppid(p)) == (c.pid, th.pid, p.pid, 0)
    assert S.find_task_by_vpid(p, th.pid) is th
    assert S.find_task_by_vpid(p, 999) is None


def test_sys_getuid_family_translate_with_caller_ns(k):
    """Getters show ids in the caller's namespace; unmapped ids read as 65534."""
    ns = child_ns(k.init_user_ns, 1000, uid_map=(UidGidExtent(0, 1000, 1),), gid_map=(UidGidExtent(0, 1000, 1),))
    t = make_task(k, user_cred(k, 1000, 1000, suid=5, sgid=6, user_ns=ns))
    assert (S.sys_getuid(t), S.sys_geteuid(t), S.sys_getgid(t), S.sys_getegid(t)) == (0, 0, 0, 0)
    assert S.sys_getresuid(t) == (0, 0, 65534)
    assert S.sys_getresgid(t) == (0, 0, 65534)


def test_sys_setuid_root_sets_all_and_drops_caps(k):
    """Root setuid(1000): all four uids, permitted/effective emptied, dumpable cleared (suid_dumpable 0)."""
    t = make_task(k, root_cred(k))
    S.sys_setuid(t, 1000)
    assert ids(t)[0] == (1000, 1000, 1000, 1000)
    assert (t.cred.cap_permitted, t.cred.cap_effective) == (0, 0)
    assert t.mm.get_dumpable() == 0


def test_sys_setuid_unprivileged_to_saved_uid(k):
    """Unprivileged setuid may pick the saved uid; only euid/fsuid change."""
    t = make_task(k, user_cred(k, 1000, suid=2000))
    S.sys_setuid(t, 2000)
    assert ids(t)[0] == (1000, 2000, 2000, 2000)


def test_sys_setuid_unprivileged_other_uid_eperm(k):
    """Unprivileged setuid to a foreign uid: EPERM."""
    t = make_task(k, user_cred(k, 1000))
    with kraises(E.EPERM) as info:
        S.sys_setuid(t, 0)
    assert "CAP_SETUID" in info.value.explain


def test_sys_setuid_unmapped_einval(k):
    """setuid(-1) and ids without mapping: EINVAL before any permission check."""
    t = make_task(k, user_cred(k))
    with kraises(E.EINVAL):
        S.sys_setuid(t, -1)
    with kraises(E.EINVAL):
        S.sys_setgid(t, 0xFFFFFFFF)


def test_sys_setuid_keepcaps_keeps_permitted(k):
    """With SECBIT_KEEP_CAPS the permitted set survives leaving root; effective is cleared."""
    t = make_task(k, root_cred(k, securebits=PR.SECBIT_KEEP_CAPS))
    S.sys_setuid(t, 1000)
    assert (t.cred.cap_permitted, t.cred.cap_effective) == (CAP_FULL_SET, 0)


def test_sys_setuid_no_setuid_fixup_keeps_caps(k):
    """SECURE_NO_SETUID_FIXUP: capabilities do not move with uids at all."""
    t = make_task(k, root_cred(k, securebits=PR.SECBIT_NO_SETUID_FIXUP))
    S.sys_setuid(t, 1000)
    assert t.cred.cap_effective == CAP_FULL_SET


def test_sys_seteuid_and_back_restores_effective(k):
    """setresuid(-1,1000,-1) clears effective; back to euid 0 sets effective = permitted."""
    t = make_task(k, root_cred(k))
    S.sys_setresuid(t, -1, 1000, -1)
    assert ids(t)[0] == (0, 1000, 0, 1000)
    assert t.cred.cap_effective == 0 and t.cred.cap_permitted == CAP_FULL_SET
    S.sys_setresuid(t, -1, 0, -1)
    assert t.cred.cap_effective == CAP_FULL_SET


def test_sys_setresuid_noop_returns_early(k):
    """All -1 (or the same ids) changes nothing, even without privilege."""
    t = make_task(k, user_cred(k))
    before = t.cred
    S.sys_setresuid(t, -1, -1, -1)
    S.sys_setresuid(t, 1000, 1000, 1000)
    assert t.cred is before


def test_sys_setresuid_unprivileged_permutes(k):
    """Unprivileged may permute among ruid/euid/suid; a new id is EPERM."""
    t = make_task(k, user_cred(k, 1000, euid=1001, suid=1002, fsuid=1001))
    S.sys_setresuid(t, 1002, 1000, 1001)
    assert ids(t)[0] == (1002, 1000, 1001, 1000)
    with kraises(E.EPERM):
        S.sys_setresuid(t, -1, -1, 5)


def test_sys_setresuid_einval_order(k):
    """An unmapped ruid is EINVAL even when euid would be EPERM."""
    ns = child_ns(k.init_user_ns, 1000, uid_map=(UidGidExtent(0, 1000, 1),))
    t = make_task(k, user_cred(k, 1000, user_ns=ns))
    with kraises(E.EINVAL):
        S.sys_setresuid(t, 7, -1, -1)
    with kraises(E.EINVAL):
        S.sys_setresuid(t, -1, 7, -1)
    with kraises(E.EINVAL):
        S.sys_setresuid(t, -1, -1, 7)


def test_sys_setresuid_euid_fsuid_differ_not_noop(k):
    """setresuid(-1, euid, -1) with fsuid != euid resets fsuid (not a no-op)."""
    t = make_task(k, user_cred(k, 1000, fsuid=1000))
    S.sys_setfsuid(t, 1000)
    t2 = make_task(k, root_cred(k))
    S.sys_setfsuid(t2, 5)
    S.sys_setresuid(t2, -1, 0, -1)
    assert t2.cred.fsuid == 0


def test_sys_setreuid_rules(k):
    """setreuid: swapping ruid/euid is allowed; suid follows the new euid when ruid is set."""
    t = make_task(k, user_cred(k, 1000, euid=2000, suid=3000, fsuid=2000))
    S.sys_setreuid(t, 2000, 1000)
    assert ids(t)[0] == (2000, 1000, 1000, 1000)
    S.sys_setreuid(t, -1, 1000)
    assert ids(t)[0] == (2000, 1000, 1000, 1000)
    with kraises(E.EPERM):
        S.sys_setreuid(t, 4, -1)
    with kraises(E.EPERM):
        S.sys_setreuid(t, -1, 4)


def test_sys_setreuid_euid_only_keeps_suid_when_equal_ruid(k):
    """setreuid(-1, ruid) leaves suid alone; setreuid(-1, other) sets suid = euid."""
    t = make_task(k, user_cred(k, 1000, euid=2000, suid=2000, fsuid=2000))
    S.sys_setreuid(t, -1, 1000)
    assert ids(t)[0] == (1000, 1000, 2000, 1000)
    S.sys_setreuid(t, -1, 2000)
    assert ids(t)[0] == (1000, 2000, 2000, 2000)


def test_sys_setreuid_root(k):
    """Root setreuid to anything."""
    t = make_task(k, root_cred(k))
    S.sys_setreuid(t, 5, 6)
    assert ids(t)[0] == (5, 6, 6, 6)
    assert t.cred.cap_permitted == 0


def test_sys_setgid_rules(k):
    """setgid: root sets all four; unprivileged only rgid/sgid values; others EPERM."""
    t = make_task(k, root_cred(k))
    S.sys_setgid(t, 50)
    assert ids(t)[1] == (50, 50, 50, 50)
    u = make_task(k, user_cred(k, 1000, 1000, sgid=7))
    S.sys_setgid(u, 7)
    assert ids(u)[1] == (1000, 7, 7, 7)
    with kraises(E.EPERM):
        S.sys_setgid(u, 9)


def test_sys_setregid_rules(k):
    """setregid mirrors setreuid."""
    u = make_task(k, user_cred(k, 1000, 1000, egid=2000, sgid=3000, fsgid=2000))
    S.sys_setregid(u, 2000, 3000)
    assert ids(u)[1] == (2000, 3000, 3000, 3000)
    S.sys_setregid(u, -1, 2000)
    assert ids(u)[1] == (2000, 2000, 3000, 2000)
    with kraises(E.EPERM):
        S.sys_setregid(u, 9, -1)
    with kraises(E.EPERM):
        S.sys_setregid(u, -1, 9)
    r = make_task(k, root_cred(k))
    S.sys_setregid(r, 1, 2)
    assert ids(r)[1] == (1, 2, 2, 2)


def test_sys_setresgid_rules(k):
    """setresgid: no-op shortcut, permutation, EPERM, EINVAL."""
    u = make_task(k, user_cred(k, 1000, 1000, egid=2000, sgid=3000, fsgid=2000))
    before = u.cred
    S.sys_setresgid(u, -1, -1, -1)
    assert u.cred is before
    S.sys_setresgid(u, 3000, 1000, 2000)
    assert ids(u)[1] == (3000, 1000, 2000, 1000)
    with kraises(E.EPERM):
        S.sys_setresgid(u, 1, -1, -1)
    ns = child_ns(k.init_user_ns, 1000, gid_map=(UidGidExtent(0, 1000, 1),))
    n = make_task(k, user_cred(k, user_ns=ns))
    for args in ((7, -1, -1), (-1, 7, -1), (-1, -1, 7)):
        with kraises(E.EINVAL):
            S.sys_setresgid(n, *args)
    for args in ((7, -1), (-1, 7)):
        with kraises(E.EINVAL):
            S.sys_setregid(n, *args)
        with kraises(E.EINVAL):
            S.sys_setreuid(n, *args)
    r = make_task(k, root_cred(k))
    S.sys_setresgid(r, 1, 2, 3)
    assert ids(r)[1] == (1, 2, 3, 2)


def test_sys_setresgid_dumpable_cleared_on_egid_change(k):
    """Changing egid commits with set_dumpable(suid_dumpable)."""
    k.sysctl["fs.suid_dumpable"] = 2
    r = make_task(k, root_cred(k))
    S.sys_setresgid(r, -1, 5, -1)
    assert r.mm.get_dumpable() == 2


def test_sys_setfsuid_returns_old_and_moves_fs_caps(k):
    """setfsuid returns the old fsuid; fsuid 0 -> 1000 drops CAP_FS_SET from effective, back raises it."""
    t = make_task(k, root_cred(k, cap_permitted=0x1fffeffffff, cap_effective=0x1fffeffffff))
    assert S.sys_setfsuid(t, 1000) == 0
    assert t.cred.cap_effective == 0x1fef6fffde0
    assert S.sys_setfsuid(t, 0) == 1000
    assert t.cred.cap_effective == 0x1fffeffffff


def test_sys_setfsuid_never_fails(k):
    """Unprivileged setfsuid to a foreign or unmapped id silently does nothing."""
    t = make_task(k, user_cred(k))
    assert S.sys_setfsuid(t, 0) == 1000
    assert S.sys_setfsuid(t, -1) == 1000
    assert S.sys_setfsuid(t, 1000) == 1000
    assert t.cred.fsuid == 1000


def test_sys_setfsgid_rules(k):
    """setfsgid returns the old fsgid; allowed to one of the gids or with CAP_SETGID."""
    t = make_task(k, user_cred(k, 1000, 1000, sgid=5))
    assert S.sys_setfsgid(t, 5) == 1000
    assert t.cred.fsgid == 5
    assert S.sys_setfsgid(t, 9) == 5
    assert S.sys_setfsgid(t, -1) == 5
    assert S.sys_setfsgid(t, 5) == 5
    r = make_task(k, root_cred(k))
    assert S.sys_setfsgid(r, 77) == 0 and r.cred.fsgid == 77


def test_sys_setfsuid_lsm_denial_keeps_fsuid(k):
    """A task_fix_setuid hook that refuses leaves fsuid unchanged (the old value is still returned)."""
    from simkernel.errors import KernelError

    class Deny:
        def task_fix_setuid(self, new, old, flags):
            raise KernelError(E.EPERM)

        def task_fix_setgid(self, new, old, flags):
            raise KernelError(E.EPERM)
    k.lsm_hooks.append(Deny())
    r = make_task(k, root_cred(k))
    assert S.sys_setfsuid(r, 5) == 0 and r.cred.fsuid == 0
    assert S.sys_setfsgid(r, 5) == 0 and r.cred.fsgid == 0


def test_sys_setuid_in_child_ns_needs_cap_there(k):
    """Inside a user namespace, full caps there allow setuid to any mapped id."""
    ns = child_ns(k.init_user_ns, 1000, uid_map=(UidGidExtent(0, 100000, 65536),),
                  gid_map=(UidGidExtent(0, 100000, 65536),))
    t = make_task(k, root_cred(k, user_ns=ns, uid=100000, euid=100000, suid=100000, fsuid=100000))
    S.sys_setuid(t, 5)
    assert ids(t)[0] == (100005,) * 4
    assert S.sys_getuid(t) == 5


def test_sys_prctl_dumpable(k):
    """PR_SET_DUMPABLE takes 0 or 1 (2 is EINVAL); PR_GET_DUMPABLE reads it back."""
    t = make_task(k, root_cred(k))
    with kraises(E.EINVAL):
        S.sys_prctl(t, PR.PR_SET_DUMPABLE, 2)
    assert S.sys_prctl(t, PR.PR_SET_DUMPABLE, 0) == 0
    assert S.sys_prctl(t, PR.PR_GET_DUMPABLE) == 0
    S.sys_prctl(t, PR.PR_SET_DUMPABLE, 1)
    assert S.sys_prctl(t, PR.PR_GET_DUMPABLE) == 1


def test_sys_prctl_dumpable_without_mm(k):
    """A task without mm reads dumpable 0 and PR_SET_DUMPABLE is harmless."""
    t = make_task(k, root_cred(k), with_mm=False)
    assert S.sys_prctl(t, PR.PR_GET_DUMPABLE) == 0
    assert S.sys_prctl(t, PR.PR_SET_DUMPABLE, 1) == 0


def test_sys_prctl_name_truncates_to_15(k):
    """PR_SET_NAME keeps 15 bytes; PR_GET_NAME returns the comm."""
    t = make_task(k, root_cred(k))
    S.sys_prctl(t, PR.PR_SET_NAME, "abcdefghijklmnopqrstuvwxyz")
    assert t.comm == "abcdefghijklmno"
    assert S.sys_prctl(t, PR.PR_GET_NAME) == "abcdefghijklmno"
    S.sys_prctl(t, PR.PR_SET_NAME, b"x\0yz")
    assert t.comm == "x"


def test_sys_prctl_no_new_privs(k):
    """PR_SET_NO_NEW_PRIVS needs exactly (1,0,0,0); it sticks; GET needs zero args."""
    t = make_task(k, user_cred(k))
    with kraises(E.EINVAL):
        S.sys_prctl(t, PR.PR_SET_NO_NEW_PRIVS, 2)
    with kraises(E.EINVAL):
        S.sys_prctl(t, PR.PR_SET_NO_NEW_PRIVS, 1, 1)
    assert S.sys_prctl(t, PR.PR_GET_NO_NEW_PRIVS) == 0
    S.sys_prctl(t, PR.PR_SET_NO_NEW_PRIVS, 1)
    assert S.sys_prctl(t, PR.PR_GET_NO_NEW_PRIVS) == 1
    with kraises(E.EINVAL):
        S.sys_prctl(t, PR.PR_GET_NO_NEW_PRIVS, 1)


def test_sys_prctl_unknown_option_einval(k):
    """Unknown options, and PR_SET_PTRACER without Yama, are EINVAL."""
    t = make_task(k, user_cred(k))
    with kraises(E.EINVAL):
        S.sys_prctl(t, 9999)
    with kraises(E.EINVAL):
        S.sys_prctl(t, PR.PR_SET_PTRACER, 0)


def test_sys_prctl_keepcaps_roundtrip(k):
    """PR_SET_KEEPCAPS/PR_GET_KEEPCAPS go through commoncap; 2 is EINVAL."""
    t = make_task(k, user_cred(k))
    assert S.sys_prctl(t, PR.PR_GET_KEEPCAPS) == 0
    assert S.sys_prctl(t, PR.PR_SET_KEEPCAPS, 1) == 0
    assert S.sys_prctl(t, PR.PR_GET_KEEPCAPS) == 1
    assert S.sys_prctl(t, PR.PR_GET_SECUREBITS) == PR.SECBIT_KEEP_CAPS
    with kraises(E.EINVAL):
        S.sys_prctl(t, PR.PR_SET_KEEPCAPS, 2)
    S.sys_prctl(t, PR.PR_SET_KEEPCAPS, 0)
    assert S.sys_prctl(t, PR.PR_GET_KEEPCAPS) == 0


def test_sys_setuid_setgid_caps_checked_on_old_creds(k):
    """CAP_SETUID alone allows setuid but not setgid."""
    t = make_task(k, user_cred(k, cap_permitted=1 << CAP_SETUID, cap_effective=1 << CAP_SETUID))
    with kraises(E.EPERM):
        S.sys_setgid(t, 0)
    S.sys_setuid(t, 0)
    assert ids(t)[0] == (0, 0, 0, 0)
    g = make_task(k, user_cred(k, cap_permitted=1 << CAP_SETGID, cap_effective=1 << CAP_SETGID))
    S.sys_setgid(g, 0)
    assert ids(g)[1] == (0, 0, 0, 0)
