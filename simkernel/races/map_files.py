"""The packaged races on /proc/<pid>/map_files: their machines, programs, conditions and expected verdicts,
registered in `RACES` (simkernel/races/registry.py) at import.

The races (see each function's docstring for the why):
  * readdir-vs-munmap / readdir-vs-mmap: two getdents64 calls of two entries each while the target unmaps a
    listed entry or maps a new low one: an entry is skipped / listed twice (positions are ordinals).
  * readdir-one-pass-vs-mmap: the one-pass readdir of simkernel/patch_examples.py lists the caller's own
    map_files while a sibling thread mmap()s: the copy to the user buffer faults, and the fault's read of the
    mmap lock queues behind the thread's waiting write -- a deadlock (the stock two-pass readdir never does).
  * readlink-vs-suid-exec: readlink of an entry while the target execs a set-uid-root program: before the
    2026 back-ports the reader can be checked against the old credentials and read the new, privileged mm.
  * lookup-vs-exit: lstat of a new name while the target exits (a zombie): ENOENT, or ESRCH where 6.18.44's
    lookup reaches mm_access(); lookup-vs-exit-reap: the parent reaps it too: ENOENT before the walk
    reaches /proc/<pid>, ESRCH (proc_pid_permission) in the middle of it, on every release.
  * revalidate-vs-remap: readlink of a cached entry while the target replaces the mapping: the old file,
    the new file, ENOENT -- or, before v3.14, the kernel oops of map_files_get_link().

Linux: fs/proc/base.c (map_files), fs/exec.c, kernel/exit.c, kernel/fork.c:mm_access()
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

from simkernel.kernel.sched import NEVER, SOMETIMES, Outcome
from simkernel.races.registry import Race, race
from simkernel.uapi import (CAP_SYS_ADMIN, CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM,
                            MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, O_CREAT, O_DIRECTORY, O_RDONLY, O_WRONLY,
                            PROT_READ)

__all__ = ["SUIDPROG", "READDIR_VS_THREAD_MMAP", "thread_mmap_setup"]

PAGE = 4096
BASE = 0x7E0000000000          # the scenario window (simkernel.host.SCENARIO_BASE)
SUIDPROG = "/usr/bin/suidprog"
_SUID_ELF = b"\x7fELF\ntype exec\nload 0x400000 0x1000 0x1000 0 rx\n"
_TEXT = (0x400000, 0x401000)   # where the set-uid program's text lands (ET_EXEC: fixed)


# -- machines ---------------------------------------------------------------------------------------------

def _file(k: Any, path: str, size: int = 4 * PAGE, data: bytes = b"simkernel", mode: int = 0o644) -> None:
    s = k.init.sys
    fd = s.open(path, O_CREAT | O_WRONLY, mode)
    s.write(fd, data)
    if size > len(data):
        s.ftruncate(fd, size)
    s.close(fd)
    s.chmod(path, mode)


def _map(t: Any, path: str, addr: int, pages: int = 1, offset: int = 0) -> None:
    fd = t.sys.open(path, O_RDONLY)
    t.sys.mmap(addr, pages * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, offset)
    t.sys.close(fd)


def _name(start: int, end: int) -> str:
    return f"{start:x}-{end:x}"


def _observer(k: Any, comm: str, uid: int = 0) -> Any:
    """A reader: before v4.3 map_files needs CAP_SYS_ADMIN (which lets no one pass the ptrace check)."""
    caps = [CAP_SYS_ADMIN] if uid and k.version.map_files_admin_errno else None
    return k.spawn(comm, uid=uid, gid=uid, caps=caps)


def _kernel(version: str) -> Any:
    """A machine of `version` with the lock validator on: it also models the VFS inode locks (i_rwsem of a
    directory in lookup and readdir), so they are preemption points too, and it would report a lock-order
    problem met in any schedule (`observe` collects its reports)."""
    from simkernel.machine import Kernel
    return Kernel(version=version, lockdep=True)


# -- readdir vs munmap / mmap -------------------------------------------------------------------------------

_ENTRIES = [BASE + 4 * i * PAGE for i in range(4)]


def _readdir_setup(version: str) -> Any:
    """Target B with four one-page file VMAs; A has the directory open and has read "." and "..".
    A record of a "%lx-%lx" name of 12+12 digits is 48 bytes: a 96-byte buffer takes two entries."""
    k = _kernel(version)
    _file(k, "/srv/f", 16 * PAGE)
    b = k.spawn("target")
    for i, addr in enumerate(_ENTRIES):
        _map(b, "/srv/f", addr, 1, i * PAGE)
    a = _observer(k, "lister")
    fd = a.sys.open(f"/proc/{b.pid}/map_files", O_RDONLY | O_DIRECTORY)
    dots = a.sys.getdents(fd, 48)
    assert [d[0] for d in dots] == [".", ".."], dots
    return SimpleNamespace(k=k, a=a, b=b, fd=fd)


def _two_getdents(s: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    first = tuple(d[0] for d in s.a.sys.getdents(s.fd, 96))
    second = tuple(d[0] for d in s.a.sys.getdents(s.fd, 96))
    return first, second


def _listed(o: Outcome) -> list[str]:
    a = o["A"]
    return [] if isinstance(a, str) else [n for call in a for n in call]


def _skipped(o: Outcome) -> bool:
    """An entry mapped all along (not the unmapped first one) is missing from the two calls."""
    listed = _listed(o)
    return any(_name(x, x + PAGE) not in listed for x in _ENTRIES[1:])


def _twice(o: Outcome) -> bool:
    listed = _listed(o)
    return len(listed) != len(set(listed))


race(Race(
    "readdir-vs-munmap",
    """A lists /proc/<B>/map_files with two getdents64 calls of two entries each; B unmaps the first entry.

    The position after the first call counts file-backed VMAs: unmapped between the two calls, the first
    entry's removal shifts the list and the third entry is never returned (every release).
    Linux: fs/proc/base.c:proc_map_files_readdir()""",
    _readdir_setup,
    {"A": _two_getdents, "B": lambda s: s.b.sys.munmap(_ENTRIES[0], PAGE)},
    _skipped, "an entry that stayed mapped is skipped",
    lambda v: SOMETIMES))

race(Race(
    "readdir-vs-mmap",
    """A lists /proc/<B>/map_files with two getdents64 calls of two entries each; B maps a new entry below
    the others.  Mapped between the two calls, it shifts the list by one: the second entry is listed again
    (every release).  Linux: fs/proc/base.c:proc_map_files_readdir()""",
    _readdir_setup,
    {"A": _two_getdents, "B": lambda s: _map(s.b, "/srv/f", BASE - 4 * PAGE, 1, 8 * PAGE)},
    _twice, "an entry is listed twice",
    lambda v: SOMETIMES))


# -- the one-pass readdir vs a sibling thread's mmap --------------------------------------------------------

def _copy_faults(orig: Callable[[Any], None], current: Any) -> None:
    """__might_fault() of a copy that does fault: the fault handler takes the caller's mmap lock for read and
    drops it (do_user_addr_fault() -> lock_mm_and_find_vma()).  Before v6.4 every user fault does so; since,
    a fault is first served under the VMA's own lock (lock_vma_under_rcu()) and falls back to the mmap lock
    when it cannot be -- e.g. the first write to an anonymous VMA that has no anon_vma yet."""
    orig(current)
    mm = current.mm
    if mm is not None:
        mm.mmap_lock.down_read(current)
        mm.mmap_lock.up_read(current)


def thread_mmap_setup(one_pass: bool) -> Callable[[str], Any]:
    def setup(version: str) -> Any:
        """A (root) has two file VMAs and its map_files open, read up to "." and ".."; T is a thread of A (the
        same mm); every copy to user memory faults; with `one_pass` the readdir is the one-pass patch."""
        from simkernel.patch_examples import one_pass_readdir
        k = _kernel(version)
        _file(k, "/srv/f", 4 * PAGE)
        a = k.spawn("lister")
        for i in range(2):
            _map(a, "/srv/f", _ENTRIES[i], 1, i * PAGE)
        fd = a.sys.open(f"/proc/{a.pid}/map_files", O_RDONLY | O_DIRECTORY)
        assert [d[0] for d in a.sys.getdents(fd, 48)] == [".", ".."]
        t = a.sys.clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
        k.patch("mm/memory.c:__might_fault", _copy_faults)
        if one_pass:
            k.patch("fs/proc/base.c:proc_map_files_readdir", one_pass_readdir)
        return SimpleNamespace(k=k, a=a, t=t, fd=fd)
    return setup


def _own_listing(s: Any) -> tuple[str, ...]:
    return tuple(d[0] for d in s.a.sys.getdents(s.fd, 4096))


def _thread_mmap(s: Any) -> int:
    return int(s.t.sys.mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != 0)


READDIR_VS_THREAD_MMAP = {"A": _own_listing, "T": _thread_mmap}

race(Race(
    "readdir-one-pass-vs-mmap",
    """A lists its own /proc/self/map_files with the one-pass readdir (patch_examples.one_pass_readdir:
    filldir with the mmap lock held for read) while T, a thread of A, mmap()s.  Every copy to the user
    buffer faults (see _copy_faults()).  Condition: the two deadlock.

    A holds the lock for read and is preempted at a copy; T's mmap() waits for write; A's fault asks for the
    lock for read again and, readers holding it and a writer waiting, queues behind T (kernel/locking/
    rwsem.py): neither ever runs again.  This is the deadlock behind lockdep's "possible recursive locking"
    report for the one-pass readdir, and why the merged readdir (v3.3) copies only after dropping the lock:
    with the stock readdir the same setup never deadlocks (tests/test_races.py).  The model takes the mmap
    lock in every fault, as kernels before v6.4 do; since per-VMA locks a fault reaches it only on the
    fallback path, so there the deadlock needs such a fault.
    Linux: fs/proc/base.c:proc_map_files_readdir(); kernel/locking/rwsem.c; mm/memory.c:__might_fault()""",
    thread_mmap_setup(one_pass=True),
    READDIR_VS_THREAD_MMAP,
    lambda o: o.deadlock, "A and T deadlock",
    lambda v: SOMETIMES))


# -- readlink vs execve of a set-uid program ----------------------------------------------------------------

def _suid_setup(version: str) -> Any:
    """B (uid 1000) maps its own /srv/decoy at the address where the set-uid-root program's text will be;
    A (uid 1000, the same user: it passes the ptrace check on B before the exec) will readlink the entry."""
    k = _kernel(version)
    _file(k, SUIDPROG, 0, _SUID_ELF, 0o4755)
    _file(k, "/srv/decoy", PAGE)
    b = k.spawn("victim", uid=1000, gid=1000)
    _map(b, "/srv/decoy", _TEXT[0])
    return SimpleNamespace(k=k, a=_observer(k, "spy", uid=1000), b=b)


race(Race(
    "readlink-vs-suid-exec",
    """A readlinks /proc/<B>/map_files/400000-401000 while B execve()s a set-uid-root program whose text
    lands at exactly that range.  Condition: A obtains the path of a mapping of the privileged mm.

    Before the 2026 back-ports proc_pid_readlink() checks ptrace_may_access() (B is still uid 1000 and
    dumpable), drops every lock, and map_files_get_link() then takes whatever mm B has: an exec in between
    installs the set-uid program's non-dumpable mm and A reads it.  6.18.44 holds exec_update_lock (read)
    across the check and ->get_link, and exec holds it (write) from exec_mmap() to setup_new_exec(), after
    commit_creds(): A sees the old mm with the old credentials, or is refused (EACCES).
    Linux: fs/proc/base.c:proc_pid_readlink(), map_files_get_link(); fs/exec.c:exec_mmap(), setup_new_exec()""",
    _suid_setup,
    {"A": lambda s: s.a.sys.readlink(f"/proc/{s.b.pid}/map_files/{_name(*_TEXT)}"),
     "B": lambda s: s.b.sys.execve(SUIDPROG, ["suidprog"])},
    lambda o: o["A"] == SUIDPROG, "A reads a mapping of the set-uid program's (privileged) mm",
    lambda v: NEVER if v.proc_link_exec_update_lock else SOMETIMES))


# -- lookup vs exit -----------------------------------------------------------------------------------------

def _exit_setup(version: str) -> Any:
    """B (a child of P) maps one file page; root A will lstat its entry while B exits and P reaps it."""
    k = _kernel(version)
    _file(k, "/srv/f", PAGE)
    p = k.spawn("parent")
    b = k.spawn("target", parent=p)
    _map(b, "/srv/f", BASE)
    return SimpleNamespace(k=k, a=k.spawn("looker"), b=b, p=p)


def _lstat_entry(s: Any) -> Any:
    return oct(s.a.sys.lstat(f"/proc/{s.b.pid}/map_files/{_name(BASE, BASE + PAGE)}").st_mode)


race(Race(
    "lookup-vs-exit",
    """A lstat()s a not yet cached entry while B exits; B stays a zombie (its parent does not reap it).

    Before B exits: the entry (0o120400).  A zombie has no mm: 6.18.44's lookup reaches mm_access(), which
    says ESRCH (since v6.13); older lookups call get_task_mm() and say ENOENT.  Condition: A gets ESRCH.
    Linux: fs/proc/base.c:proc_map_files_lookup(); kernel/fork.c:mm_access(); kernel/exit.c""",
    _exit_setup,
    {"A": _lstat_entry, "B": lambda s: s.b.sys.exit(0)},
    lambda o: o["A"] == "!ESRCH", "A's lookup fails with ESRCH",
    lambda v: SOMETIMES if v.map_files_exec_update_lock and v.mm_access_esrch else NEVER))

race(Race(
    "lookup-vs-exit-reap",
    """A lstat()s a not yet cached entry while B exits and its parent reaps it.

    Reaped before A's walk reaches /proc/<pid>: ENOENT.  Reaped while A walks below /proc/<pid>:
    proc_pid_permission() finds no task and says ESRCH -- on every release, whatever the lookup does with a
    zombie.  Condition: A gets ESRCH.
    Linux: fs/proc/base.c:proc_pid_permission(), proc_map_files_lookup(); kernel/exit.c:release_task()""",
    _exit_setup,
    {"A": _lstat_entry,
     "B": [lambda s: s.b.sys.exit(0), lambda s: s.p.sys.waitpid(s.b.pid, 0)[0] == s.b.pid]},
    lambda o: o["A"] == "!ESRCH", "A's lookup fails with ESRCH",
    lambda v: SOMETIMES))


# -- revalidate vs remap ------------------------------------------------------------------------------------

def _remap_setup(version: str) -> Any:
    """B maps /srv/old at BASE; root A has looked the entry up (a cached dentry); B holds /srv/new open."""
    k = _kernel(version)
    _file(k, "/srv/old", PAGE)
    _file(k, "/srv/new", PAGE)
    b = k.spawn("target")
    _map(b, "/srv/old", BASE)
    a = k.spawn("reader")
    a.sys.lstat(f"/proc/{b.pid}/map_files/{_name(BASE, BASE + PAGE)}")
    return SimpleNamespace(k=k, a=a, b=b, new=b.sys.open("/srv/new", O_RDONLY))


def _remap(s: Any) -> None:
    s.b.sys.munmap(BASE, PAGE)
    s.b.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, s.new, 0)


race(Race(
    "revalidate-vs-remap",
    """A readlinks a cached entry while B unmaps the range and maps another file there (two syscalls).

    d_revalidate() and ->get_link each look the VMA up under the mmap lock, with points in between: A reads
    the old file, the new one, or ENOENT (the range empty between the two calls).  Before v3.14 a VMA gone
    between d_revalidate() and ->get_link made map_files_get_link() return success without a path: the
    kernel oopses.  Condition: the kernel oopses.
    Linux: fs/proc/base.c:map_files_d_revalidate(), map_files_get_link() ("fix GPF", v3.14)""",
    _remap_setup,
    {"A": lambda s: s.a.sys.readlink(f"/proc/{s.b.pid}/map_files/{_name(BASE, BASE + PAGE)}"),
     "B": _remap},
    lambda o: o["A"] == "!OOPS", "the kernel oopses (KernelBug in map_files_get_link)",
    lambda v: NEVER if v.map_files_get_link_rc_fix else SOMETIMES, bound=2))
