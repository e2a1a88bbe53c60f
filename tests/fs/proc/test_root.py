"""Unit tests of simkernel/fs/proc/root.py (Linux: fs/proc/root.c, self.c, thread_self.c, base.c)."""

from __future__ import annotations

import pytest

from simkernel.errors import KernelError
from simkernel.fs.proc.internal import HIDEPID_INVISIBLE, HIDEPID_NO_ACCESS, HIDEPID_NOT_PTRACEABLE, ProcFsInfo
from simkernel.fs.proc.root import FIRST_PROCESS_ENTRY, PID_MAX_LIMIT, TGID_OFFSET, proc_parse_options
from simkernel.uapi import (
    CLONE_FILES, CLONE_FS, CLONE_NEWUSER, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EINVAL, EISDIR, ENOENT,
    O_DIRECTORY, O_RDONLY, S_IFDIR, S_IFLNK,
)
from tests.fs.proc.prockit import dentry_of, kernel, setup
from tests.helpers import kraises, raises_errno

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


def _info(k):
    return ProcFsInfo(pid_ns=k.init_pid_ns)


@pytest.mark.parametrize("data, hide", [("", 0), ("hidepid=0", 0), ("hidepid=1", 1), ("hidepid=2", 2),
                                        ("hidepid=4", 4), ("hidepid=off", 0), ("hidepid=noaccess", 1),
                                        ("hidepid=invisible", 2), ("hidepid=ptraceable", 4), (" hidepid=2 ,", 2)])
def test_proc_parse_options_hidepid(data: str, hide: int) -> None:
    """hidepid= accepts 0/1/2/4 and the names off/noaccess/invisible/ptraceable."""
    k = kernel()
    info = _info(k)
    proc_parse_options(k.init, data, info)
    assert info.hide_pid == hide


def test_proc_parse_options_gid_and_subset() -> None:
    """gid=N is stored as a kernel gid; subset=pid sets pidonly."""
    k = kernel()
    info = _info(k)
    proc_parse_options(k.init, "gid=4242,subset=pid", info)
    assert (info.pid_gid, info.pidonly) == (4242, True)


@pytest.mark.parametrize("data", ["hidepid=3", "hidepid=x", "gid=x", "subset=net", "bogus=1", "hidepid"])
def test_proc_parse_options_invalid_is_einval(data: str) -> None:
    """Unknown options and values: EINVAL."""
    k = kernel()
    with kraises(EINVAL):
        proc_parse_options(k.init, data, _info(k))


def test_proc_parse_options_unmapped_gid_is_einval() -> None:
    """gid= must map in the mounter's user namespace."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    with kraises(EINVAL):
        proc_parse_options(u, "gid=5", _info(k))


def test_mount_proc_bad_option_is_einval() -> None:
    """mount(2) of procfs with a bad option: EINVAL."""
    k = kernel()
    k.init.sys.mkdir("/p", 0o755)
    with raises_errno(EINVAL):
        k.init.sys.mount("proc", "/p", "proc", 0, "hidepid=9")


def test_proc_root_lookup_self_and_thread_self() -> None:
    """/proc/self reads as the tgid, /proc/thread-self as "<tgid>/task/<tid>" (from a thread too)."""
    s = setup()
    th = s.t.sys.clone(THREAD)
    assert th.sys.readlink("/proc/self") == str(s.t.pid)
    assert th.sys.readlink("/proc/thread-self") == f"{s.t.pid}/task/{th.pid}"
    assert s.root.sys.lstat("/proc/self").st_mode == S_IFLNK | 0o777


def test_proc_root_lookup_unknown_is_enoent() -> None:
    """Names that are neither pids nor fixed entries: ENOENT; so are unused pids and "01"."""
    s = setup()
    for name in ("nonexistent", "99999", "01", "4294967296"):
        with raises_errno(ENOENT):
            s.root.sys.stat(f"/proc/{name}")


def test_proc_root_lookup_thread_tid_reaches_its_pid_dir() -> None:
    """/proc/<tid> of a non-leader thread exists (not listed) and has map_files of the process."""
    s = setup()
    th = s.t.sys.clone(THREAD)
    assert str(th.pid) not in s.root.sys.listdir("/proc")
    assert s.root.sys.listdir(f"/proc/{th.pid}/map_files") == s.root.sys.listdir(f"/proc/{s.t.pid}/map_files")


def test_proc_root_readdir_order_and_positions() -> None:
    """Dots, self (256), thread-self (257), then tgids at nr + 258."""
    s = setup()
    fd = s.root.sys.open("/proc", O_RDONLY | O_DIRECTORY)
    got = s.root.sys.getdents(fd, 65536)
    names = [n for n, *_ in got]
    assert names[:4] == [".", "..", "self", "thread-self"]
    # ".." resumes at 256 (no static proc_dir_entries are modelled); thread-self at the first tgid
    assert [off for *_, off in got[:4]] == [1, FIRST_PROCESS_ENTRY, FIRST_PROCESS_ENTRY + 1, 1 + TGID_OFFSET]
    pids = [int(n) for n in names[4:]]
    assert pids == sorted(pids) and s.t.pid in pids
    assert got[-1][3] == PID_MAX_LIMIT + TGID_OFFSET
    assert s.root.sys.getdents(fd, 65536) == []


def test_proc_root_readdir_past_pid_max_is_empty() -> None:
    """A position at or beyond pid_max + 258 lists nothing."""
    s = setup()
    fd = s.root.sys.open("/proc", O_RDONLY | O_DIRECTORY)
    s.root.sys.lseek(fd, s.k.sysctl["kernel.pid_max"] + TGID_OFFSET, 0)
    assert s.root.sys.getdents(fd, 4096) == []


def test_proc_root_readdir_one_at_a_time() -> None:
    """Small buffers resume at self, thread-self and then each pid."""
    s = setup()
    fd = s.root.sys.open("/proc", O_RDONLY | O_DIRECTORY)
    names = []
    while True:
        batch = s.root.sys.getdents(fd, 32)
        if not batch:
            break
        names += [n for n, *_ in batch]
    assert names == [".", ".."] + ["self", "thread-self"] + s.root.sys.listdir("/proc")[2:]


def test_proc_root_readdir_hides_invisible_pids() -> None:
    """hidepid=2: other users' pids are not listed; own are."""
    s = setup(uid=0)
    s.k.init.sys.mkdir("/p", 0o755)
    s.k.init.sys.mount("proc", "/p", "proc", 0, "hidepid=2")
    nobody = s.k.spawn("nobody", uid=65534, gid=65534)
    listed = nobody.sys.listdir("/p")
    assert str(s.t.pid) not in listed and str(nobody.pid) in listed


def test_proc_root_lookup_hidepid4_is_enoent_at_lookup() -> None:
    """hidepid=4 (ptraceable): the lookup itself refuses a non-ptraceable pid."""
    s = setup(uid=0)
    s.k.init.sys.mkdir("/p", 0o755)
    s.k.init.sys.mount("proc", "/p", "proc", 0, "hidepid=4")
    nobody = s.k.spawn("nobody", uid=65534, gid=65534)
    with raises_errno(ENOENT):
        nobody.sys.stat(f"/p/{s.t.pid}")
    assert nobody.sys.stat(f"/p/{nobody.pid}").st_mode == S_IFDIR | 0o555


def test_proc_root_is_dir_and_read_is_eisdir() -> None:
    """/proc is dr-xr-xr-x; read(2) on it is EISDIR; lseek beyond MAX_NON_LFS is EINVAL."""
    s = setup()
    assert s.root.sys.stat("/proc").st_mode == S_IFDIR | 0o555
    fd = s.root.sys.open("/proc", O_RDONLY | O_DIRECTORY)
    with raises_errno(EISDIR):
        s.root.sys.read(fd, 1)
    with raises_errno(EINVAL):
        s.root.sys.lseek(fd, 1 << 31, 0)


def test_self_link_without_tgid_in_namespace_is_enoent() -> None:
    """/proc/self for a task invisible in the mount's pid namespace: ENOENT (proc_self_get_link)."""
    s = setup()
    from simkernel.fs.proc.root import _SELF_IOP, _THREAD_SELF_IOP
    from simkernel.kernel.task import PidNamespace
    d = dentry_of(s.root, "/proc/self")
    d.d_inode.i_sb.s_fs_info.pid_ns, ns = PidNamespace(level=1), d.d_inode.i_sb.s_fs_info.pid_ns
    try:
        for iop in (_SELF_IOP, _THREAD_SELF_IOP):
            with pytest.raises(KernelError):
                iop.get_link(s.root, d, d.d_inode, None)
    finally:
        d.d_inode.i_sb.s_fs_info.pid_ns = ns


def test_hidepid_constants() -> None:
    """The hidepid values are the kernel's enum proc_hidepid."""
    assert (HIDEPID_NO_ACCESS, HIDEPID_INVISIBLE, HIDEPID_NOT_PTRACEABLE) == (1, 2, 4)
