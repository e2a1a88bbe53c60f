"""The procfs around map_files on the host and the simulation: /proc/<pid>/status credentials lines,
/proc/<pid>/fd/N links and their permission rule, /proc/<pid>/maps access, hidepid=/gid=/subset= mounts.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from simkernel.host import procfs
from simkernel.uapi import (
    CAP_CHECKPOINT_RESTORE, CAP_DAC_READ_SEARCH, CAP_NET_RAW, CAP_SETUID, CAP_SYS_ADMIN, CAP_SYS_PTRACE,
    MAP_PRIVATE, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY, PR_SET_DUMPABLE, PROT_READ,
)
from tests.host.scenarios_procfs import (
    BASE, FIXED, PAGE, Obs, attempt, is_sim, listing, lstat_view, make_file, maps_view, mf, open_close, read_all, rng,
    run_compare, spawn,
)


def _bnd_mask(k: Any) -> int:
    """The test process's bounding set: the capabilities this host grants root at all (a container's root
    may lack some, e.g. CAP_SYS_RESOURCE; the simulation's init has every one).  Capability masks are compared
    within it, on both machines."""
    return procfs.read_status(os.getpid())["CapBnd"]


def _status(k: Any, w: Any, t: Any, mask: int) -> Any:
    text = read_all(w, f"/proc/{t.pid}/status")
    if text.startswith("!"):
        return text
    out = []
    for line in text.splitlines():
        key = line.split(":", 1)[0]
        if key in ("Uid", "Gid", "Groups", "NoNewPrivs"):
            out.append(line)
        elif key.startswith("Cap"):
            out.append(f"{key}:\t{int(line.split()[1], 16) & mask:016x}")
    return out


def scenario_status(k: Any, d: str) -> list[tuple[str, Any]]:
    """Uid/Gid/Groups/Cap* lines of tasks with chosen credentials, read by root and by the task itself."""
    o = Obs()
    mask = _bnd_mask(k)
    root = spawn(k, "root")
    tasks = [
        ("root", spawn(k, "t-root")),
        ("user", spawn(k, "t-user", uid=1000, gid=1001, groups=[4, 27, 1001])),
        ("user+caps", spawn(k, "t-caps", uid=1000, caps=[CAP_NET_RAW, CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE])),
        ("root-few-caps", spawn(k, "t-rootf", caps=[CAP_SETUID, CAP_SYS_PTRACE])),
    ]
    mixed = spawn(k, "t-mixed")
    mixed.sys.setresgid(1000, 0, 2000)
    mixed.sys.setresuid(1000, 0, 3000)
    mixed.sys.setfsuid(4000)
    tasks.append(("mixed", mixed))
    fsu = spawn(k, "t-fs", uid=1001, caps=[CAP_SETUID])
    fsu.sys.setfsuid(1000)
    tasks.append(("fsuid", fsu))
    for who, t in tasks:
        o.add(f"{who} by root", _status(k, root, t, mask))
        o.add(f"{who} by itself", _status(k, t, t, mask))
        o.do(f"{who} getres", lambda: (t.sys.getresuid(), t.sys.getresgid(), sorted(t.sys.getgroups())))
        o.do(f"{who} capget", lambda: tuple(c & mask for c in t.sys.capget()))
    nobody = spawn(k, "nobody", uid=65534)
    o.add("root status by nobody", _status(k, nobody, tasks[0][1], mask))
    return o.items


def scenario_fd_links(k: Any, d: str) -> list[tuple[str, Any]]:
    """/proc/<pid>/fd/N: link modes (r-x, -wx, rwx), link text, who may read and open them."""
    o = Obs()
    make_file(k, f"{d}/f", PAGE, 0o644)
    make_file(k, f"{d}/g", PAGE, 0o666)
    t = spawn(k, "target", uid=1000)
    fds = {"ro": t.sys.open(f"{d}/f", O_RDONLY), "wo": t.sys.open(f"{d}/g", O_WRONLY),
           "rw": t.sys.open(f"{d}/g", O_RDWR), "dir": t.sys.open(d, O_RDONLY | O_DIRECTORY)}
    mfd = t.sys.memfd_create("fdtest")
    fds["memfd"] = mfd
    observers = [("root", spawn(k, "root")), ("same-uid", spawn(k, "same", uid=1000)),
                 ("other", spawn(k, "other", uid=1001)),
                 ("other+drs", spawn(k, "other-drs", uid=1001, caps=[CAP_DAC_READ_SEARCH])),
                 ("self", t)]
    fdd = f"/proc/{t.pid}/fd"
    size0 = observers[0][1].sys.lstat(fdd).st_size
    extra = t.sys.open(f"{d}/f", O_RDONLY)
    o.add("fd dir size counts open fds (+1)", observers[0][1].sys.lstat(fdd).st_size - size0)
    t.sys.close(extra)
    o.add("fd dir size counts open fds (-1)", observers[0][1].sys.lstat(fdd).st_size - size0)
    for who, w in observers:
        o.do(f"{who} lstat fd dir", lambda: {**lstat_view(w.sys.lstat(fdd)), "size": None})
        for name, n in fds.items():
            p = f"/proc/{t.pid}/fd/{n}"
            o.do(f"{who} readlink {name}", w.sys.readlink, p)
            o.do(f"{who} lstat {name}", lambda: lstat_view(w.sys.lstat(p)))
            o.add(f"{who} open {name} O_RDONLY", open_close(w, p, O_RDONLY))
        o.do(f"{who} readlink closed fd", w.sys.readlink, f"/proc/{t.pid}/fd/999")
        o.do(f"{who} readlink fd 0123", w.sys.readlink, f"/proc/{t.pid}/fd/0{fds['ro']}")
        listed = attempt(w.sys.listdir, f"/proc/{t.pid}/fd")
        o.add(f"{who} listdir fd has ours", listed if isinstance(listed, str)
              else sorted(name for name, n in fds.items() if str(n) in listed))
    t.sys.prctl(PR_SET_DUMPABLE, 0)
    same = observers[1][1]
    o.do("same-uid after non-dumpable readlink", same.sys.readlink, f"/proc/{t.pid}/fd/{fds['ro']}")
    o.do("self after non-dumpable readlink", t.sys.readlink, f"/proc/self/fd/{fds['ro']}")
    o.do("root after non-dumpable lstat fd dir", lambda: {**lstat_view(observers[0][1].sys.lstat(fdd)),
                                                           "size": None})
    t.sys.close(fds["ro"])
    o.do("root readlink after close", observers[0][1].sys.readlink, f"/proc/{t.pid}/fd/{fds['ro']}")
    return o.items


def scenario_hidepid(k: Any, d: str, options: str) -> list[tuple[str, Any]]:
    """A procfs instance mounted with `options`; who sees and reaches which /proc/<pid>."""
    o = Obs()
    make_file(k, f"{d}/f", PAGE)
    k.init.sys.mkdir(f"{d}/proc", 0o755)
    o.do("mount", k.init.sys.mount, "proc", f"{d}/proc", "proc", 0, options)
    root_t = spawn(k, "t-root")
    user_t = spawn(k, "t-user", uid=1000)
    for t in (root_t, user_t):
        fd = t.sys.open(f"{d}/f", O_RDONLY)
        t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    observers = [("root", spawn(k, "root")), ("user", spawn(k, "user", uid=1000)),
                 ("nobody", spawn(k, "nobody", uid=65534)),
                 ("member", spawn(k, "member", uid=65534, gid=65534, groups=[4242]))]
    for who, w in observers:
        listed = attempt(w.sys.listdir, f"{d}/proc")
        for tn, t in (("root-task", root_t), ("user-task", user_t)):
            base = f"{d}/proc/{t.pid}"
            o.add(f"{who} sees {tn} in readdir", listed if isinstance(listed, str) else str(t.pid) in listed)
            o.do(f"{who} stat {tn}", lambda: lstat_view(w.sys.stat(base)))
            o.add(f"{who} status {tn}", "ok" if not read_all(w, f"{base}/status").startswith("!")
                  else read_all(w, f"{base}/status"))
            o.add(f"{who} map_files {tn}", listing(w, f"{base}/map_files"))
            o.do(f"{who} readlink {tn}", w.sys.readlink, f"{base}/map_files/{rng(BASE, BASE + PAGE)}")
            o.add(f"{who} maps {tn}", maps_view(read_all(w, f"{base}/maps")))
        o.do(f"{who} self", lambda: w.sys.readlink(f"{d}/proc/self") == str(w.pid))
        o.add(f"{who} own map_files", listing(w, f"{d}/proc/self/map_files"))
    return o.items


def scenario_proc_root_positions(k: Any, d: str) -> list[tuple[str, Any]]:
    """d_off values of /proc's fixed entries and of its last record (PID_MAX_LIMIT + 258)."""
    w = spawn(k, "reader")
    fd = w.sys.open("/proc", O_RDONLY | O_DIRECTORY)
    got = []
    while True:
        batch = w.sys.getdents(fd, 65536)
        if not batch:
            break
        got += batch
    w.sys.close(fd)
    fixed = [(n, t, off) for n, _i, t, off in got if n in ("self", "thread-self")]
    return [("self/thread-self", fixed), ("last d_off", got[-1][3]), ("dot", got[0][2:])]


HIDEPID_OPTIONS = ["", "hidepid=0", "hidepid=1", "hidepid=2", "hidepid=4", "hidepid=off", "hidepid=noaccess",
                   "hidepid=invisible", "hidepid=ptraceable", "hidepid=2,gid=4242", "hidepid=1,gid=4242",
                   "hidepid=4,gid=4242", "subset=pid", "hidepid=invisible,subset=pid"]


def test_status_credentials(host: Any, compared: Any) -> None:
    """The credential lines of /proc/<pid>/status for assorted credentials, as root and as the task."""
    run_compare(host, compared, scenario_status)


def test_fd_links(host: Any, compared: Any) -> None:
    """/proc/<pid>/fd/N: modes, link text, DAC + ptrace rule, non-dumpable, closed and malformed fds."""
    run_compare(host, compared, scenario_fd_links)


def test_proc_root_positions(host: Any, compared: Any) -> None:
    """/proc: self at 256 (d_off 257), thread-self d_off = first tgid + 258, the end at PID_MAX_LIMIT + 258."""
    run_compare(host, compared, scenario_proc_root_positions)


@pytest.mark.parametrize("options", HIDEPID_OPTIONS)
def test_hidepid_mounts(host: Any, compared: Any, options: str) -> None:
    """A scratch procfs mount with hidepid=/gid=/subset=: visibility and reachability of /proc/<pid>."""
    run_compare(host, compared, scenario_hidepid, options)
    d = host._tmpdirs[-1]
    host.close()   # unmounts every mount below the scratch directory and removes it
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if d in line], f"a mount under {d} survived the cleanup"


@pytest.mark.parametrize("options", ["hidepid=3", "hidepid=x", "gid=x", "subset=net", "bogus=1"])
def test_proc_mount_bad_options(host: Any, compared: Any, options: str) -> None:
    """Invalid procfs mount options are EINVAL."""
    def scenario(k: Any, d: str) -> list[tuple[str, Any]]:
        k.init.sys.mkdir(f"{d}/proc", 0o755)
        return [("mount", attempt(k.init.sys.mount, "proc", f"{d}/proc", "proc", 0, options))]
    run_compare(host, compared, scenario)
    d = host._tmpdirs[-1]
    host.close()
    with open("/proc/self/mountinfo") as f:
        assert not [line for line in f if d in line], f"a mount under {d} survived the cleanup"


def kthread_pid(k: Any) -> int:
    """A kernel thread's pid: kthreadd (2) on the host; on the simulation, which has no kernel threads yet,
    a task turned into one (PF_KTHREAD, no mm), as kthreadd would be."""
    if not is_sim(k):
        return 2
    from simkernel.kernel.exit import exit_mm
    from simkernel.kernel.task import PF_KTHREAD
    t = k.spawn("kthreadd")
    t.flags |= PF_KTHREAD
    exit_mm(t)
    return t.pid


def scenario_kthread(k: Any, d: str) -> list[tuple[str, Any]]:
    """map_files of a kernel thread (reference §10.8): root-owned, empty; names ESRCH; others EACCES."""
    o = Obs()
    pid = kthread_pid(k)
    root = spawn(k, "root")
    nobody = spawn(k, "nobody", uid=65534)
    base = f"/proc/{pid}/map_files"
    o.do("lstat map_files", lambda: lstat_view(root.sys.lstat(base)))
    o.add("root listdir", attempt(root.sys.listdir, base))
    o.do("root lookup well-formed", root.sys.lstat, f"{base}/1000-2000")
    o.do("root lookup malformed", root.sys.lstat, f"{base}/01000-2000")
    o.add("nobody listdir", attempt(nobody.sys.listdir, base))
    o.do("root maps", read_all, root, f"/proc/{pid}/maps")
    o.do("root exe", root.sys.readlink, f"/proc/{pid}/exe")
    o.do("lstat fd dir", lambda: {**lstat_view(root.sys.lstat(f"/proc/{pid}/fd")), "size": None})
    return o.items


def test_kernel_thread_map_files(host: Any, compared: Any) -> None:
    """A kernel thread: map_files root-owned and empty, well-formed names ESRCH, non-root EACCES."""
    run_compare(host, compared, scenario_kthread)


def scenario_seq_files(k: Any, d: str) -> list[tuple[str, Any]]:
    """seq_file behaviour of /proc/<pid> text files: page-sized reads of whole lines, bytes kept in the
    buffer across the task's exit and reap, ESRCH once re-rendering is needed, namespaces pinned at open."""
    o = Obs()
    p = spawn(k, "parent")
    t = spawn(k, "target", uid=1000, parent=p)
    for i in range(150):
        t.sys.mmap(BASE + 2 * i * PAGE, PAGE, PROT_READ, MAP_PRIVATE | 0x20 | FIXED)
    r = spawn(k, "root")

    def fd_of(name: str, flags: int = O_RDONLY) -> int:
        return r.sys.open(f"/proc/{t.pid}/{name}", flags)

    maps = fd_of("maps")
    sizes, text = [], b""
    while True:
        b = r.sys.read(maps, 1 << 20)
        if not b:
            break
        sizes.append(len(b))
        text += b
    o.add("maps: every read at most a page of whole lines", all(n <= 4096 for n in sizes) and
          all(text[:sum(sizes[:i + 1])].endswith(b"\n") for i in range(len(sizes))))
    o.add("maps: window lines", maps_view(text.decode()))
    r.sys.lseek(maps, 0, 0)
    o.add("maps: read(100)", len(r.sys.read(maps, 100)))
    o.add("maps: pread in the middle of a line", r.sys.pread(maps, 30, 5) == text[5:35])
    fds = {n: fd_of(n) for n in ("status", "comm", "uid_map", "setgroups")}
    heads = {n: r.sys.read(fd, 3) for n, fd in fds.items()}
    o.add("heads", {n: h for n, h in heads.items() if n != "status"})
    t.sys.exit(0)
    o.add("zombie: status has no Umask, state Z", (lambda s: ("Umask:" in s, "State:\tZ (zombie)" in s))(
        read_all(r, f"/proc/{t.pid}/status")))
    o.add("zombie: comm rest", r.sys.read(fds["comm"], 100))
    o.add("zombie: maps", read_all(r, f"/proc/{t.pid}/maps"))
    p.sys.waitpid(t.pid, 0)
    o.add("reaped: status rest is the old buffer", len(r.sys.read(fds["status"], 50)))
    for n, fd in fds.items():
        o.do(f"reaped: {n} lseek 0", r.sys.lseek, fd, 0, 0)
        o.do(f"reaped: {n} read", r.sys.read, fd, 100)
        o.do(f"reaped: {n} lseek 5", r.sys.lseek, fd, 5, 0)
        o.do(f"reaped: {n} position", r.sys.lseek, fd, 0, 1)
    o.do("reaped: maps lseek 0 + read", lambda: (r.sys.lseek(maps, 0, 0), r.sys.read(maps, 10)))
    o.do("text file SEEK_END", r.sys.lseek, maps, 0, 2)
    u = spawn(k, "user", uid=1000)
    o.do("setgroups O_WRONLY without CAP_SYS_ADMIN", u.sys.open, f"/proc/{u.pid}/setgroups", O_WRONLY)
    o.add("setgroups O_RDONLY", read_all(u, f"/proc/{u.pid}/setgroups"))
    o.do("uid_map write in the initial namespace", lambda: r.sys.write(
        r.sys.open(f"/proc/{r.pid}/uid_map", O_WRONLY), b"0 0 1"))
    return o.items


def test_seq_files(host: Any, compared: Any) -> None:
    """seq_file reads: page-limited maps, buffered bytes across exit/reap, ESRCH on re-render, pinned ns."""
    run_compare(host, compared, scenario_seq_files)


def scenario_pid_dir_rows(k: Any, d: str) -> list[tuple[str, Any]]:
    """The rows of /proc/<pid> and /proc/<pid>/task/<tid> that the model has (and fail-nth, which only a
    CONFIG_FAULT_INJECTION build has), in readdir order: the tables' relative order and the build's rows."""
    from simkernel.fs.proc.base import TGID_BASE_STUFF_FAULT_INJECTION, TID_BASE_STUFF_FAULT_INJECTION
    t = spawn(k, "target")
    w = spawn(k, "reader")
    rows = {p.name for p in TGID_BASE_STUFF_FAULT_INJECTION + TID_BASE_STUFF_FAULT_INJECTION}
    tgid = [n for n in w.sys.listdir(f"/proc/{t.pid}") if n in rows]
    tid = [n for n in w.sys.listdir(f"/proc/{t.pid}/task/{t.pid}") if n in rows]
    return [("tgid rows", tgid), ("tid rows", tid)]


def test_pid_dir_rows(host: Any, compared: Any) -> None:
    """/proc/<pid> lists the modelled rows in the kernel's order, and no fail-nth (no CONFIG_FAULT_INJECTION
    on this host, none in a default Kernel())."""
    h = dict(run_compare(host, compared, scenario_pid_dir_rows))
    assert "map_files" in h["tgid rows"] and "fail-nth" not in h["tgid rows"]
