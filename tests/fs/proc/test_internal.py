"""Unit tests of simkernel/fs/proc/internal.py: ownership, pid inodes, fill_cache, setattr, llseek."""

from __future__ import annotations

import pytest

from simkernel.fs.proc.internal import (
    DIR, LNK, MAX_NON_LFS, PROC_I, REG, generic_file_llseek, get_proc_task, pid_delete_dentry, pid_revalidate,
    proc_pid, proc_setattr, task_dump_owner,
)
from simkernel.kernel.task import PF_KTHREAD
from simkernel.kernel.user_namespace import UidGidExtent, UserNamespace
from simkernel.uapi import EINVAL, ENXIO, EPERM, S_IFDIR, S_IFLNK, S_IFREG
from tests.fs.proc.prockit import dentry_of, mf, setup
from tests.helpers import kraises


def test_task_dump_owner_dumpable_is_euid() -> None:
    """Dumpable: every inode belongs to the task's euid/egid."""
    s = setup()
    assert task_dump_owner(s.t, 0) == (1000, 1000)


def test_task_dump_owner_nondumpable_is_root_but_pid_dir() -> None:
    """Non-dumpable: root, except the /proc/<pid> directory itself (mode S_IFDIR|0555)."""
    s = setup(dumpable=0)
    assert task_dump_owner(s.t, 0) == (0, 0)
    assert task_dump_owner(s.t, S_IFDIR | 0o555) == (1000, 1000)


def test_task_dump_owner_no_mm_and_kthread_are_root() -> None:
    """No mm (zombie) or a kernel thread: root."""
    s = setup()
    s.t.mm, mm = None, s.t.mm
    assert task_dump_owner(s.t, 0) == (0, 0)
    s.t.mm = mm
    s.t.flags |= PF_KTHREAD
    assert task_dump_owner(s.t, S_IFDIR | 0o555) == (0, 0)


def test_task_dump_owner_mm_in_user_namespace() -> None:
    """Non-dumpable with mm->user_ns mapping root to kuid 65534: owner 65534 (v4.11, 68eb94f16227)."""
    s = setup(dumpable=0)
    ns = UserNamespace(level=1, owner=65534, group=65534, parent=s.k.init_user_ns,
                       uid_map=(UidGidExtent(0, 65534, 1),), gid_map=(UidGidExtent(0, 65534, 1),))
    s.t.mm.user_ns = ns
    assert task_dump_owner(s.t, 0) == (65534, 65534)
    ns.uid_map, ns.gid_map = (UidGidExtent(1, 65534, 1),), (UidGidExtent(1, 65534, 1),)
    assert task_dump_owner(s.t, 0) == (0, 0)


def test_pid_revalidate_and_delete() -> None:
    """pid_revalidate() keeps live entries (owner refreshed) and drops dead ones; pid_delete_dentry()
    frees dentries of dead tasks."""
    s = setup()
    d = dentry_of(s.root, mf(s.t))
    d.d_inode.i_uid = 7
    assert pid_revalidate(s.root, d, 0) is True and d.d_inode.i_uid == 1000
    assert pid_delete_dentry(d) is False
    PROC_I(d.d_inode).pid.task = None
    assert pid_revalidate(s.root, d, 0) is False
    assert pid_delete_dentry(d) is True
    assert get_proc_task(d.d_inode) is None and proc_pid(d.d_inode) is not None


def test_proc_setattr_mode_is_eperm_owner_ok() -> None:
    """proc_setattr(): ATTR_MODE refused; uid/gid accepted."""
    s = setup()
    d = dentry_of(s.root, mf(s.t))
    with kraises(EPERM):
        proc_setattr(s.root, d, {"mode": 0o700})
    proc_setattr(s.root, d, {"uid": 5, "gid": 6})
    assert (d.d_inode.i_uid, d.d_inode.i_gid) == (5, 6)


def test_pid_entry_macros() -> None:
    """DIR/REG/LNK build rows with the right file types (LNK is 0777)."""
    assert DIR("d", 0o500, None, None).mode == S_IFDIR | 0o500
    assert REG("r", 0o444, None).mode == S_IFREG | 0o444
    assert LNK("l", lambda *a: None).mode == S_IFLNK | 0o777


class _F:
    def __init__(self, size: int = 0) -> None:
        self.f_pos = 0
        self.f_inode = type("I", (), {"i_size": size})()


@pytest.mark.parametrize("offset, whence, want", [(5, 0, 5), (MAX_NON_LFS, 0, MAX_NON_LFS), (0, 2, 0),
                                                  (7, 2, 7)])
def test_generic_file_llseek_accepts(offset: int, whence: int, want: int) -> None:
    """SEEK_SET/SEEK_END within [0, MAX_NON_LFS]."""
    assert generic_file_llseek(None, _F(), offset, whence) == want


@pytest.mark.parametrize("offset, whence", [(-1, 0), (MAX_NON_LFS + 1, 0), (1 << 40, 0), (0, 7), (-1, 2)])
def test_generic_file_llseek_rejects(offset: int, whence: int) -> None:
    """Negative, beyond s_maxbytes, or an unknown whence: EINVAL."""
    with kraises(EINVAL):
        generic_file_llseek(None, _F(), offset, whence)


def test_generic_file_llseek_seek_cur() -> None:
    """SEEK_CUR 0 reports the position; SEEK_CUR n moves from it; below 0 is EINVAL."""
    f = _F()
    generic_file_llseek(None, f, 10, 0)
    assert generic_file_llseek(None, f, 0, 1) == 10
    assert generic_file_llseek(None, f, 5, 1) == 15
    with kraises(EINVAL):
        generic_file_llseek(None, f, -16, 1)


def test_generic_file_llseek_data_hole() -> None:
    """SEEK_DATA/SEEK_HOLE: ENXIO at or past i_size, else the offset / i_size."""
    with kraises(ENXIO):
        generic_file_llseek(None, _F(0), 0, 3)
    with kraises(ENXIO):
        generic_file_llseek(None, _F(0), 0, 4)
    assert generic_file_llseek(None, _F(10), 3, 3) == 3
    assert generic_file_llseek(None, _F(10), 3, 4) == 10
