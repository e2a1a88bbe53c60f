"""shmem: the kernel's internal tmpfs mount and the unlinked files it hands out.

`shmem_init` creates the internal tmpfs superblock and mount (`kernel.shm_mnt`).  Files made by
`shmem_file_setup` (memfd) and `shmem_zero_setup` (MAP_SHARED|MAP_ANONYMOUS and shared /dev/zero) live on
it: mode S_IFREG|0777, owned by the caller's fsuid/fsgid, link count 0, and a pseudo dentry that no
directory holds, so the path printer shows "/memfd:NAME (deleted)" or "/dev/zero (deleted)".  On the
reference host the internal mount is device 0:1 and its inodes are numbered per superblock.  Their data is
tmpfs's page cache, shared with the root fs (simkernel/fs/ramfs.py): pages exist only where written, so
SEEK_DATA/SEEK_HOLE and st_blocks see them, and truncation frees them (compared with the host's memfd).

Linux: mm/shmem.c (shmem_init, shmem_get_inode, __shmem_file_setup, shmem_zero_setup, shmem_mmap,
shmem_file_read_iter, shmem_file_write_iter, shmem_file_llseek)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define

from simkernel.errors import KernelError
from simkernel.fs.file import FileOperations
from simkernel.fs.ramfs import RamfsFileInfo, generic_file_read, generic_file_write, ramfs_setattr, shmem_file_llseek
from simkernel.fs.inode import Inode, InodeOperations, S_PRIVATE
from simkernel.fs.super import MKDEV, FileSystemType, SuperBlock
from simkernel.mm.mm_types import VmOperationsStruct
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel
    from simkernel.mm.mm_types import VmAreaStruct

__all__ = ["shmem_init", "shmem_get_inode", "shmem_file_setup", "shmem_kernel_file_setup", "shmem_zero_setup",
           "shmem_file_operations", "shmem_vm_ops", "shmem_anon_vm_ops", "ShmemInodeInfo", "SHMEM_FS_TYPE",
           "TMPFS_MAGIC", "F_SEAL_SEAL", "F_SEAL_SHRINK", "F_SEAL_GROW", "F_SEAL_WRITE", "F_SEAL_FUTURE_WRITE",
           "F_SEAL_EXEC", "shmem_file_read", "shmem_file_write", "shmem_file_llseek", "shmem_mmap"]

TMPFS_MAGIC = 0x01021994
MAX_LFS_FILESIZE = (1 << 63) - 1
SHM_DEV = MKDEV(0, 1)        # the first anonymous device: shmem_init runs before any other kernel mount

F_SEAL_SEAL = 0x0001
F_SEAL_SHRINK = 0x0002
F_SEAL_GROW = 0x0004
F_SEAL_WRITE = 0x0008
F_SEAL_FUTURE_WRITE = 0x0010
F_SEAL_EXEC = 0x0020


@define(eq=False)
class ShmemInodeInfo(RamfsFileInfo):
    """struct shmem_inode_info: the page cache (`pages`, as every tmpfs file of simkernel/fs/ramfs.py keeps it)
    and what the model keeps beyond struct inode (memfd seals). Linux: include/linux/shmem_fs.h"""

    seals: int = F_SEAL_SEAL
    flags: int = 0           # VM_NORESERVE etc., as given to shmem_file_setup


SHMEM_FS_TYPE = FileSystemType(name="tmpfs")
shmem_vm_ops = VmOperationsStruct(name="shmem_vm_ops")
shmem_anon_vm_ops = VmOperationsStruct(name="shmem_anon_vm_ops")


# The internal mount's files are tmpfs files: the same page cache, read/write/llseek (SEEK_DATA/SEEK_HOLE over
# the pages written) and truncation as the root fs's (simkernel/fs/ramfs.py), under mm/shmem.c's names.
shmem_file_read = generic_file_read
shmem_file_write = generic_file_write


def shmem_mmap(current: Task, file: File, vma: VmAreaStruct) -> None:
    """shmem_mmap(): memfd write seals forbid shared writable mappings; then shmem's vm_ops.

    Raises:
        KernelError(EPERM): F_SEAL_WRITE or F_SEAL_FUTURE_WRITE on a shared writable mapping.

    Linux: mm/shmem.c:shmem_mmap(), mm/memfd.c:memfd_check_seals_mmap()
    """
    from simkernel.mm.mm_types import VM_MAYWRITE, VM_SHARED, VM_WRITE
    info = file.f_inode.i_private
    seals = info.seals if isinstance(info, ShmemInodeInfo) else 0
    if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE):
        if vma.vm_flags & VM_SHARED and vma.vm_flags & VM_WRITE:
            raise KernelError(E.EPERM)
        if vma.vm_flags & VM_SHARED:
            vma.vm_flags &= ~VM_MAYWRITE
    vma.vm_ops = shmem_vm_ops


shmem_file_operations = FileOperations(read=shmem_file_read, write=shmem_file_write, llseek=shmem_file_llseek,
                                       mmap=shmem_mmap)
shmem_inode_operations = InodeOperations(setattr=ramfs_setattr)


def shmem_get_inode(sb: SuperBlock, current: Task | None, dir: Inode | None, mode: int, dev: int = 0,
                    flags: int = 0) -> Inode:
    """shmem_get_inode(): a new inode numbered per superblock, owned by current's fsuid/fsgid.

    Linux: mm/shmem.c:__shmem_get_inode()
    """
    from simkernel.fs.inode import inode_init_owner
    k = sb.kernel
    now = k.current_time()
    inode = Inode(i_ino=k.next_id(f"ino@{sb.s_dev}"), i_mode=mode, i_sb=sb, i_atime=now, i_mtime=now,
                  i_ctime=now, i_op=shmem_inode_operations)
    if current is not None:
        inode_init_owner(current, inode, dir, mode)
    inode.i_private = ShmemInodeInfo(flags=flags)
    if S.S_ISREG(mode):
        inode.i_fop = shmem_file_operations
    elif S.S_ISDIR(mode):
        inode.i_nlink = 2
    return inode


def shmem_init(kernel: Kernel) -> None:
    """shmem_init(): the internal tmpfs superblock and its kernel mount, kernel.shm_mnt.

    Linux: mm/shmem.c:shmem_init()
    """
    from simkernel.fs.dcache import d_make_root
    from simkernel.fs.namespace import kern_mount
    sb = SuperBlock(s_dev=SHM_DEV, s_type=SHMEM_FS_TYPE, kernel=kernel, s_id="tmpfs",
                    s_user_ns=kernel.init_user_ns, s_magic=TMPFS_MAGIC)
    root = shmem_get_inode(sb, None, None, S.S_IFDIR | S.S_ISVTX | 0o777)
    sb.s_root = d_make_root(sb, root)
    kernel.shm_mnt = kern_mount(kernel, sb)


def __shmem_file_setup(kernel: Kernel, name: str, size: int, flags: int, i_flags: int,
                       current: Task | None) -> File:
    """__shmem_file_setup(): an unlinked regular file of `size` bytes on shm_mnt, open O_RDWR.

    Raises:
        KernelError(EINVAL): size < 0 or > MAX_LFS_FILESIZE.

    Linux: mm/shmem.c:__shmem_file_setup()
    """
    from simkernel.fs.file_table import alloc_file_pseudo
    mnt = kernel.shm_mnt
    assert mnt is not None, "shmem_init() has not run"
    if size < 0 or size > MAX_LFS_FILESIZE:
        raise KernelError(E.EINVAL)
    inode = shmem_get_inode(mnt.mnt_sb, current, None, S.S_IFREG | S.S_IRWXUGO, 0, flags)
    inode.i_flags |= i_flags
    inode.i_size = size          # pages read as zeros until written (a hole costs nothing)
    inode.i_nlink = 0            # clear_nlink(): it is unlinked
    return alloc_file_pseudo(inode, mnt, name, F.O_RDWR, shmem_file_operations)


def shmem_file_setup(kernel: Kernel, name: str, size: int, flags: int, current: Task | None = None) -> File:
    """shmem_file_setup(): an unlinked tmpfs file (memfd, SysV shm). `current` owns the inode.

    Linux: mm/shmem.c:shmem_file_setup()
    """
    return __shmem_file_setup(kernel, name, size, flags, 0, current)


def shmem_kernel_file_setup(kernel: Kernel, name: str, size: int, flags: int,
                            current: Task | None = None) -> File:
    """shmem_kernel_file_setup(): the same, marked S_PRIVATE (no LSM checks). Linux: mm/shmem.c"""
    return __shmem_file_setup(kernel, name, size, flags, S_PRIVATE, current)


def shmem_zero_setup(vma: VmAreaStruct, current: Task | None = None) -> None:
    """shmem_zero_setup(): back a shared anonymous mapping by a new "dev/zero" shmem file.

    Any file the VMA had (/dev/zero) is released; readlink of the mapping then gives
    "/dev/zero (deleted)" and each such mapping has its own inode.

    Linux: mm/shmem.c:shmem_zero_setup()
    """
    from simkernel.fs.file_table import fput
    mm = vma.vm_mm
    assert mm is not None
    file = shmem_kernel_file_setup(mm.kernel, "dev/zero", vma.vm_end - vma.vm_start, vma.vm_flags, current)
    if vma.vm_file is not None:
        fput(vma.vm_file)
    vma.vm_file = file
    vma.vm_ops = shmem_anon_vm_ops

