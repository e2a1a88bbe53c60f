"""/dev/zero and /dev/null: the memory character devices (major 1).

/dev/zero reads zeros, swallows writes, and maps: a shared mapping becomes shmem (shmem_zero_setup, so
readlink shows "/dev/zero (deleted)"); a private mapping becomes anonymous memory whose vm_file stays the
/dev/zero file (readlink shows "/dev/zero"), and keeps the file offset as its page offset.  Verified on
Linux 6.18.44, where adjacent private /dev/zero mappings of the same open file with contiguous offsets
merge.

Linux: drivers/char/mem.c (read_zero, write_null/write_zero, null_lseek, mmap_zero,
get_unmapped_area_zero, chr_dev_init)
"""

from __future__ import annotations

from typing import TYPE_CHECKING


from simkernel.fs.file import FileOperations
from simkernel.fs.super import MKDEV
from simkernel.mm.mm_types import VM_SHARED
from simkernel.uapi.mman import MAP_SHARED

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel
    from simkernel.mm.mm_types import VmAreaStruct

__all__ = ["zero_fops", "null_fops", "read_zero", "write_null", "null_lseek", "mmap_zero",
           "get_unmapped_area_zero", "chr_dev_register", "MEM_MAJOR", "DEVNULL_MINOR", "DEVZERO_MINOR"]

MEM_MAJOR = 1
DEVNULL_MINOR = 3
DEVZERO_MINOR = 5


def read_zero(current: Task, file: File, count: int, pos: int) -> bytes:
    """read_zero(): `count` zero bytes. Linux: drivers/char/mem.c"""
    return bytes(max(0, count))


def read_null(current: Task, file: File, count: int, pos: int) -> bytes:
    """read_null(): end of file. Linux: drivers/char/mem.c"""
    return b""


def write_null(current: Task, file: File, data: bytes, pos: int) -> int:
    """write_null()/write_zero(): everything is written. Linux: drivers/char/mem.c"""
    return len(data)


def null_lseek(current: Task, file: File, offset: int, whence: int) -> int:
    """null_lseek(): the position is always 0. Linux: drivers/char/mem.c"""
    file.f_pos = 0
    return 0


def mmap_zero(current: Task, file: File, vma: VmAreaStruct) -> None:
    """mmap_zero(): shared -> shmem_zero_setup(); private -> anonymous (vm_file kept). Linux: drivers/char/mem.c"""
    from simkernel.fs.shmem import shmem_zero_setup
    from simkernel.mm.vma import vma_set_anonymous
    if vma.vm_flags & VM_SHARED:
        shmem_zero_setup(vma, current)
        return
    vma_set_anonymous(vma)


def get_unmapped_area_zero(current: Task, file: File, addr: int, length: int, pgoff: int, flags: int) -> int:
    """get_unmapped_area_zero(): shared goes through shmem (the plain allocator), private is THP-aligned.

    Linux: drivers/char/mem.c:get_unmapped_area_zero()
    """
    from simkernel.mm.unmapped_area import mm_get_unmapped_area, thp_get_unmapped_area
    if flags & MAP_SHARED:
        assert current.mm is not None
        return mm_get_unmapped_area(current.mm, None, addr, length, pgoff, flags)
    return thp_get_unmapped_area(current, file, addr, length, pgoff, flags)


zero_fops = FileOperations(read=read_zero, write=write_null, llseek=null_lseek, mmap=mmap_zero,
                              get_unmapped_area=get_unmapped_area_zero)
null_fops = FileOperations(read=read_null, write=write_null, llseek=null_lseek)


def chr_dev_register(kernel: Kernel) -> None:
    """chr_dev_init(): register /dev/null (1, 3) and /dev/zero (1, 5) in kernel.devices.

    Linux: drivers/char/mem.c:chr_dev_init()
    """
    kernel.devices[MKDEV(MEM_MAJOR, DEVNULL_MINOR)] = null_fops
    kernel.devices[MKDEV(MEM_MAJOR, DEVZERO_MINOR)] = zero_fops
