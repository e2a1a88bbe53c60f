"""/proc/<pid>/fd/: one magic link per open descriptor, and the permission rule map_files shares.

Linux: fs/proc/fd.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import Dentry, DentryOperations
from simkernel.fs.file import FMODE_READ, FMODE_WRITE, FileOperations
from simkernel.fs.inode import Inode, InodeOperations, Kstat, generic_fillattr, generic_permission
from simkernel.fs.path import Path
from simkernel.fs.proc.internal import (PROC_I, generic_file_llseek, get_proc_task, instantiate_into, pid_delete_dentry,
                                        proc_pid_task,
                                        proc_fill_cache, proc_pid, proc_pid_make_inode, proc_setattr, task_dump_owner)
from simkernel.fs.readdir import dir_emit_dots
from simkernel.kernel.task import put_task_struct, same_thread_group
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S
from simkernel.fs.libfs import generic_read_dir

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["proc_fd_permission", "proc_fd_link", "tid_fd_revalidate", "proc_fd_instantiate", "proc_lookupfd",
           "proc_readfd", "PROC_FD_INODE_OPERATIONS", "PROC_FD_OPERATIONS", "name_to_int", "proc_readfd_count",
           "proc_fd_getattr"]


def name_to_int(name: str) -> int:
    """name_to_int(): a decimal without leading zeros, or -1 ("~0U"). Linux: fs/proc/util.c

    Examples: "42" -> 42; "042", "4a", "", "+1" -> -1; "0" -> 0.
    """
    if not name or (name[0] == "0" and len(name) > 1):
        return -1
    n = 0
    for c in name:
        if not "0" <= c <= "9":
            return -1
        n = n * 10 + ord(c) - 48
        if n >= 0xFFFFFFFF // 10 * 10:
            return -1
    return n


def proc_fd_permission(current: Task, inode: Inode, mask: int) -> None:
    """proc_fd_permission(): DAC on the directory, or the caller is in the directory's thread group.

    Since v4.4 (commit 54708d2858e7) same_thread_group(); v3.12-4.3 (96d0df79f264) compared the caller's
    tgid with the directory's pid; v3.3-3.11 the caller's own pid (profile switch
    `proc_fd_permission_rule`).  This is why a non-dumpable process can still list its own map_files.

    Raises:
        KernelError(EACCES): generic_permission() refused and the caller is another process.

    Linux: fs/proc/fd.c:proc_fd_permission()
    """
    try:
        generic_permission(current, inode, mask)
        return
    except KernelError as err:
        rule = current.kernel.version.proc_fd_permission_rule
        if rule == "thread_group":
            task = proc_pid_task(inode)      # rcu_read_lock() + pid_task(): no reference
            if task is not None and same_thread_group(task, current):
                return
        elif proc_pid(inode) is (current.group_leader if rule == "tgid" else current).thread_pid:
            return
        raise err


def _fd_mode(fmode: int) -> int:
    """The link mode of an fd entry: r-x for read, -wx for write (rwx for both). Linux: fs/proc/fd.c"""
    mode = S.S_IFLNK
    if fmode & FMODE_READ:
        mode |= S.S_IRUSR | S.S_IXUSR
    if fmode & FMODE_WRITE:
        mode |= S.S_IWUSR | S.S_IXUSR
    return mode


def proc_fd_link(current: Task, dentry: Dentry, task: Task) -> Path:
    """proc_fd_link(): the open file's path. Raises KernelError(ENOENT) once the fd is closed.

    Linux: fs/proc/fd.c:proc_fd_link()
    """
    fd = PROC_I(dentry.d_inode).fd
    files = task.files
    f = files.fget(fd) if files is not None else None
    if f is None:
        raise KernelError(E.ENOENT, f"fd/{fd}: the descriptor is closed")
    return f.f_path


def tid_fd_revalidate(current: Task, dentry: Dentry, flags: int) -> bool:
    """tid_fd_revalidate(): valid while the fd is open; refreshes mode and owner. Linux: fs/proc/fd.c"""
    inode = dentry.d_inode
    task = get_proc_task(inode)
    if task is None:
        return False
    try:
        if task.files is None:
            return False
        f = task.files.fget(PROC_I(inode).fd)
        if f is None:
            return False
        inode.i_mode = _fd_mode(f.f_mode)
        inode.i_uid, inode.i_gid = task_dump_owner(task, 0)
        return True
    finally:
        put_task_struct(task)


TID_FD_DENTRY_OPERATIONS = DentryOperations(d_revalidate=tid_fd_revalidate, d_delete=pid_delete_dentry)


def proc_fd_instantiate(dentry: Dentry, task: Task, fd: int, fmode: int) -> Dentry:
    """proc_fd_instantiate(). Linux: fs/proc/fd.c"""
    from simkernel.fs.proc.base import PROC_PID_LINK_INODE_OPERATIONS
    inode = proc_pid_make_inode(dentry.d_sb, task, _fd_mode(fmode))
    info = PROC_I(inode)
    info.fd = fd
    info.proc_get_link = proc_fd_link
    inode.i_op = PROC_PID_LINK_INODE_OPERATIONS
    inode.i_size = 64
    return instantiate_into(dentry, inode, TID_FD_DENTRY_OPERATIONS)


def proc_lookupfd(current: Task, dir: Inode, dentry: Dentry, flags: int) -> Dentry | None:
    """proc_lookupfd_common(): ENOENT for a gone task, a bad number or a closed fd. Linux: fs/proc/fd.c"""
    task = get_proc_task(dir)
    if task is None:
        raise KernelError(E.ENOENT, "fd/: the process is gone")
    try:
        fd = name_to_int(dentry.d_name)
        if fd < 0 or task.files is None:
            raise KernelError(E.ENOENT, f"fd/: {dentry.d_name!r} is not an open descriptor number")
        f = task.files.fget(fd)
        if f is None:
            raise KernelError(E.ENOENT, f"fd/: descriptor {fd} is not open")
        return proc_fd_instantiate(dentry, task, fd, f.f_mode)
    finally:
        put_task_struct(task)


def proc_readfd(current: Task, file: File, ctx: Any) -> None:
    """proc_readfd_common(): dots, then the open fds in increasing order. Linux: fs/proc/fd.c"""
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ENOENT, "readdir of fd/: the process is gone")
    try:
        if not dir_emit_dots(file, ctx):
            return
        files = task.files
        if files is None:
            return
        for fd in sorted(files.fdt):
            if fd + 2 < ctx.pos:
                continue
            ctx.pos = fd + 2
            f = files.fdt[fd]
            if not proc_fill_cache(current, file, ctx, str(fd),
                                   lambda d, fd=fd, m=f.f_mode: proc_fd_instantiate(d, task, fd, m)):
                return
            ctx.pos = fd + 3
    finally:
        put_task_struct(task)




def proc_readfd_count(inode: Inode) -> int:
    """proc_readfd_count(): how many descriptors the task has open (0 once its files are gone).

    Raises:
        KernelError(ENOENT): the task was reaped.

    Linux: fs/proc/fd.c:proc_readfd_count()
    """
    task = get_proc_task(inode)
    if task is None:
        raise KernelError(E.ENOENT, "fd/: the process is gone")
    files = task.files
    n = len(files.fdt) if files is not None else 0
    put_task_struct(task)
    return n


def proc_fd_getattr(current: Task, path: Path, stat: Kstat) -> None:
    """proc_fd_getattr(): st_size of /proc/<pid>/fd is the number of open descriptors (since v6.2).

    Raises:
        KernelError(ENOENT): the task was reaped (even through an fd opened before).

    Linux: fs/proc/fd.c:proc_fd_getattr()
    """
    inode = path.dentry.d_inode
    generic_fillattr(inode, stat)
    if S.S_ISDIR(inode.i_mode):
        stat.size = proc_readfd_count(inode)


PROC_FD_INODE_OPERATIONS = InodeOperations(lookup=proc_lookupfd, permission=proc_fd_permission,
                                           getattr=proc_fd_getattr, setattr=proc_setattr)
PROC_FD_OPERATIONS = FileOperations(read=generic_read_dir, iterate_shared=proc_readfd, llseek=generic_file_llseek)
