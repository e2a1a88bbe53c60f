"""map_files over time (reference §10.2, §10.5-10.11, §8.4): VMA splits and merges, fork, zombies, reaping,
threads, getdents positions and buffers, open directory descriptors across changes.
"""

from __future__ import annotations

from typing import Any

from simkernel.uapi import (
    CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, MAP_PRIVATE, MREMAP_FIXED, MREMAP_MAYMOVE,
    O_DIRECTORY, O_PATH, O_NOFOLLOW, O_RDONLY, PR_SET_DUMPABLE, PROT_READ, PROT_WRITE, SEEK_CUR, SEEK_SET,
)
from tests.host.scenarios_procfs import (
    BASE, FIXED, PAGE, Obs, attempt, files_below_window, getdents_view, in_window, listing, lstat_view, make_file,
    maps_view, mf, read_all, rng, run_compare, spawn,
)

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
AT_EMPTY_PATH = 0x1000


def _state(o: Obs, label: str, w: Any, t: Any) -> None:
    """Listing, the readlink of every listed name, and the maps lines of the window."""
    names = listing(w, mf(t))
    o.add(f"{label}: listing", names)
    if isinstance(names, list):
        for n in names:
            o.do(f"{label}: readlink {n}", w.sys.readlink, mf(t, n))
    o.add(f"{label}: maps", maps_view(read_all(w, f"/proc/{t.pid}/maps")))


def scenario_split_merge_remap(k: Any, d: str) -> list[tuple[str, Any]]:
    """mprotect the middle page (three VMAs), restore (one), munmap a part, mremap move and grow."""
    o = Obs()
    make_file(k, f"{d}/f", 8 * PAGE)
    t = spawn(k, "target")
    w = spawn(k, "observer")
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    a = BASE
    t.sys.mmap(a, 3 * PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    whole = mf(t, rng(a, a + 3 * PAGE))
    o.do("cache whole name (lstat)", lambda: lstat_view(w.sys.lstat(whole)))
    _state(o, "mapped", w, t)
    o.do("mprotect middle", t.sys.mprotect, a + PAGE, PAGE, PROT_READ | PROT_WRITE)
    _state(o, "split", w, t)
    o.do("stale whole name after split", w.sys.readlink, whole)
    o.do("stale whole name lstat", lambda: lstat_view(w.sys.lstat(whole)))
    o.do("restore", t.sys.mprotect, a + PAGE, PAGE, PROT_READ)
    _state(o, "merged", w, t)
    o.do("whole name again (not merged: the middle VMA keeps VM_ACCOUNT)", w.sys.readlink, whole)
    # a toggle that never made the private mapping writable merges back
    b = BASE + 32 * PAGE
    t.sys.mmap(b, 3 * PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    bn = mf(t, rng(b, b + 3 * PAGE))
    ino1 = w.sys.lstat(bn).st_ino
    o.add("inode number stable while cached", w.sys.lstat(bn).st_ino == ino1)
    o.do("mprotect middle PROT_NONE", t.sys.mprotect, b + PAGE, PAGE, 0)
    o.add("none-split: listing", listing(w, mf(t)))
    o.do("none-split: whole name", w.sys.lstat, bn)
    o.do("restore PROT_READ", t.sys.mprotect, b + PAGE, PAGE, PROT_READ)
    o.add("none-merged: listing", listing(w, mf(t)))
    o.add("re-instantiated entry has a new inode number", w.sys.lstat(bn).st_ino != ino1)
    o.do("none-merged: whole name", w.sys.readlink, mf(t, rng(b, b + 3 * PAGE)))
    o.do("munmap second region", t.sys.munmap, b, 3 * PAGE)
    o.do("munmap first page", t.sys.munmap, a, PAGE)
    _state(o, "after munmap", w, t)
    o.do("mremap move", lambda: t.sys.mremap(a + PAGE, 2 * PAGE, 2 * PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
                                             a + 64 * PAGE) - BASE)
    _state(o, "after mremap move", w, t)
    o.do("mremap grow in place", lambda: t.sys.mremap(a + 64 * PAGE, 2 * PAGE, 4 * PAGE, 0) - BASE)
    _state(o, "after mremap grow", w, t)
    o.do("mremap shrink", lambda: t.sys.mremap(a + 64 * PAGE, 4 * PAGE, PAGE, 0) - BASE)
    _state(o, "after mremap shrink", w, t)
    # map the rest of the file right behind, same struct file, contiguous offset: merges into one VMA
    o.do("map adjacent", lambda: t.sys.mmap(a + 65 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 4 * PAGE)
         - BASE)
    _state(o, "after adjacent map", w, t)
    o.do("map over the middle (MAP_FIXED replaces)", lambda: t.sys.mmap(a + 64 * PAGE, PAGE, PROT_READ,
                                                                        MAP_PRIVATE | 0x10, fd, 3 * PAGE) - BASE)
    _state(o, "after MAP_FIXED over", w, t)
    return o.items


def scenario_fork(k: Any, d: str) -> list[tuple[str, Any]]:
    """A child inherits the mappings: same names, same targets; its own changes stay its own."""
    o = Obs()
    make_file(k, f"{d}/f", 4 * PAGE)
    t = spawn(k, "parent", uid=1000)
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    c = t.sys.fork()
    w = spawn(k, "observer")
    _state(o, "parent", w, t)
    _state(o, "child", w, c)
    o.add("child sees itself", listing(c, "/proc/self/map_files"))
    o.do("child reads parent (same uid)", c.sys.readlink, mf(t, rng(BASE, BASE + 2 * PAGE)))
    o.do("child lstat", lambda: lstat_view(w.sys.lstat(mf(c, rng(BASE, BASE + 2 * PAGE)))))
    c.sys.munmap(BASE, PAGE)
    _state(o, "child after munmap", w, c)
    _state(o, "parent after child's munmap", w, t)
    return o.items


def scenario_zombie_and_reaped(k: Any, d: str) -> list[tuple[str, Any]]:
    """Exit (zombie: empty listing, old names ESRCH), then reap (everything ENOENT, old fds too)."""
    o = Obs()
    make_file(k, f"{d}/f", 4 * PAGE)
    p = spawn(k, "parent")
    t = spawn(k, "target", uid=1000, parent=p)
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    w = spawn(k, "observer")
    name = mf(t, rng(BASE, BASE + PAGE))
    o.do("cached lstat", lambda: lstat_view(w.sys.lstat(name)))
    dfd = w.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    pfd = w.sys.open(name, O_PATH | O_NOFOLLOW)
    ffd = w.sys.open(f"/proc/{t.pid}/fd", O_RDONLY | O_DIRECTORY)
    o.do("pid dir nlink", lambda: w.sys.stat(f"/proc/{t.pid}").st_nlink)
    o.do("task dir nlink", lambda: w.sys.stat(f"/proc/{t.pid}/task").st_nlink)
    o.do("task/<tid> nlink", lambda: w.sys.stat(f"/proc/{t.pid}/task/{t.pid}").st_nlink)
    o.do("O_PATH readlinkat", w.sys.readlink, "", dir_fd=pfd)
    o.do("O_PATH fstatat", lambda: lstat_view(w.sys.fstatat(pfd, "", AT_EMPTY_PATH)))
    t.sys.exit(3)
    o.add("zombie: listing", listing(w, mf(t)))
    o.do("zombie: getdents", lambda: getdents_view(w.sys.getdents(dfd, 32768)))
    o.do("zombie: lstat dir", lambda: lstat_view(w.sys.lstat(mf(t))))
    o.do("zombie: cached name readlink", w.sys.readlink, name)
    o.do("zombie: cached name lstat", lambda: lstat_view(w.sys.lstat(name)))
    o.do("zombie: new name lstat", w.sys.lstat, mf(t, rng(BASE, BASE + 2 * PAGE)))
    o.do("zombie: malformed name", w.sys.lstat, mf(t, "0" + rng(BASE, BASE + PAGE)))
    o.do("zombie: O_PATH readlinkat", w.sys.readlink, "", dir_fd=pfd)
    o.do("zombie: O_PATH fstatat", lambda: lstat_view(w.sys.fstatat(pfd, "", AT_EMPTY_PATH)))
    o.add("zombie: maps", read_all(w, f"/proc/{t.pid}/maps"))
    o.do("zombie: stat /proc/pid", lambda: w.sys.stat(f"/proc/{t.pid}").st_mode)
    o.do("zombie: lstat fd dir", lambda: lstat_view(w.sys.lstat(f"/proc/{t.pid}/fd")))
    o.add("zombie: listdir fd", attempt(w.sys.listdir, f"/proc/{t.pid}/fd"))
    o.do("zombie: fstat old fd-dir fd", lambda: lstat_view(w.sys.fstat(ffd)))
    o.do("zombie: task dir nlink", lambda: w.sys.stat(f"/proc/{t.pid}/task").st_nlink)
    o.do("reap", lambda: p.sys.waitpid(t.pid, 0)[1])
    o.add("reaped: listing", listing(w, mf(t)))
    o.do("reaped: getdents on old fd", w.sys.getdents, dfd, 32768)
    o.do("reaped: lseek+getdents on old fd", lambda: (w.sys.lseek(dfd, 0, SEEK_SET), w.sys.getdents(dfd, 32768)))
    o.do("reaped: cached name", w.sys.readlink, name)
    o.do("reaped: stat /proc/pid", w.sys.stat, f"/proc/{t.pid}")
    o.do("reaped: O_PATH readlinkat", w.sys.readlink, "", dir_fd=pfd)
    o.do("reaped: O_PATH fstatat", lambda: lstat_view(w.sys.fstatat(pfd, "", AT_EMPTY_PATH)))
    o.do("reaped: fstat old dir fd", lambda: lstat_view(w.sys.fstat(dfd)))
    o.do("reaped: fstat old fd-dir fd", lambda: lstat_view(w.sys.fstat(ffd)))
    o.do("reaped: getdents old fd-dir fd", w.sys.getdents, ffd, 4096)
    w.sys.close(dfd)
    w.sys.close(pfd)
    w.sys.close(ffd)
    return o.items


def scenario_threads(k: Any, d: str) -> list[tuple[str, Any]]:
    """map_files lives in the thread-group table only: /proc/self works from a thread, task/<tid> does not."""
    o = Obs()
    make_file(k, f"{d}/f", 4 * PAGE)
    t = spawn(k, "leader", uid=1000)
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    o.do("task dir nlink, one thread", lambda: t.sys.stat(f"/proc/{t.pid}/task").st_nlink)
    th = t.sys.clone(THREAD)
    o.do("task dir nlink, two threads", lambda: t.sys.stat(f"/proc/{t.pid}/task").st_nlink)
    o.do("task dir lists both", lambda: sorted(t.sys.listdir(f"/proc/{t.pid}/task")) == sorted(
        [str(t.pid), str(th.pid)]))
    o.add("thread: /proc/self/map_files", listing(th, "/proc/self/map_files"))
    o.do("thread: readlink via self", th.sys.readlink, f"/proc/self/map_files/{rng(BASE, BASE + PAGE)}")
    o.add("thread: /proc/<tgid>/map_files", listing(th, mf(t)))
    o.add("thread: /proc/<tid>/map_files", listing(th, f"/proc/{th.pid}/map_files"))
    o.add("thread: /proc/thread-self/map_files", listing(th, "/proc/thread-self/map_files"))
    o.add("thread: task/<tid>/map_files", listing(th, f"/proc/{t.pid}/task/{th.pid}/map_files"))
    o.add("leader: task/<tgid>/map_files", listing(t, f"/proc/{t.pid}/task/{t.pid}/map_files"))
    o.do("thread: has map_files in task dir", lambda: "map_files" in th.sys.listdir(
        f"/proc/{t.pid}/task/{th.pid}"))
    o.do("thread: has map_files in pid dir", lambda: "map_files" in th.sys.listdir(f"/proc/{t.pid}"))
    # the thread maps something: the process sees it
    fd2 = th.sys.open(f"{d}/f", O_RDONLY)
    th.sys.mmap(BASE + 4 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd2, PAGE)
    o.add("leader sees thread's mapping", listing(t, "/proc/self/map_files"))
    # the thread becomes non-dumpable (the mm is shared): a same-uid observer loses access; the thread
    # itself keeps it (same thread group)
    w = spawn(k, "observer", uid=1000)
    o.add("same uid before", listing(w, mf(t)))
    th.sys.prctl(PR_SET_DUMPABLE, 0)
    o.add("same uid after thread non-dumpable", listing(w, mf(t)))
    o.add("leader still sees itself", listing(t, "/proc/self/map_files"))
    o.add("thread: /proc/<tgid>/map_files when non-dumpable", listing(th, mf(t)))
    th.sys.exit(0)
    o.add("leader after thread exit", listing(t, "/proc/self/map_files"))
    o.do("task dir nlink after thread exit", lambda: t.sys.stat(f"/proc/{t.pid}/task").st_nlink)
    return o.items


def _gd_window(w: Any, dfd: int, below: int) -> Any:
    """One-call getdents reader: entries as (name, d_type, d_off relative to the window), names outside the
    window dropped (the host task also maps its interpreter and libraries)."""
    def gd(count: int) -> Any:
        got = attempt(w.sys.getdents, dfd, count)
        if isinstance(got, str):
            return got
        return [(n, ty, off - below if off > 2 else off) for n, _i, ty, off in got
                if n in (".", "..") or in_window(n)]
    return gd


def scenario_getdents(k: Any, d: str) -> list[tuple[str, Any]]:
    """Small buffers (1, 2, 3 entries fit, too small: EINVAL), d_off values, resuming, lseek."""
    o = Obs()
    make_file(k, f"{d}/f", 8 * PAGE)
    t = spawn(k, "target")
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    for i in range(4):
        t.sys.mmap(BASE + 2 * i * PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, i * PAGE)
    w = spawn(k, "observer")
    below = files_below_window(w, mf(t))   # machine-specific position offset, not an observation
    dfd = w.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    gd = _gd_window(w, dfd, below)

    def pos() -> int:
        p = w.sys.lseek(dfd, 0, SEEK_CUR)
        return p - below if p > 2 else p

    def to_window(extra: int = 0) -> None:
        w.sys.lseek(dfd, 2 + below + extra, SEEK_SET)

    o.add("count 0", gd(0))
    o.add("count 10", gd(10))
    o.add("count 23", gd(23))
    o.add("pos unchanged after EINVAL", pos())
    o.add("count 24: one dot", gd(24))
    o.add("pos after one dot", pos())
    o.add("count 24 again: dotdot", gd(24))
    o.add("pos after dots", pos())
    w.sys.lseek(dfd, 0, SEEK_SET)
    o.add("count 47: one dot", gd(47))
    w.sys.lseek(dfd, 0, SEEK_SET)
    o.add("count 48: both dots", gd(48))
    w.sys.lseek(dfd, 1, SEEK_SET)
    o.add("from 1: dotdot first", gd(48))
    to_window()
    o.add("window: count 47", gd(47))
    o.add("window: count 48 (one)", gd(48))
    o.add("pos after one", pos())
    o.add("window: count 96 (two)", gd(96))
    o.add("pos after three", pos())
    to_window()
    o.add("window: count 143 (two fit)", gd(143))
    to_window()
    o.add("window: count 144 (three)", gd(144))
    to_window()
    o.add("window: count 192 (four)", gd(192))
    to_window(3)
    o.add("window: seek to the fourth", gd(48))
    o.do("lseek negative", w.sys.lseek, dfd, -1, SEEK_SET)
    o.do("lseek 2**31-1", lambda: w.sys.lseek(dfd, 2**31 - 1, SEEK_SET) == 2**31 - 1)
    o.add("getdents at 2**31-1", gd(4096))
    o.do("lseek 2**31", w.sys.lseek, dfd, 2**31, SEEK_SET)
    o.do("lseek 2**40", w.sys.lseek, dfd, 2**40, SEEK_SET)
    o.do("lseek SEEK_END", w.sys.lseek, dfd, 0, 2)
    o.do("lseek SEEK_CUR back", lambda: w.sys.lseek(dfd, -1, SEEK_CUR))
    o.do("lseek whence 7", w.sys.lseek, dfd, 0, 7)
    o.do("lseek SEEK_DATA", w.sys.lseek, dfd, 0, 3)
    o.do("lseek SEEK_HOLE", w.sys.lseek, dfd, 0, 4)
    o.do("lseek SEEK_CUR 0", lambda: w.sys.lseek(dfd, 5, SEEK_SET) + w.sys.lseek(dfd, 0, SEEK_CUR))
    # dots share the inode numbers of the directory and its parent
    w.sys.lseek(dfd, 0, SEEK_SET)
    got = w.sys.getdents(dfd, 48)
    o.add("dot ino is the dir's", got[0][1] == w.sys.fstat(dfd).st_ino)
    o.add("dotdot ino is /proc/pid's", got[1][1] == w.sys.stat(f"/proc/{t.pid}").st_ino)
    # readdir instantiates: d_ino of an entry equals a later lstat's st_ino
    to_window()
    e = w.sys.getdents(dfd, 48)[0]
    o.add("entry d_ino == lstat st_ino", e[1] == w.sys.lstat(mf(t, e[0])).st_ino)
    o.do("read() on the dir", w.sys.read, dfd, 100)
    o.do("pread() on the dir", w.sys.pread, dfd, 100, 0)
    o.do("write() on the dir", w.sys.write, dfd, b"x")
    w.sys.close(dfd)
    return o.items


def scenario_dir_fd_across_changes(k: Any, d: str) -> list[tuple[str, Any]]:
    """An open map_files fd while VMAs vanish or appear, and after access is revoked (2026 order)."""
    o = Obs()
    make_file(k, f"{d}/f", 8 * PAGE)
    t = spawn(k, "target", uid=1000)
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    for i in range(4):
        t.sys.mmap(BASE + 4 * i * PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, i * PAGE)
    w = spawn(k, "observer", uid=1000)
    below = files_below_window(w, mf(t))
    dfd = w.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    gd = _gd_window(w, dfd, below)
    w.sys.lseek(dfd, 2 + below, SEEK_SET)
    o.add("first", gd(48))
    t.sys.munmap(BASE, PAGE)               # the entry already read vanishes: the next one is skipped
    o.add("after munmap of a read entry", gd(48))
    t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 5 * PAGE)   # a new low entry
    o.add("after a new low mapping (repeat)", gd(48))
    o.add("rest", gd(96))
    o.add("end of window", gd(48))
    # revoke: the target becomes non-dumpable between two calls
    w.sys.lseek(dfd, 0, SEEK_SET)
    o.add("revoke: first call gets one dot", gd(24))
    t.sys.prctl(PR_SET_DUMPABLE, 0)
    o.add("revoke: second call", gd(4096))
    o.add("revoke: third call", gd(4096))
    w.sys.lseek(dfd, 0, SEEK_SET)
    o.add("revoke: from 0 again", gd(4096))
    o.add("revoke: after dots", gd(4096))
    w.sys.lseek(dfd, 2 + below, SEEK_SET)
    o.add("revoke: at an entry", gd(4096))
    o.add("revoke: listdir", listing(w, mf(t)))
    t.sys.prctl(PR_SET_DUMPABLE, 1)
    w.sys.lseek(dfd, 2 + below, SEEK_SET)
    o.add("restored", gd(96))
    w.sys.close(dfd)
    return o.items


def test_split_merge_remap(host: Any, compared: Any) -> None:
    """Names follow VMA boundaries through mprotect, munmap, mremap and MAP_FIXED replacement."""
    run_compare(host, compared, scenario_split_merge_remap)


def test_fork_shares_mappings(host: Any, compared: Any) -> None:
    """A forked child lists its inherited mappings; changes after fork are per process."""
    run_compare(host, compared, scenario_fork)


def test_zombie_then_reaped(host: Any, compared: Any) -> None:
    """Zombie: dots only, ESRCH for names; reaped: ENOENT everywhere, old fds included."""
    run_compare(host, compared, scenario_zombie_and_reaped)


def test_threads(host: Any, compared: Any) -> None:
    """Threads: /proc/self/map_files works, task/<tid>/map_files and thread-self do not exist."""
    run_compare(host, compared, scenario_threads)


def test_getdents_buffers_and_offsets(host: Any, compared: Any) -> None:
    """getdents64 with buffers for 0-4 entries, d_off values, resuming and seeking."""
    run_compare(host, compared, scenario_getdents)


def test_open_dir_across_changes(host: Any, compared: Any) -> None:
    """An open directory across munmap/mmap between calls and a permission revoked between calls."""
    run_compare(host, compared, scenario_dir_fd_across_changes)
