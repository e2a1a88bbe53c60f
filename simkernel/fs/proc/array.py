"""/proc/<pid>/status: the lines userspace tools parse (Name, ids, Groups, NS*, Cap*).

Linux: fs/proc/array.c:proc_pid_status(), task_state(), task_cap()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["proc_pid_status", "task_state_char"]


def task_state_char(current: Task, task: Task) -> str:
    """The State: line: R for the reader itself, Z for zombies, S otherwise."""
    if task.state == "zombie":
        return "Z (zombie)"
    if task.state == "dead":
        return "X (dead)"
    return "R (running)" if task is current else "S (sleeping)"


def proc_pid_status(current: Task, task: Task, file: File) -> str:
    """proc_pid_status(): ids as the reader's user namespace sees them (munged). Linux: fs/proc/array.c"""
    from simkernel.kernel.user_namespace import from_kgid_munged, from_kuid_munged
    ns = file.f_cred.user_ns if file.f_cred is not None else current.cred.user_ns
    c = task.real_cred
    ppid = task.real_parent.tgid if task.real_parent is not None and task.pid != 1 else 0
    u = "\t".join(str(from_kuid_munged(ns, x)) for x in (c.uid, c.euid, c.suid, c.fsuid))
    g = "\t".join(str(from_kgid_munged(ns, x)) for x in (c.gid, c.egid, c.sgid, c.fsgid))
    # space-separated, then one trailing space even with no groups (task_state(): "Trailing space shouldn't
    # have been added in the first place")
    groups = " ".join(str(from_kgid_munged(ns, x)) for x in c.groups) + " "
    fdsize = 64 if task.files is not None else 0
    lines = [f"Name:\t{task.comm}"]
    if task.fs is not None:   # get_task_umask() is -1 once the fs_struct is gone (zombies): no line
        lines.append(f"Umask:\t{task.fs.umask:04o}")
    lines += [
        f"State:\t{task_state_char(current, task)}",
        f"Tgid:\t{task.tgid}",
        "Ngid:\t0",
        f"Pid:\t{task.pid}",
        f"PPid:\t{ppid}",
        "TracerPid:\t0",
        f"Uid:\t{u}",
        f"Gid:\t{g}",
        f"FDSize:\t{fdsize}",
        f"Groups:\t{groups}",
        f"NStgid:\t{task.tgid}",
        f"NSpid:\t{task.pid}",
        f"Kthread:\t{1 if task.flags & 0x00200000 else 0}",
        f"Threads:\t{len(task.signal.threads)}",
        f"CapInh:\t{c.cap_inheritable:016x}",
        f"CapPrm:\t{c.cap_permitted:016x}",
        f"CapEff:\t{c.cap_effective:016x}",
        f"CapBnd:\t{c.cap_bset:016x}",
        f"CapAmb:\t{c.cap_ambient:016x}",
        f"NoNewPrivs:\t{1 if task.no_new_privs else 0}",
    ]
    return "\n".join(lines) + "\n"
