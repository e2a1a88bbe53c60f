"""shmem: the internal tmpfs mount and its unlinked files (mm/shmem.c)."""

from __future__ import annotations

from typing import Any

import pytest

from simkernel.fs import shmem as SH
from simkernel.fs.inode import S_PRIVATE
from simkernel.mm.mm_types import VM_MAYWRITE
from simkernel.mm.vma import vma_lookup
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_APPEND, SEEK_CUR, SEEK_END, SEEK_SET
from simkernel.uapi.mman import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from tests.helpers import kraises, raises_errno
from tests.mm.mmkit import BASE, PAGE, layout


@pytest.fixture
def k() -> Any:
    from tests.mm.mmkit import boot
    return boot()


@pytest.fixture
def t(k: Any) -> Any:
    return k.spawn("shm")


def test_shmem_init_internal_mount(k: Any) -> None:
    """Boot leaves an internal tmpfs mount on device 0:1 with a sticky 1777 root numbered 1."""
    from simkernel.fs.mount import MNT_INTERNAL
    mnt = k.shm_mnt
    assert mnt.mnt_flags & MNT_INTERNAL and mnt.mnt_sb.s_dev == 1 and mnt.mnt_sb.s_magic == SH.TMPFS_MAGIC
    root = mnt.mnt_root.d_inode
    assert oct(root.i_mode) == "0o41777" and root.i_ino == 1


def test_shmem_file_setup_unlinked_file(k: Any, t: Any) -> None:
    """shmem_file_setup: an O_RDWR file "/NAME (deleted)", mode 0777, no links, the given size."""
    f = SH.shmem_file_setup(k, "SYSV0001", 3 * PAGE, 0, t)
    inode = f.f_inode
    assert f.f_path.mnt is k.shm_mnt and f.f_path.dentry.d_name == "SYSV0001"
    assert oct(inode.i_mode) == "0o100777" and inode.i_nlink == 0 and inode.i_size == 3 * PAGE
    assert not inode.i_flags & S_PRIVATE
    assert SH.shmem_kernel_file_setup(k, "x", 0, 0).f_inode.i_flags & S_PRIVATE
    with kraises(E.EINVAL):
        SH.shmem_file_setup(k, "bad", -1, 0)


def test_shmem_file_read_write_llseek(k: Any, t: Any) -> None:
    """Reads stop at i_size and see zeros where nothing was written; O_APPEND writes at the end."""
    f = SH.shmem_file_setup(k, "rw", 8, 0, t)
    assert SH.shmem_file_read(t, f, 100, 0) == bytes(8)
    assert SH.shmem_file_write(t, f, b"abc", 6) == 3 and f.f_inode.i_size == 9
    assert SH.shmem_file_read(t, f, 100, 5) == b"\0abc"
    assert SH.shmem_file_read(t, f, 4, 100) == b""
    f.f_flags |= O_APPEND
    SH.shmem_file_write(t, f, b"Z", 0)
    assert SH.shmem_file_read(t, f, 100, 8) == b"cZ"
    assert SH.shmem_file_llseek(t, f, 2, SEEK_SET) == 2
    assert SH.shmem_file_llseek(t, f, 3, SEEK_CUR) == 5
    assert SH.shmem_file_llseek(t, f, -1, SEEK_END) == 9
    for off, whence in ((-1, SEEK_SET), (0, 7)):
        with kraises(E.EINVAL):
            SH.shmem_file_llseek(t, f, off, whence)


def test_shmem_files_keep_tmpfs_pages(k: Any, t: Any) -> None:
    """A shmem file is a tmpfs file: pages exist only where written (st_blocks, SEEK_DATA/SEEK_HOLE), a
    shrink frees them and zeroes the tail (memfd compared with the host in tests/host/test_vfs_host.py)."""
    f = SH.shmem_file_setup(k, "w", 3 * PAGE, 0, t)
    SH.shmem_file_write(t, f, b"x", PAGE + 2)
    assert sorted(f.f_inode.i_private.pages) == [1] and f.f_inode.i_blocks == PAGE // 512
    assert SH.shmem_file_llseek(t, f, 0, 3) == PAGE            # SEEK_DATA: the first written page
    assert SH.shmem_file_llseek(t, f, PAGE, 4) == 2 * PAGE     # SEEK_HOLE: after it
    with kraises(E.ENXIO):
        SH.shmem_file_llseek(t, f, 2 * PAGE, 3)                # no data after the last written page
    SH.shmem_inode_operations.setattr(t, f.f_path.dentry, {"size": PAGE + 2})
    SH.shmem_inode_operations.setattr(t, f.f_path.dentry, {"size": 2 * PAGE})
    assert SH.shmem_file_read(t, f, 4, PAGE) == b"\0\0\0\0"   # the byte past the shrink was zeroed


def test_shmem_zero_setup_shared_anonymous(t: Any) -> None:
    """MAP_SHARED|MAP_ANONYMOUS gets its own "dev/zero" shmem file per mapping; no merging."""
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    t.sys.mmap(BASE + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    lay = layout(t.mm, BASE, BASE + 3 * PAGE)
    assert [n for *_x, n in lay] == ["/dev/zero (deleted)"] * 2
    a, b = vma_lookup(t.mm, BASE), vma_lookup(t.mm, BASE + 2 * PAGE)
    assert a.vm_file is not b.vm_file and a.vm_file.f_inode.i_size == 2 * PAGE
    assert a.vm_ops is SH.shmem_anon_vm_ops and a.vm_file.f_inode.i_flags & S_PRIVATE
    assert t.sys.readlink(f"/proc/self/map_files/{BASE:x}-{BASE + 2 * PAGE:x}") == "/dev/zero (deleted)"


def test_shmem_mmap_write_seal(k: Any, t: Any) -> None:
    """With F_SEAL_WRITE a shared writable mapping is EPERM; read-only shared loses VM_MAYWRITE."""
    fd = t.sys.memfd_create("sealed")
    t.files.fget(fd).f_inode.i_private.seals |= SH.F_SEAL_WRITE
    with raises_errno(E.EPERM):
        t.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
    a = t.sys.mmap(0, PAGE, PROT_READ, MAP_SHARED, fd, 0)
    assert not vma_lookup(t.mm, a).vm_flags & VM_MAYWRITE
    with raises_errno(E.EACCES):
        t.sys.mprotect(a, PAGE, PROT_READ | PROT_WRITE)
    assert t.sys.mmap(0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)


def test_shmem_get_inode_directory(k: Any) -> None:
    """A directory inode starts with two links and no file operations of a regular file."""
    inode = SH.shmem_get_inode(k.shm_mnt.mnt_sb, None, None, 0o40755)
    assert inode.i_nlink == 2 and inode.i_fop is not SH.shmem_file_operations
