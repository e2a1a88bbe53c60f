"""/proc/<pid>/map_files/: one symlink per file-backed VMA, named "<start>-<end>" in lowercase hex.

Added by commit 640708a2cff7 (v3.3, Pavel Emelyanov) for checkpoint/restore.  This module follows the
release this machine runs (6.18.44 with the 2026 exec_update_lock back-ports); the behaviour of older
releases is selected by switches of `kernel.version` (simkernel/versions).

Who may do what (current releases):
  * reach the directory: DAC on the 0500 directory owned by task_dump_owner(), or be in the same thread
    group (proc_fd_permission);
  * list / lstat / readlink: additionally PTRACE_MODE_READ_FSCREDS on the target (mm_access);
  * follow (open, stat, chdir through the link): additionally CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in
    the initial user namespace, checked first in ->get_link (EPERM).

Older releases (the profile switches of simkernel/versions, reference §4-§5): until v4.2 lookup, readdir and
d_revalidate first require CAP_SYS_ADMIN (EACCES, EPERM from v3.9) and following needs nothing more; v3.3
takes lock_trace() (ATTACH); names were parsed with sscanf() until v4.16; readdir's flex_array limited the
entries beyond f_pos until v5.1 (ENOMEM); the mmap lock became killable in v5.3; before v3.14 a VMA that
vanished between d_revalidate and get_link crashed the kernel (a `KernelBug` here).

Linux: fs/proc/base.c (map_files section: dname_to_vma_addr, map_files_d_revalidate, map_files_get_link,
proc_map_files_get_link, proc_map_files_instantiate, proc_map_files_lookup, proc_map_files_readdir,
lock_trace)
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import Dentry, DentryOperations, dont_mount
from simkernel.fs.file import FMODE_READ, FMODE_WRITE, FileOperations
from simkernel.fs.inode import Inode, InodeOperations
from simkernel.fs.proc.internal import (generic_file_llseek, get_proc_task, instantiate_into, pid_delete_dentry, proc_fill_cache,
                                        proc_pid_make_inode, proc_setattr, task_dump_owner, PROC_I)
from simkernel.fs.proc.map_files_history import (_flex_array_check, _get_link_oops, _map_files_access,
                                                 _map_files_capable, lock_trace, unlock_trace)
from simkernel.fs.proc.fd import proc_fd_permission
from simkernel.fs.readdir import dir_emit_dots
from simkernel.fs.path import Path
from simkernel.kernel.capability import capable, checkpoint_restore_ns_capable
from simkernel.kernel.fork import get_task_mm, mm_access
from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS, ptrace_may_access
from simkernel.kernel.task import put_task_struct
from simkernel.lib.fault_inject import should_fail
from simkernel.mm.mmap import mmput
from simkernel.mm.vma import find_exact_vma
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S
from simkernel.uapi.capability import CAP_SYS_ADMIN
from simkernel.versions.profile import NAME_SSCANF, NAME_STRICT_NO_LEADING_ZERO
from simkernel.fs.libfs import generic_read_dir

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.fs.namei import NameiData
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel
    from simkernel.mm.mm_types import MmStruct

__all__ = ["dname_to_vma_addr", "map_files_d_revalidate", "map_files_get_link", "proc_map_files_get_link",
           "proc_map_files_instantiate", "proc_map_files_lookup", "proc_map_files_readdir",
           "PROC_MAP_FILES_INODE_OPERATIONS", "PROC_MAP_FILES_OPERATIONS",
           "PROC_MAP_FILES_LINK_INODE_OPERATIONS", "TID_MAP_FILES_DENTRY_OPERATIONS", "BITS_PER_LONG",
           "lock_trace", "unlock_trace"]

BITS_PER_LONG = 64
_MIN_RECLEN = 24      # the smallest linux_dirent64 record ("%lx-%lx" names have at least 3 characters)
_HEX_DIGITS = re.compile("[0-9a-fA-F]*")
_STRICT_NAME = re.compile("([0-9a-fA-F]*)-([0-9a-fA-F]*)")


def _parse_hex(s: str, i: int) -> tuple[int, int]:
    """_parse_integer(base 16): (value, index after the digits); zero digits are allowed. Raises on overflow."""
    j = _HEX_DIGITS.match(s, i).end()   # type: ignore[union-attr]  (matches the empty string at worst)
    value = int(s[i:j], 16) if j > i else 0
    if value >= 1 << BITS_PER_LONG:
        raise ValueError("overflow")
    return value, j


def dname_to_vma_addr(name: str, kernel: Kernel | None = None) -> tuple[int, int] | None:
    """dname_to_vma_addr(): the "%lx-%lx" name of an entry as (start, end), or None (callers: ENOENT).

    The grammar depends on the release (`kernel.version.map_files_name_parser`; None: this machine's):
      * v4.17+: the strict parser, leading zeros refused;
      * v4.16 (ac7f1061c2c1): the strict parser, leading zeros accepted;
      * v3.3-4.15: sscanf("%lx-%lx") == 2 -- whitespace before each number, "0x", wrap-around on overflow and
        trailing junk are accepted (simkernel/lib/vsprintf.py).

    Examples (v4.17+):
        "400000-452000" -> (0x400000, 0x452000);  "7F00-7F01" -> (0x7f00, 0x7f01) (uppercase is fine);
        "0-1000" -> (0, 0x1000) (a lone 0 is no leading zero);  "0400000-452000", " 1-2", "1-2 ", "0x1-2",
        "+1-2", "1--2", "1-", "12", "1-2z", 17-digit numbers -> None.
        "-1000" parses as start 0 (zero digits are allowed) and matches no VMA.
    In v4.16 "0400000-452000" -> (0x400000, 0x452000); in v3.3-4.15 also " 1- 2junk" -> (1, 2) and
    "1" + "0" * 16 + "7f00-7f01" -> (0x7f00, 0x7f01), while "-1000" and "1 -2" -> None.

    Linux: fs/proc/base.c:dname_to_vma_addr()
    """
    parser = kernel.version.map_files_name_parser if kernel is not None else NAME_STRICT_NO_LEADING_ZERO
    if parser == NAME_SSCANF:
        from simkernel.lib.vsprintf import sscanf
        got = sscanf(name, "%lx-%lx")
        return (got[0], got[1]) if len(got) == 2 else None
    return _parse_strict(name, parser == NAME_STRICT_NO_LEADING_ZERO)


@lru_cache(maxsize=4096)
def _parse_strict(s: str, nlz: bool) -> tuple[int, int] | None:
    """The strict parser of v4.16+ (`nlz`: leading zeros refused, v4.17+).  Memoized: a pure function of the name,
    and a readlink parses its entry's name twice (d_revalidate, then ->get_link)."""
    m = _STRICT_NAME.fullmatch(s)    # hex digits (maybe none), "-", hex digits (maybe none), nothing else
    if m is None:
        return None
    a, b = m.groups()
    if nlz and (len(a) > 1 and a[0] == "0" or len(b) > 1 and b[0] == "0"):
        return None
    start = int(a, 16) if a else 0
    end = int(b, 16) if b else 0
    if start >> BITS_PER_LONG or end >> BITS_PER_LONG:    # _parse_integer() overflow
        return None
    return start, end


def _mmput(mm: MmStruct) -> None:
    mmput(mm)


# struct map_files_info {start, end, mode} is 24 bytes: a genradix page holds 170 of them
_GENRADIX_PER_PAGE = 4096 // 24


def _readdir_alloc_fails(current: Task, mm: MmStruct, pos: int, nr: int, flex_array: bool) -> bool:
    """The item array's allocations under the mmap lock, as fail-nth fault points (called only while armed).

    v3.3-5.0: flex_array_alloc() of all file-backed VMAs beyond `pos`, once, when there is at least one (the
    files are counted first; before v3.7 their references are taken only after it succeeded).  Since v5.1
    (genradix): genradix_ptr_alloc() for each item allocates a page when the index enters a new one; the model
    asks once per page of the `nr` items it collected.

    Linux: fs/proc/base.c:proc_map_files_readdir()
    """
    if flex_array:
        n = 2
        for vma in mm:
            if vma.vm_file is not None:
                n += 1
                if n > pos:
                    return should_fail(current, "alloc", "flex_array_alloc")
        return False
    for _ in range(0, nr, _GENRADIX_PER_PAGE):
        if should_fail(current, "alloc", "genradix_ptr_alloc"):
            return True
    return False


def _get_mm(current: Task, task: Task) -> MmStruct | None:
    """The mm to read: mm_access() in the 2026 form; ptrace check + get_task_mm() before."""
    if current.kernel.version.map_files_exec_update_lock:
        return mm_access(current, task, PTRACE_MODE_READ_FSCREDS)
    return get_task_mm(task, current)


def _mmap_read_lock(current: Task, mm: MmStruct) -> None:
    """mmap_read_lock_killable() since cd9e2bb8271c (v5.3, `map_files_mmap_lock_killable`); down_read()
    before, which no signal interrupts."""
    if current.kernel.version.map_files_mmap_lock_killable:
        mm.mmap_lock.down_read_killable(current)
    else:
        mm.mmap_lock.down_read(current)


def map_files_d_revalidate(current: Task, dentry: Dentry, flags: int) -> bool:
    """map_files_d_revalidate(): valid while the task, access to its mm and the exact VMA all exist.

    Refreshes the owner (task_dump_owner), never the mode.  Returns False ("look it up again") for a gone
    task, a denied or missing mm, a malformed name or a vanished VMA; the re-lookup then reports the errno.
    mm_access() since v3.5; ptrace_may_access() + get_task_mm() before.

    Raises:
        KernelError(EACCES/EPERM): v3.3-4.2 without CAP_SYS_ADMIN (aborts the walk).
        KernelError(EINTR): fatal signal while waiting for the mmap lock (aborts the walk, v5.3+).

    Linux: fs/proc/base.c:map_files_d_revalidate()
    """
    v = current.kernel.version
    if v.map_files_admin_errno:
        _map_files_capable(current)
    inode = dentry.d_inode
    task = get_proc_task(inode)
    if task is None:
        return False
    try:
        if v.map_files_revalidate_mm_access:
            try:
                mm = mm_access(current, task, PTRACE_MODE_READ_FSCREDS)
            except KernelError:
                return False
        else:   # v3.3-3.4
            mm = get_task_mm(task, current) if ptrace_may_access(current, task, PTRACE_MODE_READ_FSCREDS) else None
        if mm is None:
            return False
        exists = False
        try:
            addr = dname_to_vma_addr(dentry.d_name, current.kernel)
            if addr is not None:
                lock = mm.mmap_lock
                if v.map_files_mmap_lock_killable:  # _mmap_read_lock(), inline
                    lock.down_read_killable(current)
                else:
                    lock.down_read(current)
                try:
                    exists = find_exact_vma(mm, addr[0], addr[1]) is not None
                finally:
                    lock.up_read(current)
        finally:
            mmput(mm)
        if exists:
            inode.i_uid, inode.i_gid = task_dump_owner(task, 0)
            return True
        return False
    finally:
        put_task_struct(task)


def map_files_get_link(current: Task, dentry: Dentry, task: Task) -> Path:
    """map_files_get_link(): the path of the file mapped at exactly this range (proc_get_link op).

    Raises:
        KernelError(ENOENT): no mm, or no VMA with this exact range and a file.
        KernelError(EINTR): fatal signal while waiting for the mmap lock.
        KernelBug: v3.3-3.13, the VMA vanished after the walk revalidated the entry: rc still held the
            name parser's 0, so the function returned success without a path (a GPF in the caller).

    A preemption point first (`kernel.sched`): between the access check of the walk or of readlink and
    this get_task_mm() the task may exec.  Before the 2026 back-ports nothing keeps it from installing a
    privileged mm there; since them the caller holds exec_update_lock.

    Linux: fs/proc/base.c:map_files_get_link() (proc_map_files_get_link() before v4.5)
    """
    sched = current.kernel.sched
    if sched is not None:
        sched.point(current, "map_files_get_link()")
    mm = get_task_mm(task, current)
    if mm is None:
        raise KernelError(E.ENOENT, "map_files: the task has no mm")
    try:
        addr = dname_to_vma_addr(dentry.d_name, current.kernel)
        if addr is None:  # unreachable: the name was checked at lookup
            raise KernelError(E.EINVAL, "map_files: the name does not parse (it did at lookup)")
        lock = mm.mmap_lock
        if current.kernel.version.map_files_mmap_lock_killable:  # _mmap_read_lock(), inline
            lock.down_read_killable(current)
        else:
            lock.down_read(current)
        try:
            vma = find_exact_vma(mm, addr[0], addr[1])
            if vma is None or vma.vm_file is None:
                if not current.kernel.version.map_files_get_link_rc_fix:
                    _get_link_oops(current, dentry.d_name)
                raise KernelError(E.ENOENT, f"map_files: no file mapping {dentry.d_name} any more")
            return vma.vm_file.f_path   # file_user_path(): the user-visible path (v6.8+)
        finally:
            lock.up_read(current)
    finally:
        mmput(mm)


def _map_files_get_link(current: Task, dentry: Dentry, task: Task) -> Path:
    """The inode's proc_get_link: map_files_get_link() looked up at call time, so that a patch of it
    (simkernel/patch.py) also reaches entries instantiated before the patch."""
    return map_files_get_link(current, dentry, task)


def proc_map_files_get_link(current: Task, dentry: Dentry | None, inode: Inode, nd: NameiData | None) -> None:
    """proc_map_files_get_link(): following needs a capability in the initial user namespace, first.

    CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE (v5.9+, commit 12886f8ab10c); CAP_SYS_ADMIN alone in 4.3-5.8
    (commit bdb4d100afe9).  The reason (the kernel's own comment): following would bypass the permission
    checks of the mapped file's ancestor directories.  Then the generic magic-link jump.

    Raises:
        KernelError(EPERM): the capability is missing.   Then proc_pid_get_link()'s errors.

    Linux: fs/proc/base.c:proc_map_files_get_link()
    """
    k = current.kernel
    if k.version.checkpoint_restore_cap:
        ok = checkpoint_restore_ns_capable(current, k.init_user_ns)
        need = "CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE"
    else:
        ok = capable(current, CAP_SYS_ADMIN)
        need = "CAP_SYS_ADMIN"
    if not ok:
        raise KernelError(E.EPERM, f"following a map_files link needs {need} in the initial user namespace")
    return proc_pid_get_link(current, dentry, inode, nd)


def proc_map_files_instantiate(dentry: Dentry, task: Task, fmode: int) -> Dentry:
    """proc_map_files_instantiate(): a symlink inode, mode from the mapped file's f_mode (0400/0600),
    size 64, owner per task_dump_owner(); its own inode_operations (follow needs a capability) since v4.3;
    unmountable since v6.12 (commit 3836b31c3e71).

    Linux: fs/proc/base.c:proc_map_files_instantiate()
    """
    mode = S.S_IFLNK | (S.S_IRUSR if fmode & FMODE_READ else 0) | (S.S_IWUSR if fmode & FMODE_WRITE else 0)
    inode = proc_pid_make_inode(dentry.d_sb, task, mode)
    PROC_I(inode).proc_get_link = _map_files_get_link
    if task.kernel.version.map_files_follow_needs_cap:
        inode.i_op = PROC_MAP_FILES_LINK_INODE_OPERATIONS
    else:   # before bdb4d100afe9 (v4.3): the generic /proc magic-link operations
        inode.i_op = PROC_PID_LINK_INODE_OPERATIONS
    inode.i_size = 64
    if task.kernel.version.map_files_dont_mount:
        dont_mount(dentry)
    return instantiate_into(dentry, inode, TID_MAP_FILES_DENTRY_OPERATIONS)


def proc_map_files_lookup(current: Task, dir: Inode, dentry: Dentry, flags: int) -> Dentry | None:
    """proc_map_files_lookup(): a name becomes an entry only for a VMA of exactly that range with a file.

    Order (6.18.44): task gone (ENOENT); the name must parse (ENOENT) *before* any permission check;
    mm_access (EINTR, ESRCH without mm, EACCES); the killable mmap lock (EINTR); find_exact_vma and its
    vm_file (ENOENT).  Before the 2026 back-port: task; ptrace check (EACCES); name; get_task_mm (ENOENT).
    v3.3-4.2 begin with CAP_SYS_ADMIN (EACCES, EPERM from v3.9); v3.3 checks with lock_trace() (EACCES).

    Linux: fs/proc/base.c:proc_map_files_lookup()
    """
    _map_files_capable(current)
    task = get_proc_task(dir)
    if task is None:
        raise KernelError(E.ENOENT, "map_files: the process is gone")
    v = current.kernel.version
    traced = False           # v3.3: holding lock_trace()
    try:
        if not v.map_files_exec_update_lock:
            traced = _map_files_access(current, task, "lookup")
        addr = dname_to_vma_addr(dentry.d_name, current.kernel)
        if addr is None:
            raise KernelError(E.ENOENT, f"map_files: {dentry.d_name!r} is not a well-formed start-end name")
        mm = _get_mm(current, task)
        if mm is None:
            raise KernelError(E.ENOENT, "map_files: the task has no mm")
        try:
            _mmap_read_lock(current, mm)
            try:
                vma = find_exact_vma(mm, addr[0], addr[1])
                if vma is None:
                    raise KernelError(E.ENOENT, f"map_files: no VMA spans exactly {dentry.d_name}")
                if vma.vm_file is None:
                    raise KernelError(E.ENOENT, f"map_files: the VMA {dentry.d_name} is anonymous")
                fmode = vma.vm_file.f_mode
            finally:
                mm.mmap_lock.up_read(current)
            return proc_map_files_instantiate(dentry, task, fmode)
        finally:
            _mmput(mm)
    finally:
        if traced:
            unlock_trace(current, task)
        put_task_struct(task)


def proc_map_files_readdir(current: Task, file: File, ctx: Any) -> None:
    """proc_map_files_readdir(): ".", "..", then "%lx-%lx" for each file-backed VMA in address order.

    Two passes: the ranges and f_modes are collected under the mmap lock, and emitted (which may fault
    and take the mmap lock again) after dropping it.  Position k+1 names the k-th file-backed VMA of the
    *current* list, so VMAs that appear or vanish between two getdents calls shift entries (skips and
    repeats are possible).  Since the 2026 back-port "." and ".." come before the permission check, and
    a task without mm lists as empty.

    The kernel walks the whole VMA list on every call (for_each_vma from the first VMA, counting file-backed
    ones up to ctx->pos, collecting all the rest): that cost is counted in kernel.stats["vma_visits"].  The
    model seeks to the (ctx.pos - 2)-th file-backed VMA through the tree's per-block counts and collects only
    as many as the buffer could take (a record is at least 24 bytes) -- the same entries, without the walk.
    (v3.3-3.6, whose items hold file references, and v3.3-5.0, whose flex_array counts all the rest, collect
    them all, as the kernel did.)  v3.3-4.2 begin with CAP_SYS_ADMIN; v3.3-5.0 refuse to collect more
    entries than a flex_array holds (ENOMEM, after the dots of the same call).

    Raises:
        KernelError(EACCES/EPERM): v3.3-4.2 without CAP_SYS_ADMIN.
        KernelError(ENOENT): the task was reaped.  KernelError(EACCES): the ptrace check or mm_access denied.
        KernelError(ENOMEM): v3.3-5.0, too many file-backed VMAs beyond f_pos.
        KernelError(EINTR): fatal signal while waiting for a lock.

    Linux: fs/proc/base.c:proc_map_files_readdir()
    """
    _map_files_capable(current)
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ENOENT, "map_files: the process is gone")
    v = current.kernel.version
    traced = False           # v3.3: holding lock_trace()
    try:
        if not v.map_files_exec_update_lock:
            traced = _map_files_access(current, task, "readdir")
        if not dir_emit_dots(file, ctx):
            return
        try:
            mm = _get_mm(current, task)
        except KernelError as err:
            if err.errno == E.ESRCH:
                return
            raise
        if mm is None:
            return
        items: list[tuple[int, int, Any]] = []
        try:
            _mmap_read_lock(current, mm)
            try:
                if v.map_files_readdir_limit is not None:
                    _flex_array_check(mm, ctx.pos, v.map_files_readdir_limit)
                    if current.fail_nth and _readdir_alloc_fails(current, mm, ctx.pos, 0, True):
                        raise KernelError(E.ENOMEM, "map_files readdir: flex_array_alloc() failed (fail-nth)")
                stats = current.kernel.stats
                stats["vma_visits"] = stats.get("vma_visits", 0) + mm.map_count
                if v.map_files_readdir_fmode and v.map_files_readdir_limit is None:
                    items = [(vma.vm_start, vma.vm_end, vma.vm_file.f_mode)
                             for vma in islice(mm.mm_rb.iter_files_from(ctx.pos - 2), ctx.count // _MIN_RECLEN)]
                    if current.fail_nth and _readdir_alloc_fails(current, mm, ctx.pos, len(items), False):
                        raise KernelError(E.ENOMEM, "map_files readdir: genradix_ptr_alloc() failed (fail-nth)")
                else:
                    pos = 2
                    for vma in mm:
                        if vma.vm_file is None:
                            continue
                        pos += 1
                        if pos <= ctx.pos:
                            continue
                        if v.map_files_readdir_fmode:
                            items.append((vma.vm_start, vma.vm_end, vma.vm_file.f_mode))
                        else:    # v3.3-3.6: a reference on the file itself (7b540d0646ce dropped it)
                            from simkernel.fs.file_table import get_file
                            items.append((vma.vm_start, vma.vm_end, get_file(vma.vm_file)))
            finally:
                mm.mmap_lock.up_read(current)
        finally:
            _mmput(mm)
        _emit_entries(current, file, ctx, task, items, v.map_files_readdir_fmode)
    finally:
        if traced:
            unlock_trace(current, task)
        put_task_struct(task)


def _emit_entries(current: Task, file: File, ctx: Any, task: Task, items: list[tuple[int, int, Any]],
                  fmode_snapshot: bool) -> None:
    """Pass 2 of readdir, without the mmap lock: proc_fill_cache() each name until the buffer is full.
    Before v3.7 the items hold file references, dropped here (all of them, emitted or not)."""
    try:
        for start, end, held in items:
            name = f"{start:x}-{end:x}"
            fmode = held if fmode_snapshot else held.f_mode
            if not proc_fill_cache(current, file, ctx, name,
                                   lambda d, m=fmode: proc_map_files_instantiate(d, task, m)):
                break
            ctx.pos += 1
    finally:
        if not fmode_snapshot:
            from simkernel.fs.file_table import fput
            for _s, _e, f in items:
                fput(f)



def _proc_fd_permission(current: Task, inode: Inode, mask: int) -> None:
    proc_fd_permission(current, inode, mask)


def _proc_pid_readlink(current: Task, dentry: Dentry, buflen: int) -> bytes:
    return proc_pid_readlink(current, dentry, buflen)



PROC_MAP_FILES_INODE_OPERATIONS = InodeOperations(lookup=proc_map_files_lookup, permission=_proc_fd_permission,
                                                  setattr=proc_setattr)
PROC_MAP_FILES_OPERATIONS = FileOperations(read=generic_read_dir, iterate_shared=proc_map_files_readdir,
                                           llseek=generic_file_llseek)
PROC_MAP_FILES_LINK_INODE_OPERATIONS = InodeOperations(readlink=_proc_pid_readlink,
                                                       get_link=proc_map_files_get_link, setattr=proc_setattr)
TID_MAP_FILES_DENTRY_OPERATIONS = DentryOperations(d_revalidate=map_files_d_revalidate,
                                                   d_delete=pid_delete_dentry)

# Imported last, once this module's tables exist: base.py builds its pid_entry table from them at import time.
from simkernel.fs.proc.base import PROC_PID_LINK_INODE_OPERATIONS, proc_pid_get_link, proc_pid_readlink  # noqa: E402
