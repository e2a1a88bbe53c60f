"""The address space: mm_struct and vm_area_struct.

The VMA set is kept in a sorted container keyed by `vm_start` (the kernel's maple tree), so `find_vma` and
`find_exact_vma` are O(log n).

Linux: include/linux/mm_types.h, include/linux/mm.h (VM_* flags)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from attrs import define, field
from sortedcontainers import SortedKeyList

from simkernel.kernel.locking import RwSemaphore

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.user_namespace import UserNamespace
    from simkernel.machine import Kernel

__all__ = ["MmStruct", "VmAreaStruct", "VM_NONE", "VM_READ", "VM_WRITE", "VM_EXEC", "VM_SHARED", "VM_MAYREAD",
           "VM_MAYWRITE", "VM_MAYEXEC", "VM_MAYSHARE", "VM_GROWSDOWN", "VM_PFNMAP", "VM_LOCKED", "VM_IO",
           "VM_DONTCOPY", "VM_DONTEXPAND", "VM_ACCOUNT", "VM_NORESERVE", "VM_HUGETLB", "VM_DONTDUMP",
           "VM_SOFTDIRTY", "VM_SPECIAL", "VM_STACK", "TASK_SIZE", "STACK_TOP"]

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

# x86-64 with 4-level paging: TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE
TASK_SIZE = (1 << 47) - 4096
STACK_TOP = TASK_SIZE


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

    def __repr__(self) -> str:
        f = self.vm_file
        name = f" {f.f_path.dentry.d_name}" if f is not None else (f" {self.anon_name}" if self.anon_name else "")
        return f"<vma {self.vm_start:x}-{self.vm_end:x} flags={self.vm_flags:#x} pgoff={self.vm_pgoff:#x}{name}>"


def _vma_key(vma: VmAreaStruct) -> int:
    return vma.vm_start


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
    mm_rb: SortedKeyList = field(factory=lambda: SortedKeyList(key=_vma_key), repr=False)
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
