"""mmap(2)/munmap(2) and the life of an mm: errno order and placement as Linux 6.18.44 decides them.

Every errno case here was checked on the reference host with raw system calls (see the module docstrings of
simkernel/mm/mmap.py and unmapped_area.py for what the host showed).
"""

from __future__ import annotations

from typing import Any

import pytest

from simkernel.errors import KernelError
from simkernel.fs.file import FileOperations
from simkernel.mm import mmap as M
from simkernel.mm.mm_types import (VM_ACCOUNT, VM_DONTCOPY, VM_DONTDUMP, VM_DROPPABLE, VM_LOCKED, VM_MAYSHARE,
                                   VM_MAYWRITE, VM_NOHUGEPAGE, VM_NORESERVE, VM_SHARED, VM_WIPEONFORK,
                                   AnonVma, VmOperationsStruct)
from simkernel.mm.unmapped_area import RLIM_INFINITY, arch_pick_mmap_layout, mmap_base
from simkernel.mm.vma import find_exact_vma, validate_mm, vma_lookup
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_APPEND, O_CREAT, O_PATH, O_RDONLY, O_RDWR, O_WRONLY
from simkernel.uapi.mman import (MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_GROWSDOWN, MAP_HUGETLB,
                                 MAP_LOCKED, MAP_NORESERVE, MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE,
                                 MAP_STACK, MAP_SYNC, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE)
from tests.helpers import kraises, raises_errno
from tests.mm.mmkit import BASE, PAGE, layout

ANON = MAP_PRIVATE | MAP_ANONYMOUS
FIX = ANON | MAP_FIXED
RW = PROT_READ | PROT_WRITE


def _file(t: Any, path: str = "/tmp/f", flags: int = O_RDWR, size: int = 16 * PAGE) -> int:
    fd = t.sys.open(path, O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, size)
    if flags != O_RDWR:
        t.sys.close(fd)
        fd = t.sys.open(path, flags)
    return fd


# -- ksys_mmap_pgoff / do_mmap: errno ----------------------------------------------------------------

def test_ksys_mmap_pgoff_unaligned_offset_einval_before_ebadf(t: Any) -> None:
    """An unaligned offset is EINVAL even with a bad fd (x86 sys_mmap checks it first)."""
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, 999, 100)


def test_ksys_mmap_pgoff_bad_fd_ebadf_before_zero_length(t: Any) -> None:
    """Without MAP_ANONYMOUS the fd is looked up before the length is checked."""
    with raises_errno(E.EBADF):
        t.sys.mmap(0, 0, PROT_READ, MAP_PRIVATE, 999, 0)
    with raises_errno(E.EBADF):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, -1, 0)


def test_ksys_mmap_pgoff_o_path_fd_ebadf(t: Any) -> None:
    """An O_PATH descriptor is not a file fget() returns: EBADF."""
    fd = t.sys.open("/tmp", O_PATH)
    with raises_errno(E.EBADF):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0)


def test_ksys_mmap_pgoff_anonymous_ignores_fd(t: Any) -> None:
    """MAP_ANONYMOUS ignores the fd argument entirely."""
    assert t.sys.mmap(BASE, PAGE, RW, FIX, 12345, 0) == BASE


def test_do_mmap_zero_length_einval(t: Any) -> None:
    """A zero length is EINVAL."""
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, 0, PROT_READ, ANON)


def test_do_mmap_length_wraps_enomem(t: Any) -> None:
    """A length that PAGE_ALIGNs to 0 or exceeds TASK_SIZE is ENOMEM."""
    for length in ((1 << 64) - 1, (1 << 64) - PAGE, 1 << 48):
        with raises_errno(E.ENOMEM):
            t.sys.mmap(0, length, PROT_READ, ANON)


def test_do_mmap_length_check_before_type(t: Any) -> None:
    """The address search (ENOMEM) runs before the map type is checked (EINVAL)."""
    with raises_errno(E.ENOMEM):
        t.sys.mmap(0, 1 << 48, PROT_READ, MAP_ANONYMOUS)


def test_do_mmap_bad_type_einval(t: Any) -> None:
    """Neither MAP_SHARED nor MAP_PRIVATE, or an unknown type, is EINVAL for files and anonymous memory."""
    fd = _file(t)
    for flags, f in ((MAP_ANONYMOUS, -1), (0, fd), (0xF | MAP_ANONYMOUS, -1), (0xF, fd),
                     (MAP_SHARED_VALIDATE | MAP_ANONYMOUS, -1), (M.MAP_DROPPABLE, fd)):
        with raises_errno(E.EINVAL):
            t.sys.mmap(0, PAGE, PROT_READ, flags, f, 0)


def test_do_mmap_shared_validate_unknown_flag_eopnotsupp(t: Any) -> None:
    """MAP_SHARED_VALIDATE refuses flags outside LEGACY_MAP_MASK; MAP_SHARED silently drops them."""
    fd = _file(t)
    for extra in (0x200000, MAP_SYNC, MAP_FIXED_NOREPLACE):
        with raises_errno(E.EOPNOTSUPP):
            t.sys.mmap(BASE, PAGE, PROT_READ, MAP_SHARED_VALIDATE | extra, fd, 0)
    assert t.sys.mmap(0, PAGE, PROT_READ, MAP_SHARED | 0x200000, fd, 0)
    assert t.sys.mmap(0, PAGE, PROT_READ, MAP_SHARED_VALIDATE | MAP_STACK | M.MAP_UNINITIALIZED, fd, 0)


def test_do_mmap_file_not_readable_eacces(t: Any) -> None:
    """A file opened O_WRONLY cannot be mapped at all."""
    fd = _file(t, flags=O_WRONLY)
    with raises_errno(E.EACCES):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0)


def test_do_mmap_shared_write_readonly_file_eacces(t: Any) -> None:
    """MAP_SHARED|PROT_WRITE needs FMODE_WRITE (before the FMODE_READ check)."""
    ro = _file(t, flags=O_RDONLY)
    wo = _file(t, "/tmp/g", flags=O_WRONLY)
    with raises_errno(E.EACCES):
        t.sys.mmap(0, PAGE, RW, MAP_SHARED, ro, 0)
    with raises_errno(E.EACCES):
        t.sys.mmap(0, PAGE, RW, MAP_SHARED, wo, 0)


def test_do_mmap_shared_readonly_file_is_mayshare_only(t: Any) -> None:
    """A read-only shared mapping keeps VM_MAYSHARE but loses VM_SHARED and VM_MAYWRITE ("r--s")."""
    fd = _file(t, flags=O_RDONLY)
    addr = t.sys.mmap(BASE, PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    vma = vma_lookup(t.mm, addr)
    assert vma.vm_flags & VM_MAYSHARE and not vma.vm_flags & (VM_SHARED | VM_MAYWRITE)
    assert layout(t.mm, BASE, BASE + PAGE)[0][2] == "r--s"


def test_do_mmap_o_append_shared_write_allowed(t: Any) -> None:
    """O_APPEND does not stop a shared writable mapping; only an append-only inode (chattr +a) does."""
    fd = _file(t)
    ap = t.sys.open("/tmp/f", O_RDWR | O_APPEND)
    assert t.sys.mmap(0, PAGE, RW, MAP_SHARED, ap, 0)
    t.files.fget(fd).f_inode.i_flags |= M.S_APPEND
    with raises_errno(E.EACCES):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_SHARED, ap, 0)
    assert t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, ap, 0)


def test_do_mmap_no_mmap_op_enodev(t: Any) -> None:
    """A file without ->mmap (a directory) is ENODEV."""
    fd = t.sys.open("/tmp", O_RDONLY)
    with raises_errno(E.ENODEV):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0)


def test_do_mmap_offset_overflow_eoverflow(t: Any) -> None:
    """An offset past MAX_LFS_FILESIZE is EOVERFLOW, before the file-mode checks."""
    fd = _file(t, flags=O_WRONLY)
    with raises_errno(E.EOVERFLOW):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0x7FFFFFFFFFFFF000)
    with raises_errno(E.EOVERFLOW):
        t.sys.mmap(0, PAGE, PROT_READ, 0, fd, -PAGE)


def test_do_mmap_pgoff_wrap_eoverflow(t: Any) -> None:
    """do_mmap() itself refuses a pgoff + pages that wraps around."""
    with kraises(E.EOVERFLOW):
        M.do_mmap(t, None, 0, 2 * PAGE, PROT_READ, ANON, 0, (1 << 64) - 1)


def test_do_mmap_growsdown_file_or_shared_einval(t: Any) -> None:
    """MAP_GROWSDOWN is only for private anonymous memory."""
    fd = _file(t)
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_GROWSDOWN, fd, 0)
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN)
    assert t.sys.mmap(0, PAGE, PROT_READ, ANON | MAP_GROWSDOWN)


def test_do_mmap_noexec_mount_exec_eperm(t: Any) -> None:
    """On a noexec mount PROT_EXEC is EPERM and VM_MAYEXEC is cleared otherwise."""
    t.sys.mkdir("/mnt", 0o755)
    t.sys.mount("tmpfs", "/mnt", "tmpfs", 8)  # MS_NOEXEC
    fd = _file(t, "/mnt/f")
    with raises_errno(E.EPERM):
        t.sys.mmap(0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0)
    addr = t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE, fd, 0)
    with raises_errno(E.EACCES):
        t.sys.mprotect(addr, PAGE, PROT_READ | PROT_EXEC)


def test_do_mmap_hugetlb(t: Any) -> None:
    """MAP_HUGETLB: EINVAL with a regular file or an unknown size, ENOMEM anonymous (no huge pages)."""
    fd = _file(t)
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, 2 << 20, PROT_READ, MAP_PRIVATE | MAP_HUGETLB, fd, 0)
    with raises_errno(E.EINVAL):
        t.sys.mmap(0, 2 << 20, PROT_READ, ANON | MAP_HUGETLB | (22 << 26))
    with raises_errno(E.ENOMEM):
        t.sys.mmap(0, 2 << 20, PROT_READ, ANON | MAP_HUGETLB)


def test_do_mmap_droppable(t: Any) -> None:
    """MAP_DROPPABLE anonymous memory is VM_DROPPABLE|VM_NORESERVE|VM_WIPEONFORK|VM_DONTDUMP; not locked."""
    addr = t.sys.mmap(0, PAGE, RW, M.MAP_DROPPABLE | MAP_ANONYMOUS)
    flags = vma_lookup(t.mm, addr).vm_flags
    assert flags & VM_DROPPABLE and flags & VM_NORESERVE and flags & VM_WIPEONFORK and flags & VM_DONTDUMP
    assert not flags & VM_ACCOUNT
    for extra in (MAP_LOCKED, MAP_GROWSDOWN):
        with raises_errno(E.EINVAL):
            t.sys.mmap(0, PAGE, RW, M.MAP_DROPPABLE | MAP_ANONYMOUS | extra)


def test_do_mmap_locked_rlimit_eagain(user: Any, t: Any) -> None:
    """MAP_LOCKED past RLIMIT_MEMLOCK (8 MiB) is EAGAIN without CAP_IPC_LOCK; locked_vm counts up."""
    with raises_errno(E.EAGAIN):
        user.sys.mmap(0, 9 << 20, RW, ANON | MAP_LOCKED)
    user.sys.mmap(0, 7 << 20, RW, ANON | MAP_LOCKED)
    assert user.mm.locked_vm == (7 << 20) // PAGE
    with raises_errno(E.EAGAIN):
        user.sys.mmap(0, 2 << 20, RW, ANON | MAP_LOCKED)
    assert t.sys.mmap(0, 9 << 20, RW, ANON | MAP_LOCKED)


def test_do_mmap_prot_bits_not_validated(t: Any) -> None:
    """mmap ignores unknown PROT bits (unlike mprotect)."""
    assert t.sys.mmap(0, PAGE, PROT_READ | 0x10, ANON)


def test_vm_mmap_pgoff_fatal_signal_eintr(t: Any) -> None:
    """Taking mmap_lock is killable: EINTR with a fatal signal pending."""
    t.fatal_signal_pending = True
    with raises_errno(E.EINTR):
        t.sys.mmap(0, PAGE, PROT_READ, ANON)
    with raises_errno(E.EINTR):
        t.sys.munmap(BASE, PAGE)


# -- addresses ----------------------------------------------------------------------------------------

def test_do_mmap_fixed_unaligned_einval(t: Any) -> None:
    """MAP_FIXED with an unaligned address is EINVAL (MAP_FIXED_NOREPLACE too)."""
    with raises_errno(E.EINVAL):
        t.sys.mmap(BASE + 1, PAGE, PROT_READ, FIX)
    with raises_errno(E.EINVAL):
        t.sys.mmap(BASE + 1, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE)


def test_do_mmap_fixed_past_task_size_enomem(t: Any) -> None:
    """A MAP_FIXED range ending past TASK_SIZE is ENOMEM, even when unaligned."""
    for addr in (1 << 47, (1 << 47) - 1):
        with raises_errno(E.ENOMEM):
            t.sys.mmap(addr, PAGE, PROT_READ, FIX)


def test_do_mmap_fixed_noreplace_eexist(t: Any) -> None:
    """MAP_FIXED_NOREPLACE over any part of a mapping is EEXIST, before the file checks."""
    t.sys.mmap(BASE, 4 * PAGE, PROT_READ, FIX)
    wo = _file(t, flags=O_WRONLY)
    with raises_errno(E.EEXIST):
        t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE)
    with raises_errno(E.EEXIST):
        t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, wo, 0)
    assert t.sys.mmap(BASE + 4 * PAGE, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE) == BASE + 4 * PAGE


def test_do_mmap_fixed_replaces_middle(t: Any) -> None:
    """MAP_FIXED over the middle of a mapping unmaps that part: three VMAs result."""
    t.sys.mmap(BASE, 4 * PAGE, PROT_READ, FIX)
    t.sys.mmap(BASE + PAGE, 2 * PAGE, RW, FIX)
    assert [(s, e, p) for s, e, p, _o, _n in layout(t.mm)if s >= BASE] == [
        (BASE, BASE + PAGE, "r--p"), (BASE + PAGE, BASE + 3 * PAGE, "rw-p"), (BASE + 3 * PAGE, BASE + 4 * PAGE, "r--p")]
    validate_mm(t.mm)


def test_do_mmap_fixed_over_several_merges_with_same(t: Any) -> None:
    """MAP_FIXED spanning several VMAs replaces them and merges with equal neighbours."""
    for i in range(4):
        t.sys.mmap(BASE + i * PAGE, PAGE, PROT_READ if i % 2 else RW, FIX)
    t.sys.mmap(BASE + PAGE, 2 * PAGE, RW, FIX)
    assert [(s, e) for s, e, *_ in layout(t.mm, BASE, BASE + 8 * PAGE)] == [(BASE, BASE + 3 * PAGE),
                                                                            (BASE + 3 * PAGE, BASE + 4 * PAGE)]


def test_do_mmap_fixed_zero_needs_cap_sys_rawio(t: Any, user: Any) -> None:
    """Below vm.mmap_min_addr (4096) needs CAP_SYS_RAWIO; 0x1000 and 0x8000 are fine for anyone."""
    assert t.sys.mmap(0, PAGE, PROT_READ, FIX) == 0
    with raises_errno(E.EPERM):
        user.sys.mmap(0, PAGE, PROT_READ, FIX)
    with raises_errno(E.EPERM):
        user.sys.mmap(0, PAGE, PROT_READ, ANON | MAP_FIXED_NOREPLACE)
    with raises_errno(E.EPERM):
        user.sys.mmap(0, PAGE, PROT_READ, MAP_FIXED | MAP_ANONYMOUS)
    assert user.sys.mmap(0x1000, PAGE, PROT_READ, FIX) == 0x1000
    assert user.sys.mmap(0x8000, PAGE, PROT_READ, FIX) == 0x8000


def test_do_mmap_hint_below_min_addr_rounded(t: Any) -> None:
    """A hint below mmap_min_addr (65536 with CONFIG_LSM_MMAP_MIN_ADDR) becomes 0x10000; 0x500 is no hint."""
    assert t.sys.mmap(0x1000, PAGE, PROT_READ, ANON) == 0x10000
    assert t.sys.mmap(0x2000, PAGE, PROT_READ, ANON) > 1 << 46      # 0x10000 taken: top-down
    assert t.sys.mmap(0x500, PAGE, PROT_READ, ANON) > 1 << 46


def test_do_mmap_hint_honoured_when_free(t: Any) -> None:
    """A free hint is used (rounded down to a page); a taken one falls back to top-down."""
    assert t.sys.mmap(BASE + 0x30010, PAGE, PROT_READ, ANON) == BASE + 0x30000
    t.sys.mmap(BASE, PAGE, PROT_READ, FIX)
    assert t.sys.mmap(BASE, PAGE, PROT_READ, ANON) != BASE


def test_get_unmapped_area_topdown_below_mmap_base(t: Any) -> None:
    """The first top-down mapping ends at mmap_base (0x7ffff7fff000), the next right below it."""
    assert t.mm.mmap_base == 0x7FFFF7FFF000
    a = t.sys.mmap(0, 2 * PAGE, PROT_READ, ANON)
    b = t.sys.mmap(0, PAGE, PROT_READ, ANON)
    assert a + 2 * PAGE == t.mm.mmap_base and b == a - PAGE


def test_get_unmapped_area_topdown_takes_highest_gap(t: Any) -> None:
    """A hole below mmap_base is reused when the request fits, and skipped when it does not."""
    top = t.mm.mmap_base
    t.sys.mmap(top - 8 * PAGE, 8 * PAGE, PROT_READ, FIX)
    t.sys.munmap(top - 6 * PAGE, 2 * PAGE)
    assert t.sys.mmap(0, 3 * PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS) == top - 11 * PAGE
    assert t.sys.mmap(0, 2 * PAGE, PROT_READ, ANON) == top - 6 * PAGE


def test_get_unmapped_area_respects_stack_guard_gap(t: Any) -> None:
    """Top-down placement keeps stack_guard_gap (1 MiB) below a VM_GROWSDOWN mapping."""
    top = t.mm.mmap_base
    t.sys.mmap(top - PAGE, PAGE, RW, FIX | MAP_GROWSDOWN)
    addr = t.sys.mmap(0, PAGE, PROT_READ, ANON)
    assert addr + PAGE <= top - PAGE - (1 << 20)


def test_get_unmapped_area_thp_alignment(t: Any) -> None:
    """Private anonymous mappings of a 2 MiB multiple without a hint are 2 MiB aligned; others are not."""
    a = t.sys.mmap(0, 2 << 20, RW, ANON)
    b = t.sys.mmap(0, 4 << 20, RW, ANON | MAP_STACK)
    assert a % (2 << 20) == 0 and b % (2 << 20) == 0
    c = t.sys.mmap(0, 3 << 20, RW, ANON)
    assert c % (2 << 20) == 1 << 20
    d = t.sys.mmap(0, 2 << 20, RW, MAP_SHARED | MAP_ANONYMOUS)
    assert d == c - (2 << 20)


def test_get_unmapped_area_map_32bit_and_above4g(t: Any) -> None:
    """MAP_32BIT searches bottom-up in [1 GiB, 2 GiB); MAP_ABOVE4G only changes the low limit."""
    a = t.sys.mmap(0, PAGE, PROT_READ, ANON | 0x40)
    assert a == 0x40000000
    assert t.sys.mmap(0, PAGE, PROT_READ, ANON | 0x40) == 0x40001000
    assert t.sys.mmap(0, PAGE, PROT_READ, ANON | 0x80) > 1 << 32


def test_get_unmapped_area_no_room_enomem(k: Any, t: Any) -> None:
    """When neither top-down nor bottom-up finds room the result is ENOMEM."""
    t.sys.mmap(0x10000, (1 << 47) - 0x20000, PROT_NONE, FIX | MAP_NORESERVE)
    with raises_errno(E.ENOMEM):
        t.sys.mmap(0, 1 << 20, PROT_READ, ANON)


def test_arch_pick_mmap_layout_stack_rlimit(k: Any) -> None:
    """mmap_base follows the stack rlimit (host: 1000000 KiB -> 0x7fffc2e6f000); unlimited is legacy."""
    mm = M.mm_alloc(k, k.init_user_ns)
    arch_pick_mmap_layout(mm, 1000000 * 1024)
    assert mm.mmap_base == 0x7FFFC2E6F000 and mm.topdown
    arch_pick_mmap_layout(mm, RLIM_INFINITY)
    assert not mm.topdown and mm.mmap_base == mm.mmap_legacy_base == 0x2AAAAAAAB000
    ts = (1 << 47) - PAGE
    assert mmap_base(ts, 1 << 47) == (ts - ts // 6 * 5 + PAGE - 1) & ~(PAGE - 1)
    assert mmap_base(ts, 1 << 46) == ts - (1 << 46) - (1 << 20)


def test_get_unmapped_area_legacy_bottom_up(t: Any) -> None:
    """With the legacy layout mappings grow upwards from TASK_SIZE/3; a free hint is still honoured."""
    arch_pick_mmap_layout(t.mm, RLIM_INFINITY)
    a = t.sys.mmap(0, PAGE, PROT_READ, ANON)
    b = t.sys.mmap(0, PAGE, PROT_READ, ANON)
    assert a == 0x2AAAAAAAB000 and b == a + PAGE
    assert t.sys.mmap(BASE, PAGE, PROT_READ, ANON) == BASE


def test_do_mmap_map_count_limit_enomem(k: Any, t: Any) -> None:
    """mmap fails with ENOMEM only once map_count exceeds vm.max_map_count (it may reach max + 1)."""
    k.sysctl["vm.max_map_count"] = t.mm.map_count + 3
    for i in range(4):
        t.sys.mmap(BASE + 2 * i * PAGE, PAGE, PROT_READ, FIX)
    assert t.mm.map_count == k.sysctl["vm.max_map_count"] + 1
    with raises_errno(E.ENOMEM):
        t.sys.mmap(BASE + 20 * PAGE, PAGE, PROT_READ, FIX)
    with raises_errno(E.ENOMEM):
        t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, FIX)        # would merge, still refused


# -- merging ----------------------------------------------------------------------------------------

def test_mmap_region_merges_adjacent_anonymous(t: Any) -> None:
    """Adjacent private anonymous mappings with equal flags become one VMA, whichever side comes first."""
    t.sys.mmap(BASE + PAGE, PAGE, RW, FIX)
    t.sys.mmap(BASE, PAGE, RW, FIX)
    t.sys.mmap(BASE + 3 * PAGE, PAGE, RW, FIX)
    t.sys.mmap(BASE + 2 * PAGE, PAGE, RW, FIX)
    assert [(s, e) for s, e, *_ in layout(t.mm, BASE, BASE + 8 * PAGE)] == [(BASE, BASE + 4 * PAGE)]


@pytest.mark.parametrize("extra", [MAP_STACK, MAP_NORESERVE, MAP_LOCKED, MAP_SYNC])
def test_mmap_region_flag_differences_do_not_merge(t: Any, extra: int) -> None:
    """MAP_STACK (VM_NOHUGEPAGE), MAP_NORESERVE, MAP_LOCKED and MAP_SYNC make the flags differ: no merge."""
    t.sys.mmap(BASE, 2 * PAGE, RW, FIX)
    t.sys.mmap(BASE + 2 * PAGE, 2 * PAGE, RW, FIX | extra)
    assert len(layout(t.mm, BASE, BASE + 8 * PAGE)) == 2
    if extra == MAP_STACK:
        assert vma_lookup(t.mm, BASE + 2 * PAGE).vm_flags & VM_NOHUGEPAGE


def test_mmap_region_file_merge_needs_same_file_and_offsets(t: Any) -> None:
    """File mappings merge only with the same struct file and contiguous offsets; two opens never merge."""
    fd = _file(t)
    fd2 = t.sys.open("/tmp/f", O_RDWR)
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    t.sys.mmap(BASE + 2 * PAGE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 2 * PAGE)
    assert len(layout(t.mm, BASE, BASE + 4 * PAGE)) == 1
    t.sys.mmap(BASE + 4 * PAGE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd2, 4 * PAGE)
    t.sys.mmap(BASE + 6 * PAGE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 7 * PAGE)
    assert [(s - BASE) // PAGE for s, *_ in layout(t.mm, BASE, BASE + 8 * PAGE)] == [0, 4, 6]


def test_mmap_region_private_writable_is_accounted(t: Any) -> None:
    """A private writable mapping gets VM_ACCOUNT; shared, read-only or MAP_NORESERVE ones do not."""
    fd = _file(t)
    cases = {(RW, ANON): True, (PROT_READ, ANON): False, (RW, ANON | MAP_NORESERVE): False,
             (RW, MAP_SHARED | MAP_ANONYMOUS): False}
    for (prot, flags), accounted in cases.items():
        a = t.sys.mmap(0, PAGE, prot, flags)
        assert bool(vma_lookup(t.mm, a).vm_flags & VM_ACCOUNT) is accounted
    a = t.sys.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)
    assert vma_lookup(t.mm, a).vm_flags & VM_ACCOUNT


def test_mmap_region_sealed_writable_mapping_eperm(t: Any) -> None:
    """A shared writable mapping of a mapping whose writers are denied (i_mmap_writable < 0) is EPERM."""
    fd = _file(t)
    t.files.fget(fd).f_inode.i_mmap_writable = -1
    with raises_errno(E.EPERM):
        t.sys.mmap(0, PAGE, RW, MAP_SHARED, fd, 0)
    assert t.sys.mmap(0, PAGE, RW, MAP_PRIVATE, fd, 0)


def test_mmap_region_counts_shared_writable(t: Any) -> None:
    """Each VMA of a shared writable file mapping counts in i_mmap_writable, splits included."""
    fd = _file(t)
    inode = t.files.fget(fd).f_inode
    t.sys.mmap(BASE, 4 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    assert inode.i_mmap_writable == 1
    t.sys.munmap(BASE + PAGE, PAGE)
    assert inode.i_mmap_writable == 2
    t.sys.munmap(BASE, 4 * PAGE)
    assert inode.i_mmap_writable == 0


def _failing_file(t: Any, calls: list[str]) -> Any:
    fd = _file(t)
    f = t.files.fget(fd)

    def bad_mmap(current: Any, file: Any, vma: Any) -> None:
        calls.append("mmap")
        raise KernelError(E.ENODEV)
    f.f_op = FileOperations(mmap=bad_mmap)
    return fd, f


def test_mmap_region_mmap_hook_error_leaves_gap(t: Any) -> None:
    """When ->mmap fails, MAP_FIXED leaves a hole where the old mapping was (as on the host)."""
    calls: list[str] = []
    fd, f = _failing_file(t, calls)
    t.sys.mmap(BASE, 3 * PAGE, PROT_READ, FIX)
    count = f.f_count
    with raises_errno(E.ENODEV):
        t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    assert calls == ["mmap"] and f.f_count == count
    assert [(s, e) for s, e, *_ in layout(t.mm, BASE, BASE + 3 * PAGE)] == [
        (BASE, BASE + PAGE), (BASE + 2 * PAGE, BASE + 3 * PAGE)]
    validate_mm(t.mm)


def test_mmap_region_flags_changed_by_mmap_retry_merge(t: Any) -> None:
    """A ->mmap that changes vm_flags gets a second merge attempt with the final flags."""
    fd = _file(t)
    f = t.files.fget(fd)

    def dropping_mmap(current: Any, file: Any, vma: Any) -> None:
        vma.vm_flags &= ~VM_MAYWRITE
        vma.vm_ops = VmOperationsStruct(name="test_vm_ops")
    f.f_op = FileOperations(mmap=dropping_mmap)
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PAGE)
    assert len(layout(t.mm, BASE, BASE + 2 * PAGE)) == 1


def test_mmap_region_special_vma_never_merges(t: Any) -> None:
    """VM_SPECIAL (VM_IO etc.) mappings are never merged."""
    fd = _file(t)
    f = t.files.fget(fd)

    def io_mmap(current: Any, file: Any, vma: Any) -> None:
        vma.vm_flags |= 0x4000   # VM_IO
    f.f_op = FileOperations(mmap=io_mmap)
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, PAGE)
    assert len(layout(t.mm, BASE, BASE + 2 * PAGE)) == 2


def test_mmap_region_locked_special_clears_locked(t: Any) -> None:
    """VM_LOCKED is dropped from a VM_SPECIAL mapping and not counted in locked_vm."""
    fd = _file(t)
    f = t.files.fget(fd)

    def io_mmap(current: Any, file: Any, vma: Any) -> None:
        vma.vm_flags |= 0x4000
    f.f_op = FileOperations(mmap=io_mmap)
    a = t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_LOCKED, fd, 0)
    assert not vma_lookup(t.mm, a).vm_flags & VM_LOCKED and t.mm.locked_vm == 0


# -- munmap ------------------------------------------------------------------------------------------

def test_sys_munmap_invalid_einval(t: Any) -> None:
    """munmap: unaligned start, zero length, start or end past TASK_SIZE are EINVAL."""
    for addr, length in ((BASE + 1, PAGE), (BASE, 0), (1 << 47, PAGE), (BASE, 1 << 47)):
        with raises_errno(E.EINVAL):
            t.sys.munmap(addr, length)


def test_sys_munmap_hole_is_fine(t: Any) -> None:
    """Unmapping nothing succeeds."""
    t.sys.munmap(BASE, 16 * PAGE)


def test_sys_munmap_splits_and_spans(t: Any) -> None:
    """munmap cuts a hole in one VMA, trims edges, and removes whole VMAs in a span."""
    t.sys.mmap(BASE, 8 * PAGE, RW, FIX)
    t.sys.mprotect(BASE + 4 * PAGE, 4 * PAGE, PROT_READ)
    t.sys.munmap(BASE + PAGE, PAGE)
    t.sys.munmap(BASE + 3 * PAGE, 2 * PAGE + 1)
    assert [(s - BASE) // PAGE for s, *_ in layout(t.mm, BASE, BASE + 8 * PAGE)] == [0, 2, 6]
    t.sys.munmap(BASE, 8 * PAGE)
    assert layout(t.mm, BASE, BASE + 8 * PAGE) == []
    assert t.mm.total_vm == sum((e - s) // PAGE for s, e, *_ in layout(t.mm))


def test_sys_munmap_three_way_split_at_limit_enomem(k: Any, t: Any) -> None:
    """At vm.max_map_count a hole in the middle of a VMA is ENOMEM; trimming an edge still works."""
    t.sys.mmap(BASE, 3 * PAGE, RW, FIX)
    k.sysctl["vm.max_map_count"] = t.mm.map_count
    with raises_errno(E.ENOMEM):
        t.sys.munmap(BASE + PAGE, PAGE)
    t.sys.munmap(BASE, PAGE)
    assert layout(t.mm, BASE, BASE + 3 * PAGE)[0][0] == BASE + PAGE


# -- life of an mm ---------------------------------------------------------------------------------

def test_mm_alloc_fresh_mm(k: Any) -> None:
    """mm_alloc gives an empty mm with one user and the default top-down layout."""
    mm = M.mm_alloc(k, k.init_user_ns)
    assert len(mm) == 0 and mm.map_count == 0 and mm.mm_users == 1 and mm.topdown
    assert mm.mmap_base == 0x7FFFF7FFF000


def test_dup_mmap_copies_vmas_and_file_refs(k: Any, t: Any) -> None:
    """fork copies every VMA (same file objects, one more reference each) and the layout."""
    fd = _file(t)
    f = t.files.fget(fd)
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    t.sys.mmap(BASE + 4 * PAGE, PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    before = f.f_count
    child = M.mm_alloc(k, k.init_user_ns)
    M.dup_mmap(child, t.mm)
    assert layout(child) == layout(t.mm) and f.f_count == before + 1
    assert vma_lookup(child, BASE).vm_file is f
    assert child.total_vm == t.mm.total_vm
    validate_mm(child)
    M.mmput(child)
    assert f.f_count == before and child.map_count == 0


def test_dup_mmap_skips_dontcopy_and_wipes(k: Any, t: Any) -> None:
    """VM_DONTCOPY VMAs stay behind; VM_WIPEONFORK loses its anon_vma; VM_LOCKED is not inherited."""
    t.sys.mmap(BASE, PAGE, RW, FIX)
    t.sys.mmap(BASE + 2 * PAGE, PAGE, RW, FIX | MAP_LOCKED)
    t.sys.mmap(BASE + 4 * PAGE, PAGE, RW, FIX)
    t.sys.mmap(BASE + 6 * PAGE, PAGE, RW, FIX)
    vma_lookup(t.mm, BASE).vm_flags |= VM_DONTCOPY
    w = vma_lookup(t.mm, BASE + 4 * PAGE)
    w.vm_flags |= VM_WIPEONFORK
    w.anon_vma = AnonVma(1)
    vma_lookup(t.mm, BASE + 6 * PAGE).anon_vma = AnonVma(2)
    child = M.mm_alloc(k, k.init_user_ns)
    M.dup_mmap(child, t.mm)
    assert vma_lookup(child, BASE) is None
    assert not vma_lookup(child, BASE + 2 * PAGE).vm_flags & VM_LOCKED
    assert vma_lookup(child, BASE + 4 * PAGE).anon_vma is None
    inherited = vma_lookup(child, BASE + 6 * PAGE).anon_vma
    assert inherited is not None and inherited.degree == 2
    assert child.total_vm == t.mm.total_vm - 1


def test_dup_mmap_calls_vm_ops_open_and_exit_close(k: Any, t: Any) -> None:
    """fork calls vm_ops->open on each copy; the last mmput calls ->close."""
    events: list[str] = []
    t.sys.mmap(BASE, PAGE, RW, FIX)
    vma_lookup(t.mm, BASE).vm_ops = VmOperationsStruct(name="x", open=lambda v: events.append("open"),
                                                       close=lambda v: events.append("close"))
    child = M.mm_alloc(k, k.init_user_ns)
    M.dup_mmap(child, t.mm)
    child.mm_users += 1
    M.mmput(child)
    assert events == ["open"]
    M.mmput(child)
    assert events == ["open", "close"]


def test_mmput_drops_exe_file(k: Any, t: Any) -> None:
    """The last mmput releases the mm's exe_file reference."""
    fd = _file(t)
    f = t.files.fget(fd)
    mm = M.mm_alloc(k, k.init_user_ns)
    f.f_count += 1
    mm.exe_file = f
    count = f.f_count
    M.mmput(mm)
    assert mm.exe_file is None and f.f_count == count - 1 and mm.mm_count == 0


def test_fork_and_exit_keep_file_counts(k: Any, t: Any) -> None:
    """A forked child shares nothing: its exit leaves the parent's mappings and file counts intact."""
    fd = _file(t)
    f = t.files.fget(fd)
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    before = f.f_count
    child = t.sys.fork()
    assert layout(child.mm, BASE, BASE + 2 * PAGE) == layout(t.mm, BASE, BASE + 2 * PAGE)
    child.sys.exit(0)
    assert f.f_count == before and find_exact_vma(t.mm, BASE, BASE + 2 * PAGE) is not None
