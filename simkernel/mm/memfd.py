"""memfd_create(2): an anonymous shmem file, named "memfd:NAME", returned as a descriptor.

readlink of the descriptor (or of a mapping of it) gives "/memfd:NAME (deleted)"; the inode is
S_IFREG|0777 (0666 with MFD_NOEXEC_SEAL), owned by the caller's fsuid/fsgid, with no links.
Verified on Linux 6.18.44: a 249-byte name works, 250 is EINVAL; unknown flags and MFD_EXEC together with
MFD_NOEXEC_SEAL are EINVAL; the file is open O_RDWR|O_LARGEFILE.

Linux: mm/memfd.c (memfd_create, sanitize_flags, alloc_name, alloc_file)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.fs.file import FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE
from simkernel.mm.mm_types import VM_NORESERVE
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi.mman import MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, MFD_HUGETLB, MFD_NOEXEC_SEAL

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["sys_memfd_create", "MFD_NAME_PREFIX", "MFD_NAME_MAX_LEN", "MFD_ALL_FLAGS", "MFD_HUGE_SHIFT",
           "MFD_HUGE_MASK", "MEMFD_NOEXEC_SCOPE_EXEC", "MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL",
           "MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED"]

NAME_MAX = 255
MFD_NAME_PREFIX = "memfd:"
MFD_NAME_MAX_LEN = NAME_MAX - len(MFD_NAME_PREFIX)       # 249
MFD_ALL_FLAGS = MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC
MFD_HUGE_SHIFT = 26
MFD_HUGE_MASK = 0x3F
MEMFD_NOEXEC_SCOPE_EXEC = 0
MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL = 1
MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED = 2


def _sanitize_flags(current: Task, flags: int) -> int:
    """sanitize_flags() + check_sysctl_memfd_noexec(): validate, and default to MFD_EXEC or MFD_NOEXEC_SEAL.

    Simplification: vm.memfd_noexec is one value for the kernel (Linux keeps it per pid namespace).

    Linux: mm/memfd.c:sanitize_flags()
    """
    allowed = MFD_ALL_FLAGS | ((MFD_HUGE_MASK << MFD_HUGE_SHIFT) if flags & MFD_HUGETLB else 0)
    if flags & ~allowed:
        raise KernelError(E.EINVAL)
    if flags & MFD_EXEC and flags & MFD_NOEXEC_SEAL:
        raise KernelError(E.EINVAL)
    scope = current.kernel.sysctl.values.get("vm.memfd_noexec", MEMFD_NOEXEC_SCOPE_EXEC)
    if not flags & (MFD_EXEC | MFD_NOEXEC_SEAL):
        flags |= MFD_NOEXEC_SEAL if scope >= MEMFD_NOEXEC_SCOPE_NOEXEC_SEAL else MFD_EXEC
    if not flags & MFD_NOEXEC_SEAL and scope >= MEMFD_NOEXEC_SCOPE_NOEXEC_ENFORCED:
        raise KernelError(E.EACCES)
    return flags


def _alloc_name(name: str | bytes) -> str:
    """alloc_name(): "memfd:" + the user string up to its NUL, at most 249 bytes.

    Example: "x" * 249 gives "memfd:xxx..."; "x" * 250 is EINVAL.

    Raises:
        KernelError(EINVAL): the name is longer than 249 bytes.

    Linux: mm/memfd.c:alloc_name()
    """
    raw = name if isinstance(name, bytes) else name.encode("utf-8", "surrogateescape")
    raw = raw.split(b"\0", 1)[0]                      # strncpy_from_user stops at the NUL
    if len(raw) > MFD_NAME_MAX_LEN:
        raise KernelError(E.EINVAL)
    return MFD_NAME_PREFIX + raw.decode("utf-8", "surrogateescape")


def sys_memfd_create(current: Task, name: str | bytes, flags: int) -> int:
    """memfd_create(2): returns the new descriptor.

    Simplification: MFD_HUGETLB files are ordinary shmem files (no hugetlbfs in the model; an unknown huge
    page size is ENODEV as on a host without that hstate); the descriptor is allocated after the file,
    so EMFILE still consumes an inode number.

    Raises:
        KernelError(EINVAL): unknown flags, MFD_EXEC with MFD_NOEXEC_SEAL, a name over 249 bytes.
        KernelError(EACCES): vm.memfd_noexec = 2 and no MFD_NOEXEC_SEAL.
        KernelError(ENODEV): MFD_HUGETLB with a huge page size other than 2 MiB or 1 GiB.
        KernelError(EMFILE): no free descriptor.

    Linux: mm/memfd.c:SYSCALL_DEFINE2(memfd_create), alloc_file()
    """
    from simkernel.fs.file_table import fput
    from simkernel.fs.shmem import F_SEAL_EXEC, F_SEAL_SEAL, ShmemInodeInfo, shmem_file_setup
    flags &= 0xFFFFFFFF
    flags = _sanitize_flags(current, flags)
    full = _alloc_name(name)
    if flags & MFD_HUGETLB and (flags >> MFD_HUGE_SHIFT) & MFD_HUGE_MASK not in (0, 21, 30):
        raise KernelError(E.ENODEV)
    file = shmem_file_setup(current.kernel, full, 0, VM_NORESERVE, current)
    inode = file.f_inode
    file.f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
    file.f_flags |= F.O_LARGEFILE
    info = inode.i_private
    assert isinstance(info, ShmemInodeInfo)
    if flags & MFD_NOEXEC_SEAL:
        inode.i_mode &= ~0o111
        info.seals = (info.seals & ~F_SEAL_SEAL) | F_SEAL_EXEC
    elif flags & MFD_ALLOW_SEALING:
        info.seals &= ~F_SEAL_SEAL
    try:
        return current.files.alloc_fd(file, cloexec=bool(flags & MFD_CLOEXEC))
    except KernelError:
        fput(file)
        raise
