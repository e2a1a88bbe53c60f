"""procfs internals: per-inode data, pid inodes and their ownership, the pid_entry table type.

Linux: fs/proc/internal.h, fs/proc/base.c (proc_pid_make_inode, task_dump_owner, pid_update_inode,
pid_revalidate, pid_delete_dentry, proc_setattr, proc_fill_cache)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from attrs import define, field, frozen

from simkernel.errors import KernelError
from simkernel.fs.dcache import Dentry, DentryOperations, d_add, d_alloc, d_lookup
from simkernel.fs.inode import Inode, InodeOperations, new_inode
from simkernel.fs.read_write import generic_file_llseek_size
from simkernel.fs.readdir import dir_emit
from simkernel.kernel.task import PF_KTHREAD, get_pid
from simkernel.kernel.user_namespace import INVALID_UID, make_kgid, make_kuid
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.file import FileOperations
    from simkernel.fs.super import SuperBlock
    from simkernel.kernel.task import Pid, PidNamespace, Task

__all__ = ["ProcInodeInfo", "ProcFsInfo", "PidEntry", "DIR", "REG", "LNK", "PROC_I", "proc_pid",
           "get_proc_task", "proc_pid_task", "proc_pid_make_inode", "task_dump_owner", "pid_update_inode",
           "pid_revalidate",
           "pid_delete_dentry", "PID_DENTRY_OPERATIONS", "proc_fill_cache", "proc_setattr", "HIDEPID_OFF",
           "HIDEPID_NO_ACCESS", "HIDEPID_INVISIBLE", "HIDEPID_NOT_PTRACEABLE", "PROC_BLOCK_BITS", "MAX_NON_LFS",
           "generic_file_llseek"]

HIDEPID_OFF = 0
HIDEPID_NO_ACCESS = 1
HIDEPID_INVISIBLE = 2
HIDEPID_NOT_PTRACEABLE = 4
PROC_BLOCK_BITS = 10     # procfs s_blocksize is 1024: st_blksize of every proc inode
MAX_NON_LFS = (1 << 31) - 1   # procfs s_maxbytes (proc_fill_super): directory offsets stop at 2**31 - 1


@define(eq=False)
class ProcFsInfo:
    """struct proc_fs_info: per-mount options (since v5.8) and the pid namespace shown."""

    pid_ns: PidNamespace = field(repr=False)
    hide_pid: int = HIDEPID_OFF
    pid_gid: int = 0
    pidonly: bool = False


@define(eq=False)
class ProcInodeInfo:
    """struct proc_inode: the pid an inode belongs to and, for links, how to find the target."""

    pid: Pid | None = field(default=None, repr=False)
    proc_get_link: Callable[..., Any] | None = field(default=None, repr=False)
    fd: int = -1
    entry: Any = field(default=None, repr=False)


@frozen
class PidEntry:
    """struct pid_entry: one row of tgid_base_stuff/tid_base_stuff (NOD/DIR/REG/LNK macros)."""

    name: str
    mode: int
    iop: InodeOperations | None = None
    fop: FileOperations | None = None
    get_link: Callable[..., Any] | None = None
    show: Callable[..., Any] | None = None


def DIR(name: str, mode: int, iop: InodeOperations, fop: FileOperations) -> PidEntry:
    return PidEntry(name, S.S_IFDIR | mode, iop, fop)


def REG(name: str, mode: int, fop: FileOperations, show: Callable[..., Any] | None = None) -> PidEntry:
    return PidEntry(name, S.S_IFREG | mode, None, fop, show=show)


def LNK(name: str, get_link: Callable[..., Any]) -> PidEntry:
    return PidEntry(name, S.S_IFLNK | S.S_IRWXUGO, None, None, get_link=get_link)


def PROC_I(inode: Inode) -> ProcInodeInfo:
    info = inode.i_private
    assert isinstance(info, ProcInodeInfo), f"{inode!r} is not a procfs pid inode"
    return info


def proc_pid(inode: Inode) -> Pid | None:
    return PROC_I(inode).pid


def get_proc_task(inode: Inode) -> Task | None:
    """get_proc_task(): the task of the inode's pid with a reference, None once reaped (zombies still count).

    The caller drops the reference with put_task_struct() (the refcount ledger checks that it does).

    Linux: fs/proc/internal.h:get_proc_task(), kernel/pid.c:get_pid_task()
    """
    pid = inode.i_private.pid    # proc_pid(PROC_I(inode)), inline (the hottest procfs helper)
    task = pid.task if pid is not None else None
    if task is not None:               # get_task_struct(task), inline (a readlink makes three of these)
        rt = task.kernel.ref_tracker
        if rt is not None:
            rt.get(task, "task")
        task.usage += 1
    return task


def proc_pid_task(inode: Inode) -> Task | None:
    """pid_task(proc_pid(inode), PIDTYPE_PID) under rcu_read_lock(): the task *without* a reference, for
    callers that only look at it before returning (pid_revalidate, pid_getattr, proc_inode_is_dead).

    Linux: kernel/pid.c:pid_task()
    """
    pid = inode.i_private.pid
    return pid.task if pid is not None else None


_PID_DIR_MODE = S.S_IFDIR | S.S_IRUGO | S.S_IXUGO     # /proc/<pid> itself
_NOT_SETID = ~(S.S_ISUID | S.S_ISGID)


def task_dump_owner(task: Task, mode: int) -> tuple[int, int]:
    """task_dump_owner(): who owns a /proc/<pid> inode.

    Kernel threads: root.  Otherwise the task's euid/egid, except that every inode but the /proc/<pid>
    directory itself (mode S_IFDIR|0555) belongs to root — the root of the mm's user namespace since
    v4.11 (commit 68eb94f16227), global root before (profile switch `task_dump_owner_user_ns`; the
    function itself is v4.11's, earlier releases inlined the same rule as task_dumpable()) — when the task
    has no mm or its mm is not SUID_DUMP_USER.

    Linux: fs/proc/base.c:task_dump_owner()
    """
    if task.flags & PF_KTHREAD:
        return 0, 0
    cred = task.real_cred
    uid, gid = cred.euid, cred.egid
    if mode != _PID_DIR_MODE:
        mm = task.mm
        if mm is None:
            return 0, 0
        if mm.get_dumpable() != 1:
            if not task.kernel.version.task_dump_owner_user_ns:   # before 68eb94f16227 (v4.11): global root
                return 0, 0
            ruid = make_kuid(mm.user_ns, 0)
            rgid = make_kgid(mm.user_ns, 0)
            uid = ruid if ruid != INVALID_UID else 0
            gid = rgid if rgid != INVALID_UID else 0
    return uid, gid


def proc_pid_make_inode(sb: SuperBlock, task: Task, mode: int) -> Inode:
    """proc_pid_make_inode(): a new inode (get_next_ino(), times = now) holding the task's pid.

    Raises:
        KernelError(ENOENT): new_inode() failed (fail-nth "alloc").  The kernel returns NULL and every
            caller (proc_pident_instantiate, proc_pid_instantiate, proc_task_instantiate, proc_fd_instantiate,
            proc_map_files_instantiate) answers ERR_PTR(-ENOENT); the model raises it here for all of them.
            Nothing was allocated or hashed yet.

    Linux: fs/proc/base.c:proc_pid_make_inode()
    """
    cur = sb.kernel.fault_current
    if cur is not None and should_fail(cur, "alloc", "new_inode"):
        raise KernelError(E.ENOENT, "proc_pid_make_inode(): new_inode() failed (fail-nth); the caller answers ENOENT")
    inode = new_inode(sb)
    inode.i_mode = mode
    inode.i_blkbits = PROC_BLOCK_BITS
    pid = get_pid(task.thread_pid)      # get_task_pid(): the inode's reference, put at eviction (not modelled)
    pid.inodes.append(inode)            # pid->inodes (v5.7+): the refcount ledger counts them as holders
    inode.i_private = ProcInodeInfo(pid=pid)
    inode.i_uid, inode.i_gid = task_dump_owner(task, mode)
    return inode


def pid_update_inode(task: Task, inode: Inode) -> None:
    """pid_update_inode(): refresh the owner; set-id bits never survive. Linux: fs/proc/base.c"""
    inode.i_uid, inode.i_gid = task_dump_owner(task, inode.i_mode)
    inode.i_mode &= _NOT_SETID


def pid_revalidate(current: Task, dentry: Dentry, flags: int) -> bool:
    """pid_revalidate(): valid while the task exists; refreshes ownership. Linux: fs/proc/base.c"""
    inode = dentry.d_inode
    task = proc_pid_task(inode)          # rcu_read_lock() + pid_task(): no reference
    if task is None:
        return False
    pid_update_inode(task, inode)
    return True


def pid_delete_dentry(dentry: Dentry) -> bool:
    """pid_delete_dentry(): do not cache dentries of dead tasks. Linux: fs/proc/base.c"""
    inode = dentry.d_inode
    return inode is None or proc_pid_task(inode) is None    # proc_inode_is_dead(): no reference


PID_DENTRY_OPERATIONS = DentryOperations(d_revalidate=pid_revalidate, d_delete=pid_delete_dentry)


def proc_fill_cache(current: Task, file: Any, ctx: Any, name: str,
                    instantiate: Callable[[Dentry], Dentry | None]) -> bool:
    """proc_fill_cache(): find or create the child dentry (no revalidation), then emit it.

    If the dentry cannot be allocated (d_alloc_parallel() fails: fail-nth "dentry") or instantiation fails,
    the name is still emitted, with d_ino 1 and DT_UNKNOWN (the kernel's `goto end_instantiate`).

    Linux: fs/proc/base.c:proc_fill_cache()
    """
    dir = file.f_path.dentry
    child = d_lookup(dir, name)
    if child is None:
        if current.fail_nth and should_fail(current, "dentry", "d_alloc_parallel"):
            return dir_emit(ctx, name, 1, S.DT_UNKNOWN)
        new = d_alloc(dir, name)
        try:
            res = instantiate(new)
            child = res if res is not None else new
        except KernelError:
            child = None
    if child is None or child.d_inode is None:
        return dir_emit(ctx, name, 1, S.DT_UNKNOWN)
    inode = child.d_inode
    return dir_emit(ctx, name, inode.i_ino, S.dt_type(inode.i_mode))


def proc_setattr(current: Task, dentry: Dentry, attrs: dict[str, Any]) -> None:
    """proc_setattr(): mode changes are refused (EPERM); owner changes are accepted. Linux: fs/proc/base.c"""
    if "mode" in attrs:
        raise KernelError(E.EPERM, "proc_setattr: the mode of a /proc/<pid> entry cannot be changed")
    inode = dentry.d_inode
    if "uid" in attrs:
        inode.i_uid = attrs["uid"]
    if "gid" in attrs:
        inode.i_gid = attrs["gid"]


def instantiate_into(dentry: Dentry, inode: Inode, d_op: DentryOperations | None) -> Dentry:
    """d_set_d_op() + d_add(): hash the new procfs dentry."""
    dentry.d_op = d_op
    d_add(dentry, inode)
    return dentry


def generic_file_llseek(current: Task, file: Any, offset: int, whence: int) -> int:
    """generic_file_llseek() on a procfs inode: generic_file_llseek_size() bounded by s_maxbytes, which
    procfs sets to MAX_NON_LFS, so `lseek(dirfd, 2**31, SEEK_SET)` on /proc/<pid>/map_files is EINVAL while
    2**31 - 1 is accepted (and reads as the end).

    Raises:
        KernelError(EINVAL): unknown whence, a negative result, or beyond MAX_NON_LFS.
        KernelError(ENXIO): SEEK_DATA/SEEK_HOLE at or past i_size (0 for directories).

    Linux: fs/read_write.c:generic_file_llseek(), generic_file_llseek_size(), vfs_setpos();
    fs/proc/root.c:proc_fill_super() (s_maxbytes = MAX_NON_LFS)
    """
    return generic_file_llseek_size(file, offset, whence, MAX_NON_LFS, file.f_inode.i_size)
