"""security/commoncap.c: cap_capable, capset rules, uid-change fixups, capability prctls, mmap_addr, exec."""

from __future__ import annotations

import attrs
import pytest

from simkernel.errors import KernelError
from simkernel.security import commoncap as CC
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import (CAP_CHOWN, CAP_FULL_SET, CAP_KILL, CAP_NET_RAW, CAP_SETPCAP, CAP_SETUID,
                                       CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_RAWIO)
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, child_ns, make_task, root_cred, user_cred

BIT = lambda c: 1 << c  # noqa: E731


@pytest.fixture
def k():
    return MiniKernel()


def prctl(t, *a):
    a = list(a) + [0] * (6 - len(a))
    return CC.cap_task_prctl(t, *a[:5])


def test_cap_capable_effective_bit(k):
    """In the own namespace the answer is the effective bit."""
    CC.cap_capable(root_cred(k), k.init_user_ns, CAP_KILL)
    with kraises(E.EPERM) as info:
        CC.cap_capable(user_cred(k), k.init_user_ns, CAP_KILL)
    assert "effective" in info.value.explain


def test_cap_capable_parent_ns_never(k):
    """Creds of a child namespace hold nothing over the parent."""
    ns = child_ns(k.init_user_ns, 1000)
    with kraises(E.EPERM) as info:
        CC.cap_capable(root_cred(k, user_ns=ns), k.init_user_ns, CAP_KILL)
    assert "namespace" in info.value.explain


def test_cap_capable_owner_of_grandchild_via_child(k):
    """The owner of a child namespace holds caps in its descendants, a non-owner does not."""
    ns = child_ns(k.init_user_ns, 1000)
    gc = child_ns(ns, 0)
    CC.cap_capable(user_cred(k, 1000), gc, CAP_SYS_ADMIN)
    with kraises(E.EPERM):
        CC.cap_capable(user_cred(k, 1001), gc, CAP_SYS_ADMIN)
    CC.cap_capable(root_cred(k), gc, CAP_SYS_ADMIN)  # effective caps of an ancestor count


def test_cap_capset_rules_in_order(k):
    """inheritable capped by old I|P without SETPCAP; by I|bset always; P ⊆ old P; E ⊆ new P."""
    old = user_cred(k, cap_permitted=BIT(CAP_KILL), cap_effective=BIT(CAP_KILL))
    with kraises(E.EPERM) as info:
        CC.cap_capset(old, old, 0, 0, BIT(CAP_CHOWN))
    assert "permitted" in info.value.explain
    with kraises(E.EPERM) as info:
        CC.cap_capset(old, old, BIT(CAP_KILL), BIT(CAP_CHOWN), BIT(CAP_KILL))
    assert "CAP_SETPCAP" in info.value.explain
    with kraises(E.EPERM) as info:
        CC.cap_capset(old, old, BIT(CAP_KILL), 0, 0)
    assert "effective" in info.value.explain
    new = CC.cap_capset(old, old, 0, BIT(CAP_KILL), BIT(CAP_KILL))
    assert (new.cap_effective, new.cap_inheritable, new.cap_permitted) == (0, BIT(CAP_KILL), BIT(CAP_KILL))


def test_cap_capset_setpcap_allows_inheritable_within_bset(k):
    """CAP_SETPCAP lifts the I ⊆ I|P cap but never the bounding-set limit."""
    old = user_cred(k, cap_permitted=BIT(CAP_SETPCAP), cap_effective=BIT(CAP_SETPCAP),
                    cap_bset=CAP_FULL_SET & ~BIT(CAP_NET_RAW))
    new = CC.cap_capset(old, old, 0, BIT(CAP_SYS_ADMIN), BIT(CAP_SETPCAP))
    assert new.cap_inheritable == BIT(CAP_SYS_ADMIN)
    with kraises(E.EPERM) as info:
        CC.cap_capset(old, old, 0, BIT(CAP_NET_RAW), BIT(CAP_SETPCAP))
    assert "bounding" in info.value.explain


def test_cap_capset_masks_ambient(k):
    """Ambient bits not in new P ∩ new I are dropped."""
    both = BIT(CAP_KILL) | BIT(CAP_CHOWN)
    old = user_cred(k, cap_permitted=both, cap_inheritable=both, cap_ambient=both)
    new = CC.cap_capset(old, old, 0, both, BIT(CAP_KILL))
    assert new.cap_ambient == BIT(CAP_KILL)


def test_cap_task_fix_setuid_leaving_root_clears_ambient_even_with_keepcaps(k):
    """KEEP_CAPS keeps P (E cleared by the euid rule) but ambient always goes when root is left."""
    old = root_cred(k, securebits=PR.SECBIT_KEEP_CAPS, cap_inheritable=BIT(CAP_KILL), cap_ambient=BIT(CAP_KILL))
    new = attrs.evolve(old, uid=5, euid=5, suid=5, fsuid=5)
    got = CC.cap_task_fix_setuid(new, old, CC.LSM_SETID_RES)
    assert (got.cap_permitted, got.cap_effective, got.cap_ambient) == (CAP_FULL_SET, 0, 0)


def test_cap_task_fix_setuid_partial_root_keeps_permitted(k):
    """While any of ruid/euid/suid stays 0, permitted stays."""
    old = root_cred(k)
    new = attrs.evolve(old, uid=5, euid=5, fsuid=5)
    got = CC.cap_task_fix_setuid(new, old, CC.LSM_SETID_RES)
    assert (got.cap_permitted, got.cap_effective) == (CAP_FULL_SET, 0)


def test_cap_task_fix_setuid_fs_and_bad_flags(k):
    """LSM_SETID_FS moves only CAP_FS_SET; other flags are EINVAL; NO_SETUID_FIXUP disables it."""
    old = root_cred(k)
    got = CC.cap_task_fix_setuid(attrs.evolve(old, fsuid=5), old, CC.LSM_SETID_FS)
    assert got.cap_effective == CAP_FULL_SET & ~CC.CAP_FS_SET
    back = CC.cap_task_fix_setuid(attrs.evolve(got, fsuid=0), got, CC.LSM_SETID_FS)
    assert back.cap_effective == CAP_FULL_SET
    frozen_ = root_cred(k, securebits=PR.SECBIT_NO_SETUID_FIXUP)
    assert CC.cap_task_fix_setuid(attrs.evolve(frozen_, fsuid=5), frozen_, CC.LSM_SETID_FS).cap_effective \
        == CAP_FULL_SET
    with kraises(E.EINVAL):
        CC.cap_task_fix_setuid(old, old, 99)
    assert CC.cap_task_fix_setgid(old, old, CC.LSM_SETID_ID) is old


def test_cap_task_fix_setuid_ns_root_is_ns_root(k):
    """In a child namespace "root" is the kuid that ns uid 0 maps to."""
    from simkernel.kernel.user_namespace import UidGidExtent
    ns = child_ns(k.init_user_ns, 1000, uid_map=(UidGidExtent(0, 1000, 1), UidGidExtent(1, 2000, 1)))
    old = root_cred(k, user_ns=ns, uid=1000, euid=1000, suid=1000, fsuid=1000)
    got = CC.cap_task_fix_setuid(attrs.evolve(old, uid=2000, euid=2000, suid=2000), old, CC.LSM_SETID_RES)
    assert got.cap_permitted == 0


def test_cap_task_prctl_capbset(k):
    """READ answers 0/1, DROP needs CAP_SETPCAP before the cap is validated."""
    t = make_task(k, root_cred(k))
    assert prctl(t, PR.PR_CAPBSET_READ, CAP_KILL) == 1
    with kraises(E.EINVAL):
        prctl(t, PR.PR_CAPBSET_READ, 41)
    with kraises(E.EINVAL):
        prctl(t, PR.PR_CAPBSET_DROP, -1)
    assert prctl(t, PR.PR_CAPBSET_DROP, CAP_KILL) == 0
    assert prctl(t, PR.PR_CAPBSET_READ, CAP_KILL) == 0
    u = make_task(k, user_cred(k))
    with kraises(E.EPERM):
        prctl(u, PR.PR_CAPBSET_DROP, 41)


def test_cap_task_prctl_securebits_privileged(k):
    """Root may set supported bits and locks; unsupported bits, changing locked bits, unlocking: EPERM."""
    t = make_task(k, root_cred(k))
    with kraises(E.EPERM):
        prctl(t, PR.PR_SET_SECUREBITS, 1 << 12)
    assert prctl(t, PR.PR_SET_SECUREBITS, 0) == 0
    assert prctl(t, PR.PR_SET_SECUREBITS, 0xfff) == 0
    assert prctl(t, PR.PR_GET_SECUREBITS) == 0xfff
    with kraises(E.EPERM) as info:
        prctl(t, PR.PR_SET_SECUREBITS, 0)
    assert "locked" in info.value.explain
    with kraises(E.EPERM) as info:
        prctl(t, PR.PR_SET_KEEPCAPS, 0)
    assert "locked" in info.value.explain


def test_cap_task_prctl_securebits_unlock_refused(k):
    """A lock bit cannot be cleared even when its bit stays as it is."""
    t = make_task(k, root_cred(k, securebits=1 << 1))
    with kraises(E.EPERM) as info:
        prctl(t, PR.PR_SET_SECUREBITS, 0)
    assert "released" in info.value.explain


def test_cap_task_prctl_securebits_unprivileged(k):
    """Without CAP_SETPCAP: a no-op is EPERM, exec-restriction bits may change, others EPERM (host-verified)."""
    t = make_task(k, user_cred(k))
    with kraises(E.EPERM):
        prctl(t, PR.PR_SET_SECUREBITS, 0)
    assert prctl(t, PR.PR_SET_SECUREBITS, 1 << 8) == 0
    with kraises(E.EPERM):
        prctl(t, PR.PR_SET_SECUREBITS, (1 << 8) | PR.SECBIT_KEEP_CAPS)
    assert prctl(t, PR.PR_SET_SECUREBITS, (1 << 10) | (1 << 8)) == 0


def test_cap_task_prctl_ambient(k):
    """Raise needs P and I; IS_SET; LOWER; CLEAR_ALL; bad args EINVAL; NO_CAP_AMBIENT_RAISE."""
    t = make_task(k, root_cred(k))
    with kraises(E.EPERM):
        prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL)
    t.cred = t.real_cred = attrs.evolve(t.cred, cap_inheritable=BIT(CAP_KILL) | BIT(CAP_CHOWN))
    assert prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL) == 0
    assert prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_IS_SET, CAP_KILL) == 1
    assert prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_IS_SET, CAP_CHOWN) == 0
    with kraises(E.EINVAL):
        prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_IS_SET, 41)
    with kraises(E.EINVAL):
        prctl(t, PR.PR_CAP_AMBIENT, 5, CAP_KILL)
    with kraises(E.EINVAL):
        prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_CLEAR_ALL, 1)
    assert prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_LOWER, CAP_KILL) == 0
    assert t.cred.cap_ambient == 0
    prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_CHOWN)
    assert prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_CLEAR_ALL) == 0
    assert t.cred.cap_ambient == 0
    t.cred = t.real_cred = attrs.evolve(t.cred, securebits=PR.SECBIT_NO_CAP_AMBIENT_RAISE)
    with kraises(E.EPERM):
        prctl(t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL)


def test_cap_task_prctl_not_mine(k):
    """Other options are not commoncap's: None (C's -ENOSYS)."""
    t = make_task(k, root_cred(k))
    assert prctl(t, PR.PR_SET_NAME, 0) is None


def test_cap_mmap_addr(k):
    """Below vm.mmap_min_addr needs CAP_SYS_RAWIO; at or above is free."""
    u = make_task(k, user_cred(k))
    CC.cap_mmap_addr(u, 4096)
    with kraises(E.EPERM):
        CC.cap_mmap_addr(u, 0)
    r = make_task(k, user_cred(k, cap_effective=BIT(CAP_SYS_RAWIO), cap_permitted=BIT(CAP_SYS_RAWIO)))
    CC.cap_mmap_addr(r, 0)


def test_cap_ptrace_access_check_subset_rule(k):
    """Same ns: target P ⊆ caller E (FSCREDS) or P (REALCREDS); else CAP_SYS_PTRACE in target ns."""
    from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS, PTRACE_MODE_READ_REALCREDS
    caller = make_task(k, root_cred(k, cap_effective=0))
    target = make_task(k, root_cred(k))
    with kraises(E.EPERM) as info:
        CC.cap_ptrace_access_check(caller, target, PTRACE_MODE_READ_FSCREDS)
    assert "effective" in info.value.explain
    CC.cap_ptrace_access_check(caller, target, PTRACE_MODE_READ_REALCREDS)
    tracer = make_task(k, user_cred(k, cap_effective=BIT(CAP_SYS_PTRACE), cap_permitted=BIT(CAP_SYS_PTRACE)))
    CC.cap_ptrace_access_check(tracer, target, PTRACE_MODE_READ_FSCREDS)


def test_cap_ptrace_access_check_other_ns(k):
    """A target in another namespace needs CAP_SYS_PTRACE over it (owner of the ns has it)."""
    from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS
    ns = child_ns(k.init_user_ns, 1000)
    target = make_task(k, user_cred(k, user_ns=ns))
    CC.cap_ptrace_access_check(make_task(k, user_cred(k, 1000)), target, PTRACE_MODE_READ_FSCREDS)
    with kraises(E.EPERM) as info:
        CC.cap_ptrace_access_check(make_task(k, user_cred(k, 1001)), target, PTRACE_MODE_READ_FSCREDS)
    assert "another user namespace" in info.value.explain


def test_cap_capget_reads_objective(k):
    """capget returns (E, P, I) of the objective cred."""
    t = make_task(k, user_cred(k, cap_effective=1, cap_permitted=3, cap_inheritable=4))
    assert CC.cap_capget(t) == (1, 3, 4)


def test_cap_bprm_creds_from_file_root_exec_full_caps(k):
    """Root exec of a plain file: pP' = bset | pI, pE' = pP'; KEEP_CAPS cleared."""
    old = root_cred(k, cap_effective=0, cap_permitted=0, securebits=PR.SECBIT_KEEP_CAPS)
    t = make_task(k, old)
    r = CC.cap_bprm_creds_from_file(t, old, old)
    assert (r.cred.cap_permitted, r.cred.cap_effective, r.cred.securebits) == (CAP_FULL_SET, CAP_FULL_SET, 0)
    assert not r.secureexec


def test_cap_bprm_creds_from_file_user_exec_drops_caps_keeps_ambient(k):
    """Non-root exec: pP' = pA', pE' = pA'."""
    amb = BIT(CAP_KILL)
    old = user_cred(k, cap_permitted=amb | BIT(CAP_CHOWN), cap_effective=amb, cap_inheritable=amb, cap_ambient=amb)
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, old)
    assert (r.cred.cap_permitted, r.cred.cap_effective, r.cred.cap_ambient) == (amb, amb, amb)
    assert not r.secureexec


def test_cap_bprm_creds_from_file_setuid_root(k):
    """A set-uid-root file run by a user: euid 0, full caps, ambient cleared, AT_SECURE."""
    old = user_cred(k, cap_inheritable=BIT(CAP_KILL), cap_permitted=BIT(CAP_KILL), cap_ambient=BIT(CAP_KILL))
    new = attrs.evolve(old, euid=0)
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, new)
    c = r.cred
    assert (c.uid, c.euid, c.suid, c.fsuid) == (1000, 0, 0, 0)
    assert c.cap_permitted == CAP_FULL_SET and c.cap_effective == CAP_FULL_SET and c.cap_ambient == 0
    assert r.secureexec and r.per_clear


def test_cap_bprm_creds_from_file_no_new_privs_blocks_setuid(k):
    """With no_new_privs the set-uid is undone and no caps are gained."""
    old = user_cred(k)
    new = attrs.evolve(old, euid=0)
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, new, unsafe=CC.LSM_UNSAFE_NO_NEW_PRIVS)
    assert (r.cred.euid, r.cred.cap_permitted, r.cred.cap_effective) == (1000, 0, 0)


def test_cap_bprm_creds_from_file_traced_by_unprivileged(k):
    """Under ptrace by an unprivileged tracer a set-uid exec keeps the old ids."""
    old = user_cred(k)
    t = make_task(k, old)
    t.ptrace_parent = make_task(k, user_cred(k))
    r = CC.cap_bprm_creds_from_file(t, old, attrs.evolve(old, euid=0))
    assert r.cred.euid == 1000 and r.cred.cap_permitted == 0


def test_cap_bprm_creds_from_file_setuid_with_cap_setuid_keeps_euid(k):
    """A shared-fs unsafe exec by a CAP_SETUID holder keeps the new euid but not new caps."""
    old = user_cred(k, cap_permitted=BIT(CAP_SETUID), cap_effective=BIT(CAP_SETUID))
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, attrs.evolve(old, euid=0), unsafe=CC.LSM_UNSAFE_SHARE)
    assert r.cred.euid == 0 and r.cred.cap_permitted == BIT(CAP_SETUID)


def test_cap_bprm_creds_from_file_file_caps(k):
    """File caps: pP' = (bset & fP) | (pI & fI); fE gives pE' = pP'; ambient cleared."""
    old = user_cred(k, cap_inheritable=BIT(CAP_CHOWN), cap_permitted=BIT(CAP_CHOWN), cap_ambient=BIT(CAP_CHOWN))
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, old, file_caps=(BIT(CAP_NET_RAW), BIT(CAP_CHOWN), True))
    assert r.cred.cap_permitted == BIT(CAP_NET_RAW) | BIT(CAP_CHOWN)
    assert r.cred.cap_effective == r.cred.cap_permitted and r.cred.cap_ambient == 0 and r.secureexec
    r2 = CC.cap_bprm_creds_from_file(make_task(k, old), old, old, file_caps=(BIT(CAP_NET_RAW), 0, True), nosuid=True)
    assert r2.cred.cap_permitted == BIT(CAP_CHOWN)


def test_cap_bprm_creds_from_file_file_caps_outside_bset_eperm(k):
    """fE with fP outside the bounding set cannot run: EPERM."""
    old = user_cred(k, cap_bset=CAP_FULL_SET & ~BIT(CAP_NET_RAW))
    with kraises(E.EPERM):
        CC.cap_bprm_creds_from_file(make_task(k, old), old, old, file_caps=(BIT(CAP_NET_RAW), 0, True))


def test_cap_bprm_creds_from_file_setuid_root_with_fcaps_gets_only_fcaps(k):
    """A set-uid-root file with file caps run by a user: only the file caps (warn_setuid_and_fcaps_mixed)."""
    old = user_cred(k)
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, attrs.evolve(old, euid=0),
                                    file_caps=(BIT(CAP_NET_RAW), 0, False))
    assert r.cred.cap_permitted == BIT(CAP_NET_RAW) and r.cred.cap_effective == 0


def test_cap_bprm_creds_from_file_noroot(k):
    """SECURE_NOROOT: root gets no automatic caps."""
    old = root_cred(k, securebits=PR.SECBIT_NOROOT, cap_permitted=0, cap_effective=0)
    r = CC.cap_bprm_creds_from_file(make_task(k, old), old, old)
    assert r.cred.cap_permitted == 0


def test_issecure_and_helpers():
    """Small helpers: names and subset tests."""
    assert CC.cap_name(CAP_SYS_ADMIN) == "CAP_SYS_ADMIN"
    assert CC.cap_name(99) == "CAP_99"
    assert CC.cap_issubset(1, 3) and not CC.cap_issubset(4, 3)
    assert CC._capset_names(0) == "none"
    with pytest.raises(KernelError):
        raise KernelError(E.EPERM)
