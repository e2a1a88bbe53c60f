"""Design experiments on map_files, written as a notebook would write them (see simkernel/patch.py).

`readdir_by_address` -- readdir that resumes by address instead of by ordinal.  Stock readdir positions
count file-backed VMAs ("the k-th one"), so a mapping that vanishes or appears between two getdents calls
makes the next call skip or repeat an entry (reference §8.4).  This version emits "." and ".." as usual and
then stores the *end address* of the last entry emitted as the directory position; the next call resumes at
the first file-backed VMA that starts at or above it.  Every entry present during the whole listing is
read exactly once.  Cost: positions (d_off) become addresses, so `lseek()` to an ordinal no longer means
"skip n entries" and procfs' MAX_NON_LFS bound on lseek makes most positions unreachable by seeking.

`lookup_permission_first` -- a lookup that checks ptrace permission before parsing the name, the order of
every release before the 2026 back-port of 6650527444da.  Applied to 6.18.44 it brings back EACCES for a
malformed name looked up without permission -- but not ENOENT for a zombie's names, which the 2026 lookup
now gets from mm_access() (ESRCH): one patch reverts one behaviour, not the release.

`one_pass_readdir` and `mm_access_under_mmap_lock` -- two locking mistakes for the lock validator
(`Kernel(lockdep=True)`, simkernel/kernel/locking/lockdep.py): emitting entries while holding the mmap lock
(what the merged readdir's two passes avoid), and taking exec_update_lock under the mmap lock (the reverse of
the magic-link check's order).  Each gives the lockdep report its docstring describes.

    >>> import simkernel
    >>> from simkernel.patch_examples import lookup_permission_first
    >>> k = simkernel.Kernel()
    >>> _ = k.patch("fs/proc/base.c:proc_map_files_lookup", lookup_permission_first)
    >>> k.patches
    [<Patch lookup_permission_first on simkernel.fs.proc.map_files:proc_map_files_lookup>]

Linux: fs/proc/base.c:proc_map_files_readdir(), proc_map_files_lookup()
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from simkernel.errors import KernelError
from simkernel.fs.proc.internal import get_proc_task, proc_fill_cache
from simkernel.fs.proc.map_files import proc_map_files_instantiate
from simkernel.fs.readdir import dir_emit_dots
from simkernel.kernel.fork import get_task_mm, mm_access
from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS, ptrace_may_access
from simkernel.kernel.task import put_task_struct
from simkernel.mm.mmap import mmput
from simkernel.uapi import errno as E

__all__ = ["readdir_by_address", "lookup_permission_first", "one_pass_readdir", "mm_access_under_mmap_lock",
           "EXAMPLES"]


@contextmanager
def _readdir_mm(current: Any, file: Any, ctx: Any) -> Iterator[tuple[Any, Any] | None]:
    """What the readdir experiments keep of 6.18.44's proc_map_files_readdir(): the task (ENOENT if it is
    gone), "." and "..", mm_access() (a task without mm lists as empty); yields (task, mm), or None when
    there is nothing more to list, and puts both at the end."""
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ENOENT, "map_files: the process is gone")
    try:
        if not dir_emit_dots(file, ctx):
            yield None
            return
        try:
            mm = mm_access(current, task, PTRACE_MODE_READ_FSCREDS)
        except KernelError as err:
            if err.errno != E.ESRCH:
                raise
            mm = None
        if mm is None:
            yield None
            return
        try:
            yield task, mm
        finally:
            mmput(mm)
    finally:
        put_task_struct(task)


def readdir_by_address(orig: Callable[..., Any], current: Any, file: Any, ctx: Any) -> None:
    """proc_map_files_readdir() resuming at an address: past the dots, ctx.pos is the end of the last entry.

    Written against 6.18.44's readdir (the 2026 order: task, dots, mm_access(), the killable mmap lock); it
    does not call `orig` -- it replaces the whole function.
    """
    with _readdir_mm(current, file, ctx) as got:
        if got is None:
            return
        task, mm = got
        resume = ctx.pos if ctx.pos > 2 else 0
        mm.mmap_lock.down_read_killable(current)
        try:
            items = [(v.vm_start, v.vm_end, v.vm_file.f_mode) for v in mm
                     if v.vm_file is not None and v.vm_start >= resume]
        finally:
            mm.mmap_lock.up_read(current)
        for start, end, fmode in items:
            if not proc_fill_cache(current, file, ctx, f"{start:x}-{end:x}",
                                   lambda d, m=fmode: proc_map_files_instantiate(d, task, m)):
                break
            ctx.pos = end


def lookup_permission_first(orig: Callable[..., Any], current: Any, dir: Any, dentry: Any, flags: int) -> Any:
    """proc_map_files_lookup() with the pre-2026 order: ptrace_may_access() before the name is parsed."""
    task = get_proc_task(dir)
    if task is not None:
        allowed = ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS)
        put_task_struct(task)
        if not allowed:
            raise KernelError(E.EACCES, "experiment: ptrace_may_access() before the name is parsed")
    return orig(current, dir, dentry, flags)


def one_pass_readdir(orig: Callable[..., Any], current: Any, file: Any, ctx: Any) -> None:
    """proc_map_files_readdir() in one pass: each entry is emitted (filldir) while the mmap lock is held.

    The shape a first version of the map_files patch could take, and the one the merged patch (640708a2cff7,
    v3.3) explains it does not have: its readdir collects the VMAs under the lock and emits after dropping it,
    with a comment saying that otherwise lockdep complains, because filldir() may need the mmap lock in
    might_fault().  Run with `Kernel(lockdep=True)`: every record copied to the user buffer is a might_fault(),
    a read acquisition of the caller's mmap lock, and when the directory is the caller's own
    (/proc/self/map_files) that lock is already held for read -- "possible recursive locking detected" (a
    writer queued between the two reads, e.g. a concurrent mmap() of another thread, deadlocks it).  Lockdep
    reasons about classes, so listing another process's directory is reported too.  Results are otherwise
    those of the stock readdir.  Written against 6.18.44 (mm_access() after the dots); replaces `orig`.
    """
    with _readdir_mm(current, file, ctx) as got:
        if got is None:
            return
        task, mm = got
        mm.mmap_lock.down_read_killable(current)
        try:
            pos = 2
            for vma in mm:
                if vma.vm_file is None:
                    continue
                pos += 1
                if pos <= ctx.pos:
                    continue
                if not proc_fill_cache(current, file, ctx, f"{vma.vm_start:x}-{vma.vm_end:x}",
                                       lambda d, m=vma.vm_file.f_mode: proc_map_files_instantiate(d, task, m)):
                    break
                ctx.pos += 1
        finally:
            mm.mmap_lock.up_read(current)


def mm_access_under_mmap_lock(orig: Callable[..., Any], current: Any, file: Any, ctx: Any) -> None:
    """proc_map_files_readdir() that re-checks access with mm_access() *while holding* the mmap lock.

    An attempt to make the listing and the permission decision one atomic step against a concurrent execve():
    take the mm (get_task_mm()) and its mmap lock, then ask mm_access(), which takes exec_update_lock.  That is
    mmap_lock -> exec_update_lock, the reverse of the order the kernel already uses: the 2026 magic-link
    check holds exec_update_lock while map_files' get_link takes the mmap lock (call_proc_get_link() ->
    map_files_get_link(), so a readlink records exec_update_lock -> mmap_lock), and exec_mmap() (fs/exec.c)
    takes exec_update_lock for write, then the old mm's mmap lock, then task_lock().  With
    `Kernel(lockdep=True)`, a readlink of an entry and a listing with this patch, in either order, give "possible circular locking dependency detected" with both chains.
    Then lists as the stock readdir does (it calls `orig` after the check).
    """
    task = get_proc_task(file.f_inode)
    if task is not None:
        try:
            mm = get_task_mm(task, current)
            if mm is not None:
                try:
                    mm.mmap_lock.down_read_killable(current)
                    try:
                        checked = mm_access(current, task, PTRACE_MODE_READ_FSCREDS)
                        if checked is not None:
                            mmput(checked)
                    finally:
                        mm.mmap_lock.up_read(current)
                finally:
                    mmput(mm)
        finally:
            put_task_struct(task)
    return orig(current, file, ctx)


EXAMPLES: dict[str, tuple[str, Callable[..., Any]]] = {
    "readdir-by-address": ("fs/proc/base.c:proc_map_files_readdir", readdir_by_address),
    "lookup-permission-first": ("fs/proc/base.c:proc_map_files_lookup", lookup_permission_first),
    "one-pass-readdir": ("fs/proc/base.c:proc_map_files_readdir", one_pass_readdir),
    "mm-access-under-mmap-lock": ("fs/proc/base.c:proc_map_files_readdir", mm_access_under_mmap_lock),
}
"""name -> (patch target, replacement): the experiments `simkernel matrix --kernels 6.18.44+NAME` knows."""
