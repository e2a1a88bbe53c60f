"""security/yama/yama_lsm.c: ptrace scopes and PR_SET_PTRACER."""

from __future__ import annotations

import pytest

from simkernel.kernel import ptrace as P
from simkernel.kernel.sys import sys_prctl
from simkernel.kernel.task import EXIT_DEAD
from simkernel.security import yama as Y
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import CAP_SYS_PTRACE
from tests.helpers import kraises
from tests.kernel.credkit import MiniKernel, make_task, user_cred

A = P.PTRACE_MODE_ATTACH_REALCREDS


@pytest.fixture
def k():
    k = MiniKernel(yama=True)
    return k


def family(k):
    gp = make_task(k, user_cred(k), comm="gp")
    p = make_task(k, user_cred(k), comm="p", parent=gp)
    c = make_task(k, user_cred(k), comm="c", parent=p)
    other = make_task(k, user_cred(k), comm="o", parent=gp)
    return gp, p, c, other


def test_yama_ptrace_access_check_scope0_allows(k):
    """Scope 0: nothing beyond the classic rules."""
    gp, p, c, o = family(k)
    Y.yama_ptrace_access_check(o, c, A)


def test_yama_ptrace_access_check_read_mode_ignored(k):
    """Only ATTACH is restricted; READ (procfs) passes every scope."""
    k.sysctl["kernel.yama.ptrace_scope"] = 3
    gp, p, c, o = family(k)
    Y.yama_ptrace_access_check(o, c, P.PTRACE_MODE_READ_FSCREDS)


def test_yama_ptrace_access_check_scope1_descendants_only(k):
    """Scope 1: ancestors may attach, a sibling branch may not."""
    k.sysctl["kernel.yama.ptrace_scope"] = 1
    gp, p, c, o = family(k)
    Y.yama_ptrace_access_check(gp, c, A)
    Y.yama_ptrace_access_check(p, c, A)
    with kraises(E.EPERM) as info:
        Y.yama_ptrace_access_check(o, c, A)
    assert "descendant" in info.value.explain
    assert not P.ptrace_may_access(o, c, A)
    assert P.ptrace_may_access(o, c, P.PTRACE_MODE_READ_FSCREDS)


def test_yama_ptrace_access_check_scope1_thread_of_ancestor(k):
    """A thread of the ancestor counts as the ancestor (group leaders are compared)."""
    k.sysctl["kernel.yama.ptrace_scope"] = 1
    gp, p, c, o = family(k)
    th = make_task(k, user_cred(k), thread_of=p)
    Y.yama_ptrace_access_check(th, c, A)


def test_yama_ptrace_access_check_scope1_ptracer_exception(k):
    """PR_SET_PTRACER names a tracer (or its ancestor), or anyone; 0 clears it."""
    k.sysctl["kernel.yama.ptrace_scope"] = 1
    gp, p, c, o = family(k)
    assert sys_prctl(c, PR.PR_SET_PTRACER, o.pid) == 0
    Y.yama_ptrace_access_check(o, c, A)
    sys_prctl(c, PR.PR_SET_PTRACER, 0)
    with kraises(E.EPERM):
        Y.yama_ptrace_access_check(o, c, A)
    sys_prctl(c, PR.PR_SET_PTRACER, PR.PR_SET_PTRACER_ANY)
    Y.yama_ptrace_access_check(o, c, A)
    sys_prctl(c, PR.PR_SET_PTRACER, -1)
    Y.yama_ptrace_access_check(o, c, A)
    sys_prctl(c, PR.PR_SET_PTRACER, gp.pid)         # an ancestor of the tracer
    Y.yama_ptrace_access_check(o, c, A)
    gp.state = EXIT_DEAD
    with kraises(E.EPERM):
        Y.yama_ptrace_access_check(o, c, A)


def test_yama_task_prctl_unknown_pid_einval(k):
    """PR_SET_PTRACER with a pid that does not exist: EINVAL."""
    gp, p, c, o = family(k)
    with kraises(E.EINVAL):
        sys_prctl(c, PR.PR_SET_PTRACER, 4242)
    with kraises(E.EINVAL):
        sys_prctl(c, PR.PR_SET_PTRACER, 0x80000001)
    assert Y.yama_task_prctl(c, PR.PR_GET_DUMPABLE, 0, 0, 0, 0) is None


def test_yama_ptrace_access_check_scope1_existing_tracer(k):
    """An established tracer keeps access (ptrace_parent in the tracer's thread group)."""
    k.sysctl["kernel.yama.ptrace_scope"] = 1
    gp, p, c, o = family(k)
    c.ptrace_parent = o
    Y.yama_ptrace_access_check(o, c, A)


def test_yama_ptrace_access_check_scope1_cap_and_dead(k):
    """CAP_SYS_PTRACE passes scope 1; a reaped target never does."""
    k.sysctl["kernel.yama.ptrace_scope"] = 1
    gp, p, c, o = family(k)
    admin = make_task(k, user_cred(k, cap_effective=1 << CAP_SYS_PTRACE, cap_permitted=1 << CAP_SYS_PTRACE))
    Y.yama_ptrace_access_check(admin, c, A)
    c.state = EXIT_DEAD
    with kraises(E.EPERM):
        Y.yama_ptrace_access_check(p, c, A)


def test_yama_ptrace_access_check_scope2_and_3(k):
    """Scope 2: CAP_SYS_PTRACE only; scope 3: nobody."""
    gp, p, c, o = family(k)
    admin = make_task(k, user_cred(k, cap_effective=1 << CAP_SYS_PTRACE, cap_permitted=1 << CAP_SYS_PTRACE))
    k.sysctl["kernel.yama.ptrace_scope"] = 2
    with kraises(E.EPERM):
        Y.yama_ptrace_access_check(p, c, A)
    Y.yama_ptrace_access_check(admin, c, A)
    k.sysctl["kernel.yama.ptrace_scope"] = 3
    with kraises(E.EPERM):
        Y.yama_ptrace_access_check(admin, c, A)


def test_task_is_descendant_none():
    """None on either side is never a descendant."""
    assert not Y.task_is_descendant(None, None)
