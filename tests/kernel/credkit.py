"""Build credentials and tasks directly, without booting a Kernel (for unit tests of the cred code)."""

from __future__ import annotations

from typing import Any

import attrs

from simkernel.kernel.cred import Cred
from simkernel.kernel.task import Pid, PidNamespace, SignalStruct, Task
from simkernel.kernel.user_namespace import UserNamespace
from simkernel.machine import Sysctl
from simkernel.uapi.capability import CAP_FULL_SET
from simkernel.versions import VersionProfile, resolve_version

__all__ = ["MiniKernel", "root_cred", "user_cred", "make_task", "child_ns"]


@attrs.define(eq=False)
class MiniKernel:
    """The parts of `Kernel` the credential code reads."""

    yama: bool = False
    sysctl: Sysctl = attrs.field(factory=Sysctl)
    init_user_ns: UserNamespace = attrs.field(factory=UserNamespace.initial)
    init_pid_ns: PidNamespace = attrs.field(factory=lambda: PidNamespace(level=0))
    tasks: dict[int, Task] = attrs.field(factory=dict)
    lsm_hooks: list[Any] = attrs.field(factory=list)
    hooks: dict[str, Any] = attrs.field(factory=dict)
    version: VersionProfile = attrs.field(factory=lambda: resolve_version(None))   # the release profile
    lockdep: Any = None    # task_lock() in ptrace_may_access() asks for the lock validator and the scheduler
    sched: Any = None

    def find_task(self, tid: int) -> Task | None:
        return self.tasks.get(tid)


def root_cred(k: MiniKernel, **kw: Any) -> Cred:
    base = Cred(cap_permitted=CAP_FULL_SET, cap_effective=CAP_FULL_SET, cap_bset=CAP_FULL_SET,
                user_ns=k.init_user_ns)
    return attrs.evolve(base, **kw)


def user_cred(k: MiniKernel, uid: int = 1000, gid: int = 1000, **kw: Any) -> Cred:
    base = Cred(uid=uid, euid=uid, suid=uid, fsuid=uid, gid=gid, egid=gid, sgid=gid, fsgid=gid,
                cap_bset=CAP_FULL_SET, user_ns=k.init_user_ns)
    return attrs.evolve(base, **kw)


def make_task(k: MiniKernel, cred: Cred, comm: str = "t", parent: Task | None = None, with_mm: bool = True,
              thread_of: Task | None = None) -> Task:
    """A task in the initial pid namespace with its own mm (user_ns = cred's), or a thread of `thread_of`."""
    from simkernel.mm.mm_types import MmStruct
    nr = k.init_pid_ns.alloc_nr()
    pid = Pid(numbers=[(k.init_pid_ns, nr)])
    if thread_of is not None:
        signal, tgid, mm = thread_of.signal, thread_of.tgid, thread_of.mm
    else:
        signal, tgid = SignalStruct(), nr
        mm = MmStruct(kernel=k, user_ns=cred.user_ns) if with_mm else None  # type: ignore[arg-type]
    t = Task(kernel=k, pid=nr, tgid=tgid, comm=comm, real_cred=cred, cred=cred,  # type: ignore[arg-type]
             thread_pid=pid, signal=signal, mm=mm, active_mm=mm, real_parent=parent)
    t.group_leader = thread_of.group_leader if thread_of is not None else t
    pid.task = t
    if thread_of is None:
        pid.tgid_task = t
    k.init_pid_ns.pid_hash[nr] = pid
    signal.threads.append(t)
    if parent is not None:
        parent.children.append(t)
    k.tasks[nr] = t
    return t


def child_ns(parent: UserNamespace, owner: int, group: int | None = None, uid_map: tuple = (),
             gid_map: tuple = ()) -> UserNamespace:
    return UserNamespace(level=parent.level + 1, owner=owner, group=owner if group is None else group,
                         parent=parent, uid_map=uid_map, gid_map=gid_map)
