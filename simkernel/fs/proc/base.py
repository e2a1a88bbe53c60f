"""/proc/<pid>/ and /proc/<pid>/task/<tid>/: the pid_entry tables, lookup, readdir, and magic links.

`TGID_BASE_STUFF` and `TID_BASE_STUFF` are declared tables like the kernel's: adding a file is one row a
reviewer can hold against fs/proc/base.c, and a design experiment can swap one row.  map_files is in the
thread-group table only.

Linux: fs/proc/base.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from simkernel.errors import KernelError
from simkernel.fs.d_path import d_path
from simkernel.fs.dcache import Dentry
from simkernel.fs.file import FileOperations
from simkernel.fs.inode import S_IMMUTABLE, Inode, InodeOperations, Kstat, generic_fillattr, generic_permission
from simkernel.fs.path import Path
from simkernel.fs.proc.internal import (DIR, HIDEPID_INVISIBLE, HIDEPID_NO_ACCESS, HIDEPID_NOT_PTRACEABLE, LNK,
                                        PID_DENTRY_OPERATIONS, PROC_I, REG, PidEntry, ProcFsInfo,
                                        generic_file_llseek, get_proc_task, instantiate_into, proc_fill_cache,
                                        proc_pid_make_inode, proc_pid_task, proc_setattr, task_dump_owner)
from simkernel.fs.proc.seq import Cursor, SeqFile, seq_lseek, seq_read
from simkernel.fs.readdir import dir_emit_dots
from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS, ptrace_may_access
from simkernel.kernel.task import put_task_struct
from simkernel.lib.fault_inject import should_fail
from simkernel.mm.memory import might_fault
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S
from simkernel.fs.libfs import generic_read_dir

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.fs.namei import NameiData
    from simkernel.kernel.task import Task

__all__ = ["TGID_BASE_STUFF", "TID_BASE_STUFF", "TGID_BASE_STUFF_FAULT_INJECTION", "TID_BASE_STUFF_FAULT_INJECTION",
           "has_pid_permissions", "proc_pid_permission", "pid_getattr",
           "proc_pid_get_link", "proc_pid_readlink", "call_proc_get_link", "proc_pid_instantiate",
           "proc_task_instantiate", "proc_pident_lookup", "proc_pident_readdir", "PROC_PID_LINK_INODE_OPERATIONS",
           "proc_exe_link", "proc_cwd_link", "proc_root_link", "proc_task_getattr", "pid_entry_nlink",
           "UNMODELLED_DIRS"]


def proc_sb_info(inode: Inode) -> ProcFsInfo:
    return inode.i_sb.s_fs_info


def has_pid_permissions(current: Task, fs_info: ProcFsInfo, task: Task, hide_pid_min: int) -> bool:
    """has_pid_permissions(): hidepid= and gid= of this proc mount.

    Linux: fs/proc/base.c:has_pid_permissions()
    """
    if fs_info.hide_pid == HIDEPID_NOT_PTRACEABLE:
        return ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS)
    if fs_info.hide_pid < hide_pid_min:
        return True
    if current.cred.in_group_p(fs_info.pid_gid):
        return True
    return ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS)


def proc_pid_permission(current: Task, inode: Inode, mask: int) -> None:
    """proc_pid_permission(): hidepid first (EPERM, or ENOENT with hidepid=invisible), then DAC.

    Raises:
        KernelError(ESRCH): the task is gone.  KernelError(EPERM)/(ENOENT): hidepid.  KernelError(EACCES).

    Linux: fs/proc/base.c:proc_pid_permission()
    """
    fs_info = proc_sb_info(inode)
    task = get_proc_task(inode)
    if task is None:
        raise KernelError(E.ESRCH, "proc_pid_permission: the process is gone (reaped)")
    has_perms = has_pid_permissions(current, fs_info, task, HIDEPID_NO_ACCESS)
    put_task_struct(task)
    if not has_perms:
        if fs_info.hide_pid == HIDEPID_INVISIBLE:
            raise KernelError(E.ENOENT, "hidepid=invisible: the process is not ptrace-readable")
        raise KernelError(E.EPERM, "hidepid=noaccess: the process is not ptrace-readable")
    generic_permission(current, inode, mask)


def pid_getattr(current: Task, path: Path, stat: Kstat) -> None:
    """pid_getattr(): owner per task_dump_owner; invisible pids give ENOENT. Linux: fs/proc/base.c"""
    inode = path.dentry.d_inode
    generic_fillattr(inode, stat)
    stat.uid = stat.gid = 0
    task = proc_pid_task(inode)          # rcu_read_lock() + pid_task(): no reference
    if task is not None:
        if not has_pid_permissions(current, proc_sb_info(inode), task, HIDEPID_INVISIBLE):
            raise KernelError(E.ENOENT, "hidepid=invisible: hidden from a caller that may not ptrace-read it")
        stat.uid, stat.gid = task_dump_owner(task, inode.i_mode)


# -- magic links ---------------------------------------------------------------------------------------

def call_proc_get_link(current: Task, dentry: Dentry, inode: Inode) -> Path:
    """The checks in front of every /proc magic link (fd/N, exe, cwd, root, map_files/R).

    2026 form (CVE-2026-64375 "FD links"): the task (ENOENT if reaped), exec_update_lock killable (EINTR),
    PTRACE_MODE_READ_FSCREDS (EACCES), then the entry's proc_get_link.  Before: proc_fd_access_allowed()
    — a gone task or a failed ptrace check both EACCES.

    Linux: fs/proc/base.c:proc_fd_access_allowed(), proc_pid_get_link(), proc_pid_readlink()
    """
    task = get_proc_task(inode)
    get_link = inode.i_private.proc_get_link     # PROC_I(inode)->op.proc_get_link
    assert get_link is not None
    locked = current.kernel.version.proc_link_exec_update_lock
    if task is None:
        if locked:
            raise KernelError(E.ENOENT, "the process is gone")
        raise KernelError(E.EACCES, "proc_fd_access_allowed(): the task is gone or not ptrace-readable")
    try:
        if locked:
            lock = task.signal.exec_update_lock
            lock.down_read_killable(current)
            try:
                why: list[str] = []
                if not ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS, why):
                    raise KernelError(E.EACCES, f"ptrace_may_access(PTRACE_MODE_READ_FSCREDS) denied: {why[0]}")
                return get_link(current, dentry, task)
            finally:
                lock.up_read(current)
        if not ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS):
            raise KernelError(E.EACCES, "proc_fd_access_allowed(): the task is gone or not ptrace-readable")
        return get_link(current, dentry, task)
    finally:
        put_task_struct(task)


def proc_pid_get_link(current: Task, dentry: Dentry | None, inode: Inode, nd: NameiData | None) -> None:
    """proc_pid_get_link(): check, find the target, and jump the walk onto it. Linux: fs/proc/base.c"""
    from simkernel.fs.namei import nd_jump_link
    assert dentry is not None and nd is not None, "RCU-walk is not modelled"
    path = call_proc_get_link(current, dentry, inode)
    nd_jump_link(nd, path)
    return None


def proc_pid_readlink(current: Task, dentry: Dentry, buflen: int) -> bytes:
    """proc_pid_readlink(): d_path() of the target from the reader's root, cut to buflen (no NUL).

    do_proc_readlink()'s copy_to_user() is a might_fault() (mm/memory.py), after the link's locks are dropped.

    Linux: fs/proc/base.c:proc_pid_readlink(), do_proc_readlink()
    """
    path = call_proc_get_link(current, dentry, dentry.d_inode)
    if current.fail_nth and should_fail(current, "alloc", "do_proc_readlink"):   # kmalloc(PAGE_SIZE) for d_path
        raise KernelError(E.ENOMEM, "do_proc_readlink(): no memory for the d_path buffer (fail-nth)")
    text = d_path(path, current.fs.root)
    k = current.kernel
    if k.lockdep is not None or k.sched is not None:   # might_fault()'s own test, inline: the readlink path
        might_fault(current)
    return text.encode("utf-8", "surrogateescape")[:buflen]


def proc_exe_link(current: Task, dentry: Dentry, task: Task) -> Path:
    """proc_exe_link(): the mm's exe_file. Raises KernelError(ENOENT). Linux: fs/proc/base.c"""
    mm = task.mm
    if mm is None or mm.exe_file is None:
        raise KernelError(E.ENOENT, "exe: the process has no mm or no executable file")
    return mm.exe_file.f_path


def proc_cwd_link(current: Task, dentry: Dentry, task: Task) -> Path:
    """proc_cwd_link(): task->fs->pwd. Raises KernelError(ENOENT) after exit. Linux: fs/proc/base.c"""
    if task.fs is None:
        raise KernelError(E.ENOENT, "cwd: the process has exited (no fs_struct)")
    return task.fs.pwd


def proc_root_link(current: Task, dentry: Dentry, task: Task) -> Path:
    """proc_root_link(): task->fs->root. Linux: fs/proc/base.c"""
    if task.fs is None:
        raise KernelError(E.ENOENT, "root: the process has exited (no fs_struct)")
    return task.fs.root


PROC_PID_LINK_INODE_OPERATIONS = InodeOperations(readlink=proc_pid_readlink, get_link=proc_pid_get_link,
                                                 setattr=proc_setattr)


# -- table-driven directories --------------------------------------------------------------------------

def proc_pident_instantiate(dentry: Dentry, task: Task, p: PidEntry) -> Dentry:
    """proc_pident_instantiate(): an inode for one table row. Linux: fs/proc/base.c"""
    inode = proc_pid_make_inode(dentry.d_sb, task, p.mode)
    if S.S_ISDIR(p.mode):
        inode.i_nlink = 2
    if p.iop is not None:
        inode.i_op = p.iop
    if p.fop is not None:
        inode.i_fop = p.fop
    if p.get_link is not None:
        inode.i_op = PROC_PID_LINK_INODE_OPERATIONS
        PROC_I(inode).proc_get_link = p.get_link
    PROC_I(inode).entry = p
    return instantiate_into(dentry, inode, PID_DENTRY_OPERATIONS)


def proc_pident_lookup(current: Task, dir: Inode, dentry: Dentry, ents: tuple[PidEntry, ...]) -> Dentry:
    """proc_pident_lookup(): one row by exact name. Raises KernelError(ENOENT). Linux: fs/proc/base.c"""
    task = get_proc_task(dir)
    if task is None:
        raise KernelError(E.ENOENT, "/proc/<pid>: the process is gone")
    try:
        for p in ents:
            if p.name == dentry.d_name:
                return proc_pident_instantiate(dentry, task, p)
        raise KernelError(E.ENOENT, f"/proc/<pid> has no entry named {dentry.d_name!r}")
    finally:
        put_task_struct(task)


def proc_pident_readdir(current: Task, file: File, ctx: Any, ents: tuple[PidEntry, ...]) -> None:
    """proc_pident_readdir(): dots, then the table rows from ctx.pos - 2. Linux: fs/proc/base.c"""
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ENOENT, "readdir of /proc/<pid>: the process is gone")
    try:
        if not dir_emit_dots(file, ctx):
            return
        for i in range(ctx.pos - 2, len(ents)):
            p = ents[i]
            if not proc_fill_cache(current, file, ctx, p.name,
                                   lambda d, p=p: proc_pident_instantiate(d, task, p)):
                return
            ctx.pos += 1
    finally:
        put_task_struct(task)




def proc_single_cursor(show: Callable[..., str]) -> Cursor:
    """proc_single_show() as a one-record seq_file: the task is looked up at each rendering.

    Raises (from a read):
        KernelError(ESRCH): the task was reaped (bytes already in the buffer are still returned first).

    Linux: fs/proc/base.c:proc_single_show(), proc_single_open()
    """
    def cursor(current: Task, m: SeqFile, index: int) -> tuple[bytes, int] | None:
        if index != 0:
            return None
        task = get_proc_task(m.file.f_inode)      # get_pid_task(): put after the show
        if task is None:
            raise KernelError(E.ESRCH, "the process is gone")
        try:
            return show(current, task, m.file).encode("utf-8", "surrogateescape"), 1
        finally:
            put_task_struct(task)
    return cursor


def _seq_open(check: Callable[..., Any] | None, cursor: Callable[[Callable[..., str]], Cursor],
              show: Callable[..., str]) -> Callable[..., None]:
    """->open of a procfs text file: the task must exist (ESRCH); `check` may refuse or pin something
    (mm_access for maps, the user namespace for uid_map) that the records are rendered from."""
    def open_(current: Task, inode: Inode, file: File) -> None:
        # seq_open()'s struct seq_file (single_open()'s seq_operations, __seq_open_private()'s private
        # data): allocated first, ENOMEM (fs/seq_file.c)
        if current.fail_nth and should_fail(current, "alloc", "seq_open"):
            raise KernelError(E.ENOMEM, "seq_open(): no memory for the seq_file (fail-nth)")
        task = get_proc_task(inode)
        if task is None:
            raise KernelError(E.ESRCH, "open of a /proc/<pid> file: the process is gone")
        try:
            private = check(current, task, file) if check is not None else None
        finally:
            put_task_struct(task)
        file.private_data = SeqFile(cursor=cursor(show), private=private, file=file)
    return open_


def _reg(name: str, mode: int, show: Callable[..., str], open_check: Callable[..., Any] | None = None,
         write: Callable[..., int] | None = None, cursor: Callable[..., Cursor] = proc_single_cursor,
         release: Callable[..., None] | None = None) -> PidEntry:
    fop = FileOperations(open=_seq_open(open_check, cursor, show), read=seq_read, llseek=seq_lseek, write=write,
                         release=release)
    return REG(name, mode, fop, show)


def _comm_show(current: Task, task: Task, file: File) -> str:
    return task.comm + "\n"


def _comm_write(current: Task, file: File, data: bytes, pos: int) -> int:
    """comm_write(): same thread group only (EINVAL otherwise). Linux: fs/proc/base.c"""
    from simkernel.kernel.task import same_thread_group
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ESRCH, "comm: the process is gone")
    try:
        if not same_thread_group(current, task):
            raise KernelError(E.EINVAL, "comm: only a thread of the same process may write it")
        task.comm = data.decode("utf-8", "replace").split("\n", 1)[0][:15]
    finally:
        put_task_struct(task)
    return len(data)


def _maps_entry() -> PidEntry:
    from simkernel.fs.proc.task_mmu import maps_cursor, proc_map_release, proc_maps_open_check, show_maps
    return _reg("maps", S.S_IRUGO, show_maps, lambda current, task, file: proc_maps_open_check(current, task),
                cursor=lambda show: maps_cursor, release=proc_map_release)


def _status_entry() -> PidEntry:
    from simkernel.fs.proc.array import proc_pid_status
    return _reg("status", S.S_IRUGO, proc_pid_status)


def _pinned_ns(ns: Any) -> Any:
    """A stand-in "task" whose cred names `ns`: the user_namespace helpers take a task, the files pin the
    namespace at open (seq_file->private), so reads and writes keep working after the task is gone."""
    from types import SimpleNamespace
    return SimpleNamespace(real_cred=SimpleNamespace(user_ns=ns))


def _ns_cursor(render: Callable[[Task, Any], str]) -> Callable[..., Cursor]:
    def make(show: Callable[..., str]) -> Cursor:
        def cursor(current: Task, m: SeqFile, index: int) -> tuple[bytes, int] | None:
            if index != 0:
                return None
            return render(current, _pinned_ns(m.private)).encode(), 1
        return cursor
    return make


def _pin_user_ns(current: Task, task: Task, file: File) -> Any:
    return task.real_cred.user_ns


def _id_map_entry(which: str) -> PidEntry:
    """uid_map / gid_map: S_IRUGO|S_IWUSR; reads show the map, one write (at offset 0) installs it.

    The namespace is the target's at open time (proc_id_map_open pins it), so the file keeps working after
    the task is gone.

    Linux: fs/proc/base.c (REG("uid_map", ...)), kernel/user_namespace.c:proc_id_map_open(),
    proc_uid_map_write(), uid_m_show()
    """
    from simkernel.kernel.user_namespace import map_write, proc_id_map_show

    def show(current: Task, task: Task, file: File) -> str:
        return proc_id_map_show(current, task, which)

    def write(current: Task, file: File, data: bytes, pos: int) -> int:
        if pos != 0:
            raise KernelError(E.EINVAL, f"{which}_map is written in one write at offset 0")
        return map_write(current, _pinned_ns(file.private_data.private), which, data, f_cred=file.f_cred)

    return _reg(f"{which}_map", S.S_IRUGO | S.S_IWUSR, show, _pin_user_ns, write=write,
                cursor=_ns_cursor(lambda current, t: proc_id_map_show(current, t, which)))


def _setgroups_entry() -> PidEntry:
    """setgroups: "allow" / "deny"; opening for write needs CAP_SYS_ADMIN over the namespace (EACCES).

    Linux: kernel/user_namespace.c:proc_setgroups_open(), proc_setgroups_show(), proc_setgroups_write()
    """
    from simkernel.fs.file import FMODE_WRITE
    from simkernel.kernel.capability import ns_capable
    from simkernel.kernel.user_namespace import proc_setgroups_show, proc_setgroups_write
    from simkernel.uapi.capability import CAP_SYS_ADMIN

    def open_check(current: Task, task: Task, file: File) -> Any:
        ns = task.real_cred.user_ns
        if file.f_mode & FMODE_WRITE and not ns_capable(current, ns, CAP_SYS_ADMIN):
            raise KernelError(E.EACCES, "setgroups: opening for write needs CAP_SYS_ADMIN over the namespace")
        return ns

    def show(current: Task, task: Task, file: File) -> str:
        return proc_setgroups_show(task)

    def write(current: Task, file: File, data: bytes, pos: int) -> int:
        if pos != 0:
            raise KernelError(E.EINVAL, "setgroups is written at offset 0")
        return proc_setgroups_write(current, _pinned_ns(file.private_data.private), data)

    return _reg("setgroups", S.S_IRUGO | S.S_IWUSR, show, open_check, write=write,
                cursor=_ns_cursor(lambda current, t: proc_setgroups_show(t)))


def _dir_fd() -> PidEntry:
    from simkernel.fs.proc.fd import PROC_FD_INODE_OPERATIONS, PROC_FD_OPERATIONS
    return DIR("fd", S.S_IRUSR | S.S_IXUSR, PROC_FD_INODE_OPERATIONS, PROC_FD_OPERATIONS)


def _dir_map_files() -> PidEntry:
    from simkernel.fs.proc.map_files import PROC_MAP_FILES_INODE_OPERATIONS, PROC_MAP_FILES_OPERATIONS
    return DIR("map_files", S.S_IRUSR | S.S_IXUSR, PROC_MAP_FILES_INODE_OPERATIONS, PROC_MAP_FILES_OPERATIONS)


def _task_lookup(current: Task, dir: Inode, dentry: Dentry, flags: int) -> Dentry:
    """proc_task_lookup(): a tid of this thread group. Raises KernelError(ENOENT). Linux: fs/proc/base.c"""
    from simkernel.fs.proc.fd import name_to_int
    from simkernel.kernel.task import same_thread_group
    leader = get_proc_task(dir)
    if leader is None:
        raise KernelError(E.ENOENT, "task/: the process is gone")
    try:
        tid = name_to_int(dentry.d_name)
        if tid < 0:
            raise KernelError(E.ENOENT, f"task/: {dentry.d_name!r} is not a thread id")
        ns = proc_sb_info(dir).pid_ns
        pid = ns.pid_hash.get(tid)
        task = pid.task if pid is not None else None
        if task is None or not same_thread_group(leader, task):
            raise KernelError(E.ENOENT, f"task/: no thread {tid} in this process")
        return proc_task_instantiate(dentry, task)
    finally:
        put_task_struct(leader)


def _task_readdir(current: Task, file: File, ctx: Any) -> None:
    """proc_task_readdir(): dots, then each thread's tid (leader first). Linux: fs/proc/base.c"""
    leader = get_proc_task(file.f_inode)
    if leader is None:
        raise KernelError(E.ENOENT, "readdir of task/: the process is gone")
    try:
        if not dir_emit_dots(file, ctx):
            return
        ns = proc_sb_info(file.f_inode).pid_ns
        threads = sorted(leader.signal.threads, key=lambda t: (t is not t.group_leader, t.pid))
    finally:
        put_task_struct(leader)
    for i in range(ctx.pos - 2, len(threads)):
        t = threads[i]
        if not proc_fill_cache(current, file, ctx, str(t.thread_pid.nr_ns(ns)),
                               lambda d, t=t: proc_task_instantiate(d, t)):
            return
        ctx.pos += 1


def proc_task_getattr(current: Task, path: Path, stat: Kstat) -> None:
    """proc_task_getattr(): /proc/<pid>/task has one more link per thread. Linux: fs/proc/base.c"""
    inode = path.dentry.d_inode
    generic_fillattr(inode, stat)
    task = get_proc_task(inode)
    if task is not None:
        stat.nlink += len(task.signal.threads)
        put_task_struct(task)


def _task_dir() -> PidEntry:
    iop = InodeOperations(lookup=_task_lookup, getattr=proc_task_getattr, permission=proc_pid_permission,
                          setattr=proc_setattr)
    fop = FileOperations(read=generic_read_dir, iterate_shared=_task_readdir, llseek=generic_file_llseek)
    return DIR("task", S.S_IRUGO | S.S_IXUGO, iop, fop)


def _build_tables() -> tuple[tuple[PidEntry, ...], ...]:
    """tgid_base_stuff[] and tid_base_stuff[] in the kernel's relative order, without and with the
    CONFIG_FAULT_INJECTION row "fail-nth" (before uid_map in both): the same row objects in both builds."""
    fd, maps, status = _dir_fd(), _maps_entry(), _status_entry()
    comm = _reg("comm", S.S_IRUGO | S.S_IWUSR, _comm_show, write=_comm_write)
    cwd, root, exe = LNK("cwd", proc_cwd_link), LNK("root", proc_root_link), LNK("exe", proc_exe_link)
    ids = (_id_map_entry("uid"), _id_map_entry("gid"), _setgroups_entry())
    from simkernel.fs.proc.fail_nth import fail_nth_entry
    fail_nth = fail_nth_entry()
    tgid = (_task_dir(), fd, _dir_map_files(), status, comm, maps, cwd, root, exe)
    tid = (fd, status, comm, maps, cwd, root, exe)
    return tgid + ids, tid + ids, tgid + (fail_nth, *ids), tid + (fail_nth, *ids)


# The tables of a kernel built like this machine's (no CONFIG_FAULT_INJECTION, so no fail-nth), and of one
# built with it (`Kernel(fault_injection=True)`).
(TGID_BASE_STUFF, TID_BASE_STUFF,
 TGID_BASE_STUFF_FAULT_INJECTION, TID_BASE_STUFF_FAULT_INJECTION) = _build_tables()

# Directories of the real tables that simkernel does not model (fdinfo, ns, net, attr on a 6.18 x86-64
# build): they still count in the link count of /proc/<pid> and /proc/<pid>/task/<tid>, which
# pid_entry_nlink() computes from the whole table (9 and 7 on the host).
UNMODELLED_DIRS = ("fdinfo", "ns", "net", "attr")


def _ents(inode: Inode) -> tuple[PidEntry, ...]:
    return inode.i_private.entry


def _base_lookup(current: Task, dir: Inode, dentry: Dentry, flags: int) -> Dentry:
    return proc_pident_lookup(current, dir, dentry, _ents(dir))


def _base_readdir(current: Task, file: File, ctx: Any) -> None:
    proc_pident_readdir(current, file, ctx, _ents(file.f_inode))


PROC_TGID_BASE_INODE_OPERATIONS = InodeOperations(lookup=_base_lookup, getattr=pid_getattr,
                                                  setattr=proc_setattr, permission=proc_pid_permission)
PROC_TGID_BASE_OPERATIONS = FileOperations(read=generic_read_dir, iterate_shared=_base_readdir,
                                           llseek=generic_file_llseek)


def pid_entry_nlink(ents: tuple[PidEntry, ...]) -> int:
    """pid_entry_nlink(): 2 + one per subdirectory of the table (counting UNMODELLED_DIRS).

    Simplification: the unmodelled directories are counted, not listed.

    Linux: fs/proc/base.c:pid_entry_nlink()
    """
    return 2 + sum(1 for p in ents if S.S_ISDIR(p.mode)) + len(UNMODELLED_DIRS)


def _instantiate_pid_dir(dentry: Dentry, task: Task, ents: tuple[PidEntry, ...]) -> Dentry:
    inode = proc_pid_make_inode(dentry.d_sb, task, S.S_IFDIR | S.S_IRUGO | S.S_IXUGO)
    inode.i_op = PROC_TGID_BASE_INODE_OPERATIONS
    inode.i_fop = PROC_TGID_BASE_OPERATIONS
    inode.i_flags |= S_IMMUTABLE   # nothing is created or removed here: unlink/rmdir inside give EPERM
    inode.i_nlink = pid_entry_nlink(ents)
    PROC_I(inode).entry = ents
    return instantiate_into(dentry, inode, PID_DENTRY_OPERATIONS)


def proc_pid_instantiate(dentry: Dentry, task: Task) -> Dentry:
    """proc_pid_instantiate(): /proc/<pid>, built from tgid_base_stuff, marked S_IMMUTABLE (so an unlink
    or rmdir inside it is EPERM from inode_permission(MAY_WRITE) even for its owner). Linux: fs/proc/base.c"""
    fi = task.kernel.fault_injection
    return _instantiate_pid_dir(dentry, task, TGID_BASE_STUFF_FAULT_INJECTION if fi else TGID_BASE_STUFF)


def proc_task_instantiate(dentry: Dentry, task: Task) -> Dentry:
    """proc_task_instantiate(): /proc/<pid>/task/<tid>, built from tid_base_stuff. Linux: fs/proc/base.c"""
    fi = task.kernel.fault_injection
    return _instantiate_pid_dir(dentry, task, TID_BASE_STUFF_FAULT_INJECTION if fi else TID_BASE_STUFF)


def proc_pid_lookup(current: Task, dentry: Dentry) -> Dentry | None:
    """proc_pid_lookup(): any tid visible in this mount's pid namespace; None when the name is no number.

    Raises:
        KernelError(ENOENT): no such task, or hidepid=ptraceable and not ptrace-readable (v5.8+).

    Linux: fs/proc/base.c:proc_pid_lookup()
    """
    from simkernel.fs.proc.fd import name_to_int
    tgid = name_to_int(dentry.d_name)
    if tgid < 0:
        return None
    fs_info: ProcFsInfo = dentry.d_sb.s_fs_info
    pid = fs_info.pid_ns.pid_hash.get(tgid)
    task = pid.task if pid is not None else None
    if task is None:
        raise KernelError(E.ENOENT, f"/proc: no process {tgid} in this pid namespace")
    if fs_info.hide_pid == HIDEPID_NOT_PTRACEABLE and not has_pid_permissions(current, fs_info, task,
                                                                                HIDEPID_INVISIBLE):
        raise KernelError(E.ENOENT, f"hidepid=ptraceable: process {tgid} is not ptrace-readable by the caller")
    return proc_pid_instantiate(dentry, task)
