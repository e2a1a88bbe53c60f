"""The proc filesystem type, mount options, and the /proc root directory (pids, self, thread-self).

Mount options (per mount since v5.8): hidepid=0|1|2|4 or off|noaccess|invisible|ptraceable, gid=N,
subset=pid.  Directory positions in /proc: "self" at 256, "thread-self" at 257, pid N at N + 258.

Linux: fs/proc/root.c, fs/proc/base.c:proc_pid_readdir(), fs/proc/self.c, fs/proc/thread_self.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import Dentry, d_make_root
from simkernel.fs.file import FileOperations
from simkernel.fs.inode import Inode, InodeOperations, new_inode
from simkernel.fs.proc.base import has_pid_permissions, proc_pid_instantiate, proc_pid_lookup
from simkernel.fs.proc.internal import (HIDEPID_INVISIBLE, HIDEPID_NO_ACCESS, HIDEPID_NOT_PTRACEABLE,
                                        HIDEPID_OFF, PROC_BLOCK_BITS, ProcFsInfo, generic_file_llseek, instantiate_into,
                                        proc_fill_cache)
from simkernel.fs.readdir import dir_emit, dir_emit_dots
from simkernel.fs.super import MKDEV, FileSystemType, SuperBlock
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S
from simkernel.fs.libfs import generic_read_dir

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["PROC_FS_TYPE", "proc_parse_options", "proc_root_lookup", "proc_root_readdir",
           "FIRST_PROCESS_ENTRY", "TGID_OFFSET", "PROC_ROOT_INO", "PROC_SUPER_MAGIC", "PID_MAX_LIMIT"]

FIRST_PROCESS_ENTRY = 256
TGID_OFFSET = FIRST_PROCESS_ENTRY + 2
PROC_ROOT_INO = 1
PID_MAX_LIMIT = 4 * 1024 * 1024   # include/linux/threads.h, 64-bit
PROC_SUPER_MAGIC = 0x9FA0
_HIDEPID_NAMES = {"off": HIDEPID_OFF, "noaccess": HIDEPID_NO_ACCESS, "invisible": HIDEPID_INVISIBLE,
                  "ptraceable": HIDEPID_NOT_PTRACEABLE}


def proc_parse_options(current: Task, data: str, info: ProcFsInfo) -> None:
    """proc_parse_param(): hidepid=, gid=, subset=pid.

    Raises:
        KernelError(EINVAL): an unknown option or value ("hidepid=3", "subset=net", "gid=x").

    Linux: fs/proc/root.c:proc_parse_param(), proc_parse_hidepid_param(), proc_parse_subset_param()
    """
    from simkernel.kernel.user_namespace import INVALID_UID, make_kgid
    for opt in filter(None, (o.strip() for o in data.split(","))):
        key, _, value = opt.partition("=")
        if key == "hidepid":
            if value in _HIDEPID_NAMES:
                info.hide_pid = _HIDEPID_NAMES[value]
            elif value.isdigit() and int(value) in (0, 1, 2, 4):
                info.hide_pid = int(value)
            else:
                raise KernelError(E.EINVAL, f"proc: unknown hidepid value {value!r}")
        elif key == "gid":
            if not value.isdigit():
                raise KernelError(E.EINVAL, f"proc: gid={value!r} is not a number")
            kgid = make_kgid(current.cred.user_ns, int(value))
            if kgid == INVALID_UID:
                raise KernelError(E.EINVAL, f"proc: gid {value} has no mapping in the caller's user namespace")
            info.pid_gid = kgid
        elif key == "subset":
            if value != "pid":
                raise KernelError(E.EINVAL, f"proc: unsupported subset {value!r}")
            info.pidonly = True
        else:
            raise KernelError(E.EINVAL, f"proc: unknown option {key!r}")


def _self_get_link(current: Task, dentry: Any, inode: Inode, nd: Any) -> str:
    """proc_self_get_link(): "<tgid>" in the mount's pid namespace. Linux: fs/proc/self.c"""
    ns = inode.i_sb.s_fs_info.pid_ns
    tgid = current.group_leader.thread_pid.nr_ns(ns)
    if not tgid:
        raise KernelError(E.ENOENT, "/proc/self: the caller has no pid in this proc mount's pid namespace")
    return str(tgid)


def _thread_self_get_link(current: Task, dentry: Any, inode: Inode, nd: Any) -> str:
    """proc_thread_self_get_link(): "<tgid>/task/<tid>". Linux: fs/proc/thread_self.c"""
    ns = inode.i_sb.s_fs_info.pid_ns
    tgid = current.group_leader.thread_pid.nr_ns(ns)
    pid = current.thread_pid.nr_ns(ns)
    if not pid:
        raise KernelError(E.ENOENT, "/proc/thread-self: the caller has no pid in this proc mount's pid namespace")
    return f"{tgid}/task/{pid}"


_SELF_IOP = InodeOperations(get_link=_self_get_link)
_THREAD_SELF_IOP = InodeOperations(get_link=_thread_self_get_link)


def _special_link(dentry: Dentry, iop: InodeOperations) -> Dentry:
    sb = dentry.d_sb
    inode = new_inode(sb)
    inode.i_mode = S.S_IFLNK | S.S_IRWXUGO
    inode.i_op = iop
    inode.i_blkbits = PROC_BLOCK_BITS
    return instantiate_into(dentry, inode, None)


def proc_root_lookup(current: Task, dir: Inode, dentry: Dentry, flags: int) -> Dentry | None:
    """proc_root_lookup(): a pid first, then the fixed entries (self, thread-self).

    Linux: fs/proc/root.c:proc_root_lookup()
    """
    res = proc_pid_lookup(current, dentry)
    if res is not None:
        return res
    if dentry.d_name == "self":
        return _special_link(dentry, _SELF_IOP)
    if dentry.d_name == "thread-self":
        return _special_link(dentry, _THREAD_SELF_IOP)
    raise KernelError(E.ENOENT, f"/proc has no entry named {dentry.d_name!r}")


def proc_root_readdir(current: Task, file: File, ctx: Any) -> None:
    """proc_root_readdir() + proc_pid_readdir(): dots, self, thread-self, then visible tgids ascending.

    Positions: self 256, thread-self 257, tgid N at N + 258; after the last pid the position is
    PID_MAX_LIMIT + 258, which is the last record's d_off.  Simplification: the static /proc entries
    (proc_dir_entry: "version", "meminfo", "fs", ...) that the kernel emits at positions 2..255 are not
    modelled, so ".." has d_off 256 here (2 on a real kernel).

    Linux: fs/proc/root.c:proc_root_readdir(), fs/proc/base.c:proc_pid_readdir()
    """
    from simkernel.fs.dcache import d_lookup
    if ctx.pos < 2 and not dir_emit_dots(file, ctx):
        return
    if ctx.pos < FIRST_PROCESS_ENTRY:
        ctx.pos = FIRST_PROCESS_ENTRY
    dir = file.f_path.dentry
    if ctx.pos >= current.kernel.sysctl["kernel.pid_max"] + TGID_OFFSET:
        return
    for pos, name, iop in ((FIRST_PROCESS_ENTRY, "self", _SELF_IOP),
                           (FIRST_PROCESS_ENTRY + 1, "thread-self", _THREAD_SELF_IOP)):
        if ctx.pos == pos:
            d = d_lookup(dir, name)
            if d is None:
                from simkernel.fs.dcache import d_alloc
                d = _special_link(d_alloc(dir, name), iop)
            if not dir_emit(ctx, name, d.d_inode.i_ino, S.DT_LNK):
                return
            ctx.pos += 1
    info: ProcFsInfo = dir.d_sb.s_fs_info
    ns = info.pid_ns
    for nr in sorted(ns.pid_hash):
        if nr + TGID_OFFSET < ctx.pos:
            continue
        pid = ns.pid_hash[nr]
        task = pid.task
        if task is None or task.group_leader is not task:
            continue
        if not has_pid_permissions(current, info, task, HIDEPID_INVISIBLE):
            continue
        ctx.pos = nr + TGID_OFFSET
        if not proc_fill_cache(current, file, ctx, str(nr), lambda d, t=task: proc_pid_instantiate(d, t)):
            return
    ctx.pos = PID_MAX_LIMIT + TGID_OFFSET   # the end: the last pid's d_off is 4194562 on x86-64




def proc_root_getattr(current: Task, path: Any, stat: Any) -> None:
    """proc_root_getattr(): nlink = proc_root's own links + nr_processes() (thread-group leaders, zombies
    included).  Simplification: the static /proc subdirectories (sys, fs, driver, ...) are not modelled, so
    proc_root's own count is 2.  Linux: fs/proc/root.c:proc_root_getattr()
    """
    from simkernel.fs.inode import generic_fillattr
    generic_fillattr(path.dentry.d_inode, stat)
    k = current.kernel
    stat.nlink = 2 + sum(1 for t in k.tasks.values() if t.group_leader is t)


PROC_ROOT_INODE_OPERATIONS = InodeOperations(lookup=proc_root_lookup, getattr=proc_root_getattr)
PROC_ROOT_OPERATIONS = FileOperations(read=generic_read_dir, iterate_shared=proc_root_readdir,
                                      llseek=generic_file_llseek)


def proc_fill_super(kernel: Any, current: Task, source: str, flags: int, data: str) -> SuperBlock:
    """proc_fill_super(): a new procfs instance for the caller's pid namespace. Linux: fs/proc/root.c"""
    info = ProcFsInfo(pid_ns=current.nsproxy.pid_ns_for_children)
    proc_parse_options(current, data, info)
    sb = SuperBlock(s_dev=MKDEV(0, kernel.next_id("anon_dev", start=32)), s_type=PROC_FS_TYPE, kernel=kernel,
                    s_id="proc", s_fs_info=info, s_user_ns=current.cred.user_ns, s_magic=PROC_SUPER_MAGIC,
                    s_blocksize=1 << PROC_BLOCK_BITS)
    now = kernel.current_time()
    root = Inode(i_ino=PROC_ROOT_INO, i_mode=S.S_IFDIR | S.S_IRUGO | S.S_IXUGO, i_sb=sb, i_nlink=2,
                 i_op=PROC_ROOT_INODE_OPERATIONS, i_fop=PROC_ROOT_OPERATIONS, i_atime=now, i_mtime=now,
                 i_ctime=now, i_blkbits=PROC_BLOCK_BITS)
    sb.s_root = d_make_root(sb, root)
    return sb


PROC_FS_TYPE = FileSystemType(name="proc", mount=proc_fill_super)
