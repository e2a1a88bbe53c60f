"""/proc/<pid>/maps in the kernel's exact text format.

    start-end perms offset major:minor inode<padding>name

Addresses at least 8 hex digits, perms rwx plus s (VM_MAYSHARE) or p; offset in bytes, 8 hex digits; the
name starts at column 73 (the prefix is padded to 72 characters, then one space).  Lines without a name end
with one space after the inode number.

Linux: fs/proc/task_mmu.c:show_map_vma(), show_vma_header_prefix(), proc_maps_open(); fs/seq_file.c:seq_pad()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.fs.super import MAJOR, MINOR

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task
    from simkernel.mm.mm_types import MmStruct, VmAreaStruct

__all__ = ["show_map_vma", "show_maps", "render_maps", "proc_maps_open_check", "maps_cursor"]

_PAD = 25 + 8 * 6 - 1   # seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)


def show_map_vma(vma: VmAreaStruct, root: Any) -> str:
    """One maps line (with its newline). Linux: fs/proc/task_mmu.c:show_map_vma()"""
    from simkernel.fs.d_path import d_path
    from simkernel.mm.mm_types import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE
    flags = vma.vm_flags
    f = vma.vm_file
    if f is not None:
        inode = f.f_inode
        dev, ino, pgoff = inode.i_sb.s_dev, inode.i_ino, vma.vm_pgoff << 12
    else:
        dev = ino = pgoff = 0
    perms = ("r" if flags & VM_READ else "-") + ("w" if flags & VM_WRITE else "-") + \
            ("x" if flags & VM_EXEC else "-") + ("s" if flags & VM_MAYSHARE else "p")
    line = f"{vma.vm_start:08x}-{vma.vm_end:08x} {perms} {pgoff:08x} {MAJOR(dev):02x}:{MINOR(dev):02x} {ino} "
    name = None
    if f is not None:
        name = d_path(f.f_path, root).replace("\n", "\\012")
    elif vma.anon_name:
        name = vma.anon_name
    if name is not None:
        line = line.ljust(_PAD) + " " + name
    return line + "\n"


def render_maps(mm: MmStruct | None, root: Any) -> str:
    """The whole maps text of an mm (empty for None)."""
    if mm is None:
        return ""
    return "".join(show_map_vma(v, root) for v in mm)


def proc_maps_open_check(current: Task, task: Task) -> Any:
    """proc_maps_open() -> proc_mem_open(PTRACE_MODE_READ): mm_access at open; no mm reads as empty.

    Raises:
        KernelError(EACCES): not ptrace-readable.

    Linux: fs/proc/task_mmu.c:proc_maps_open(), fs/proc/base.c:proc_mem_open()
    """
    from simkernel.errors import KernelError
    from simkernel.kernel.fork import mm_access
    from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS
    from simkernel.uapi import errno as E
    try:
        mm = mm_access(current, task, PTRACE_MODE_READ_FSCREDS)
    except KernelError as err:
        if err.errno == E.ESRCH:
            return None
        raise
    if mm is not None:
        mm.mm_count += 1      # mmgrab(): keep the struct, not the mappings
        from simkernel.mm.mmap import mmput
        mmput(mm)
    return mm


def show_maps(current: Task, task: Task, file: File) -> str:
    """The whole text over the mm taken at open (empty if the task had none or has exited since)."""
    mm = getattr(file.private_data, "private", None)
    if mm is None or mm.mm_users == 0:
        return ""
    return render_maps(mm, current.fs.root)


def maps_cursor(current: Task, m: Any, index: int) -> tuple[bytes, int] | None:
    """m_start()/m_next()/show_map(): the record after address `index` is the first VMA ending above it,
    and the next position is that VMA's vm_end (so VMAs that change between reads do not repeat).

    Simplification: the x86-64 gate area ([vsyscall]), which the kernel shows after the last VMA, is not
    modelled.

    Raises:
        KernelError(ESRCH): the task was reaped (m_start()).

    Linux: fs/proc/task_mmu.c:m_start(), m_next(), proc_get_vma(), show_map()
    """
    from simkernel.errors import KernelError
    from simkernel.fs.proc.internal import get_proc_task
    from simkernel.uapi import errno as E
    if get_proc_task(m.file.f_inode) is None:
        raise KernelError(E.ESRCH, "maps: the process is gone")
    mm = m.private
    if mm is None or mm.mm_users == 0:    # !mmget_not_zero(): the task has exited
        return None
    for vma in mm:
        if vma.vm_end > index:
            return show_map_vma(vma, current.fs.root).encode("utf-8", "surrogateescape"), vma.vm_end
    return None
