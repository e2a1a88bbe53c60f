"""Creating tasks: fork, threads, unshare; and mm_access(), which lives here in Linux.

Linux: kernel/fork.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.kernel.capability import perfmon_capable
from simkernel.kernel.locking.spinlock import task_lock, task_unlock
from simkernel.kernel.nsproxy import Nsproxy
from simkernel.kernel.ptrace import PTRACE_MODE_READ, ptrace_may_access
from simkernel.kernel.task import PF_KTHREAD, FsStruct, Pid, PidNamespace, SignalStruct, Task
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E
from simkernel.uapi import sched as C

if TYPE_CHECKING:
    from simkernel.mm.mm_types import MmStruct

__all__ = ["copy_process", "sys_fork", "sys_clone", "ksys_unshare", "check_unshare_flags", "alloc_pid",
           "get_task_mm", "mmget", "mmget_not_zero", "mm_access", "dup_mm", "task_active_pid_ns"]

SIGCHLD = 17
_CLONE_SUPPORTED = (C.CSIGNAL | C.CLONE_VM | C.CLONE_FS | C.CLONE_FILES | C.CLONE_SIGHAND | C.CLONE_THREAD
                    | C.CLONE_PARENT | C.CLONE_NEWNS | C.CLONE_NEWUSER | C.CLONE_NEWPID | C.CLONE_SYSVSEM
                    | C.CLONE_SETTLS | C.CLONE_VFORK | C.CLONE_PTRACE)


def alloc_pid(ns: PidNamespace) -> Pid:
    """alloc_pid(): one number in `ns` and in every ancestor namespace. Linux: kernel/pid.c"""
    chain: list[PidNamespace] = []
    n: PidNamespace | None = ns
    while n is not None:
        chain.append(n)
        n = n.parent
    numbers = [(n, n.alloc_nr()) for n in reversed(chain)]
    pid = Pid(numbers=numbers)
    for n, nr in numbers:
        n.pid_hash[nr] = pid
    return pid


def task_active_pid_ns(task: Task) -> PidNamespace:
    """task_active_pid_ns(): the namespace of the task's own pid (its deepest number). Linux: kernel/pid.c"""
    return task.thread_pid.numbers[-1][0]


def dup_mm(current: Task, oldmm: MmStruct) -> MmStruct:
    """dup_mm(): a copy of the address space for fork. Linux: kernel/fork.c"""
    from simkernel.mm.mmap import dup_mmap, mm_alloc
    mm = mm_alloc(current.kernel, oldmm.user_ns)
    mm.mmap_base = oldmm.mmap_base
    mm.task_size = oldmm.task_size
    mm.dumpable = oldmm.dumpable
    mm.start_brk, mm.brk, mm.start_stack = oldmm.start_brk, oldmm.brk, oldmm.start_stack
    if oldmm.exe_file is not None:
        from simkernel.fs.file_table import get_file
        mm.exe_file = get_file(oldmm.exe_file)
    dup_mmap(mm, oldmm)
    return mm


def copy_process(current: Task, clone_flags: int) -> Task:
    """copy_process(): a new task sharing what the flags say and copying the rest.

    Raises:
        KernelError(EINVAL): inconsistent flags (CLONE_THREAD without CLONE_SIGHAND, CLONE_SIGHAND without
            CLONE_VM, CLONE_NEWUSER with CLONE_THREAD or CLONE_FS, unknown flags).

    Linux: kernel/fork.c:copy_process()
    """
    if clone_flags & ~_CLONE_SUPPORTED:
        raise KernelError(E.EINVAL)
    if clone_flags & (C.CLONE_NEWNS | C.CLONE_FS) == (C.CLONE_NEWNS | C.CLONE_FS):
        raise KernelError(E.EINVAL)
    if clone_flags & (C.CLONE_NEWUSER | C.CLONE_FS) == (C.CLONE_NEWUSER | C.CLONE_FS):
        raise KernelError(E.EINVAL)
    if clone_flags & C.CLONE_THREAD and not clone_flags & C.CLONE_SIGHAND:
        raise KernelError(E.EINVAL)
    if clone_flags & C.CLONE_SIGHAND and not clone_flags & C.CLONE_VM:
        raise KernelError(E.EINVAL)
    if clone_flags & C.CLONE_PARENT and current.tgid == 1:   # SIGNAL_UNKILLABLE: init makes no siblings
        raise KernelError(E.EINVAL)
    if clone_flags & C.CLONE_THREAD and (clone_flags & (C.CLONE_NEWUSER | C.CLONE_NEWPID)
                                         or task_active_pid_ns(current) is not current.nsproxy.pid_ns_for_children):
        raise KernelError(E.EINVAL)
    if clone_flags & (C.CLONE_NEWNS | C.CLONE_NEWUSER | C.CLONE_NEWPID):
        raise KernelError(E.EINVAL, "simkernel: use unshare() for new namespaces")
    k = current.kernel
    pid = alloc_pid(current.nsproxy.pid_ns_for_children)
    pid.kernel = k
    thread = bool(clone_flags & C.CLONE_THREAD)
    signal = current.signal if thread else SignalStruct()
    if clone_flags & C.CLONE_VM:
        mm = current.mm
        if mm is not None:
            mmget(mm)
    else:
        mm = dup_mm(current, current.mm) if current.mm is not None else None
    if clone_flags & C.CLONE_FILES:
        files = current.files
        files.count += 1
    else:
        files = current.files.dup()
    if clone_flags & C.CLONE_FS:
        fs = current.fs
        fs.users += 1
    else:
        fs = FsStruct(root=current.fs.root, pwd=current.fs.pwd, umask=current.fs.umask)
    t = Task(kernel=k, pid=pid.nr, tgid=current.tgid if thread else pid.nr, comm=current.comm,
             real_cred=current.real_cred, cred=current.cred, thread_pid=pid, signal=signal, mm=mm, active_mm=mm,
             fs=fs, files=files, nsproxy=current.nsproxy, flags=current.flags & ~PF_KTHREAD,
             no_new_privs=current.no_new_privs)
    pid.task = t
    if thread:
        t.group_leader = current.group_leader
        t.real_parent = current.real_parent
    else:
        t.group_leader = t
        pid.tgid_task = t
        t.real_parent = current.real_parent if clone_flags & C.CLONE_PARENT else current
    signal.threads.append(t)
    if t.real_parent is not None and not thread:
        t.real_parent.children.append(t)
    k.tasks[t.pid] = t
    if k.ref_tracker is not None:        # the new task's and pid's first references (task list, attach_pid)
        k.ref_tracker.alloc(t, "task")
        k.ref_tracker.alloc(pid, "pid")
    return t


def sys_fork(current: Task) -> Task:
    """fork(2): a new process with a copy of the address space. Linux: kernel/fork.c"""
    return copy_process(current, SIGCHLD)


def sys_clone(current: Task, flags: int) -> Task:
    """clone(2); CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD makes a thread. Linux: kernel/fork.c"""
    return copy_process(current, flags)


# namespaces this model does not represent: unshare() checks them like the kernel and then keeps the task where
# it was (Simplification: no UTS/IPC/network/cgroup/time namespaces are modelled)
CLONE_NEWTIME = 0x00000080
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
_UNSHARE_NS = (C.CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | C.CLONE_NEWPID | CLONE_NEWCGROUP
               | CLONE_NEWTIME)


def check_unshare_flags(current: Task, flags: int) -> None:
    """check_unshare_flags(): known flags only; CLONE_THREAD/SIGHAND/VM only in a single-threaded process.

    Raises:
        KernelError(EINVAL).

    Linux: kernel/fork.c:check_unshare_flags()
    """
    allowed = (C.CLONE_THREAD | C.CLONE_FS | C.CLONE_NEWNS | C.CLONE_SIGHAND | C.CLONE_VM | C.CLONE_FILES
               | C.CLONE_SYSVSEM | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | C.CLONE_NEWUSER | C.CLONE_NEWPID
               | CLONE_NEWCGROUP | CLONE_NEWTIME)
    if flags & ~allowed:
        raise KernelError(E.EINVAL)
    if flags & (C.CLONE_THREAD | C.CLONE_SIGHAND | C.CLONE_VM) and len(current.signal.threads) > 1:
        raise KernelError(E.EINVAL, "unshare of CLONE_THREAD/SIGHAND/VM in a multi-threaded process")


def ksys_unshare(current: Task, flags: int) -> None:
    """unshare(2): a private fs_struct (CLONE_FS) or fd table (CLONE_FILES), a new user, mount or pid
    namespace.

    CLONE_NEWUSER implies CLONE_THREAD|CLONE_FS, CLONE_VM implies CLONE_SIGHAND, CLONE_SIGHAND implies
    CLONE_THREAD, CLONE_NEWNS implies CLONE_FS.  A shared fs_struct or fd table is copied, not refused.

    Raises:
        KernelError(EINVAL): check_unshare_flags().
        KernelError(EPERM): a new namespace other than the user namespace without CAP_SYS_ADMIN in the (new)
            user namespace.   unshare_userns()'s errors.

    Linux: kernel/fork.c:ksys_unshare(), check_unshare_flags(), unshare_fs(), unshare_fd();
    kernel/nsproxy.c:unshare_nsproxy_namespaces()
    """
    if flags & C.CLONE_NEWUSER:
        flags |= C.CLONE_THREAD | C.CLONE_FS
    if flags & C.CLONE_VM:
        flags |= C.CLONE_SIGHAND
    if flags & C.CLONE_SIGHAND:
        flags |= C.CLONE_THREAD
    if flags & C.CLONE_NEWNS:
        flags |= C.CLONE_FS
    check_unshare_flags(current, flags)
    from simkernel.kernel.cred import commit_creds
    from simkernel.kernel.capability import ns_capable
    from simkernel.uapi.capability import CAP_SYS_ADMIN
    new_fs = None
    if flags & C.CLONE_FS and current.fs is not None and current.fs.users > 1:   # unshare_fs()
        new_fs = FsStruct(root=current.fs.root, pwd=current.fs.pwd, umask=current.fs.umask)
    new_files = None
    if flags & C.CLONE_FILES and current.files is not None and current.files.count > 1:   # unshare_fd()
        new_files = current.files.dup()
    new_cred = None
    if flags & C.CLONE_NEWUSER:
        from simkernel.kernel.user_namespace import unshare_userns
        new_cred = unshare_userns(current)
    user_ns = new_cred.user_ns if new_cred is not None else current.cred.user_ns
    new_mnt = current.nsproxy.mnt_ns
    new_pid_ns = current.nsproxy.pid_ns_for_children
    if flags & _UNSHARE_NS and not ns_capable(current, user_ns, CAP_SYS_ADMIN):
        # unshare_nsproxy_namespaces(): the caller's current creds, against the (new) user namespace
        raise KernelError(E.EPERM, "unshare of a namespace needs CAP_SYS_ADMIN in the user namespace")
    if new_cred is not None:
        commit_creds(current, new_cred)
    if new_fs is not None:
        current.fs.users -= 1
        current.fs = new_fs
    if flags & C.CLONE_NEWNS:
        new_mnt = _copy_mnt_ns(current, user_ns)
    if flags & C.CLONE_NEWPID:
        new_pid_ns = PidNamespace(level=new_pid_ns.level + 1, parent=new_pid_ns, user_ns=user_ns)
    if new_files is not None:
        current.files.count -= 1
        current.files = new_files
    if new_mnt is not current.nsproxy.mnt_ns or new_pid_ns is not current.nsproxy.pid_ns_for_children:
        current.nsproxy = Nsproxy(mnt_ns=new_mnt, pid_ns_for_children=new_pid_ns)


def _copy_mnt_ns(current: Task, user_ns: Any) -> Any:
    """copy_mnt_ns(): a new namespace with a copy of every mount; the task's root and cwd move onto the
    copies.  Linux: fs/namespace.c:copy_mnt_ns()
    """
    from simkernel.fs.mount import MntNamespace, VfsMount
    from simkernel.fs.path import Path
    old = current.nsproxy.mnt_ns
    k = current.kernel
    copies: dict[VfsMount, VfsMount] = {}
    for m in old.mounts:
        copies[m] = VfsMount(mnt_sb=m.mnt_sb, mnt_root=m.mnt_root, mnt_id=k.next_id("mnt_id", start=21),
                             mnt_flags=m.mnt_flags)
    ns = MntNamespace(root=copies[old.root], user_ns=user_ns, ns_id=k.next_id("mnt_ns"))
    for m in old.mounts:
        c = copies[m]
        c.mnt_ns = ns
        ns.mounts.append(c)
        if m.mnt_parent is m:
            c.mnt_parent, c.mnt_mountpoint = c, m.mnt_mountpoint
        else:
            c.mnt_parent, c.mnt_mountpoint = copies[m.mnt_parent], m.mnt_mountpoint
            ns.mount_hashtable[(c.mnt_parent, c.mnt_mountpoint)] = c
    fs = current.fs
    fs.root = Path(copies.get(fs.root.mnt, fs.root.mnt), fs.root.dentry)
    fs.pwd = Path(copies.get(fs.pwd.mnt, fs.pwd.mnt), fs.pwd.dentry)
    return ns


def get_task_mm(task: Task, current: Task | None = None) -> MmStruct | None:
    """get_task_mm(): the task's mm with a user reference, None for kernel threads and exited tasks.

    Reads task->mm under task_lock(task).  `current` (the caller, implicit in C) is what the lock validator
    and the scheduler see taking the lock; without it the lock is taken anonymously.  With neither of them
    on, nothing can observe the lock between the two calls, and it is not taken (this is the readlink path).

    Linux: kernel/fork.c:get_task_mm()
    """
    k = task.kernel
    watched = k.lockdep is not None or k.sched is not None
    if watched:
        task_lock(current, task)
    mm = task.mm
    if mm is None or task.flags & PF_KTHREAD:
        if watched:
            task_unlock(current, task)
        return None
    # fail-nth "mm" (lib/fault_inject.py): k.fault_current is the armed task inside its syscall, else None
    if k.fault_current is not None and should_fail(k.fault_current, "mm", "get_task_mm"):
        if watched:
            task_unlock(current, task)   # fail-nth "mm": as if the task were exiting (exit_mm() cleared task->mm)
        return None
    mmget(mm)
    if watched:
        task_unlock(current, task)
    return mm


def mmget(mm: MmStruct) -> None:
    """mmget(): take an mm_users reference (the address space stays mapped until the matching mmput()).

    Linux: include/linux/sched/mm.h:mmget()
    """
    rt = mm.kernel.ref_tracker
    if rt is not None:
        rt.get(mm, "mm")
    mm.mm_users += 1


def mmget_not_zero(mm: MmStruct) -> bool:
    """mmget_not_zero(): an mm_users reference unless the address space is already torn down (False).

    Linux: include/linux/sched/mm.h:mmget_not_zero()
    """
    if mm.mm_users == 0:
        return False
    mmget(mm)
    return True


def mm_access(current: Task, task: Task, mode: int) -> MmStruct | None:
    """mm_access(): the target's mm if may_access_mm() allows it.

    Takes exec_update_lock for read, killably (EINTR with a fatal signal pending); before v5.7 (profile
    switch `exec_update_lock`) cred_guard_mutex, which exec then held throughout.  With no mm: ESRCH since the
    "mm: refactor mm_access() to not return NULL" change (v6.13 era, profile switch `mm_access_esrch`),
    None before.  Callers drop the reference with mmput().

    Raises:
        KernelError(EINTR), KernelError(ESRCH), KernelError(EACCES).

    Linux: kernel/fork.c:mm_access()
    """
    sig = task.signal
    rwsem = current.kernel.version.exec_update_lock
    if rwsem:
        sig.exec_update_lock.down_read_killable(current)
    else:   # before eea9673250db (v5.7)
        sig.cred_guard_mutex.lock_killable(current)
    try:
        mm = get_task_mm(task, current)
        if mm is None:
            if current.kernel.version.mm_access_esrch:
                raise KernelError(E.ESRCH, "mm_access: the task has no mm (kernel thread or exited)")
            return None
        why: list[str] = []
        if not may_access_mm(current, mm, task, mode, why):
            from simkernel.mm.mmap import mmput
            mmput(mm)
            raise KernelError(E.EACCES, f"mm_access: {why[0]}")
        return mm
    finally:
        if rwsem:
            sig.exec_update_lock.up_read(current)
        else:
            sig.cred_guard_mutex.unlock(current)


def may_access_mm(current: Task, mm: MmStruct, task: Task, mode: int, why: list[str] | None = None) -> bool:
    """may_access_mm(): the caller's own mm; or ptrace_may_access(mode); or, for a read, perfmon_capable()
    (CAP_PERFMON or CAP_SYS_ADMIN in the initial user namespace).  `why` receives the reason of a denial.

    The third rule is why a caller that fails the ptrace check but holds CAP_PERFMON can list map_files
    and read maps (mm_access paths) while readlink still gives EACCES (a plain ptrace check) — observed
    on the host kernel.  The third rule came with "mm,procfs: allow read-only remote mm access under
    CAP_PERFMON" (v6.15, profile switch `mm_access_perfmon`); before, only the first two applied.

    Linux: kernel/fork.c:may_access_mm()
    """
    if mm is current.mm:
        return True
    reasons: list[str] = []
    if ptrace_may_access(current, task, mode, reasons):
        return True
    perfmon = current.kernel.version.mm_access_perfmon
    if mode & PTRACE_MODE_READ and perfmon and perfmon_capable(current):
        return True
    if why is not None:
        why.append(f"ptrace_may_access() denied ({reasons[0]})"
                   + (" and the caller is not perfmon_capable()" if perfmon else ""))
    return False
