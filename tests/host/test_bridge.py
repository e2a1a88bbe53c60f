"""The bridge itself (simkernel/host/) on the real kernel: credentials, errno, memory, processes, cleanup."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import simkernel.host
from simkernel.host import SCENARIO_BASE, SCENARIO_SPAN, HostBridgeError, HostKernel, HostSys, HostTimeoutError
from simkernel.host import procfs
from simkernel.syscalls import Sys
from simkernel.uapi import (
    AT_EMPTY_PATH, CAP_DAC_READ_SEARCH, CAP_LAST_CAP, CAP_SYS_PTRACE, CLONE_FILES, CLONE_FS, CLONE_NEWPID,
    CLONE_NEWUSER, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EEXIST, EINVAL, ENOENT, EPERM, MAP_ANONYMOUS, MAP_FIXED, MAP_FIXED_NOREPLACE,
    MAP_PRIVATE, MAP_SHARED, MREMAP_FIXED, MREMAP_MAYMOVE, O_CREAT, O_DIRECTORY, O_PATH, O_RDONLY, O_RDWR,
    PAGE_SIZE, PR_GET_DUMPABLE, PR_GET_KEEPCAPS, PR_SET_DUMPABLE, PROT_READ, PROT_WRITE, WNOHANG,
)
from tests.helpers import raises_errno
from tests.host.conftest import Compared, HostTally

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
ANON = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE
DT_LNK = 10


def _own_caps() -> tuple[int, int]:
    """(CapEff, CapBnd) of the test process."""
    st = procfs.read_status(os.getpid())
    return st["CapEff"], st["CapBnd"]


def _gone(pid: int, started: int | None) -> bool:
    """The process is neither alive nor a zombie (or its pid now names another process)."""
    return procfs.start_time(pid) in (None,) or procfs.start_time(pid) != started


def _my_children() -> set[int]:
    return {pid for pid in procfs.descendants(os.getpid()) if _ppid(pid) == os.getpid()}


def _ppid(pid: int) -> int | None:
    st = procfs.read_status(pid) if procfs.task_state(pid) else None
    return None if st is None else st["PPid"]


# -- surface ---------------------------------------------------------------------------------------
def test_hostsys_signatures_match_simulation() -> None:
    """Every public method of simkernel.syscalls.Sys exists on HostSys with the same signature."""
    for name, impl in vars(Sys).items():
        if name.startswith("_") or not callable(impl):
            continue
        assert hasattr(HostSys, name), f"HostSys lacks {name}"
        sim = [(p.name, p.kind, p.default) for p in inspect.signature(impl).parameters.values()]
        got = [(p.name, p.kind, p.default) for p in inspect.signature(getattr(HostSys, name)).parameters.values()]
        assert got == sim, f"{name}: host {got} != sim {sim}"


def test_hostsys_bad_arguments_raise_typeerror_in_caller(host: HostKernel) -> None:
    """A call that does not fit the signature fails in the test process, before anything is sent."""
    with pytest.raises(TypeError):
        host.init.sys.open()  # type: ignore[call-arg]
    assert host.init.sys.getpid() == host.init.pid


def test_non_oserror_in_task_keeps_its_class_with_remote_traceback(host: HostKernel) -> None:
    """An exception other than OSError comes back as its own class, noting the remote traceback."""
    with pytest.raises(TypeError) as info:
        host.init.sys.read("not a descriptor", 1)  # type: ignore[arg-type]
    assert any("raised in host task" in note for note in info.value.__notes__)


# -- spawn and credentials -------------------------------------------------------------------------
def test_spawn_sets_ids_groups_and_drops_caps(host: HostKernel) -> None:
    """spawn(uid, gid, groups) as non-root: ids and groups set, no capabilities left (caps=None)."""
    t = host.spawn("app", uid=1000, gid=1001, groups=(5, 6))
    assert t.sys.getresuid() == (1000, 1000, 1000)
    assert t.sys.getresgid() == (1001, 1001, 1001)
    assert t.sys.getgroups() == [5, 6]
    assert t.sys.capget() == (0, 0, 0)
    st = t.status()
    assert (st["Uid"], st["Gid"], st["Groups"]) == ((1000,) * 4, (1001,) * 4, (5, 6))
    assert (st["CapEff"], st["CapPrm"], st["CapInh"], st["CapAmb"]) == (0, 0, 0, 0)
    assert st["CapBnd"] == _own_caps()[1]
    assert (t.comm, st["Name"], st["PPid"], t.tgid) == ("app", "app", host.init.pid, t.pid)


def test_spawn_with_caps_keeps_exactly_those(host: HostKernel) -> None:
    """caps=[...] leaves exactly those in effective and permitted, none inheritable, KEEPCAPS cleared."""
    mask = 1 << CAP_SYS_PTRACE | 1 << CAP_DAC_READ_SEARCH
    t = host.spawn("capped", uid=1000, gid=1000, caps=[CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])
    assert t.sys.capget() == (mask, mask, 0)
    st = t.status()
    assert (st["CapEff"], st["CapPrm"], st["CapInh"], st["Uid"]) == (mask, mask, 0, (1000,) * 4)
    assert t.sys.prctl(PR_GET_KEEPCAPS) == 0


def test_spawn_root_keeps_the_test_process_caps(host: HostKernel) -> None:
    """A root spawn with caps=None has the capabilities of the test process (this host's full set)."""
    eff, bnd = _own_caps()
    t = host.spawn("root")
    assert t.sys.capget() == (eff, eff, 0)
    assert t.status()["CapBnd"] == bnd


def test_spawn_cap_outside_bounding_set_is_eperm(host: HostKernel) -> None:
    """capset cannot raise a capability the host's bounding set lacks: spawn fails with EPERM."""
    _eff, bnd = _own_caps()
    missing = [c for c in range(CAP_LAST_CAP + 1) if not bnd >> c & 1]
    if not missing:
        pytest.skip("this host's bounding set is full")
    with raises_errno(EPERM, PermissionError):
        host.spawn("greedy", uid=1000, gid=1000, caps=[missing[0]])


def test_spawn_from_parent_task(host: HostKernel) -> None:
    """spawn(parent=t) forks t rather than init."""
    t = host.spawn("parent")
    c = host.spawn("child", uid=1000, gid=1000, parent=t)
    assert (c.sys.getppid(), c.sys.getresuid()) == (t.pid, (1000, 1000, 1000))


def test_spawn_from_non_root_parent_is_eperm(host: HostKernel) -> None:
    """The credential switch runs as the child: from a non-root parent, setgroups fails with EPERM."""
    t = host.spawn("parent", uid=1000, gid=1000)
    with raises_errno(EPERM, PermissionError):
        host.spawn("child", uid=1000, gid=1000, parent=t)


# -- errno propagation -----------------------------------------------------------------------------
def test_open_missing_is_filenotfounderror_with_filename(host: HostKernel) -> None:
    """ENOENT comes back as FileNotFoundError with errno 2 and the path as filename."""
    with raises_errno(ENOENT, FileNotFoundError) as info:
        host.init.sys.open("/nonexistent/simk", O_RDONLY)
    assert info.value.filename == "/nonexistent/simk"


def test_rename_missing_keeps_both_filenames(host: HostKernel) -> None:
    """filename and filename2 survive the trip, as os.rename sets them."""
    d = host.tmpdir()
    with raises_errno(ENOENT, FileNotFoundError) as info:
        host.init.sys.rename(f"{d}/a", f"{d}/b")
    assert (info.value.filename, info.value.filename2) == (f"{d}/a", f"{d}/b")


def test_readlink_map_files_bad_names_are_enoent(host: HostKernel) -> None:
    """readlink of malformed or absent map_files entries is ENOENT (never EINVAL)."""
    t = host.spawn("app")
    for name in ("7e-", "zz-zz", "07e0000000000-7e0000001000", f"{SCENARIO_BASE:x}-{SCENARIO_BASE + 4096:x}"):
        with raises_errno(ENOENT, FileNotFoundError):
            t.sys.readlink(f"/proc/{t.pid}/map_files/{name}")


# -- memory ----------------------------------------------------------------------------------------
def test_mmap_fixed_noreplace_at_scenario_base(host: HostKernel) -> None:
    """MAP_FIXED_NOREPLACE at SCENARIO_BASE lands there, shows in maps, and a second one is EEXIST."""
    t = host.spawn("app", uid=1000, gid=1000)
    assert t.read_maps(SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN) == []
    addr = t.sys.mmap(SCENARIO_BASE, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE, ANON)
    assert addr == SCENARIO_BASE
    lines = t.read_maps(SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN)
    assert [line.split()[:2] for line in lines] == [[f"{addr:x}-{addr + 3 * PAGE_SIZE:x}", "rw-p"]]
    with raises_errno(EEXIST, FileExistsError):
        t.sys.mmap(SCENARIO_BASE + PAGE_SIZE, PAGE_SIZE, PROT_READ, ANON)


def test_mprotect_middle_page_splits_into_three(host: HostKernel) -> None:
    """mprotect of the middle page splits one VMA into three lines of maps."""
    t = host.spawn("app")
    addr = t.sys.mmap(SCENARIO_BASE, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE, ANON)
    t.sys.mprotect(addr + PAGE_SIZE, PAGE_SIZE, PROT_READ)
    lines = t.read_maps(SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN)
    assert [line.split()[1] for line in lines] == ["rw-p", "r--p", "rw-p"]
    assert [procfs.parse_maps_line(line) for line in lines] == [
        (addr + i * PAGE_SIZE, addr + (i + 1) * PAGE_SIZE) for i in range(3)]


def test_munmap_and_mremap_fixed(host: HostKernel) -> None:
    """munmap punches a hole; mremap(MAYMOVE|FIXED) moves and grows a mapping to the given address."""
    t = host.spawn("app")
    addr = t.sys.mmap(SCENARIO_BASE, 3 * PAGE_SIZE, PROT_READ, ANON)
    t.sys.munmap(addr + PAGE_SIZE, PAGE_SIZE)
    assert len(t.read_maps(SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN)) == 2
    dest = SCENARIO_BASE + (1 << 30)
    assert t.sys.mremap(addr, PAGE_SIZE, 2 * PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED, dest) == dest
    assert procfs.parse_maps_line(t.read_maps(dest, dest + 1)[0]) == (dest, dest + 2 * PAGE_SIZE)


def test_map_files_entry_of_a_mapped_file(host: HostKernel) -> None:
    """A file mapped at SCENARIO_BASE is listed in map_files; readlink, bufsiz, lstat, getdents agree."""
    d = host.tmpdir()
    t = host.spawn("app")
    fd = t.sys.open(f"{d}/data", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 2 * PAGE_SIZE)
    addr = t.sys.mmap(SCENARIO_BASE, 2 * PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, 0)
    name = f"{addr:x}-{addr + 2 * PAGE_SIZE:x}"
    mf = f"/proc/{t.pid}/map_files"
    assert name in t.sys.listdir(mf)
    assert t.sys.readlink(f"{mf}/{name}") == f"{d}/data"
    assert t.sys.readlink(f"{mf}/{name}", bufsiz=5) == f"{d}/data"[:5]
    st = t.sys.lstat(f"{mf}/{name}")
    assert (st.st_mode, st.st_size, st.st_nlink) == (0o120600, 64, 1)
    dfd = t.sys.open(mf, O_RDONLY | O_DIRECTORY)
    entries = {n: (ino, typ) for n, ino, typ, _off in t.sys.getdents(dfd, 32768)}
    assert entries[name] == (st.st_ino, DT_LNK)
    assert t.sys.getdents(dfd, 32768) == []


def test_memfd_mapping_reads_back_as_memfd_deleted(host: HostKernel) -> None:
    """memfd_create + MAP_SHARED: the map_files link reads "/memfd:<name> (deleted)"."""
    t = host.spawn("app")
    fd = t.sys.memfd_create("mymemfd")
    t.sys.ftruncate(fd, PAGE_SIZE)
    addr = t.sys.mmap(SCENARIO_BASE, PAGE_SIZE, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0)
    assert t.sys.readlink(f"/proc/{t.pid}/map_files/{addr:x}-{addr + PAGE_SIZE:x}") == "/memfd:mymemfd (deleted)"


# -- files -----------------------------------------------------------------------------------------
def test_open_does_not_add_cloexec_and_first_fd_is_3(host: HostKernel) -> None:
    """A fresh task's first open() returns 3 and keeps the flags given (no O_CLOEXEC added)."""
    t = host.spawn("app")
    fd = t.sys.open("/", O_RDONLY | O_DIRECTORY)
    assert fd == 3
    with open(f"/proc/{t.pid}/fdinfo/{fd}") as f:
        flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
    assert not flags & 0o2000000


def test_getdents_matches_listdir_and_fstatat_empty_path(host: HostKernel) -> None:
    """getdents64 lists what listdir lists (plus . and ..); fstatat(AT_EMPTY_PATH) of an O_PATH fd = stat."""
    d = host.tmpdir()
    t = host.spawn("app")
    for n in ("a", "b", "c"):
        t.sys.close(t.sys.open(f"{d}/{n}", O_CREAT | O_RDWR, 0o600))
    fd = t.sys.open(d, O_RDONLY | O_DIRECTORY)
    names = [n for n, _ino, _t, _off in t.sys.getdents(fd, 32768)]
    assert sorted(names) == [".", "..", "a", "b", "c"]
    assert sorted(t.sys.listdir(d)) == ["a", "b", "c"]
    pfd = t.sys.open(f"{d}/a", O_PATH)
    assert t.sys.fstatat(pfd, "", AT_EMPTY_PATH) == t.sys.stat(f"{d}/a")


def test_tmpdir_is_0755_and_removed_at_close() -> None:
    """tmpdir() makes a 0755 directory under /tmp that close() removes with its contents."""
    with HostKernel() as k:
        d = k.tmpdir()
        assert os.stat(d).st_mode & 0o7777 == 0o755 and d.startswith("/tmp/")
        k.init.sys.mkdir(f"{d}/sub", 0o700)
    assert not os.path.exists(d)


# -- processes -------------------------------------------------------------------------------------
def test_fork_exit_waitpid(host: HostKernel) -> None:
    """fork gives an RPC-driven child; exit leaves a zombie until the parent's waitpid reaps it."""
    t = host.spawn("parent", uid=1000, gid=1000)
    c = t.sys.fork()
    assert (c.sys.getppid(), c.sys.getpid(), c.sys.getresuid()) == (t.pid, c.pid, (1000, 1000, 1000))
    assert t.sys.waitpid(c.pid, WNOHANG) == (0, 0)
    c.sys.exit(3)
    assert c.status()["State"].startswith("Z")
    assert t.sys.waitpid(c.pid, 0) == (c.pid, 3 << 8)
    assert procfs.task_state(c.pid) is None
    with pytest.raises(HostBridgeError):
        c.sys.getpid()


def test_orphan_is_reparented_to_init(host: HostKernel) -> None:
    """When a parent exits, its child is reparented to the kernel's init task (a child subreaper)."""
    t = host.spawn("parent")
    c = t.sys.fork()
    t.sys.exit(0)
    host.init.sys.waitpid(t.pid, 0)
    assert c.sys.getppid() == host.init.pid


def test_clone_thread_has_its_own_credentials(host: HostKernel) -> None:
    """A CLONE_THREAD task shares the tgid; setresuid in it changes that thread only (kernel semantics)."""
    t = host.spawn("proc")
    th = t.sys.clone(THREAD)
    assert (th.tgid, th.sys.getpid(), th.sys.gettid()) == (t.pid, t.pid, th.pid)
    assert th.pid != t.pid
    th.sys.setresuid(1000, 1000, 1000)
    assert th.sys.getresuid() == (1000, 1000, 1000)
    assert t.sys.getresuid() == (0, 0, 0)
    assert th.status()["Uid"] == (1000,) * 4
    th.sys.exit(0)
    assert procfs.task_state(th.pid) is None
    assert t.sys.getpid() == t.pid


def test_unshare_newpid_child_is_pid_1_inside(host: HostKernel) -> None:
    """After unshare(CLONE_NEWPID) a fork is pid 1 inside; the HostTask still knows its global pid."""
    t = host.spawn("ns")
    t.sys.unshare(CLONE_NEWPID)
    c = t.sys.fork()
    assert c.sys.getpid() == 1 and c.pid != 1
    assert c.status()["NSpid"] == (c.pid, 1)
    th = c.sys.clone(THREAD)
    assert th.status()["NSpid"][-1] == th.sys.gettid() and th.tgid == c.pid


def test_fork_after_unshare_newuser(host: HostKernel) -> None:
    """A task in a new user namespace (its uid unmapped: 65534 inside) can still fork a host task."""
    t = host.spawn("userns", uid=1000, gid=1000)
    t.sys.unshare(CLONE_NEWUSER)
    c = t.sys.fork()
    assert c.sys.getresuid() == (65534,) * 3
    assert c.status()["Uid"] == (1000,) * 4


def test_clone_limits(host: HostKernel) -> None:
    """clone checks CLONE_THREAD needs CLONE_SIGHAND (EINVAL); shapes Python cannot make are refused."""
    t = host.spawn("app")
    with raises_errno(EINVAL):
        t.sys.clone(CLONE_VM | CLONE_THREAD)
    with pytest.raises(NotImplementedError):
        t.sys.clone(CLONE_VM)
    assert t.sys.getpid() == t.pid


def test_large_read_and_write_cross_the_channel(host: HostKernel) -> None:
    """Results and arguments larger than a socket buffer arrive whole."""
    d = host.tmpdir()
    t = host.spawn("app")
    blob = os.urandom(8 << 20)
    fd = t.sys.open(f"{d}/big", O_CREAT | O_RDWR, 0o600)
    assert t.sys.write(fd, blob) == len(blob)
    assert t.sys.pread(fd, len(blob), 0) == blob


def test_execve_failure_and_success(host: HostKernel) -> None:
    """A failed execve raises as os would; a successful one leaves the task running the program."""
    t = host.spawn("app")
    with raises_errno(ENOENT, FileNotFoundError):
        t.sys.execve("/nonexistent/prog", ["prog"])
    t.sys.execve("/bin/sleep", ["sleep", "60"])
    assert t.state == "exec" and t.comm == "sleep"
    with pytest.raises(HostBridgeError):
        t.sys.getpid()


def test_prctl_dumpable_after_uid_change(host: HostKernel) -> None:
    """The uid switch of spawn(dumpable=False) leaves the task non-dumpable (commit_creds sets
    fs.suid_dumpable, 0 here), so its map_files belongs to root; PR_SET_DUMPABLE 1 gives it back."""
    t = host.spawn("app", uid=1000, gid=1000, dumpable=False)
    with open("/proc/sys/fs/suid_dumpable") as f:
        suid_dumpable = int(f.read())
    assert t.sys.prctl(PR_GET_DUMPABLE) == suid_dumpable
    if suid_dumpable == 0:
        assert os.stat(f"/proc/{t.pid}/map_files").st_uid == 0
    assert t.sys.prctl(PR_SET_DUMPABLE, 1) == 0
    assert t.sys.prctl(PR_GET_DUMPABLE) == 1
    assert os.stat(f"/proc/{t.pid}/map_files").st_uid == 1000
    assert host.spawn("root").sys.prctl(PR_GET_DUMPABLE) == 1
    assert host.spawn("app2", uid=1000, gid=1000).sys.prctl(PR_GET_DUMPABLE) == 1  # default dumpable=True


# -- robustness ------------------------------------------------------------------------------------
def test_rpc_timeout_breaks_the_task_and_close_still_cleans_up() -> None:
    """A call that blocks past the timeout raises HostTimeoutError; the task is unusable; close() reaps all."""
    before = _my_children()
    start = time.monotonic()
    with HostKernel(timeout=0.5) as k:
        t = k.spawn("waiter")
        c = t.sys.fork()
        with pytest.raises(HostTimeoutError):
            t.sys.waitpid(c.pid, 0)  # c never exits
        with pytest.raises(HostBridgeError, match="broken"):
            t.sys.getpid()
        tasks = [(x.pid, x.started) for x in (k.init, t, c)]
    assert time.monotonic() - start < 5
    assert all(_gone(pid, started) for pid, started in tasks)
    assert _my_children() == before


def test_close_after_a_failure_with_a_blocked_init_reaps_everything() -> None:
    """Even when init itself is stuck and the scenario raised, close() leaves no process or zombie."""
    before = _my_children()
    tasks = []
    with pytest.raises(RuntimeError, match="scenario failed"):
        with HostKernel(timeout=0.5) as k:
            t = k.spawn("a", uid=1000, gid=1000)
            c = t.sys.fork()
            t2 = c.sys.fork()
            tasks = [(x.pid, x.started) for x in (k.init, t, c, t2)]
            with pytest.raises(HostTimeoutError):
                k.init.sys.waitpid(t.pid, 0)
            raise RuntimeError("scenario failed")
    assert tasks and all(_gone(pid, started) for pid, started in tasks)
    assert _my_children() == before


def test_close_leaves_no_process_behind() -> None:
    """After the context exits, nothing it made is alive or a zombie, and the test process has no new child."""
    before = _my_children()
    with HostKernel() as k:
        ts = [k.spawn(f"t{i}", uid=1000 + i, gid=1000) for i in range(3)]
        kids = [t.sys.fork() for t in ts]
        kids[0].sys.exit(0)  # a zombie nobody waited for
        ts[1].sys.clone(THREAD)
        tasks = [(x.pid, x.started) for x in [k.init, *ts, *kids]]
    assert all(_gone(pid, started) for pid, started in tasks)
    assert _my_children() == before


_KILLED_RUNNER = """
import os, signal, sys
from simkernel.host import HostKernel
k = HostKernel()
ts = [k.spawn("victim%d" % i, uid=1000, gid=1000) for i in range(2)]
c = ts[0].sys.fork()
ts[1].sys.execve("/bin/sleep", ["sleep", "600"])
print(" ".join("%d:%d" % (t.pid, t.started) for t in [k.init, *ts, c]), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_tasks_die_with_a_killed_test_process() -> None:
    """If the test process is SIGKILLed, init kills and reaps everything below it, exec'd programs too."""
    root = str(Path(simkernel.host.__file__).parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", _KILLED_RUNNER], capture_output=True, text=True, timeout=30,
                         cwd=root, env=env)
    tasks = [tuple(int(x) for x in word.split(":")) for word in out.stdout.split()]
    assert len(tasks) == 4, out.stderr
    deadline = time.monotonic() + 10
    while not all(_gone(pid, started) or procfs.task_state(pid) == "Z" for pid, started in tasks):
        assert time.monotonic() < deadline, [(pid, procfs.task_state(pid)) for pid, _ in tasks]
        time.sleep(0.02)
    # init itself may linger as a zombie until the host's pid 1 reaps it; nothing below it does
    assert all(_gone(pid, started) for pid, started in tasks[1:])


def test_compared_check_counts_and_shows_both_sides() -> None:
    """compared.check counts each observation and, on mismatch, names the label and both values."""
    tally = HostTally()
    c = Compared(tally, "t::x")
    c.check([1, 2], [1, 2], "same")
    with pytest.raises(AssertionError) as info:
        c.check([1, 2, 3], [1, 5, 3], "maps lines")
    assert "maps lines" in str(info.value) and "[1]" in str(info.value) and "5" in str(info.value)
    assert (c.count, tally.observations, tally.comparing_tests) == (2, 2, {"t::x"})


def test_exit_group_ends_every_thread(host: HostKernel) -> None:
    """exit_group() from a non-leader thread ends the whole process, on the host as in the simulation."""
    import simkernel
    from simkernel.uapi import CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM
    flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
    seen = []
    for k in (simkernel.Kernel(), host):
        p = k.spawn("grp", uid=1000, gid=1000)
        th = p.sys.clone(flags)
        th.sys.exit_group(3)
        try:
            k.init.sys.stat(f"/proc/{p.pid}/task/{th.pid}")
            seen.append("thread present")
        except FileNotFoundError:
            seen.append("thread gone")
    assert seen == ["thread gone", "thread gone"]
