"""Scenarios about time: a task that exits, a VMA that vanishes mid-call, a fatal signal, directory positions
across changes, and a process with tens of thousands of mappings.

Linux: fs/proc/base.c (map_files), kernel/fork.c:mm_access(), kernel/ptrace.c:__ptrace_may_access()
"""

from __future__ import annotations

from typing import Any

from simkernel.scenarios.fast import map_file_pages
from simkernel.scenarios.observe import (BASE, FIXED, PAGE, Obs, Observation, attempt, files_below_window,
                                         in_window, make_file, mf, rng, spawn)
from simkernel.scenarios.permissions import map_target
from simkernel.scenarios.registry import scenario
from simkernel.uapi import CAP_DAC_READ_SEARCH, MAP_PRIVATE, O_DIRECTORY, O_RDONLY, PROT_READ, SEEK_SET

__all__ = ["FLEX_VMAS"]

FLEX_VMAS = 40_000


@scenario("zombie")
def scenario_zombie(k: Any, d: str) -> list[Observation]:
    """A zombie (no mm) seen by root and by a same-uid observer: a cached name, a new name, the listing.

    6.18.44 answers ESRCH for names (mm_access() of 6.13 now reached from lookup); older releases ENOENT.
    Before v4.10 a task without mm counted as not dumpable, so a same-uid observer without CAP_SYS_PTRACE
    is refused (EACCES) where root is not (the observer carries CAP_DAC_READ_SEARCH: the directory of a
    task without mm belongs to root).

    Sources: fs/proc/base.c:proc_map_files_lookup(), proc_map_files_readdir(); kernel/ptrace.c (the no-mm
    dumpable test of 3.x, fixed by bfedb589252c); kernel/fork.c:mm_access().
    """
    o = Obs()
    p = spawn(k, "parent")
    t = spawn(k, "target", uid=1000, parent=p)
    name = map_target(k, d, t)
    observers = (("root", spawn(k, "root")),
                 ("same uid + DAC_READ_SEARCH", spawn(k, "same", uid=1000, caps=[CAP_DAC_READ_SEARCH])))
    for who, w in observers:
        o.do(f"{who}: cache the entry", lambda w=w: oct(w.sys.lstat(mf(t, name)).st_mode))
    t.sys.exit(3)
    for who, w in observers:
        o.do(f"{who}: zombie listing", lambda w=w: len(w.sys.listdir(mf(t))))
        o.do(f"{who}: zombie cached name", w.sys.readlink, mf(t, name))
        o.do(f"{who}: zombie new name", w.sys.lstat, mf(t, rng(BASE, BASE + PAGE)))
    p.sys.waitpid(t.pid, 0)
    o.do("root: reaped listing", observers[0][1].sys.listdir, mf(t))
    return o.items


@scenario("flex-array-enomem", host=False)
def scenario_flex_array(k: Any, d: str) -> list[Observation]:
    """40,000 file-backed VMAs: readdir's flex_array held at most 37,230 entries beyond f_pos (v3.3-4.9),
    47,430 (v4.10-4.15), 86,700 (v4.16-5.0); genradix has no limit (v5.1).

    The first getdents returns "." and ".." (the error after them is dropped); the next one fails with
    ENOMEM where the limit applies.  From position 2 + 5,000 only 35,000 entries lie beyond f_pos: no ENOMEM.

    Sources: fs/proc/base.c:proc_map_files_readdir() with lib/flex_array.c (3.3.8, 4.10.17, 4.16.13) and
    lib/generic-radix-tree.c (5.1+); element sizes from the struct layouts (reference §4.7).  Simulation only:
    the VMAs are built directly (simkernel/scenarios/fast.py).
    """
    o = Obs()
    make_file(k, f"{d}/f", PAGE)
    t = spawn(k, "many")
    map_file_pages(t, f"{d}/f", FLEX_VMAS, BASE)
    dfd = t.sys.open(mf(t), O_RDONLY | O_DIRECTORY)

    def names(got: Any) -> Any:
        """"dots", "dots+1", "2 entries": what one getdents returned."""
        if isinstance(got, str):
            return got
        dots = sum(1 for n, *_ in got if n in (".", ".."))
        rest = len(got) - dots
        if dots:
            return "dots" + (f"+{rest}" if rest else "")
        return f"{rest} entries"
    o.add("getdents from 0 (3 records fit)", names(attempt(t.sys.getdents, dfd, 3 * 40)))
    o.add("getdents again", names(attempt(t.sys.getdents, dfd, 3 * 40)))
    t.sys.lseek(dfd, 2 + 5000, SEEK_SET)
    o.add("getdents from 2 + 5000", names(attempt(t.sys.getdents, dfd, 3 * 40)))
    t.sys.close(dfd)
    return o.items


@scenario("vanished-vma-race", host=False)
def scenario_vanished_vma(k: Any, d: str) -> list[Observation]:
    """The VMA is unmapped after the walk revalidated the entry and before ->get_link looks for it.

    Through v3.13 get_link's rc still held the name parser's 0: success without a path, a general
    protection fault in d_path() (readlink) or in the walk (follow) -- reported here as "!OOPS" (a KernelBug
    in `kernel.oopses`).  From v3.14 the answer is ENOENT.

    Sources: fs/proc/base.c:proc_map_files_get_link() of 3.13.0 vs 3.14.1 (reference §4.6).  Simulation
    only: the race is injected with a patch of map_files_get_link that munmaps first.
    """
    o = Obs()
    t = spawn(k, "target")
    name = map_target(k, d, t)
    root = spawn(k, "root")

    def racer(orig: Any, current: Any, dentry: Any, task: Any) -> Any:
        t.sys.munmap(BASE, 2 * PAGE)
        return orig(current, dentry, task)
    for what, op in (("readlink", lambda: root.sys.readlink(mf(t, name))),
                     ("stat (follow)", lambda: oct(root.sys.stat(mf(t, name)).st_mode))):
        fd = t.sys.open(f"{d}/f", O_RDONLY)
        t.sys.mmap(BASE, 2 * PAGE, PROT_READ, MAP_PRIVATE | 0x10, fd, 0)
        t.sys.close(fd)
        o.do(f"cache before {what}", lambda: oct(root.sys.lstat(mf(t, name)).st_mode))
        with k.patched("map_files_get_link", racer):
            o.do(f"{what} racing munmap", op)
    o.add("oopses", len(k.oopses))
    return o.items


@scenario("fatal-signal", host=False)
def scenario_fatal_signal(k: Any, d: str) -> list[Observation]:
    """The observer has a fatal signal pending (it is being killed) while it reads map_files.

    v3.3 lock_trace() takes cred_guard_mutex killably and turns the EINTR into EACCES; v3.4-5.2 take no
    killable lock on these paths; since cd9e2bb8271c (v5.3) the mmap lock is killable (EINTR), and 6.18.44
    reaches mm_access()'s killable exec_update_lock from lookup and readdir too.

    Sources: fs/proc/base.c (lock_trace, map_files), kernel/fork.c:mm_access() (reference §8.6, §10.15).
    Simulation only: the pending signal is set on the task.
    """
    o = Obs()
    t = spawn(k, "target", uid=1000)
    name = map_target(k, d, t)
    w = spawn(k, "dying")
    o.do("cache the entry", lambda: oct(w.sys.lstat(mf(t, name)).st_mode))
    w.fatal_signal_pending = True
    o.do("list", lambda: len(w.sys.listdir(mf(t))))
    o.do("readlink cached entry", w.sys.readlink, mf(t, name))
    o.do("lstat new name", lambda: oct(w.sys.lstat(mf(t, rng(BASE, BASE + PAGE))).st_mode))
    w.fatal_signal_pending = False
    return o.items


@scenario("dir-fd-across-changes")
def scenario_dir_fd(k: Any, d: str) -> list[Observation]:
    """An open map_files directory read one entry per getdents while mappings vanish and appear.

    Positions count file-backed VMAs, so a vanished entry that was already read makes the next one be
    skipped and a new low mapping makes one repeat (every release).  A design experiment that resumes by
    address (simkernel/patch_examples.py) reads each entry exactly once.

    Sources: fs/proc/base.c:proc_map_files_readdir() (reference §8.4, §10.5).
    """
    o = Obs()
    make_file(k, f"{d}/f", 8 * PAGE)
    t = spawn(k, "target")
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    for i in range(4):
        t.sys.mmap(BASE + 4 * i * PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, i * PAGE)
    w = spawn(k, "observer")
    dfd = w.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
    below = files_below_window(w, mf(t))       # the host task also maps its interpreter and libraries

    def rel(n: str) -> str:
        return f"+{(int(n.split('-')[0], 16) - BASE) // PAGE}p"

    def one() -> Any:
        got = attempt(w.sys.getdents, dfd, 48)
        return got if isinstance(got, str) else [rel(n) for n, *_ in got if in_window(n)]
    w.sys.lseek(dfd, 2 + below, SEEK_SET)
    o.add("read 1", one())
    o.add("read 2", one())
    t.sys.munmap(BASE, PAGE)                                  # an entry already read vanishes
    o.add("read after munmap of a read entry", one())
    t.sys.mmap(BASE + PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 5 * PAGE)   # a new low entry
    o.add("read after a new low mapping", one())
    o.add("read on", one())
    o.add("end", one())
    w.sys.close(dfd)
    return o.items
