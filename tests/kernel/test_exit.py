"""kernel/exit.py: exit_group, zombies, reaping with wait4, orphans."""

from __future__ import annotations

import pytest

from simkernel.kernel import exit as EX
from simkernel.kernel.task import EXIT_DEAD, EXIT_ZOMBIE
from simkernel.uapi import (
    CLONE_FILES, CLONE_FS, CLONE_NEWPID, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, O_CREAT, O_RDWR, WNOHANG,
)
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot
from tests.helpers import kraises, raises_errno

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


@pytest.fixture
def k():
    return boot()


def test_do_exit_leaves_zombie_until_waited(k):
    """exit makes a zombie with no mm, files or fs; /proc still lists it; waitpid reaps it with the status."""
    p = k.spawn("p")
    c = p.sys.fork()
    c.sys.exit(3)
    assert c.state == EXIT_ZOMBIE and c.exit_state == EXIT_ZOMBIE
    assert (c.mm, c.files, c.fs) == (None, None, None)
    assert str(c.pid) in k.init.sys.listdir("/proc")
    assert p.sys.waitpid(c.pid, 0) == (c.pid, 3 << 8)
    assert c.state == EXIT_DEAD and k.find_task(c.pid) is None
    assert str(c.pid) not in k.init.sys.listdir("/proc")


def test_do_exit_status_is_low_byte(k):
    """exit(263) is status 7 (only the low byte)."""
    p = k.spawn("p")
    c = p.sys.fork()
    c.sys.exit(263)
    assert p.sys.waitpid(-1, 0) == (c.pid, 7 << 8)


def test_do_exit_zombie_cannot_make_syscalls(k):
    """A task that exited makes no more system calls (a simulator error, not an errno)."""
    c = k.spawn("p").sys.fork()
    c.sys.exit(0)
    with pytest.raises(RuntimeError):
        c.sys.getpid()


def test_do_group_exit_ends_every_thread(k):
    """exit_group from a thread ends the whole process; threads are released, the leader stays a zombie."""
    p = k.spawn("p")
    c = p.sys.fork()
    th = c.sys.clone(THREAD)
    th.sys.exit_group(5)
    assert th.state == EXIT_DEAD and c.state == EXIT_ZOMBIE and c.exit_code == 5 << 8
    assert p.sys.waitpid(c.pid, 0) == (c.pid, 5 << 8)


def test_do_exit_leader_before_threads_is_not_reapable(k):
    """exit(2) of a leader whose threads run: a zombie nobody can reap yet (delay_group_leader); the status
    is then the last thread's exit code (synchronize_group_exit)."""
    p = k.spawn("p")
    c = p.sys.fork()
    th = c.sys.clone(THREAD)
    c.sys.exit(4)
    assert c.state == EXIT_ZOMBIE and th.state == "running"
    assert p.sys.waitpid(c.pid, WNOHANG) == (0, 0)
    th.sys.exit(9)
    assert th.state == EXIT_DEAD
    assert p.sys.waitpid(c.pid, 0) == (c.pid, 9 << 8)   # the last thread's code (host-verified)


def test_synchronize_group_exit_keeps_exit_group_code(k):
    """After exit_group the status is the group's code, whichever thread ends last."""
    p = k.spawn("p")
    c = p.sys.fork()
    c.sys.clone(THREAD)
    c.sys.exit_group(3)
    assert c.signal.group_exit and c.signal.group_exit_code == 3 << 8
    assert p.sys.waitpid(c.pid, 0) == (c.pid, 3 << 8)


def test_do_group_exit_closes_files(k):
    """The last user of a descriptor table closes every file at exit."""
    p = k.spawn("p")
    c = p.sys.fork()
    fd = c.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    f = c.files.fget(fd)
    c.sys.exit(0)
    assert f.f_count == 0


def test_do_exit_init_panics(k):
    """init cannot exit (the kernel would panic)."""
    with pytest.raises(RuntimeError):
        k.init.sys.exit(0)


def test_forget_original_parent_reparents_to_init(k):
    """Orphans are re-parented to init; zombies among them are reaped at once."""
    p = k.spawn("p")
    c1, c2 = p.sys.fork(), p.sys.fork()
    c2.sys.exit(0)
    p.sys.exit(0)
    assert c1.real_parent is k.init and c1 in k.init.children
    assert c2.state == EXIT_DEAD
    assert p.state == EXIT_DEAD   # init reaps its own zombie children at once
    assert c1.sys.getppid() == 1


def test_kernel_wait4_no_children_echild(k):
    """waitpid with no (matching) children is ECHILD, WNOHANG too; a thread is never a child."""
    p = k.spawn("p")
    with raises_errno(E.ECHILD, ChildProcessError):
        p.sys.waitpid(-1, 0)
    with raises_errno(E.ECHILD):
        p.sys.waitpid(-1, WNOHANG)
    th = p.sys.clone(THREAD)
    with raises_errno(E.ECHILD):
        p.sys.waitpid(th.pid, WNOHANG)
    with raises_errno(E.ECHILD):
        p.sys.waitpid(1, WNOHANG)
    p.sys.fork()
    with raises_errno(E.ECHILD):
        p.sys.waitpid(-5, WNOHANG)   # a process group: none modelled


def test_kernel_wait4_wnohang_running(k):
    """WNOHANG with only running children returns (0, 0); blocking would hang (a simulator error)."""
    p = k.spawn("p")
    c = p.sys.fork()
    assert p.sys.waitpid(-1, WNOHANG) == (0, 0) and p.sys.waitpid(c.pid, WNOHANG) == (0, 0)
    assert p.sys.waitpid(0, WNOHANG) == (0, 0)
    with pytest.raises(RuntimeError):
        p.sys.waitpid(c.pid, 0)


def test_kernel_wait4_options(k):
    """Unknown options are EINVAL; INT_MIN is ESRCH; the kernel's known flags are accepted."""
    p = k.spawn("p")
    p.sys.fork()
    with raises_errno(E.EINVAL):
        p.sys.waitpid(-1, 0x100000)
    with raises_errno(E.ESRCH):
        p.sys.waitpid(-0x80000000, 0)
    assert p.sys.waitpid(-1, WNOHANG | EX.__WCLONE | EX.WCONTINUED) == (0, 0)


def test_kernel_wait4_children_of_threads(k):
    """Any thread reaps a child forked by another thread of its process, unless __WNOTHREAD."""
    p = k.spawn("p")
    th = p.sys.clone(THREAD)
    c = th.sys.fork()
    c.sys.exit(1)
    with kraises(E.ECHILD):
        EX.kernel_waitid_wait4(p, -1, EX.__WNOTHREAD)
    assert p.sys.waitpid(-1, 0) == (c.pid, 1 << 8)


def test_kernel_wait4_pid_namespace_numbers(k):
    """In a child pid namespace the parent waits by, and gets back, the number its namespace shows."""
    p = k.spawn("p")
    p.sys.unshare(CLONE_NEWPID)
    c = p.sys.fork()   # pid 1 in the new namespace; p still lives in the parent namespace
    c.sys.exit(2)
    assert p.sys.waitpid(c.pid, 0) == (c.pid, 2 << 8)
    inner = c.thread_pid.nr_ns(p.nsproxy.pid_ns_for_children)
    assert inner == 1


def test_release_task_forgets_pid(k):
    """release_task unhashes the pid in every namespace; the struct pid no longer names the task."""
    p = k.spawn("p")
    c = p.sys.fork()
    pid = c.thread_pid
    c.sys.exit(0)
    p.sys.waitpid(c.pid, 0)
    assert pid.task is None and pid.tgid_task is None and c.pid not in k.init_pid_ns.pid_hash
