"""fs/fdtable.py and fs/file_table.py: descriptor allocation, close-on-exec, dup for fork, file references."""

from __future__ import annotations

import pytest

from simkernel.fs.fdtable import FilesStruct
from simkernel.fs.file import File, FileOperations
from simkernel.fs.file_table import alloc_file, alloc_file_pseudo, fput, get_file, simple_dname
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD, O_RDONLY, O_RDWR
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkfile
from tests.helpers import kraises


@pytest.fixture
def k():
    k = boot()
    mkfile(k, "/tmp/f")
    return k


def a_file(k, flags=O_RDONLY):
    return alloc_file(filename_lookup(k.init, AT_FDCWD, "/tmp/f", 0), flags, None, k.init)


def test_alloc_fd_lowest_free_from_start(k):
    """alloc_fd gives the lowest free descriptor at or above `start` and records close-on-exec."""
    files = FilesStruct()
    f = a_file(k)
    assert [files.alloc_fd(f) for _ in range(3)] == [0, 1, 2]
    files.close_fd(1)
    assert files.alloc_fd(f, cloexec=True) == 1 and 1 in files.close_on_exec
    assert files.alloc_fd(f, start=10) == 10
    assert files.alloc_fd(f, cloexec=False, start=1) == 3 and 3 not in files.close_on_exec


def test_alloc_fd_emfile_at_rlimit(k):
    """Descriptors stop at RLIMIT_NOFILE: EMFILE, both for alloc_fd and get_unused_fd."""
    files = FilesStruct(rlimit_nofile=2)
    f = a_file(k)
    files.alloc_fd(f)
    files.alloc_fd(f)
    with kraises(E.EMFILE):
        files.alloc_fd(f)
    with kraises(E.EMFILE):
        files.get_unused_fd()


def test_fget_and_close_fd(k):
    """fget returns the file or None; close_fd removes and returns it, None if closed."""
    files = FilesStruct()
    f = a_file(k)
    fd = files.alloc_fd(f, cloexec=True)
    assert files.fget(fd) is f and files.fget(9) is None
    assert files.close_fd(fd) is f and files.close_fd(fd) is None and fd not in files.close_on_exec


def test_dup_takes_references(k):
    """dup_fd copies the table and the close-on-exec set; each file gets one more reference."""
    files = FilesStruct()
    f = a_file(k)
    files.alloc_fd(f, cloexec=True)
    copy = files.dup()
    assert copy.fget(0) is f and f.f_count == 2 and copy.close_on_exec == {0} and copy is not files


def test_alloc_file_modes(k):
    """f_mode from the access mode; FMODE_CAN_READ/WRITE only where the ops allow."""
    r, rw = a_file(k, O_RDONLY), a_file(k, O_RDWR)
    assert r.f_mode & 0x3 == 0x1 and rw.f_mode & 0x3 == 0x3
    assert r.f_mode & 0x20000 and not r.f_mode & 0x40000 and rw.f_mode & 0x40000
    assert r.f_id != rw.f_id and r.f_cred is k.init.cred
    assert repr(r).startswith(f"<file {r.f_id} 'f'")


def test_fput_releases_on_last_reference(k):
    """fput calls ->release at the last reference only; a dead file asserts."""
    released = []
    f = alloc_file(filename_lookup(k.init, AT_FDCWD, "/tmp/f", 0), O_RDONLY,
                   FileOperations(release=lambda inode, file: released.append(file)), None)
    get_file(f)
    fput(f)
    assert released == []
    fput(f)
    assert released == [f]
    with pytest.raises(AssertionError):
        fput(f)


def test_alloc_file_pseudo_names_itself(k):
    """A pseudo file's dentry is parentless and prints "/NAME (deleted)"."""
    from simkernel.fs.d_path import d_path
    inode = filename_lookup(k.init, AT_FDCWD, "/tmp/f", 0).dentry.d_inode
    f = alloc_file_pseudo(inode, k.shm_mnt, "memfd:x", O_RDWR, None)
    assert isinstance(f, File) and d_path(f.f_path, k.init.fs.root) == "/memfd:x (deleted)"
    assert simple_dname(f.f_path.dentry) == "/memfd:x (deleted)"


def test_fork_copies_table_clone_files_shares(k):
    """fork copies the descriptor table; a thread (CLONE_FILES) shares it."""
    from simkernel.uapi import CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM
    p = k.spawn("p")
    fd = p.sys.open("/tmp/f", O_RDONLY)
    c = p.sys.fork()
    th = p.sys.clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
    assert c.files is not p.files and th.files is p.files and p.files.count == 2
    c.sys.close(fd)
    assert p.sys.fstat(fd).st_size == 4
