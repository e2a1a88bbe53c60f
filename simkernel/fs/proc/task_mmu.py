"""/proc/<pid>/maps in the kernel's exact text format.

    start-end perms offset major:minor inode<padding>name

Addresses at least 8 hex digits, perms rwx plus s (VM_MAYSHARE) or p; offset in bytes, 8 hex digits; the
name starts at column 73 (the prefix is padded to 72 characters, then one space).  Lines without a name end
with one space after the inode number.

Linux: fs/proc/task_mmu.c:show_map_vma(), show_vma_header_prefix(), proc_maps_open(); fs/seq_file.c:seq_pad()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from simkernel.errors import KernelError
from simkernel.fs.d_path import d_path
from simkernel.fs.proc.internal import get_proc_task
from simkernel.kernel.fork import mmget_not_zero
from simkernel.kernel.task import put_task_struct
from simkernel.mm.mmap import mmdrop, mmgrab, mmput
from simkernel.fs.super import MAJOR, MINOR
from simkernel.mm.mm_types import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task
    from simkernel.mm.mm_types import MmStruct, VmAreaStruct

__all__ = ["show_map_vma", "show_maps", "render_maps", "proc_maps_open_check", "proc_map_release", "maps_cursor"]

_PAD = 25 + 8 * 6 - 1   # seq_setwidth(m, 25 + sizeof(void *) * 6 - 1)
# the rwx[ps] column, indexed by VM_READ|VM_WRITE|VM_EXEC plus 8 for VM_MAYSHARE
_PERMS = tuple(("r" if i & 1 else "-") + ("w" if i & 2 else "-") + ("x" if i & 4 else "-") + ("s" if i & 8 else "p")
               for i in range(16))
assert (VM_READ, VM_WRITE, VM_EXEC, VM_MAYSHARE >> 4) == (1, 2, 4, 8)
_NAMED = f"%-{_PAD}s %s\n"      # the prefix padded to 72 columns (seq_pad()), a space, the name
# the same as bytes, for the seq_file read path (bytes %-formatting is the fastest way to print a maps line),
# indexed by vm_flags & _PERMS_MASK itself (one operation per line instead of four)
_PERMS_MASK = VM_READ | VM_WRITE | VM_EXEC | VM_MAYSHARE
_PERMS_B = tuple(_PERMS[(i & 7) | ((i >> 4) & 8)].encode() for i in range(_PERMS_MASK + 1))
_NAMED_B = _NAMED.encode()


def show_map_vma(vma: VmAreaStruct, root: Any,
                 names: dict[Any, tuple[bytes, int, int, int, bytes, bytes]] | None = None) -> Any:
    """One maps line (with its newline): text, or with `names` (the seq_file read path) the bytes it writes
    to the seq buffer.

    `names`, when given, remembers for the duration of one read(2) each mapped file's " major:minor inode "
    field, its d_path() name, and a whole-line format taken from the last line printed the long way: nothing
    can rename or unmount a file between two lines of one read, so the lines are the ones rendered afresh
    (the kernel calls d_path() for every line).  That format prints the addresses with "%x" (the digits of
    "%08x" from 0x10000000 on) and the offset as the zeros it needed then, "%x" of vm_pgoff and "000" (the
    digits of "%08x" for every vm_pgoff with as many hex digits, kept as a range); with both in range it
    gives the exact line when the line has the same length, because seq_pad()'s padding to 72 columns
    depends only on the prefix's length.  Any other line is printed the long way and its format kept.

    Linux: fs/proc/task_mmu.c:show_map_vma()
    """
    f = vma.vm_file
    if names is not None:   # the read path: bytes, formatted directly (no per-line encode)
        perms_b = _PERMS_B[vma.vm_flags & _PERMS_MASK]
        if f is not None:
            start, pgoff = vma.vm_start, vma.vm_pgoff
            known_b = names.get(f)
            if known_b is not None:
                if start >> 28 and known_b[2] <= pgoff < known_b[3]:
                    line_b = known_b[0] % (start, vma.vm_end, perms_b, pgoff)
                    if len(line_b) == known_b[1]:
                        return line_b
                fields_b, tail_b = known_b[4], known_b[5]
            else:                   # " major:minor inode ", and the name
                inode = f.f_inode
                dev = inode.i_sb.s_dev
                fields_b = b" %02x:%02x %d " % (MAJOR(dev), MINOR(dev), inode.i_ino)
                tail_b = b" %s\n" % d_path(f.f_path, root).replace("\n", "\\012").encode("utf-8", "surrogateescape")
            head_b = b"%08x-%08x %s %08x%s" % (start, vma.vm_end, perms_b, pgoff << 12, fields_b)
            line_b = head_b.ljust(_PAD) + tail_b      # seq_pad(m, ' '), then the name
            digits = len(b"%x" % pgoff)               # the vm_pgoff range printed with as many zeros
            lo, hi = (16 ** (digits - 1) if digits > 1 else 0, 16 ** digits) if digits < 5 else (0x10000, 1 << 64)
            names[f] = (b"%x-%x %s " + b"0" * (5 - digits) + b"%x000" + fields_b
                        + b" " * (len(line_b) - len(head_b) - len(tail_b)) + tail_b.replace(b"%", b"%%"),
                        len(line_b), lo, hi, fields_b, tail_b)
            return line_b
        if vma.anon_name:
            return _NAMED_B % (b"%08x-%08x %s 00000000 00:00 0 " % (vma.vm_start, vma.vm_end, perms_b),
                               vma.anon_name.encode("utf-8", "surrogateescape"))
        return b"%08x-%08x %s 00000000 00:00 0 \n" % (vma.vm_start, vma.vm_end, perms_b)
    flags = vma.vm_flags
    perms = _PERMS[(flags & 7) | ((flags >> 4) & 8)]
    if f is not None:
        inode = f.f_inode
        dev = inode.i_sb.s_dev
        known = (f" {MAJOR(dev):02x}:{MINOR(dev):02x} {inode.i_ino} ", d_path(f.f_path, root).replace("\n", "\\012"))
        # %-formatting: the same text as f-strings, faster on the longest /proc file
        return _NAMED % ("%08x-%08x %s %08x%s" % (vma.vm_start, vma.vm_end, perms, vma.vm_pgoff << 12, known[0]),
                         known[1])
    line = "%08x-%08x %s 00000000 00:00 0 " % (vma.vm_start, vma.vm_end, perms)
    if vma.anon_name:
        return _NAMED % (line, vma.anon_name)
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
    from simkernel.kernel.fork import mm_access
    from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS
    try:
        mm = mm_access(current, task, PTRACE_MODE_READ_FSCREDS)
    except KernelError as err:
        if err.errno == E.ESRCH:
            return None
        raise
    if mm is not None:
        mmgrab(mm)            # keep the struct, not the mappings
        mmput(mm)
    return mm


def proc_map_release(inode: Any, file: File) -> None:
    """proc_map_release(): drop the mm_struct pinned at open (mmdrop), then seq_release.

    Linux: fs/proc/task_mmu.c:proc_map_release()
    """
    mm = getattr(file.private_data, "private", None)
    if mm is not None:
        mmdrop(mm)


def show_maps(current: Task, task: Task, file: File) -> str:
    """The whole text over the mm taken at open (empty if the task had none or has exited since)."""
    mm = getattr(file.private_data, "private", None)
    if mm is None or mm.mm_users == 0:
        return ""
    return render_maps(mm, current.fs.root)


def maps_cursor(current: Task, m: Any, index: int) -> Iterator[tuple[bytes, int]]:
    """m_start()/m_next()/show_map(): from the first VMA ending above address `index`, one record per VMA,
    each with the position after it, that VMA's vm_end (so VMAs that change between reads do not repeat).

    A generator, as seq_operations: the first step is m_start() -- the task must still exist (ESRCH), its mm
    still have users, and the VMA is looked up in the tree (O(log n)) -- and each later step is m_next(), the
    iterator's next VMA.  seq_read() runs one per read(2), so the d_path() names are remembered for one read
    (see show_map_vma).

    m_start() takes the mmap lock for read, killably, and m_stop() drops it: the generator holds it from its
    first step until it is closed, which seq_read() does before copying to user memory (seq.py).

    Simplification: the x86-64 gate area ([vsyscall]), which the kernel shows after the last VMA, is not
    modelled.  Since v6.17 (CONFIG_PER_VMA_LOCK) m_start() walks under RCU with per-VMA locks and takes the
    mmap lock only on contention; the model takes the mmap lock, the path of every release before.

    Raises:
        KernelError(ESRCH): the task was reaped (m_start()).
        KernelError(EINTR): a fatal signal is pending while taking the mmap lock (mmap_read_lock_killable()).

    Linux: fs/proc/task_mmu.c:m_start(), m_next(), m_stop(), proc_get_vma(), show_map()
    """
    task = get_proc_task(m.file.f_inode)  # priv->task, put by m_stop()
    if task is None:
        raise KernelError(E.ESRCH, "maps: the process is gone")
    try:
        mm = m.private
        if mm is None or not mmget_not_zero(mm):    # the task has exited: its mappings are gone
            return
        try:
            lock = mm.mmap_lock
            lock.down_read_killable(current)      # mmap_read_lock_killable()
            try:
                root = current.fs.root
                names: dict[Any, tuple[bytes, bytes]] = {}
                for vma in mm.mm_rb.iter_from(index):
                    yield show_map_vma(vma, root, names), vma.vm_end
            finally:
                lock.up_read(current)             # m_stop(): mmap_read_unlock()
        finally:
            mmput(mm)                             # m_stop(): mmput(mm)
    finally:
        put_task_struct(task)                 # m_stop(): put_task_struct(priv->task)
