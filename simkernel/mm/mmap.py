"""mmap(2), munmap(2), and an mm's life: allocation, fork copy, teardown.

`ksys_mmap_pgoff` is the x86-64 mmap entry (offset in bytes, as os.mmap and mmap(2) take it); `do_mmap`
decides flags and errno in the kernel's order; `mmap_region` unmaps what MAP_FIXED covers, merges with a
neighbour or creates a VMA and calls the file's ->mmap.

Errno order of do_mmap (verified on Linux 6.18.44): EINVAL (zero length), ENOMEM (length wraps), EOVERFLOW
(pgoff wraps), ENOMEM (map_count > vm.max_map_count), then the address (ENOMEM / EINVAL unaligned fixed /
EPERM below vm.mmap_min_addr), EEXIST (MAP_FIXED_NOREPLACE), then the file checks (EOVERFLOW, EOPNOTSUPP,
EACCES, ENODEV, EINVAL) or the anonymous type check (EINVAL).  EBADF comes first, from the fd lookup.

Linux: arch/x86/kernel/sys_x86_64.c:sys_mmap(), mm/mmap.c (ksys_mmap_pgoff, do_mmap, dup_mmap, exit_mmap),
mm/util.c (vm_mmap_pgoff), mm/vma.c (mmap_region, __mmap_region), kernel/fork.c (mm_alloc, mmput)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.fs.file import FMODE_PATH, FMODE_READ, FMODE_WRITE
from simkernel.fs.file_table import fput, get_file
from simkernel.fs.mount import MNT_NOEXEC
from simkernel.kernel.capability import capable
from simkernel.lib.fault_inject import should_fail
from simkernel.mm.mm_types import (PAGE_ALIGN, PAGE_SHIFT, VM_ACCOUNT, VM_DONTCOPY, VM_DROPPABLE,
                                   VM_DONTDUMP, VM_EXEC, VM_GROWSDOWN, VM_GROWSUP, VM_LOCKED,
                                   VM_LOCKED_MASK, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE,
                                   VM_NOHUGEPAGE, VM_NORESERVE, VM_READ, VM_SHARED, VM_SPECIAL, VM_SYNC,
                                   VM_WIPEONFORK, VM_WRITE, AnonVma, MmStruct, VmAreaStruct)
from simkernel.mm.unmapped_area import (MAP_32BIT, MAP_ABOVE4G, RLIM_STACK_DEFAULT, arch_pick_mmap_layout,
                                        get_unmapped_area, mmap_min_addr)
from simkernel.mm.vma import (find_vma, find_vma_intersection, remove_vma, vm_area_alloc, vm_area_dup,
                              vm_stat_account, vma_is_shared_maywrite, vma_iter_remove, vma_link, vma_prev,
                              vma_set_anonymous)
from simkernel.mm.vma_merge import VmaMergeStruct, vma_merge_existing_range, vma_merge_new_range
from simkernel.mm.vma_munmap import (do_vmi_munmap, vms_abort_munmap_vmas, vms_clean_up_area,
                                     vms_complete_munmap_vmas, vms_gather_munmap_vmas)
from simkernel.uapi import errno as E
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_DENYWRITE, MAP_EXECUTABLE, MAP_FIXED, MAP_FIXED_NOREPLACE,
                                 MAP_GROWSDOWN, MAP_HUGETLB, MAP_LOCKED, MAP_NONBLOCK, MAP_NORESERVE,
                                 MAP_POPULATE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_STACK,
                                 MAP_SYNC, MAP_TYPE, PROT_EXEC, PROT_READ, PROT_WRITE)
from simkernel.uapi import stat as S
from simkernel.uapi.capability import CAP_IPC_LOCK

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.fs.inode import Inode
    from simkernel.kernel.task import Task
    from simkernel.kernel.user_namespace import UserNamespace
    from simkernel.machine import Kernel

__all__ = ["ksys_mmap_pgoff", "vm_mmap_pgoff", "do_mmap", "mmap_region", "sys_munmap", "do_munmap",
           "get_unmapped_area", "mm_alloc", "arch_pick_mmap_layout", "dup_mmap", "exit_mmap", "mmput",
           "calc_vm_prot_bits", "calc_vm_flag_bits", "accountable_mapping", "round_hint_to_min",
           "LEGACY_MAP_MASK", "MAP_DROPPABLE", "MAP_UNINITIALIZED", "RLIMIT_MEMLOCK_DEFAULT", "S_APPEND"]

ULONG_MAX = (1 << 64) - 1
MAP_DROPPABLE = 0x08
MAP_UNINITIALIZED = 0x4000000
MAP_HUGE_SHIFT = 26
MAP_HUGE_MASK = 0x3F
LEGACY_MAP_MASK = (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE
                   | MAP_UNINITIALIZED | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE
                   | MAP_NONBLOCK | MAP_STACK | MAP_HUGETLB | MAP_32BIT | MAP_ABOVE4G
                   | (21 << MAP_HUGE_SHIFT) | (30 << MAP_HUGE_SHIFT))
RLIMIT_MEMLOCK_DEFAULT = 8 << 20      # MLOCK_LIMIT since v5.16
S_APPEND = 0x4                        # inode->i_flags: append-only (chattr +a), IS_APPEND()
MAX_LFS_FILESIZE = (1 << 63) - 1


def calc_vm_prot_bits(prot: int, pkey: int = 0) -> int:
    """calc_vm_prot_bits(): PROT_* -> VM_READ/VM_WRITE/VM_EXEC; other bits are ignored.

    Linux: include/linux/mman.h
    """
    return ((VM_READ if prot & PROT_READ else 0) | (VM_WRITE if prot & PROT_WRITE else 0)
            | (VM_EXEC if prot & PROT_EXEC else 0))


def calc_vm_flag_bits(file: File | None, flags: int) -> int:
    """calc_vm_flag_bits(): MAP_GROWSDOWN, MAP_LOCKED, MAP_SYNC and (with THP) MAP_STACK -> VM_NOHUGEPAGE.

    Linux: include/linux/mman.h
    """
    return ((VM_GROWSDOWN if flags & MAP_GROWSDOWN else 0) | (VM_LOCKED if flags & MAP_LOCKED else 0)
            | (VM_SYNC if flags & MAP_SYNC else 0) | (VM_NOHUGEPAGE if flags & MAP_STACK else 0))


def round_hint_to_min(mm: MmStruct, hint: int) -> int:
    """round_hint_to_min(): a non-NULL hint below mmap_min_addr becomes mmap_min_addr.

    Example: on the reference host (mmap_min_addr 65536) hint 0x1000 becomes 0x10000, hint 0x500 becomes
    NULL (it rounds down to 0 first).

    Linux: mm/mmap.c:round_hint_to_min()
    """
    hint &= ~0xFFF
    if hint and hint < mmap_min_addr(mm):
        return PAGE_ALIGN(mmap_min_addr(mm))
    return hint


def accountable_mapping(file: File | None, vm_flags: int) -> bool:
    """accountable_mapping(): private writable mappings are charged to overcommit (VM_ACCOUNT).

    Linux: mm/vma.c:accountable_mapping()
    """
    return (vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) == VM_WRITE


def _file_mmap_ok(file: File, inode: Inode, pgoff: int, length: int) -> bool:
    """file_mmap_ok(): the mapped range fits the file's maximum offset. Linux: mm/mmap.c"""
    fmt = inode.i_mode & S.S_IFMT
    if fmt in (S.S_IFREG, S.S_IFBLK, S.S_IFSOCK):
        maxsize = MAX_LFS_FILESIZE
    else:
        maxsize = ULONG_MAX
    if length > maxsize:
        return False
    maxsize -= length
    return pgoff <= maxsize >> PAGE_SHIFT


def _path_noexec(file: File) -> bool:
    """path_noexec(): the file's mount is noexec. Linux: fs/exec.c"""
    return bool(file.f_path.mnt.mnt_flags & MNT_NOEXEC)


def _rlimit_memlock(current: Task) -> int:
    return getattr(current, "rlimit_memlock", RLIMIT_MEMLOCK_DEFAULT)


def _mlock_future_ok(current: Task, mm: MmStruct, vm_flags: int, nbytes: int) -> bool:
    """mlock_future_ok(): a VM_LOCKED mapping stays within RLIMIT_MEMLOCK unless CAP_IPC_LOCK. Linux: mm/mmap.c"""
    if not vm_flags & VM_LOCKED:
        return True
    if capable(current, CAP_IPC_LOCK):
        return True
    return (nbytes >> PAGE_SHIFT) + mm.locked_vm <= _rlimit_memlock(current) >> PAGE_SHIFT


def do_mmap(current: Task, file: File | None, addr: int, length: int, prot: int, flags: int, vm_flags: int,
            pgoff: int) -> int:
    """do_mmap(): validate a mapping request and place it; returns the address.

    Simplification: no READ_IMPLIES_EXEC personality, no memory protection keys, MAP_POPULATE populates
    nothing (there are no pages), and overcommit never refuses.

    Raises:
        KernelError(EINVAL): zero length; unaligned MAP_FIXED address; bad map type; MAP_GROWSDOWN on a
            file or shared mapping; MAP_DROPPABLE with MAP_LOCKED/MAP_HUGETLB.
        KernelError(ENOMEM): the length wraps or exceeds TASK_SIZE; map_count > vm.max_map_count; no room.
        KernelError(EOVERFLOW): the page offset wraps or passes the file's maximum size.
        KernelError(EPERM): below vm.mmap_min_addr without CAP_SYS_RAWIO; PROT_EXEC on a noexec mount.
        KernelError(EEXIST): MAP_FIXED_NOREPLACE over an existing mapping.
        KernelError(EAGAIN): MAP_LOCKED past RLIMIT_MEMLOCK.
        KernelError(EOPNOTSUPP): MAP_SHARED_VALIDATE with a flag the file does not support.
        KernelError(EACCES): file not open for reading; shared writable without FMODE_WRITE; shared
            mapping of an append-only inode open for writing.
        KernelError(ENODEV): the file has no ->mmap.

    Linux: mm/mmap.c:do_mmap()
    """
    mm = current.mm
    assert mm is not None, "do_mmap without an mm"
    if not length:
        raise KernelError(E.EINVAL)
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr = round_hint_to_min(mm, addr)
    length = PAGE_ALIGN(length)
    if not length:
        raise KernelError(E.ENOMEM)
    if pgoff + (length >> PAGE_SHIFT) > ULONG_MAX:
        raise KernelError(E.EOVERFLOW)
    if mm.map_count > mm.kernel.sysctl["vm.max_map_count"]:
        raise KernelError(E.ENOMEM, "mmap: map_count above vm.max_map_count")
    vm_flags |= (calc_vm_prot_bits(prot) | calc_vm_flag_bits(file, flags) | mm.def_flags
                 | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC)
    addr = get_unmapped_area(current, file, addr, length, pgoff, flags, vm_flags)
    if flags & MAP_FIXED_NOREPLACE and find_vma_intersection(mm, addr, addr + length) is not None:
        raise KernelError(E.EEXIST)
    if not _mlock_future_ok(current, mm, vm_flags, length):
        raise KernelError(E.EAGAIN)
    if file is not None:
        inode = file.f_inode
        if not _file_mmap_ok(file, inode, pgoff, length):
            raise KernelError(E.EOVERFLOW)
        flags_mask = LEGACY_MAP_MASK
        maptype = flags & MAP_TYPE
        if maptype in (MAP_SHARED, MAP_SHARED_VALIDATE):
            if maptype == MAP_SHARED:
                flags &= LEGACY_MAP_MASK
            if flags & ~flags_mask:
                raise KernelError(E.EOPNOTSUPP)
            if prot & PROT_WRITE and not file.f_mode & FMODE_WRITE:
                raise KernelError(E.EACCES, "MAP_SHARED|PROT_WRITE of a file not open for writing")
            if inode.i_flags & S_APPEND and file.f_mode & FMODE_WRITE:
                raise KernelError(E.EACCES, "shared mapping of an append-only inode")
            vm_flags |= VM_SHARED | VM_MAYSHARE
            if not file.f_mode & FMODE_WRITE:
                vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
        if maptype not in (MAP_SHARED, MAP_SHARED_VALIDATE, MAP_PRIVATE):
            raise KernelError(E.EINVAL)
        if not file.f_mode & FMODE_READ:
            raise KernelError(E.EACCES, "mmap of a file not open for reading")
        if _path_noexec(file):
            if vm_flags & VM_EXEC:
                raise KernelError(E.EPERM)
            vm_flags &= ~VM_MAYEXEC
        if file.f_op.mmap is None:
            raise KernelError(E.ENODEV)
        if vm_flags & (VM_GROWSDOWN | VM_GROWSUP):
            raise KernelError(E.EINVAL)
    else:
        maptype = flags & MAP_TYPE
        if maptype == MAP_SHARED:
            if vm_flags & (VM_GROWSDOWN | VM_GROWSUP):
                raise KernelError(E.EINVAL)
            pgoff = 0
            vm_flags |= VM_SHARED | VM_MAYSHARE
        elif maptype in (MAP_DROPPABLE, MAP_PRIVATE):
            if maptype == MAP_DROPPABLE:
                if flags & (MAP_LOCKED | MAP_HUGETLB) or vm_flags & (VM_GROWSDOWN | VM_GROWSUP):
                    raise KernelError(E.EINVAL)
                vm_flags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP
            pgoff = addr >> PAGE_SHIFT
        else:
            raise KernelError(E.EINVAL)
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE     # vm.overcommit_memory != OVERCOMMIT_NEVER
    return mmap_region(current, file, addr, length, vm_flags, pgoff)


def mmap_region(current: Task, file: File | None, addr: int, length: int, vm_flags: int, pgoff: int) -> int:
    """mmap_region()/__mmap_region(): replace what is in [addr, addr + len), merge or create the VMA.

    Raises:
        KernelError(EPERM): a shared writable mapping of a file whose writable mappings are denied.
        KernelError(ENOMEM): splitting a VMA in three at vm.max_map_count.
        KernelError: whatever the file's ->mmap raises (the old mappings stay, split).

    Linux: mm/vma.c:mmap_region(), __mmap_region()
    """
    mm = current.mm
    assert mm is not None
    writable = file is not None and (vm_flags & (VM_SHARED | VM_MAYWRITE)) == (VM_SHARED | VM_MAYWRITE)
    if writable:
        assert file is not None
        if file.f_inode.i_mmap_writable < 0:
            raise KernelError(E.EPERM, "mapping_map_writable: writable mappings are sealed")
    end = addr + length
    vms = None
    first = find_vma_intersection(mm, addr, end)
    if first is not None:
        vms = vms_gather_munmap_vmas(mm, first, addr, end)
        prev, nxt = vms.prev, vms.next
    else:
        nxt = find_vma(mm, addr)
        prev = vma_prev(mm, nxt) if nxt is not None else mm.mm_rb.last()
    if accountable_mapping(file, vm_flags):
        vm_flags |= VM_ACCOUNT
    if vms is not None:
        vms_clean_up_area(vms)
    vma = None
    if prev is not None or nxt is not None:
        vma = vma_merge_new_range(VmaMergeStruct(mm=mm, prev=prev, next=nxt, vma=None, start=addr, end=end,
                                                 pgoff=pgoff, flags=vm_flags, file=file))
    if vma is None:
        try:
            vma = _mmap_new_vma(current, mm, file, addr, end, vm_flags, pgoff)
        except KernelError:
            if vms is not None:
                vms_abort_munmap_vmas(vms)
            raise
        if vma.vm_flags != vm_flags and not vma.vm_flags & VM_SPECIAL:
            merged = vma_merge_existing_range(VmaMergeStruct.for_vma(vma, prev, addr, end))
            if merged is not None:
                vma = merged
    if vms is not None:
        vms_complete_munmap_vmas(vms)
    vm_stat_account(mm, vma.vm_flags, length >> PAGE_SHIFT)
    if vma.vm_flags & VM_LOCKED:
        if vma.vm_flags & VM_SPECIAL:
            vma.vm_flags &= ~VM_LOCKED_MASK
        else:
            mm.locked_vm += length >> PAGE_SHIFT
    return addr


def _mmap_new_vma(current: Task, mm: MmStruct, file: File | None, addr: int, end: int, vm_flags: int,
                  pgoff: int) -> VmAreaStruct:
    """__mmap_new_vma(): allocate, let the file (or shmem for shared anonymous) set it up, insert.

    Raises:
        KernelError(ENOMEM): vm_area_alloc() failed (fail-nth "alloc"); the caller aborts the munmap it
            prepared (vms_abort_munmap_vmas(): a MAP_FIXED over mappings whose ->close already ran leaves a
            gap, as in Linux; over an empty range nothing changes).
        Whatever the file's ->mmap raises.

    Linux: mm/vma.c:__mmap_new_vma(), __mmap_new_file_vma()
    """
    if current.fail_nth and should_fail(current, "alloc", "vm_area_alloc"):
        raise KernelError(E.ENOMEM, "vm_area_alloc(): no memory for the VMA (fail-nth)")
    vma = vm_area_alloc(mm)
    vma.vm_start, vma.vm_end, vma.vm_flags, vma.vm_pgoff = addr, end, vm_flags, pgoff
    if file is not None:
        vma.vm_file = get_file(file)
        try:
            file.f_op.mmap(current, file, vma)
        except KernelError:
            fput(vma.vm_file)
            vma.vm_file = None
            raise
        assert vma.vm_start == addr, "drivers cannot move a VMA"
    elif vm_flags & VM_SHARED:
        from simkernel.fs.shmem import shmem_zero_setup
        shmem_zero_setup(vma, current)
    else:
        vma_set_anonymous(vma)
    vma_link(mm, vma)
    return vma


def vm_mmap_pgoff(current: Task, file: File | None, addr: int, length: int, prot: int, flags: int,
                  pgoff: int) -> int:
    """vm_mmap_pgoff(): security_mmap_file, take mmap_lock (killable), do_mmap. Linux: mm/util.c

    Raises:
        KernelError(EINTR): a fatal signal is pending while taking mmap_lock.
    """
    mm = current.mm
    assert mm is not None
    mm.mmap_lock.down_write_killable(current)
    try:
        return do_mmap(current, file, addr, length, prot, flags, 0, pgoff)
    finally:
        mm.mmap_lock.up_write(current)


def ksys_mmap_pgoff(current: Task, addr: int, length: int, prot: int, flags: int, fd: int, offset: int) -> int:
    """mmap(2) on x86-64: offset in bytes, which must be page-aligned; the fd is ignored with MAP_ANONYMOUS.

    Raises:
        KernelError(EINVAL): unaligned offset (checked first); MAP_HUGETLB with a non-hugetlbfs file or an
            unknown huge page size; and everything do_mmap raises.
        KernelError(EBADF): no file at fd without MAP_ANONYMOUS.
        KernelError(ENOMEM): MAP_HUGETLB|MAP_ANONYMOUS (no huge pages are reserved).

    Linux: arch/x86/kernel/sys_x86_64.c:SYSCALL_DEFINE6(mmap), mm/mmap.c:ksys_mmap_pgoff()
    """
    addr &= ULONG_MAX
    length &= ULONG_MAX
    offset &= ULONG_MAX
    flags &= ULONG_MAX
    if offset & 0xFFF:
        raise KernelError(E.EINVAL)
    pgoff = offset >> PAGE_SHIFT
    file = None
    if not flags & MAP_ANONYMOUS:
        file = current.files.fget(fd) if fd >= 0 else None
        if file is None or file.f_mode & FMODE_PATH:
            raise KernelError(E.EBADF)
        if flags & MAP_HUGETLB:
            raise KernelError(E.EINVAL)     # no hugetlbfs in the model: never is_file_hugepages()
        get_file(file)
    elif flags & MAP_HUGETLB:
        if (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK not in (0, 21, 30):
            raise KernelError(E.EINVAL)
        raise KernelError(E.ENOMEM, "Simplification: no huge pages are reserved (vm.nr_hugepages = 0)")
    try:
        return vm_mmap_pgoff(current, file, addr, length, prot, flags, pgoff)
    finally:
        if file is not None:
            fput(file)


def do_munmap(mm: MmStruct, start: int, length: int) -> None:
    """do_munmap(): unmap [start, start + len). Linux: mm/mmap.c:do_munmap()"""
    do_vmi_munmap(mm, start, length)


def sys_munmap(current: Task, addr: int, length: int) -> None:
    """munmap(2).

    Raises:
        KernelError(EINVAL): unaligned addr, zero length, or the range passes TASK_SIZE.
        KernelError(ENOMEM): splitting a VMA in three at vm.max_map_count.
        KernelError(EINTR): a fatal signal is pending.

    Linux: mm/mmap.c:SYSCALL_DEFINE2(munmap), __vm_munmap()
    """
    mm = current.mm
    assert mm is not None
    mm.mmap_lock.down_write_killable(current)
    try:
        do_vmi_munmap(mm, addr & ULONG_MAX, length & ULONG_MAX)
    finally:
        mm.mmap_lock.up_write(current)


# -- the life of an mm ------------------------------------------------------------------------------

def mm_alloc(kernel: Kernel, user_ns: UserNamespace) -> MmStruct:
    """mm_alloc(): an empty mm with one user, its layout already picked.

    Simplification: the kernel picks the layout at exec (setup_new_exec); here a fresh mm is usable at
    once, and exec may call arch_pick_mmap_layout() again.

    Linux: kernel/fork.c:mm_alloc()
    """
    mm = MmStruct(kernel=kernel, user_ns=user_ns, mm_id=kernel.next_id("mm"))
    arch_pick_mmap_layout(mm, RLIM_STACK_DEFAULT)
    if kernel.ref_tracker is not None:
        kernel.ref_tracker.alloc(mm, "mm")
    return mm


def dup_mmap(mm: MmStruct, oldmm: MmStruct) -> None:
    """dup_mmap(): copy the parent's VMAs into the child's empty mm for fork.

    VM_DONTCOPY VMAs are skipped; VM_WIPEONFORK VMAs start without an anon_vma; VM_LOCKED is not
    inherited; each file mapping takes a file reference.  The layout fields that dup_mm()'s memcpy would
    copy (mmap_base, brk, stack start, counters) are copied too; exe_file is dup_mm()'s business
    (simkernel/kernel/fork.py takes its reference).

    Linux: mm/mmap.c:dup_mmap(), kernel/fork.c:dup_mm()
    """
    assert not len(mm.mm_rb), "dup_mmap into a non-empty mm"
    for name in ("mmap_base", "mmap_legacy_base", "topdown", "task_size", "start_brk", "brk", "start_stack",
                 "def_flags", "total_vm", "data_vm", "exec_vm", "stack_vm", "hiwater_vm", "dumpable"):
        setattr(mm, name, getattr(oldmm, name))
    for mpnt in oldmm:
        if mpnt.vm_flags & VM_DONTCOPY:
            vm_stat_account(mm, mpnt.vm_flags, -((mpnt.vm_end - mpnt.vm_start) >> PAGE_SHIFT))
            continue
        tmp = vm_area_dup(mpnt)
        if tmp.vm_flags & VM_WIPEONFORK:
            tmp.anon_vma = None
        elif mpnt.anon_vma is not None:
            tmp.anon_vma = AnonVma(anon_vma_id=mm.kernel.next_id("anon_vma"), degree=2)   # anon_vma_fork()
        tmp.vm_flags &= ~VM_LOCKED_MASK
        if tmp.vm_file is not None:
            get_file(tmp.vm_file)
        fn = getattr(tmp.vm_ops, "open", None)
        if fn is not None:
            fn(tmp)
        vma_link(mm, tmp)


def exit_mmap(mm: MmStruct) -> None:
    """exit_mmap(): tear down every VMA (->close, drop file references). Linux: mm/mmap.c:exit_mmap()"""
    for vma in list(mm.mm_rb):
        vma_iter_remove(mm, vma)
        if vma.vm_file is not None and vma_is_shared_maywrite(vma):
            vma.vm_file.f_inode.i_mmap_writable -= 1
        remove_vma(vma)
    mm.total_vm = mm.data_vm = mm.exec_vm = mm.stack_vm = mm.locked_vm = 0


def mmput(mm: MmStruct) -> None:
    """mmput(): drop one mm_users reference; the last one unmaps everything and drops exe_file.

    Linux: kernel/fork.c:mmput(), __mmput()
    """
    rt = mm.kernel.ref_tracker
    if rt is not None and not rt.put(mm, "mm"):
        return
    assert mm.mm_users > 0, "mmput of a dead mm"
    mm.mm_users -= 1
    if mm.mm_users:
        return
    exit_mmap(mm)
    if mm.exe_file is not None:
        exe, mm.exe_file = mm.exe_file, None
        fput(exe)
    mmdrop(mm)


def mmgrab(mm: MmStruct) -> None:
    """mmgrab(): pin the struct mm_struct itself (mm_count), not its mappings. Linux: include/linux/sched/mm.h"""
    mm.mm_count += 1


def mmdrop(mm: MmStruct) -> None:
    """mmdrop(): drop an mm_count reference (the last one would free the struct: nothing to free here).

    Linux: include/linux/sched/mm.h:mmdrop(), kernel/fork.c:__mmdrop()
    """
    assert mm.mm_count > 0, "mmdrop of a freed mm"
    mm.mm_count -= 1

