"""security/security.c: hook order, the first denial wins, extra hook objects."""

from __future__ import annotations

import pytest

from simkernel.errors import KernelError
from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS
from simkernel.security import lsm
from simkernel.security.commoncap import LSM_SETID_RES
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import CAP_KILL
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, make_task, root_cred, user_cred


class Recorder:
    """An extra LSM that records calls and can be told to deny."""

    def __init__(self, deny: bool = False) -> None:
        self.calls: list[str] = []
        self.deny = deny

    def _r(self, name):
        self.calls.append(name)
        if self.deny:
            raise KernelError(E.EACCES, explain="Recorder")

    def ptrace_access_check(self, current, child, mode):
        self._r("ptrace")

    def mmap_addr(self, current, addr):
        self._r("mmap")

    def inode_permission(self, current, inode, mask):
        self._r("inode")

    def create_user_ns(self, current, cred):
        self._r("userns")

    def task_fix_setuid(self, new, old, flags):
        self.calls.append("setuid")
        return None

    def capset(self, new, old, e, i, p):
        self.calls.append("capset")
        import attrs
        return attrs.evolve(new, cap_effective=0)

    def task_prctl(self, current, option, a2, a3, a4, a5):
        self.calls.append("prctl")
        return 7 if option == 4242 else None


@pytest.fixture
def k():
    return MiniKernel()


def test_security_ptrace_access_check_extra_hook_runs_after_commoncap(k):
    """An extra hook is asked only when commoncap allowed; its errno wins."""
    rec = Recorder(deny=True)
    k.lsm_hooks.append(rec)
    a, b = make_task(k, user_cred(k)), make_task(k, user_cred(k))
    with kraises(E.EACCES):
        lsm.security_ptrace_access_check(a, b, PTRACE_MODE_READ_FSCREDS)
    c = make_task(k, root_cred(k))
    rec.calls.clear()
    with kraises(E.EPERM):
        lsm.security_ptrace_access_check(a, c, PTRACE_MODE_READ_FSCREDS)
    assert rec.calls == []


def test_security_ptrace_access_check_yama_only_when_built_in(k):
    """Yama is consulted only with kernel.yama."""
    k.sysctl["kernel.yama.ptrace_scope"] = 3
    from simkernel.kernel.ptrace import PTRACE_MODE_ATTACH_REALCREDS
    a, b = make_task(k, user_cred(k)), make_task(k, user_cred(k))
    lsm.security_ptrace_access_check(a, b, PTRACE_MODE_ATTACH_REALCREDS)
    k.yama = True
    with kraises(E.EPERM):
        lsm.security_ptrace_access_check(a, b, PTRACE_MODE_ATTACH_REALCREDS)


def test_security_mmap_inode_userns_hooks(k):
    """mmap_addr, inode_permission, create_user_ns reach extra hooks."""
    rec = Recorder()
    k.lsm_hooks.append(rec)
    t = make_task(k, user_cred(k))
    lsm.security_mmap_addr(t, 8192)
    lsm.security_inode_permission(t, object(), 4)
    lsm.security_create_user_ns(t, t.cred)
    assert rec.calls == ["mmap", "inode", "userns"]


def test_security_task_fix_setuid_and_capset_thread_new_cred(k):
    """A hook returning a Cred replaces `new`; None keeps it."""
    rec = Recorder()
    k.lsm_hooks.append(rec)
    t = make_task(k, root_cred(k))
    new = lsm.security_task_fix_setuid(t, t.cred, t.cred, LSM_SETID_RES)
    assert new == t.cred
    got = lsm.security_capset(t, t.cred, t.cred, 1 << CAP_KILL, 0, 1 << CAP_KILL)
    assert got.cap_effective == 0 and got.cap_permitted == 1 << CAP_KILL
    assert lsm.security_task_fix_setgid(t, t.cred, t.cred, LSM_SETID_RES) is t.cred
    assert lsm.security_task_fix_setgroups(t, t.cred, t.cred) is t.cred
    assert rec.calls == ["setuid", "capset"]


def test_security_task_prctl_walk(k):
    """None when nobody handles it; commoncap's 0 lets extra hooks run; a positive result stops."""
    rec = Recorder()
    k.lsm_hooks.append(rec)
    t = make_task(k, root_cred(k))
    assert lsm.security_task_prctl(t, 4242, 0, 0, 0, 0) == 7
    assert lsm.security_task_prctl(t, 4343, 0, 0, 0, 0) is None
    assert lsm.security_task_prctl(t, PR.PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0
    rec.calls.clear()
    assert lsm.security_task_prctl(t, PR.PR_CAPBSET_READ, CAP_KILL, 0, 0, 0) == 1
    assert rec.calls == []


def test_security_capget(k):
    """capget goes to commoncap."""
    t = make_task(k, root_cred(k))
    assert lsm.security_capget(t)[0] == t.cred.cap_effective
