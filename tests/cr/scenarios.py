"""Checkpoint/restore scenarios, written once against the public API so they run on simkernel.Kernel() and on
simkernel.host.HostKernel() alike (tests/cr and tests/host/test_cr_host.py).

A scenario is `scenario(k, d) -> root task`: it builds a task tree whose mappings start at SCENARIO_BASE, with
its files under the directory `d` (root-owned 0755, the same absolute path on both machines), and returns the
root of the tree to dump.  Files are created by init (root) and chowned to the user that maps them.
"""

from __future__ import annotations

from typing import Any, Callable

from simkernel.host import SCENARIO_BASE
from simkernel.uapi import (CAP_CHOWN, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_MODULE, MAP_ANONYMOUS,
                            MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY,
                            PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, PR_CAPBSET_DROP, PR_SET_DUMPABLE,
                            PR_SET_NO_NEW_PRIVS, PROT_NONE, PROT_READ, PROT_WRITE)

__all__ = ["B", "PAGE", "SCENARIOS", "make_file", "at", "spawn"]

B = SCENARIO_BASE
PAGE = 4096
FIXED = MAP_FIXED_NOREPLACE
RW = PROT_READ | PROT_WRITE


def at(i: int) -> int:
    """The i-th 64 KiB slot of the scenario window (slots leave gaps, so neighbours never merge)."""
    return B + i * 0x10000


def make_file(k: Any, path: str, data: bytes = b"simkernel cr", size: int = 4 * PAGE, mode: int = 0o644,
              uid: int = 0, gid: int = 0) -> None:
    """Create `path` as init with `data` at offset 0, `size` bytes, `mode`, owner uid:gid."""
    s = k.init.sys
    fd = s.open(path, O_CREAT | O_WRONLY, mode)
    s.write(fd, data)
    s.ftruncate(fd, size)
    s.close(fd)
    s.chmod(path, mode)
    if uid or gid:
        s.chown(path, uid, gid)


def spawn(k: Any, comm: str, uid: int = 0, gid: int | None = None, **kw: Any) -> Any:
    """k.spawn() ending dumpable on both machines."""
    t = k.spawn(comm, uid=uid, gid=uid if gid is None else gid, **kw)
    t.sys.prctl(PR_SET_DUMPABLE, 1)
    return t


def _map_file(t: Any, path: str, flags: int, addr: int, length: int, prot: int, mflags: int,
              offset: int = 0) -> None:
    fd = t.sys.open(path, flags)
    t.sys.mmap(addr, length, prot, mflags | FIXED, fd, offset)
    t.sys.close(fd)


def file_private(k: Any, d: str) -> Any:
    """MAP_PRIVATE file mappings opened O_RDONLY (link 0400) and O_RDWR (0600), one with an offset."""
    make_file(k, f"{d}/lib.so", b"\x7fELF...", 8 * PAGE, 0o644, 1000, 1000)
    t = spawn(k, "app", 1000)
    _map_file(t, f"{d}/lib.so", O_RDONLY, at(0), 2 * PAGE, PROT_READ, MAP_PRIVATE)
    _map_file(t, f"{d}/lib.so", O_RDONLY, at(1), PAGE, PROT_NONE, MAP_PRIVATE, 2 * PAGE)
    _map_file(t, f"{d}/lib.so", O_RDWR, at(2), PAGE, RW, MAP_PRIVATE, 3 * PAGE)
    return t


def file_shared(k: Any, d: str) -> Any:
    """MAP_SHARED file mappings: read-write through O_RDWR, read-only through O_RDONLY; one split by mprotect."""
    make_file(k, f"{d}/data", b"shared data", 4 * PAGE, 0o600, 1000, 1000)
    t = spawn(k, "app", 1000)
    _map_file(t, f"{d}/data", O_RDWR, at(0), 3 * PAGE, RW, MAP_SHARED)
    t.sys.mprotect(at(0) + PAGE, PAGE, PROT_READ)
    _map_file(t, f"{d}/data", O_RDONLY, at(1), PAGE, PROT_READ, MAP_SHARED, PAGE)
    return t


def shared_anon(k: Any, d: str) -> Any:
    """Shared anonymous memory: one whole, one split in three by mprotect, one with its head unmapped."""
    t = spawn(k, "app", 1000)
    s = t.sys
    s.mmap(at(0), 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    s.mmap(at(1), 3 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    s.mprotect(at(1) + PAGE, PAGE, PROT_READ)
    s.mmap(at(2), 3 * PAGE, PROT_READ, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    s.munmap(at(2), PAGE)
    s.mmap(at(3), PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | FIXED)
    return t


def memfd(k: Any, d: str) -> Any:
    """A memfd with contents mapped twice (shared and private); a read-only reopen mapped (link 0400)."""
    t = spawn(k, "app", 1000)
    s = t.sys
    fd = s.memfd_create("cr-memfd")
    s.write(fd, b"memfd contents")
    s.ftruncate(fd, 2 * PAGE)
    s.mmap(at(0), 2 * PAGE, RW, MAP_SHARED | FIXED, fd, 0)
    s.mmap(at(1), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, PAGE)
    ro = s.open(f"/proc/self/fd/{fd}", O_RDONLY)
    s.mmap(at(2), PAGE, PROT_READ, MAP_SHARED | FIXED, ro, 0)
    s.close(ro)
    s.close(fd)
    return t


def dev_zero(k: Any, d: str) -> Any:
    """/dev/zero mapped MAP_PRIVATE (the device itself) and MAP_SHARED (becomes shmem)."""
    t = spawn(k, "app", 1000)
    _map_file(t, "/dev/zero", O_RDWR, at(0), PAGE, PROT_READ, MAP_PRIVATE)
    _map_file(t, "/dev/zero", O_RDWR, at(1), 2 * PAGE, RW, MAP_SHARED)
    return t


def deleted(k: Any, d: str) -> Any:
    """A file unlinked after mapping, and one whose name was then taken by a new file."""
    make_file(k, f"{d}/gone", b"deleted contents", 2 * PAGE, 0o640, 1000, 1000)
    make_file(k, f"{d}/taken", b"old contents", PAGE, 0o600, 1000, 1000)
    t = spawn(k, "app", 1000)
    _map_file(t, f"{d}/gone", O_RDWR, at(0), 2 * PAGE, RW, MAP_SHARED)
    _map_file(t, f"{d}/taken", O_RDONLY, at(1), PAGE, PROT_READ, MAP_PRIVATE)
    k.init.sys.unlink(f"{d}/gone")
    k.init.sys.unlink(f"{d}/taken")
    make_file(k, f"{d}/taken", b"new contents", PAGE)
    return t


def renamed(k: Any, d: str) -> Any:
    """A file renamed after mapping, with a new file created at its old name."""
    make_file(k, f"{d}/orig", b"original", 2 * PAGE, 0o644, 1000, 1000)
    t = spawn(k, "app", 1000)
    _map_file(t, f"{d}/orig", O_RDONLY, at(0), 2 * PAGE, PROT_READ, MAP_PRIVATE)
    k.init.sys.rename(f"{d}/orig", f"{d}/moved")
    make_file(k, f"{d}/orig", b"impostor", 2 * PAGE)
    return t


def forked(k: Any, d: str) -> Any:
    """Forked sharing: a parent's shared anon, memfd, file and /dev/zero mappings inherited by a child and a
    grandchild, each adding mappings of its own."""
    make_file(k, f"{d}/f", b"file", 4 * PAGE, 0o644, 1000, 1000)
    p = shared_anon(k, d)
    s = p.sys
    fd = s.memfd_create("tree")
    s.ftruncate(fd, PAGE)
    s.mmap(at(4), PAGE, RW, MAP_SHARED | FIXED, fd, 0)
    s.close(fd)
    _map_file(p, f"{d}/f", O_RDWR, at(5), 2 * PAGE, RW, MAP_SHARED)
    _map_file(p, "/dev/zero", O_RDONLY, at(6), PAGE, PROT_READ, MAP_SHARED)
    c = s.fork()
    c.sys.mmap(at(7), PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    g = c.sys.fork()
    g.sys.munmap(at(0), 2 * PAGE)
    _map_file(g, f"{d}/f", O_RDONLY, at(8), PAGE, PROT_READ, MAP_PRIVATE, PAGE)
    c.sys.fork()      # a second child of c: a leaf with everything c had
    return p


def mixed_creds(k: Any, d: str) -> Any:
    """A tree with different credentials: groups, split r/e/s/fs ids, reduced and ambient capabilities, a
    shrunk bounding set, no_new_privs, and non-dumpable tasks (one root: only the parasite can tell)."""
    root = spawn(k, "mixed-root", 0)
    s = root.sys
    s.mmap(at(0), PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    a = s.fork()
    a.sys.setgroups([10, 20])
    a.sys.setresgid(1000, 1000, 1000)
    a.sys.setresuid(1000, 1000, 1000)
    a.sys.prctl(PR_SET_DUMPABLE, 1)
    b = s.fork()
    b.sys.setresgid(2000, 2001, 2002)
    b.sys.setresuid(1000, 1001, 1002)
    b.sys.prctl(PR_SET_DUMPABLE, 0)
    c = s.fork()
    c.sys.setresuid(1000, 0, 0)
    c.sys.setfsuid(1005)
    c.sys.prctl(PR_SET_NO_NEW_PRIVS, 1)
    e = s.fork()
    e.sys.prctl(PR_CAPBSET_DROP, CAP_SYS_MODULE)
    keep = (1 << CAP_NET_ADMIN) | (1 << CAP_CHOWN) | (1 << CAP_NET_RAW)
    e.sys.capset(keep, keep, 1 << CAP_NET_ADMIN)
    e.sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_NET_ADMIN)
    f = s.fork()
    f.sys.prctl(PR_SET_DUMPABLE, 0)
    return root


SCENARIOS: dict[str, Callable[[Any, str], Any]] = {
    "file_private": file_private, "file_shared": file_shared, "shared_anon": shared_anon, "memfd": memfd,
    "dev_zero": dev_zero, "deleted": deleted, "renamed": renamed, "forked": forked, "mixed_creds": mixed_creds,
}
