"""simkernel/machine.py and simkernel/init.py: boot layout, init, sysctls, counters, isolation, determinism."""

from __future__ import annotations

import pytest

import simkernel
from simkernel import init as INIT
from simkernel.machine import BOOT_TIME_NS, CLOCK_STEP_NS, Sysctl
from simkernel.uapi import CAP_LAST_CAP, O_CREAT, O_RDWR


@pytest.fixture
def k():
    return simkernel.Kernel()


@pytest.mark.parametrize("path,mode", [
    ("/", 0o40755), ("/tmp", 0o41777), ("/lib", 0o40755), ("/usr/lib", 0o40755), ("/usr/bin", 0o40755),
    ("/home", 0o40755), ("/etc", 0o40755), ("/root", 0o40700), ("/proc", 0o40555), ("/dev/zero", 0o20666),
])
def test_start_kernel_layout(k, path, mode):
    """Boot makes the root filesystem: directories with their modes, /dev/zero (1, 5), procfs on /proc."""
    st = k.init.sys.stat(path)
    assert st.st_mode == mode and st.st_uid == 0 and st.st_gid == 0


def test_start_kernel_files_and_devices(k):
    """/dev/zero is makedev(1, 5) and reads zeros; /etc/passwd and /etc/hostname have their contents."""
    s = k.init.sys
    assert s.stat("/dev/zero").st_rdev == 0x105
    assert s.read(s.open("/dev/zero", 0), 4) == bytes(4)
    assert s.read(s.open("/etc/hostname", 0), 100) == b"simkernel\n"
    assert b"root:x:0:0" in s.read(s.open("/etc/passwd", 0), 1000)
    assert set(INIT.ROOTFS_LAYOUT) >= {("/tmp", 0o1777), ("/usr/bin", 0o755)}
    assert str(k.init.pid) in s.listdir("/proc")


def test_start_kernel_init_task(k):
    """init: pid 1, uid 0 everywhere, every capability in effective, permitted and bounding; root and cwd /."""
    init = k.init
    full = (1 << (CAP_LAST_CAP + 1)) - 1
    c = init.cred
    assert (init.pid, init.tgid, init.comm, init.group_leader) == (1, 1, "init", init)
    assert (c.uid, c.euid, c.suid, c.fsuid, c.gid, c.egid) == (0,) * 6
    assert (c.cap_effective, c.cap_permitted, c.cap_bset) == (full, full, full)
    assert init.sys.capget() == (full, full, 0)
    assert init.sys.getcwd() == "/" and init.fs.umask == 0o022 and k.tasks == {1: init}
    assert init.nsproxy.mnt_ns is k.init_mnt_ns and init.cred.user_ns is k.init_user_ns


@pytest.mark.parametrize("name,value", [
    ("vm.max_map_count", 65530), ("vm.mmap_min_addr", 4096), ("fs.suid_dumpable", 0),
    ("kernel.yama.ptrace_scope", 0), ("fs.protected_hardlinks", 1), ("fs.protected_symlinks", 0),
    ("fs.protected_regular", 0), ("fs.protected_fifos", 0),
])
def test_sysctl_defaults(k, name, value):
    """Default sysctls, as on the reference host."""
    assert k.sysctl[name] == value and name in list(k.sysctl)


def test_sysctl_set_and_unknown(k):
    """Sysctls are ints; an unknown name is a KeyError, not a new entry."""
    k.sysctl["vm.max_map_count"] = "100"
    assert k.sysctl["vm.max_map_count"] == 100
    with pytest.raises(KeyError):
        k.sysctl["no.such"] = 1
    assert Sysctl()["vm.max_map_count"] == 65530


def test_next_id_counters_are_per_kernel():
    """Counters start where asked and belong to one kernel."""
    a, b = simkernel.Kernel(), simkernel.Kernel()
    n = a.next_id("test", start=10)
    assert (n, a.next_id("test"), b.next_id("test", start=10)) == (10, 11, 10)


def test_clock_and_tick(k):
    """The clock starts at BOOT_TIME_NS plus the boot's own syscalls and steps 1 ms per syscall."""
    now = k.current_time()
    assert now > BOOT_TIME_NS and (now - BOOT_TIME_NS) % CLOCK_STEP_NS == 0
    assert k.tick() == now + CLOCK_STEP_NS


def test_two_kernels_share_nothing():
    """Two kernels in one process: separate tasks, files, mounts, counters, sysctls."""
    a, b = simkernel.Kernel(), simkernel.Kernel()
    a.init.sys.close(a.init.sys.open("/tmp/only-a", O_CREAT | O_RDWR, 0o600))
    a.spawn("x")
    a.sysctl["vm.max_map_count"] = 7
    assert b.init.sys.listdir("/tmp") == [] and list(b.tasks) == [1] and b.sysctl["vm.max_map_count"] == 65530
    assert a.init_mnt_ns is not b.init_mnt_ns and a.init_user_ns is not b.init_user_ns
    assert b.spawn("z").pid == 2 and a.spawn("w").pid == 3


def _script() -> list:
    k = simkernel.Kernel()
    t = k.spawn("app", uid=1000, gid=1000)
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.write(fd, b"x" * 5000)
    t.sys.mkdir("/tmp/d")
    c = t.sys.fork()
    st = t.sys.stat("/tmp/f")
    return [t.pid, c.pid, fd, st.st_ino, st.st_dev, st.st_mtime_ns, st.st_blocks, t.sys.listdir("/tmp"),
            k.init.sys.getdents(k.init.sys.open("/tmp", 0o200000), 4096), t.sys.readlink(f"/proc/{t.pid}/fd/{fd}"),
            k.current_time(), repr(k)]


def test_determinism_same_script_same_output():
    """The same script on two fresh kernels gives identical pids, inodes, devices, times and listings."""
    assert _script() == _script()


def test_find_task_and_spawn(k):
    """find_task finds live and zombie tasks; spawn forks init (or a parent) with the kernel's id rules."""
    t = k.spawn("a", uid=1000, gid=1000, groups=[1, 2])
    assert k.find_task(t.pid) is t and k.find_task(999) is None
    assert (t.comm, t.cred.uid, t.cred.cap_effective, t.real_parent) == ("a", 1000, 0, k.init)
    c = k.spawn("b", parent=k.spawn("r"))
    assert c.real_parent.comm == "r"


def test_kernel_repr_and_version(k):
    """repr names the release and the number of tasks; the default release is the host's; fault injection
    is off (nothing armed, no syscall work)."""
    assert repr(k) == f"<Kernel {k.version.name} tasks=1>" and k.version.name in simkernel.VERSIONS
    assert k.fail_nth_result(k.init) is None and k.init.fail_nth == 0 and k.syscall_work == []
