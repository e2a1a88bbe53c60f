"""Property/stateful test of the credential model: random set*id/setfs*id/setgroups/capset/prctl sequences
from random starting credentials, checking the invariants the kernel maintains after every step."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from simkernel.errors import KernelError
from simkernel.kernel import capability as C
from simkernel.kernel import groups as G
from simkernel.kernel import sys as S
from simkernel.security.commoncap import SECURE_ALL_BITS, SECURE_ALL_LOCKS
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import (CAP_CHOWN, CAP_FULL_SET, CAP_KILL, CAP_SETGID, CAP_SETPCAP, CAP_SETUID,
                                       CAP_DAC_OVERRIDE)
from tests.kernel.credkit import MiniKernel, make_task, root_cred

IDS = st.sampled_from([-1, 0, 1000, 1001, 2000])
SOME_IDS = st.sampled_from([0, 1000, 1001, 2000])
POOL = [CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_KILL, CAP_SETGID, CAP_SETUID, CAP_SETPCAP]
CAPS = st.lists(st.sampled_from(POOL), max_size=6).map(lambda cs: sum({1 << c for c in cs}))
SECUREBITS = st.sampled_from([0, PR.SECBIT_KEEP_CAPS, PR.SECBIT_NO_SETUID_FIXUP, PR.SECBIT_NOROOT,
                              PR.SECBIT_NO_CAP_AMBIENT_RAISE, 1 << 5])


class CredMachine(RuleBasedStateMachine):
    """One task; every rule is one system call; invariants are checked after each."""

    def __init__(self) -> None:
        super().__init__()
        self.k = MiniKernel()
        self.t = None
        self.last_ok = True

    @initialize(r=SOME_IDS, e=SOME_IDS, s=SOME_IDS, g=SOME_IDS, prm=CAPS, eff=CAPS, inh=CAPS, amb=CAPS,
                bset=CAPS, full=st.booleans(), sb=SECUREBITS, dumpable=st.sampled_from([0, 2]))
    def start(self, r, e, s, g, prm, eff, inh, amb, bset, full, sb, dumpable):
        if full:
            prm = CAP_FULL_SET
        eff &= prm
        amb &= prm & inh
        cred = root_cred(self.k, uid=r, euid=e, suid=s, fsuid=e, gid=g, egid=g, sgid=g, fsgid=g,
                         cap_permitted=prm, cap_effective=eff, cap_inheritable=inh, cap_ambient=amb,
                         cap_bset=bset | prm, securebits=sb)
        self.k.sysctl["fs.suid_dumpable"] = dumpable
        self.t = make_task(self.k, cred)

    # -- helpers -----------------------------------------------------------------------------------
    def call(self, fn, *args):
        """Run one call; remember the old cred; a failure must leave the cred untouched."""
        self.old = self.t.cred
        self.old_dumpable = self.t.mm.get_dumpable()
        try:
            fn(self.t, *args)
        except KernelError as err:
            assert err.errno in (1, 22), err
            assert self.t.cred is self.old, "a failed call changed the credentials"
            assert self.t.mm.get_dumpable() == self.old_dumpable
            self.last_ok = False
            return False
        self.last_ok = True
        return True

    def had(self, cap):
        return bool(self.old.cap_effective >> cap & 1)

    def check_unprivileged_uids(self, allowed_extra=()):
        o, n = self.old, self.t.cred
        if not self.had(CAP_SETUID):
            held = {o.uid, o.euid, o.suid, *allowed_extra}
            assert {n.uid, n.euid, n.suid} <= held, (o, n)

    def check_unprivileged_gids(self):
        o, n = self.old, self.t.cred
        if not self.had(CAP_SETGID):
            assert {n.gid, n.egid, n.sgid} <= {o.gid, o.egid, o.sgid}, (o, n)

    # -- rules -------------------------------------------------------------------------------------
    @rule(r=IDS, e=IDS, s=IDS)
    def setresuid(self, r, e, s):
        if self.call(S.sys_setresuid, r, e, s):
            self.check_unprivileged_uids()
            if self.t.cred is not self.old:  # the kernel returns early on a no-op, fsuid left as it is
                assert self.t.cred.fsuid == self.t.cred.euid
            for want, got in ((r, self.t.cred.uid), (e, self.t.cred.euid), (s, self.t.cred.suid)):
                assert want == -1 or want == got

    @rule(r=IDS, e=IDS, s=IDS)
    def setresgid(self, r, e, s):
        if self.call(S.sys_setresgid, r, e, s):
            self.check_unprivileged_gids()
            if self.t.cred is not self.old:
                assert self.t.cred.fsgid == self.t.cred.egid

    @rule(u=SOME_IDS)
    def setuid(self, u):
        if self.call(S.sys_setuid, u):
            self.check_unprivileged_uids()
            n = self.t.cred
            assert n.euid == n.fsuid == u
            if self.had(CAP_SETUID):
                assert n.uid == n.suid == u

    @rule(g=SOME_IDS)
    def setgid(self, g):
        if self.call(S.sys_setgid, g):
            self.check_unprivileged_gids()

    @rule(r=IDS, e=IDS)
    def setreuid(self, r, e):
        if self.call(S.sys_setreuid, r, e):
            self.check_unprivileged_uids()
            n, o = self.t.cred, self.old
            if r != -1 or (e != -1 and e != o.uid):
                assert n.suid == n.euid

    @rule(r=IDS, e=IDS)
    def setregid(self, r, e):
        if self.call(S.sys_setregid, r, e):
            self.check_unprivileged_gids()

    @rule(u=IDS)
    def setfsuid(self, u):
        before = self.t.cred.fsuid
        self.old, self.old_dumpable, self.last_ok = self.t.cred, self.t.mm.get_dumpable(), True
        assert S.sys_setfsuid(self.t, u) == before
        n, o = self.t.cred, self.old
        assert (n.uid, n.euid, n.suid) == (o.uid, o.euid, o.suid)
        if not self.had(CAP_SETUID):
            assert n.fsuid in (o.uid, o.euid, o.suid, o.fsuid)

    @rule(g=IDS)
    def setfsgid(self, g):
        before = self.t.cred.fsgid
        self.old, self.old_dumpable, self.last_ok = self.t.cred, self.t.mm.get_dumpable(), True
        assert S.sys_setfsgid(self.t, g) == before

    @rule(gs=st.lists(SOME_IDS, max_size=4))
    def setgroups(self, gs):
        if self.call(G.sys_setgroups, gs):
            assert self.had(CAP_SETGID)
            assert list(self.t.cred.groups) == sorted(gs)

    @rule(e=CAPS, p=CAPS, i=CAPS)
    def capset(self, e, p, i):
        if self.call(C.sys_capset, 0, e, p, i):
            n = self.t.cred
            assert (n.cap_effective, n.cap_permitted, n.cap_inheritable) == (e, p, i)

    @rule(e=CAPS)
    def capset_effective_only(self, e):
        c = self.t.cred
        self.call(C.sys_capset, 0, e & c.cap_permitted, c.cap_permitted, c.cap_inheritable)
        assert self.last_ok

    @rule(v=st.sampled_from([0, 1, 2]))
    def keepcaps(self, v):
        self.call(S.sys_prctl, PR.PR_SET_KEEPCAPS, v)
        if v == 2:
            assert not self.last_ok

    @rule(op=st.sampled_from([PR.PR_CAP_AMBIENT_RAISE, PR.PR_CAP_AMBIENT_LOWER, PR.PR_CAP_AMBIENT_CLEAR_ALL]),
          cap=st.sampled_from(POOL))
    def ambient(self, op, cap):
        if self.call(S.sys_prctl, PR.PR_CAP_AMBIENT, op, 0 if op == PR.PR_CAP_AMBIENT_CLEAR_ALL else cap):
            assert S.sys_prctl(self.t, PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_IS_SET, cap) == (
                op == PR.PR_CAP_AMBIENT_RAISE)

    @rule(cap=st.sampled_from(POOL))
    def bset_drop(self, cap):
        if self.call(S.sys_prctl, PR.PR_CAPBSET_DROP, cap):
            assert self.had(CAP_SETPCAP)
            assert S.sys_prctl(self.t, PR.PR_CAPBSET_READ, cap) == 0

    @rule(bits=st.integers(0, 0xfff))
    def securebits(self, bits):
        if self.call(S.sys_prctl, PR.PR_SET_SECUREBITS, bits):
            assert self.t.cred.securebits == bits

    # -- invariants --------------------------------------------------------------------------------
    @invariant()
    def caps_consistent(self):
        c = self.t.cred
        assert c.cap_effective & ~c.cap_permitted == 0, "effective ⊄ permitted"
        assert c.cap_ambient & ~(c.cap_permitted & c.cap_inheritable) == 0, "ambient ⊄ permitted ∩ inheritable"
        for s in (c.cap_effective, c.cap_permitted, c.cap_inheritable, c.cap_bset, c.cap_ambient):
            assert s & ~CAP_FULL_SET == 0
        assert c.securebits & ~(SECURE_ALL_BITS | SECURE_ALL_LOCKS) == 0
        assert self.t.real_cred is self.t.cred

    @invariant()
    def nothing_grows_without_exec(self):
        if getattr(self, "old", None) is None:
            return
        o, n = self.old, self.t.cred
        assert n.cap_permitted & ~o.cap_permitted == 0, "permitted grew"
        assert n.cap_bset & ~o.cap_bset == 0, "bounding set grew"
        assert n.cap_ambient & ~o.cap_ambient == 0 or n.cap_ambient & ~o.cap_ambient & o.cap_permitted \
            & o.cap_inheritable == n.cap_ambient & ~o.cap_ambient

    @invariant()
    def dumpable_follows_commit(self):
        if getattr(self, "old", None) is None or not self.last_ok:
            return
        o, n = self.old, self.t.cred
        changed = (o.euid, o.egid, o.fsuid, o.fsgid) != (n.euid, n.egid, n.fsuid, n.fsgid)
        if changed:
            assert self.t.mm.get_dumpable() == self.k.sysctl["fs.suid_dumpable"]
        else:
            assert self.t.mm.get_dumpable() == self.old_dumpable

    @invariant()
    def root_effective_rule(self):
        """Without NO_SETUID_FIXUP, an euid change away from root never leaves effective caps."""
        if getattr(self, "old", None) is None or not self.last_ok:
            return
        o, n = self.old, self.t.cred
        if not o.securebits & PR.SECBIT_NO_SETUID_FIXUP and o.euid == 0 and n.euid != 0:
            assert n.cap_effective == 0


TestCredMachine = CredMachine.TestCase
TestCredMachine.settings = settings(max_examples=250, stateful_step_count=25, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])
