"""map_files in older releases: the checks and limits that later releases removed.

Carved from fs/proc/map_files.py (all of it is fs/proc/base.c in the kernel): the CAP_SYS_ADMIN gate of
v3.3-4.2, v3.3's lock_trace(), readdir's flex_array limit of v3.3-5.0 and the v3.3-3.13 get_link oops.  Each
is selected by a switch of `kernel.version` (simkernel/versions/profile.py).

Linux: fs/proc/base.c (lock_trace, unlock_trace, the map_files section of v3.3-5.0)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelBug, KernelError
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.mm.mm_types import MmStruct

__all__ = ["lock_trace", "unlock_trace"]


def _map_files_capable(current: Task) -> None:
    """v3.3-4.2: lookup, readdir and d_revalidate begin with capable(CAP_SYS_ADMIN) in the initial namespace.

    Raises:
        KernelError(EACCES) (v3.3-3.8) or KernelError(EPERM) (v3.9-4.2): the capability is missing.
    """
    err = current.kernel.version.map_files_admin_errno
    if err:
        from simkernel.kernel.capability import capable
        from simkernel.uapi.capability import CAP_SYS_ADMIN
        if not capable(current, CAP_SYS_ADMIN):
            raise KernelError(err, "map_files before v4.3 needs CAP_SYS_ADMIN in the initial user namespace")


def lock_trace(current: Task, task: Task) -> None:
    """lock_trace(): cred_guard_mutex (killable), then ptrace_may_access(PTRACE_MODE_ATTACH).

    map_files used it in v3.3 only (eb94cd96e05d replaced it by a READ check in v3.4): ATTACH is the mode
    Yama restricts, and v3.3 had no Yama yet.  Pre-v4.5 kernels had no FSCREDS: the real ids were used.

    Raises:
        KernelError(EINTR): a fatal signal while waiting for the mutex.
        KernelError(EPERM): the ptrace check failed (the mutex is released).

    Linux: fs/proc/base.c:lock_trace()
    """
    from simkernel.kernel.ptrace import PTRACE_MODE_ATTACH_REALCREDS, ptrace_may_access
    mutex = task.signal.cred_guard_mutex
    mutex.lock_killable(current)
    why: list[str] = []
    if not ptrace_may_access(current, task, PTRACE_MODE_ATTACH_REALCREDS, why):
        mutex.unlock(current)
        raise KernelError(E.EPERM, f"lock_trace: ptrace_may_access(PTRACE_MODE_ATTACH) denied: {why[0]}")


def unlock_trace(current: Task, task: Task) -> None:
    """unlock_trace(). Linux: fs/proc/base.c:unlock_trace()"""
    task.signal.cred_guard_mutex.unlock(current)


def _map_files_access(current: Task, task: Task, what: str) -> bool:
    """The ptrace check of lookup and readdir before the 2026 order: lock_trace() in v3.3 (any failure,
    EINTR included, becomes EACCES), PTRACE_MODE_READ from v3.4.

    Returns True when the caller now holds lock_trace() and must unlock_trace() when done.
    """
    from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS, ptrace_may_access
    if current.kernel.version.map_files_lock_trace:
        try:
            lock_trace(current, task)
        except KernelError as err:
            raise KernelError(E.EACCES, f"map_files {what}: lock_trace() failed ({err.explain or err})") from None
        return True
    why: list[str] = []
    if not ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS, why):
        raise KernelError(E.EACCES, f"map_files {what}: ptrace_may_access(PTRACE_MODE_READ_FSCREDS) denied: {why[0]}")
    return False


def _flex_array_check(mm: MmStruct, f_pos: int, limit: int) -> None:
    """flex_array_alloc() of one element per file-backed VMA beyond f_pos fails above `limit` (v3.3-5.0).

    Simplification: the count is compared with the limit; nothing is allocated.

    Raises:
        KernelError(ENOMEM): more elements than a flex_array can hold.

    Linux: fs/proc/base.c:proc_map_files_readdir() (pass 1), lib/flex_array.c:flex_array_alloc()
    """
    pos = 2
    nr = 0
    for vma in mm:
        if vma.vm_file is not None:
            pos += 1
            if pos > f_pos:
                nr += 1
    if nr > limit:
        raise KernelError(E.ENOMEM, f"map_files readdir: flex_array_alloc() of {nr} entries beyond f_pos fails "
                                    f"(at most {limit} fit; no limit since genradix, v5.1)")


def _get_link_oops(current: Task, name: str) -> None:
    """Report the pre-3.14 bug: success without a path, dereferenced by d_path() or the walk."""
    report = (f"map_files_get_link() returned 0 for {name!r} without setting *path (the VMA vanished after "
              "d_revalidate; rc still held dname_to_vma_addr()'s 0): general protection fault in d_path() / "
              "the path walk")
    bug = KernelBug("map_files_get_link", report,
                    "v3.14 'fs/proc/base.c: fix GPF in /proc/$PID/map_files' (rc = -ENOENT before the search)")
    current.kernel.oopses.append(bug)
    raise bug
