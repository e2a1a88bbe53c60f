"""Unit tests of simkernel/fs/proc/array.py: /proc/<pid>/status (Linux: fs/proc/array.c)."""

from __future__ import annotations

from simkernel.fs.proc.array import proc_pid_status, task_state_char
from simkernel.kernel.task import PF_KTHREAD
from simkernel.uapi import CAP_NET_RAW, CAP_SYS_ADMIN, CLONE_NEWUSER, O_RDONLY, O_WRONLY
from tests.fs.proc.prockit import kernel, setup


def _status(t, pid):
    fd = t.sys.open(f"/proc/{pid}/status", O_RDONLY)
    try:
        text = t.sys.read(fd, 65536).decode()
    finally:
        t.sys.close(fd)
    return dict(line.split(":\t", 1) for line in text.splitlines())


def test_proc_pid_status_ids_groups_caps() -> None:
    """Uid/Gid rows are real, effective, saved, fs; Groups space-separated with a trailing space."""
    k = kernel()
    t = k.spawn("t", uid=1000, gid=1001, groups=[4, 27], caps=[CAP_NET_RAW, CAP_SYS_ADMIN])
    st = _status(k.init, t.pid)
    assert st["Uid"] == "1000\t1000\t1000\t1000" and st["Gid"] == "1001\t1001\t1001\t1001"
    assert st["Groups"] == "4 27 "
    assert st["CapEff"] == st["CapPrm"] == f"{(1 << CAP_NET_RAW) | (1 << CAP_SYS_ADMIN):016x}"
    assert st["Name"] == "t" and st["Tgid"] == str(t.pid) and st["PPid"] == "1"


def test_proc_pid_status_empty_groups_keeps_trailing_space() -> None:
    """No supplementary groups: "Groups:\\t " (the kernel's stray trailing space)."""
    k = kernel()
    t = k.spawn("t", uid=1000, gid=1000)
    assert _status(k.init, t.pid)["Groups"] == " "


def test_proc_pid_status_munged_in_user_namespace() -> None:
    """Ids unmapped in the reader's namespace read as the overflow id 65534."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    for name, text in (("uid_map", b"0 1000 1"), ("setgroups", b"deny"), ("gid_map", b"0 1000 1")):
        fd = u.sys.open(f"/proc/{u.pid}/{name}", O_WRONLY)
        u.sys.write(fd, text)
        u.sys.close(fd)
    assert _status(u, k.init.pid)["Uid"] == "65534\t65534\t65534\t65534"
    assert _status(u, u.pid)["Uid"] == "0\t0\t0\t0"
    assert _status(k.init, u.pid)["Uid"] == "1000\t1000\t1000\t1000"


def test_task_state_char_variants() -> None:
    """R for the reader itself, S for others, Z for zombies, X for dead tasks."""
    s = setup()
    assert task_state_char(s.t, s.t) == "R (running)"
    assert task_state_char(s.root, s.t) == "S (sleeping)"
    s.t.state = "zombie"
    assert task_state_char(s.root, s.t) == "Z (zombie)"
    s.t.state = "dead"
    assert task_state_char(s.root, s.t) == "X (dead)"
    s.t.state = "running"


def test_proc_pid_status_zombie_and_kthread_fields() -> None:
    """A zombie (no fs, no files) has no Umask line and FDSize 0; a kthread shows Kthread 1."""
    s = setup()

    class F:
        f_cred = None
    s.t.fs, s.t.files = None, None
    s.t.flags |= PF_KTHREAD
    text = proc_pid_status(s.root, s.t, F())
    assert "Umask:" not in text and "FDSize:\t0" in text and "Kthread:\t1" in text


def test_proc_pid_status_init_has_no_parent() -> None:
    """PPid of pid 1 is 0."""
    k = kernel()
    assert _status(k.init, 1)["PPid"] == "0"
