"""Unit tests of simkernel/fs/proc/fd.py (Linux: fs/proc/fd.c, fs/proc/util.c)."""

from __future__ import annotations

import pytest

from simkernel.fs.dcache import d_alloc, d_lookup
from simkernel.fs.file import FMODE_READ, FMODE_WRITE
from simkernel.fs.proc.fd import (
    _fd_mode, name_to_int, proc_fd_link, proc_fd_permission, proc_lookupfd, proc_readfd_count, tid_fd_revalidate,
)
from simkernel.fs.proc.internal import PROC_I
from simkernel.uapi import (
    CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EACCES, EISDIR, ENOENT, O_DIRECTORY,
    O_RDONLY, O_RDWR, O_WRONLY, S_IFLNK,
)
from tests.fs.proc.prockit import dentry_of, setup
from tests.helpers import kraises, raises_errno

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


@pytest.mark.parametrize("name, want", [("0", 0), ("42", 42), ("042", -1), ("4a", -1), ("", -1), ("+1", -1),
                                        ("-1", -1), ("4294967295", -1), ("429496728", 429496728)])
def test_name_to_int_examples(name: str, want: int) -> None:
    """Decimal without leading zeros; anything else (or too large) is ~0U (-1)."""
    assert name_to_int(name) == want


@pytest.mark.parametrize("fmode, mode", [(FMODE_READ, 0o500), (FMODE_WRITE, 0o300),
                                         (FMODE_READ | FMODE_WRITE, 0o700), (0, 0)])
def test_fd_mode_from_fmode(fmode: int, mode: int) -> None:
    """fd links: r-x for read, -wx for write, rwx for both."""
    assert _fd_mode(fmode) == S_IFLNK | mode


def test_proc_fd_permission_owner_and_same_group() -> None:
    """DAC on the 0500 fd directory, or the caller is in the directory's thread group."""
    s = setup(dumpable=0)
    d = dentry_of(s.root, f"/proc/{s.t.pid}/fd")
    th = s.t.sys.clone(THREAD)
    proc_fd_permission(th, d.d_inode, 1)   # same thread group passes although root owns it
    other = s.k.spawn("other", uid=1000, gid=1000)
    with kraises(EACCES):
        proc_fd_permission(other, d.d_inode, 1)


def test_proc_fd_permission_reaped_task_is_eacces() -> None:
    """With the task gone only DAC can pass."""
    s = setup()
    d = dentry_of(s.root, f"/proc/{s.t.pid}/fd")
    PROC_I(d.d_inode).pid.task = None
    other = s.k.spawn("other", uid=1001, gid=1001)
    with kraises(EACCES):
        proc_fd_permission(other, d.d_inode, 1)


def test_fd_link_readlink_and_modes() -> None:
    """readlink of fd/N gives the path; lstat gives the open mode."""
    s = setup()
    fd_r = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    fd_w = s.t.sys.open("/srv/mf/rw", O_WRONLY)
    fd_rw = s.t.sys.open("/srv/mf/rw", O_RDWR)
    base = f"/proc/{s.t.pid}/fd"
    assert s.root.sys.readlink(f"{base}/{fd_r}") == "/srv/mf/ro"
    assert [s.root.sys.lstat(f"{base}/{n}").st_mode & 0o777 for n in (fd_r, fd_w, fd_rw)] == [0o500, 0o300, 0o700]


def test_fd_listing_and_size() -> None:
    """The fd directory lists open descriptors ascending; st_size counts them (v6.2+)."""
    s = setup()
    before = s.root.sys.lstat(f"/proc/{s.t.pid}/fd").st_size
    n = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    names = s.root.sys.listdir(f"/proc/{s.t.pid}/fd")
    assert names == sorted(names, key=int) and str(n) in names
    assert s.root.sys.lstat(f"/proc/{s.t.pid}/fd").st_size == before + 1 == len(names)


def test_fd_listing_small_buffer_and_seek() -> None:
    """Positions are fd + 2; resuming after a seek continues at that descriptor."""
    s = setup()
    a = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    b = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    fd = s.root.sys.open(f"/proc/{s.t.pid}/fd", O_RDONLY | O_DIRECTORY)
    s.root.sys.lseek(fd, b + 2, 0)
    got = s.root.sys.getdents(fd, 24)
    assert [(n, off) for n, _i, _t, off in got] == [(str(b), b + 3)]
    assert a < b


def test_fd_lookup_closed_and_malformed_are_enoent() -> None:
    """fd/N for a closed fd, "01" or "x": ENOENT."""
    s = setup()
    for name in ("999", "01", "x"):
        with raises_errno(ENOENT):
            s.root.sys.readlink(f"/proc/{s.t.pid}/fd/{name}")


def test_fd_link_closed_after_lookup_is_enoent() -> None:
    """A cached fd/N whose descriptor was closed: revalidation fails, then ENOENT."""
    s = setup()
    n = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    p = f"/proc/{s.t.pid}/fd/{n}"
    s.root.sys.lstat(p)
    child = d_lookup(dentry_of(s.root, f"/proc/{s.t.pid}/fd"), str(n))
    s.t.sys.close(n)
    assert tid_fd_revalidate(s.root, child, 0) is False
    with kraises(ENOENT):
        proc_fd_link(s.root, child, s.t)
    with raises_errno(ENOENT):
        s.root.sys.readlink(p)


def test_tid_fd_revalidate_refreshes_mode_and_owner() -> None:
    """Revalidation refreshes the mode (from f_mode) and the owner (task_dump_owner)."""
    s = setup()
    n = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    s.root.sys.lstat(f"/proc/{s.t.pid}/fd/{n}")
    child = d_lookup(dentry_of(s.root, f"/proc/{s.t.pid}/fd"), str(n))
    child.d_inode.i_mode, child.d_inode.i_uid = S_IFLNK, 5
    assert tid_fd_revalidate(s.root, child, 0) is True
    assert (child.d_inode.i_mode, child.d_inode.i_uid) == (S_IFLNK | 0o500, 1000)


def test_tid_fd_revalidate_gone_task_is_invalid() -> None:
    """A released pid or exited files: invalid."""
    s = setup()
    n = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    s.root.sys.lstat(f"/proc/{s.t.pid}/fd/{n}")
    child = d_lookup(dentry_of(s.root, f"/proc/{s.t.pid}/fd"), str(n))
    files, s.t.files = s.t.files, None
    assert tid_fd_revalidate(s.root, child, 0) is False
    with kraises(ENOENT):
        proc_fd_link(s.root, child, s.t)
    s.t.files = files
    PROC_I(child.d_inode).pid.task = None
    assert tid_fd_revalidate(s.root, child, 0) is False


def test_proc_lookupfd_gone_task_or_files_is_enoent() -> None:
    """Lookup in fd/ of a released pid, or of a task without files: ENOENT."""
    s = setup()
    d = dentry_of(s.root, f"/proc/{s.t.pid}/fd")
    files, s.t.files = s.t.files, None
    with kraises(ENOENT):
        proc_lookupfd(s.root, d.d_inode, d_alloc(d, "0"), 0)
    s.t.files = files
    PROC_I(d.d_inode).pid.task = None
    with kraises(ENOENT):
        proc_lookupfd(s.root, d.d_inode, d_alloc(d, "0"), 0)


def test_proc_readfd_zombie_and_reaped() -> None:
    """A task without files lists dots only and counts 0; a released pid: ENOENT for both."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/fd", O_RDONLY | O_DIRECTORY)
    inode = s.root.files.fget(fd).f_inode
    files, s.t.files = s.t.files, None
    assert [n for n, *_ in s.root.sys.getdents(fd, 4096)] == [".", ".."]
    assert proc_readfd_count(inode) == 0
    s.t.files = files
    PROC_I(inode).pid.task = None
    s.root.sys.lseek(fd, 0, 0)
    with raises_errno(ENOENT):
        s.root.sys.getdents(fd, 4096)
    with kraises(ENOENT):
        proc_readfd_count(inode)
    with raises_errno(ENOENT):
        s.root.sys.fstat(fd)


def test_fd_dir_read_is_eisdir() -> None:
    """read(2) on the fd directory: EISDIR."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/fd", O_RDONLY | O_DIRECTORY)
    with raises_errno(EISDIR):
        s.root.sys.read(fd, 1)


def test_fd_dir_small_buffer_stops_early() -> None:
    """A buffer for the dots alone stops before the first descriptor."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/fd", O_RDONLY | O_DIRECTORY)
    assert [n for n, *_ in s.root.sys.getdents(fd, 48)] == [".", ".."]
    assert s.root.sys.getdents(fd, 4096)
