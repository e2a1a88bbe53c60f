"""The address space: mm_struct and vm_area_struct.

The VMA set is kept in a MapleTree keyed by `vm_start` (simkernel/mm/maple_tree.py, standing in for the
kernel's maple tree), so `find_vma` and `find_exact_vma` are O(log n).

Linux: include/linux/mm_types.h, include/linux/mm.h (VM_* flags)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator

import attrs
from attrs import define, field, frozen

from simkernel.kernel.locking import RwSemaphore
from simkernel.mm.maple_tree import MapleTree

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.user_namespace import UserNamespace
    from simkernel.machine import Kernel

__all__ = ["MmStruct", "VmAreaStruct", "VM_NONE", "VM_READ", "VM_WRITE", "VM_EXEC", "VM_SHARED", "VM_MAYREAD",
           "VM_MAYWRITE", "VM_MAYEXEC", "VM_MAYSHARE", "VM_GROWSDOWN", "VM_PFNMAP", "VM_LOCKED", "VM_IO",
           "VM_DONTCOPY", "VM_DONTEXPAND", "VM_ACCOUNT", "VM_NORESERVE", "VM_HUGETLB", "VM_DONTDUMP",
           "VM_SOFTDIRTY", "VM_SPECIAL", "VM_STACK", "TASK_SIZE", "STACK_TOP",
           "VmOperationsStruct", "AnonVma", "VM_MAYBE_GUARD", "VM_UFFD_MISSING", "VM_UFFD_WP", "VM_SEQ_READ",
           "VM_RAND_READ", "VM_LOCKONFAULT", "VM_SYNC", "VM_WIPEONFORK", "VM_MIXEDMAP", "VM_HUGEPAGE",
           "VM_NOHUGEPAGE", "VM_MERGEABLE", "VM_DROPPABLE", "VM_GROWSUP", "VM_ACCESS_FLAGS", "VM_LOCKED_MASK",
           "VM_STARTGAP_FLAGS", "DEFAULT_MAP_WINDOW", "PAGE_SIZE", "PAGE_SHIFT", "PAGE_ALIGN", "offset_in_page",
           "vma_pages"]

VM_NONE = 0x00000000
VM_READ = 0x00000001
VM_WRITE = 0x00000002
VM_EXEC = 0x00000004
VM_SHARED = 0x00000008
VM_MAYREAD = 0x00000010
VM_MAYWRITE = 0x00000020
VM_MAYEXEC = 0x00000040
VM_MAYSHARE = 0x00000080
VM_GROWSDOWN = 0x00000100
VM_PFNMAP = 0x00000400
VM_LOCKED = 0x00002000
VM_IO = 0x00004000
VM_DONTCOPY = 0x00020000
VM_DONTEXPAND = 0x00040000
VM_ACCOUNT = 0x00100000
VM_NORESERVE = 0x00200000
VM_HUGETLB = 0x00400000
VM_DONTDUMP = 0x04000000
VM_SOFTDIRTY = 0x08000000
VM_STACK = VM_GROWSDOWN
VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP
# The rest of include/linux/mm.h's flags the memory code reads (x86-64 values).
VM_UFFD_MISSING = 0x00000200
VM_MAYBE_GUARD = 0x00000800
VM_UFFD_WP = 0x00001000
VM_SEQ_READ = 0x00008000
VM_RAND_READ = 0x00010000
VM_LOCKONFAULT = 0x00080000
VM_SYNC = 0x00800000
VM_WIPEONFORK = 0x02000000
VM_MIXEDMAP = 0x10000000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_MERGEABLE = 0x80000000
VM_DROPPABLE = 1 << 36          # VM_HIGH_ARCH_4 on 64-bit (since v6.11)
VM_GROWSUP = VM_NONE            # x86 stacks only grow down
VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC
VM_LOCKED_MASK = VM_LOCKED | VM_LOCKONFAULT
VM_STARTGAP_FLAGS = VM_GROWSDOWN  # | VM_SHADOW_STACK (CONFIG_X86_USER_SHADOW_STACK is off)

# x86-64 with 4-level paging: TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE
TASK_SIZE = (1 << 47) - 4096
STACK_TOP = TASK_SIZE
DEFAULT_MAP_WINDOW = TASK_SIZE    # the same without LA57 (the reference host has no la57)

PAGE_SHIFT = 12
PAGE_SIZE = 1 << PAGE_SHIFT


def PAGE_ALIGN(addr: int) -> int:
    """PAGE_ALIGN(): round up to a page, wrapping at 2**64 as unsigned long does (include/linux/mm.h)."""
    return (addr + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1) & ((1 << 64) - 1)


def offset_in_page(addr: int) -> int:
    """offset_in_page(): the low 12 bits (include/linux/mm.h)."""
    return addr & (PAGE_SIZE - 1)


@frozen
class VmOperationsStruct:
    """struct vm_operations_struct: the slots the VMA code calls; each a callable or None.

      open(vma) / close(vma)                 (a VMA with ->close never merges away, fs/vma.c)
      may_split(vma, addr) -> None           (raise KernelError to refuse a split)
      mremap(vma) -> None
    `name` is what tests and tracers print (the C symbol, e.g. "shmem_vm_ops").
    """

    name: str = "vm_ops"
    open: Callable[..., Any] | None = None
    close: Callable[..., Any] | None = None
    may_split: Callable[..., Any] | None = None
    mremap: Callable[..., Any] | None = None


@define(eq=False)
class AnonVma:
    """struct anon_vma (include/linux/rmap.h): present once a private page was faulted or inherited by fork.

    The model faults nothing, so VMAs only get one when a caller sets it (tests, fork of such a VMA).
    `degree` > 1 stands for a non-singular anon_vma_chain (shared with a parent after fork).
    """

    anon_vma_id: int = 0
    degree: int = 1


@define(eq=False)
class VmAreaStruct:
    """struct vm_area_struct: one contiguous range [vm_start, vm_end) with one set of flags and backing.

    `vm_pgoff` is the file offset of `vm_start` in pages.  `anon_name` marks special anonymous areas for
    /proc/<pid>/maps (`[heap]`, `[stack]`, `[vdso]`).
    """

    vm_start: int
    vm_end: int
    vm_flags: int
    vm_pgoff: int = 0
    vm_file: File | None = field(default=None, repr=False)
    vm_mm: MmStruct | None = field(default=None, repr=False)
    anon_vma: Any = field(default=None, repr=False)
    vm_ops: Any = field(default=None, repr=False)
    anon_name: str | None = None
    detached: bool = field(default=True, repr=False)   # not (or no longer) in vm_mm's tree

    @property
    def vm_pages(self) -> int:
        """vma_pages(). Linux: include/linux/mm.h"""
        return (self.vm_end - self.vm_start) >> PAGE_SHIFT

    def __repr__(self) -> str:
        f = self.vm_file
        name = f" {f.f_path.dentry.d_name}" if f is not None else (f" {self.anon_name}" if self.anon_name else "")
        return f"<vma {self.vm_start:x}-{self.vm_end:x} flags={self.vm_flags:#x} pgoff={self.vm_pgoff:#x}{name}>"

    def _repr_html_(self) -> str:
        """Jupyter: this VMA as a /proc/<pid>/maps row (simkernel/display.py)."""
        from simkernel.display import vma_html
        return vma_html(self)


# vm_area_dup() (simkernel/mm/vma.py) passes every field by position, in this order
assert tuple(a.name for a in attrs.fields(VmAreaStruct)) == (
    "vm_start", "vm_end", "vm_flags", "vm_pgoff", "vm_file", "vm_mm", "anon_vma", "vm_ops", "anon_name", "detached")


def vma_pages(vma: VmAreaStruct) -> int:
    """vma_pages(): pages in [vm_start, vm_end). Linux: include/linux/mm.h"""
    return (vma.vm_end - vma.vm_start) >> PAGE_SHIFT


@define(eq=False)
class MmStruct:
    """struct mm_struct (include/linux/mm_types.h).

    `dumpable` is the SUID_DUMP_* value kept in mm->flags (get_dumpable/set_dumpable).
    `user_ns` is the user namespace the mm was created in (its owner decides ptrace over a
    non-dumpable task since v4.10).
    """

    kernel: Kernel = field(repr=False)
    user_ns: UserNamespace = field(repr=False)
    mmap_base: int = 0
    task_size: int = TASK_SIZE
    mm_rb: MapleTree = field(factory=MapleTree, repr=False)
    map_count: int = 0
    dumpable: int = 1
    mmap_lock: RwSemaphore = field(factory=lambda: RwSemaphore("&mm->mmap_lock"), repr=False)
    mm_users: int = 1
    mm_count: int = 1
    exe_file: File | None = field(default=None, repr=False)
    start_brk: int = 0
    brk: int = 0
    start_stack: int = 0
    total_vm: int = 0
    def_flags: int = 0
    mm_id: int = 0
    # Added for simkernel/mm: the layout chosen by arch_pick_mmap_layout() and the mm counters that
    # vm_stat_account() keeps (include/linux/mm_types.h).
    mmap_legacy_base: int = 0
    topdown: bool = True            # MMF_TOPDOWN
    data_vm: int = 0
    exec_vm: int = 0
    stack_vm: int = 0
    locked_vm: int = 0
    hiwater_vm: int = 0

    def __iter__(self) -> Iterator[VmAreaStruct]:
        """for_each_vma(): VMAs in ascending address order."""
        return iter(self.mm_rb)

    def __len__(self) -> int:
        return len(self.mm_rb)

    def get_dumpable(self) -> int:
        """get_dumpable(). Linux: fs/exec.c / include/linux/sched/coredump.h"""
        return self.dumpable

    def set_dumpable(self, value: int) -> None:
        """set_dumpable(): SUID_DUMP_DISABLE, SUID_DUMP_USER or SUID_DUMP_ROOT. Linux: fs/exec.c"""
        assert value in (0, 1, 2), value
        self.dumpable = value

    def _repr_html_(self) -> str:
        """Jupyter: the address-space strip and the maps table (simkernel/display.py)."""
        from simkernel.display import mm_html
        return mm_html(self)

    def _repr_svg_(self) -> str:
        """The address-space strip alone, as SVG (simkernel/display.py)."""
        from simkernel.display import mm_svg
        return mm_svg(self)
