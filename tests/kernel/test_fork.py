"""kernel/fork.py: fork, clone (threads), unshare, pid allocation, mm_access's reference."""

from __future__ import annotations

import pytest

from simkernel.kernel import fork as FK
from simkernel.uapi import (
    CAP_SYS_ADMIN, CLONE_FILES, CLONE_FS, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER, CLONE_PARENT, CLONE_SIGHAND,
    CLONE_THREAD, CLONE_VM, O_RDONLY,
)
from simkernel.uapi import errno as E
from tests.helpers import kraises, raises_errno
from tests.fs.vfskit import boot, mkdir

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


@pytest.fixture
def k():
    return boot()


def test_sys_fork_new_process(k):
    """fork: a new pid and tgid, parent linkage, copied fs/files, a separate mm, same credentials."""
    p = k.spawn("p", uid=1000, gid=1000)
    c = p.sys.fork()
    assert c.pid == c.tgid == p.pid + 1 and c.real_parent is p and c in p.children
    assert c.mm is not p.mm and c.files is not p.files and c.fs is not p.fs
    assert c.cred is p.cred and c.comm == "p" and c.group_leader is c
    assert k.find_task(c.pid) is c and c.sys.getppid() == p.pid


def test_sys_clone_thread_shares_everything(k):
    """CLONE_VM|FS|FILES|SIGHAND|THREAD: same tgid, mm, files, fs, signal; its parent is the process's."""
    p = k.spawn("p")
    th = p.sys.clone(THREAD)
    assert (th.tgid, th.mm, th.files, th.fs, th.signal) == (p.tgid, p.mm, p.files, p.fs, p.signal)
    assert th.pid != p.pid and th.group_leader is p and th.real_parent is p.real_parent
    assert th not in p.children and p.threads == [p, th]
    assert p.mm.mm_users == 2 and p.fs.users == 2 and p.files.count == 2


def test_sys_clone_process_with_shared_vm(k):
    """CLONE_VM without CLONE_THREAD is a new process sharing the address space."""
    p = k.spawn("p")
    c = p.sys.clone(CLONE_VM | 17)
    assert c.tgid == c.pid and c.mm is p.mm and c in p.children


def test_sys_clone_parent(k):
    """CLONE_PARENT makes a sibling: the new task's parent is the caller's parent."""
    p = k.spawn("p")
    c = p.sys.clone(CLONE_PARENT | 17)
    assert c.real_parent is k.init and c in k.init.children


@pytest.mark.parametrize("flags", [
    CLONE_NEWNS | CLONE_FS, CLONE_NEWUSER | CLONE_FS, CLONE_THREAD | CLONE_VM, CLONE_SIGHAND,
    THREAD | CLONE_NEWPID, 1 << 40,
])
def test_copy_process_inconsistent_flags_einval(k, flags):
    """Inconsistent clone flags are EINVAL (THREAD without SIGHAND, SIGHAND without VM, NEWNS|FS, ...)."""
    with raises_errno(E.EINVAL):
        k.spawn("p").sys.clone(flags)


def test_copy_process_init_cannot_clone_parent(k):
    """init may not make siblings (CLONE_PARENT from init is EINVAL)."""
    with raises_errno(E.EINVAL):
        k.init.sys.clone(CLONE_PARENT | 17)


def test_copy_process_thread_after_unshare_newpid(k):
    """After unshare(CLONE_NEWPID) the caller may not start threads (EINVAL); its next child is pid 1 there."""
    p = k.spawn("p")
    p.sys.unshare(CLONE_NEWPID)
    with raises_errno(E.EINVAL):
        p.sys.clone(THREAD)
    c = p.sys.fork()
    assert c.thread_pid.nr_ns(p.nsproxy.pid_ns_for_children) == 1 and c.sys.getpid() == 1


def test_copy_process_namespace_flags_ask_for_unshare(k):
    """New namespaces at clone time are not modelled: EINVAL, use unshare()."""
    with kraises(E.EINVAL):
        FK.copy_process(k.spawn("p"), CLONE_NEWNS)


def test_alloc_pid_numbers_every_level(k):
    """alloc_pid takes one number per namespace level, from the initial namespace down."""
    from simkernel.kernel.task import PidNamespace
    child_ns = PidNamespace(level=1, parent=k.init_pid_ns)
    pid = FK.alloc_pid(child_ns)
    assert [n for _ns, n in pid.numbers] == [k.init_pid_ns.last_pid, 1]
    assert child_ns.pid_hash[1] is pid and pid.nr_ns(child_ns) == 1 and repr(pid) == f"Pid({pid.nr})"


# -- unshare ----------------------------------------------------------------------------------------------------
def test_ksys_unshare_fs_and_files_copy_for_threads(k):
    """A thread may unshare its fs_struct and fd table: private copies, the process keeps its own."""
    p = k.spawn("p")
    th = p.sys.clone(THREAD)
    mkdir(k, "/tmp/x")
    th.sys.unshare(CLONE_FS)
    th.sys.chdir("/tmp/x")
    assert (th.sys.getcwd(), p.sys.getcwd()) == ("/tmp/x", "/")
    fd = p.sys.open("/tmp/x", O_RDONLY)
    th.sys.unshare(CLONE_FILES)
    th.sys.close(fd)
    assert p.sys.fstat(fd).st_nlink == 2
    assert p.fs.users == 1 and p.files.count == 1


def test_ksys_unshare_single_threaded_sharing_flags_are_noops(k):
    """In a single-threaded process CLONE_FS/FILES/VM/SIGHAND/THREAD change nothing."""
    p = k.spawn("p")
    fs, files, mm = p.fs, p.files, p.mm
    p.sys.unshare(CLONE_FS | CLONE_FILES | CLONE_VM | CLONE_SIGHAND | CLONE_THREAD)
    assert (p.fs, p.files, p.mm) == (fs, files, mm)


@pytest.mark.parametrize("flags", [CLONE_THREAD, CLONE_VM, CLONE_SIGHAND, CLONE_NEWUSER])
def test_check_unshare_flags_multithreaded_einval(k, flags):
    """A multi-threaded process cannot unshare its thread group, VM, signal handlers or user namespace."""
    p = k.spawn("p")
    p.sys.clone(THREAD)
    with raises_errno(E.EINVAL):
        p.sys.unshare(flags)


def test_ksys_unshare_unknown_flag_einval(k):
    """Unknown unshare flags are EINVAL."""
    with raises_errno(E.EINVAL):
        k.init.sys.unshare(0x100000000)


@pytest.mark.parametrize("flag", [CLONE_NEWNS, CLONE_NEWPID, 0x80, 0x02000000, 0x04000000, 0x08000000, 0x40000000])
def test_ksys_unshare_namespaces_need_cap_sys_admin(k, flag):
    """Every namespace but the user namespace needs CAP_SYS_ADMIN (EPERM); root may (unmodelled ones are no-ops)."""
    with raises_errno(E.EPERM):
        k.spawn("u", uid=1000, gid=1000).sys.unshare(flag)
    k.spawn("r").sys.unshare(flag)
    k.spawn("a", uid=1000, gid=1000, caps=[CAP_SYS_ADMIN]).sys.unshare(flag)


def test_ksys_unshare_newuser_then_newns(k):
    """CLONE_NEWUSER|CLONE_NEWNS: the new user namespace owns the new mount namespace; caps there suffice."""
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER | CLONE_NEWNS)
    assert u.nsproxy.mnt_ns.user_ns is u.cred.user_ns is not k.init_user_ns
    assert u.nsproxy.mnt_ns is not k.init_mnt_ns


def test_ksys_unshare_newns_moves_root_and_cwd(k):
    """unshare(CLONE_NEWNS) moves the task's root and cwd onto the copied mounts."""
    mkdir(k, "/tmp/x")
    t = k.spawn("t")
    t.sys.chdir("/tmp/x")
    old_root_mnt = t.fs.root.mnt
    t.sys.unshare(CLONE_NEWNS)
    assert t.fs.root.mnt is not old_root_mnt and t.fs.root.mnt.mnt_ns is t.nsproxy.mnt_ns
    assert t.sys.getcwd() == "/tmp/x"


def test_get_task_mm_takes_reference(k):
    """get_task_mm returns the mm with one more user, None for a task without one."""
    p = k.spawn("p")
    users = p.mm.mm_users
    assert FK.get_task_mm(p) is p.mm and p.mm.mm_users == users + 1
    c = p.sys.fork()
    c.sys.exit(0)
    assert FK.get_task_mm(c) is None


def test_task_active_pid_ns(k):
    """A task's active pid namespace is that of its own pid, not pid_ns_for_children."""
    p = k.spawn("p")
    p.sys.unshare(CLONE_NEWPID)
    assert FK.task_active_pid_ns(p) is k.init_pid_ns
    assert FK.task_active_pid_ns(p.sys.fork()) is p.nsproxy.pid_ns_for_children


def test_mm_access_rules(k):
    """mm_access: one's own mm; another's with ptrace_may_access; a read by perfmon_capable(); else EACCES;
    a task without an mm is ESRCH on this release."""
    from simkernel.kernel.ptrace import PTRACE_MODE_ATTACH_FSCREDS, PTRACE_MODE_READ_FSCREDS
    from simkernel.uapi import CAP_PERFMON
    a = k.spawn("a", uid=1000, gid=1000)
    b = k.spawn("b", uid=2000, gid=2000)
    users = a.mm.mm_users
    assert FK.mm_access(a, a, PTRACE_MODE_READ_FSCREDS) is a.mm and a.mm.mm_users == users + 1
    assert FK.mm_access(k.init, a, PTRACE_MODE_ATTACH_FSCREDS) is a.mm
    with kraises(E.EACCES) as info:
        FK.mm_access(b, a, PTRACE_MODE_READ_FSCREDS)
    assert "perfmon_capable" in info.value.explain and a.mm.mm_users == users + 2
    p = k.spawn("p", uid=2000, gid=2000, caps=[CAP_PERFMON])
    assert FK.mm_access(p, a, PTRACE_MODE_READ_FSCREDS) is a.mm
    with kraises(E.EACCES):
        FK.mm_access(p, a, PTRACE_MODE_ATTACH_FSCREDS)
    c = a.sys.fork()
    c.sys.exit(0)
    with kraises(E.ESRCH):
        FK.mm_access(k.init, c, PTRACE_MODE_READ_FSCREDS)


def test_dup_mm_copies_exe_file(k):
    """fork copies the address space and takes a reference on the executable file."""
    from simkernel.fs.file_table import alloc_file
    from simkernel.fs.namei import filename_lookup
    p = k.spawn("p")
    f = alloc_file(filename_lookup(p, -100, "/etc/passwd", 0), 0, None, p)
    p.mm.exe_file = f
    c = p.sys.fork()
    assert c.mm.exe_file is f and f.f_count == 2 and c.mm.dumpable == p.mm.dumpable
