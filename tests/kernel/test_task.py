"""kernel/task.py and kernel/spawn.py: task_struct, struct pid, pid namespaces, spawn's credential switch."""

from __future__ import annotations

import pytest

from simkernel.kernel import spawn as SP
from simkernel.kernel.task import PidNamespace, same_thread_group, thread_group_leader
from simkernel.uapi import (
    CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM,
    PR_GET_DUMPABLE,
)
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot
from tests.helpers import raises_errno

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


@pytest.fixture
def k():
    return boot()


def test_task_thread_group_helpers(k):
    """same_thread_group/thread_group_leader and the threads list."""
    p = k.spawn("p")
    th = p.sys.clone(THREAD)
    other = k.spawn("o")
    assert same_thread_group(p, th) and not same_thread_group(p, other)
    assert thread_group_leader(p) and not thread_group_leader(th)
    assert p.threads == th.threads == [p, th]


def test_task_exit_state_and_sys_cache(k):
    """exit_state is None while running; task.sys is one object per task."""
    p = k.spawn("p")
    assert p.exit_state is None and p.sys is p.sys and p.sys.task is p
    c = p.sys.fork()
    c.sys.exit(0)
    assert c.exit_state == "zombie"


def test_pid_namespace_numbers(k):
    """A pid namespace numbers from 1; nr_ns is 0 in a namespace where the pid is invisible."""
    ns = PidNamespace(level=1, parent=k.init_pid_ns)
    assert (ns.alloc_nr(), ns.alloc_nr()) == (1, 2)
    assert k.init.thread_pid.nr_ns(ns) == 0 and k.init.thread_pid.nr == 1


def test_spawn_non_root_drops_capabilities(k):
    """spawn(uid != 0) ends with no capabilities, the given ids and groups, dumpable."""
    t = k.spawn("u", uid=1000, gid=1001, groups=(5, 6))
    assert t.sys.getresuid() == (1000, 1000, 1000) and t.sys.getresgid() == (1001, 1001, 1001)
    assert t.sys.getgroups() == [5, 6] and t.sys.capget() == (0, 0, 0)
    assert t.sys.prctl(PR_GET_DUMPABLE) == 1 and t.comm == "u"


def test_spawn_with_caps_keeps_exactly_those(k):
    """spawn(caps=[...]) leaves exactly those capabilities in effective and permitted."""
    mask = SP.caps_mask([CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])
    t = k.spawn("c", uid=1000, gid=1000, caps=[CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])
    assert t.sys.capget() == (mask, mask, 0)
    assert SP.caps_mask([]) == 0 and SP.caps_mask([0, 1]) == 3


def test_spawn_dumpable_false_keeps_kernel_choice(k):
    """dumpable=False leaves what commit_creds decided (not dumpable after a uid change)."""
    t = SP.spawn(k, "n", uid=1000, gid=1000, dumpable=False)
    assert t.sys.prctl(PR_GET_DUMPABLE) == 0


def test_spawn_from_non_root_parent_fails(k):
    """The credential switch runs as the child: from an unprivileged parent setgroups is EPERM."""
    p = k.spawn("p", uid=1000, gid=1000)
    with raises_errno(E.EPERM):
        k.spawn("c", uid=1000, gid=1000, parent=p)


def test_spawn_root_default_keeps_full_caps(k):
    """spawn() as root with caps=None keeps init's capabilities."""
    assert k.spawn("r").sys.capget() == k.init.sys.capget()
