"""Mapping kinds (reference §9.1, §10.1-10.2): which mappings are listed, their link text, mode and target.

A root target maps every kind in the scenario window and keeps the descriptors open; a root observer lists,
lstat()s, readlink()s and stat()s through each entry (comparing (st_dev, st_ino) with the target's fstat of
its own descriptor, as booleans) and reads the maps lines.
"""

from __future__ import annotations

from typing import Any

from simkernel.uapi import (
    MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDONLY, O_RDWR, PROT_READ, PROT_WRITE,
)
from tests.host.scenarios_procfs import (
    BASE, FIXED, PAGE, Obs, attempt, listing, lstat_view, make_file, maps_view, mf, read_all, rng,
    run_compare, same_file, spawn, stat_view,
)


def _at(i: int) -> int:
    """Slot i of the window: 16 pages apart, so no two kinds are adjacent (nothing merges by accident)."""
    return BASE + i * 16 * PAGE


def scenario_kinds(k: Any, d: str) -> list[tuple[str, Any]]:
    """Every mapping kind once; the root observer describes each entry."""
    o = Obs()
    make_file(k, f"{d}/ro", 4 * PAGE, 0o644)
    make_file(k, f"{d}/rw", 4 * PAGE, 0o600)
    make_file(k, f"{d}/gone", 4 * PAGE)
    make_file(k, f"{d}/old-name", 4 * PAGE)
    make_file(k, f"{d}/linked", 4 * PAGE)
    make_file(k, f"{d}/line\nbreak and space", 4 * PAGE)
    k.init.sys.mkdir(f"{d}/sub", 0o755)
    make_file(k, f"{d}/sub/inner", 4 * PAGE)
    t = spawn(k, "target")
    s = t.sys
    fds: dict[str, int] = {}
    kinds: list[tuple[str, int, int]] = []   # (label, start, length)

    def map_file(label: str, slot: int, path: str, oflags: int, prot: int, flags: int, n: int = 1) -> None:
        fd = s.open(path, oflags)
        fds[label] = fd
        s.mmap(_at(slot), n * PAGE, prot, flags | FIXED, fd, 0)
        kinds.append((label, _at(slot), n * PAGE))

    map_file("file-ro-private", 0, f"{d}/ro", O_RDONLY, PROT_READ, MAP_PRIVATE, 2)
    map_file("file-rw-shared", 1, f"{d}/rw", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED)
    map_file("file-rdwr-open-private-ro", 2, f"{d}/rw", O_RDWR, PROT_READ, MAP_PRIVATE)
    map_file("file-ro-shared", 3, f"{d}/ro", O_RDONLY, PROT_READ, MAP_SHARED)
    s.mmap(_at(4), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    kinds.append(("shared-anon", _at(4), 2 * PAGE))
    s.mmap(_at(5), PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | FIXED)
    kinds.append(("private-anon", _at(5), PAGE))
    mfd = s.memfd_create("mymemfd")
    s.ftruncate(mfd, 2 * PAGE)
    fds["memfd"] = mfd
    s.mmap(_at(6), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | FIXED, mfd, 0)
    kinds.append(("memfd", _at(6), 2 * PAGE))
    map_file("devzero-private", 7, "/dev/zero", O_RDONLY, PROT_READ, MAP_PRIVATE)
    map_file("devzero-shared", 8, "/dev/zero", O_RDWR, PROT_READ | PROT_WRITE, MAP_SHARED)
    map_file("deleted", 9, f"{d}/gone", O_RDONLY, PROT_READ, MAP_PRIVATE)
    s.unlink(f"{d}/gone")
    map_file("renamed", 10, f"{d}/old-name", O_RDONLY, PROT_READ, MAP_PRIVATE)
    s.rename(f"{d}/old-name", f"{d}/new-name")
    s.link(f"{d}/linked", f"{d}/hardlink")
    map_file("opened-via-hardlink", 11, f"{d}/hardlink", O_RDONLY, PROT_READ, MAP_PRIVATE)
    map_file("original-of-hardlink-unlinked", 12, f"{d}/linked", O_RDONLY, PROT_READ, MAP_PRIVATE)
    s.unlink(f"{d}/linked")
    map_file("odd-name", 13, f"{d}/line\nbreak and space", O_RDONLY, PROT_READ, MAP_PRIVATE)
    map_file("dir-renamed", 14, f"{d}/sub/inner", O_RDONLY, PROT_READ, MAP_PRIVATE)
    s.rename(f"{d}/sub", f"{d}/sub2")
    map_file("memfd-private", 15, f"/proc/self/fd/{mfd}", O_RDONLY, PROT_READ, MAP_PRIVATE)
    # the same struct file twice, adjacent with contiguous offsets: one VMA; two opens: two VMAs
    fd = s.open(f"{d}/ro", O_RDONLY)
    s.mmap(_at(16), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    s.mmap(_at(16) + PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, PAGE)
    fd2 = s.open(f"{d}/ro", O_RDONLY)
    s.mmap(_at(17), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    s.mmap(_at(17) + PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd2, PAGE)
    # same file, same open, not contiguous in the file: two VMAs
    s.mmap(_at(18), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    s.mmap(_at(18) + PAGE, PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 2 * PAGE)
    # a non-zero file offset
    s.mmap(_at(19), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 3 * PAGE)

    root = spawn(k, "observer")
    o.add("listing", listing(root, mf(t)))
    for label, start, length in kinds:
        path = mf(t, rng(start, start + length))
        o.do(f"{label} readlink", root.sys.readlink, path)
        o.do(f"{label} lstat", lambda: lstat_view(root.sys.lstat(path)))
        o.do(f"{label} stat-through view", lambda: stat_view(root.sys.stat(path)))
        if label in fds:
            o.do(f"{label} stat-through is the mapped file",
                 lambda: same_file(root.sys.stat(path), s.fstat(fds[label])))
        o.do(f"{label} readlink bufsiz 5", root.sys.readlink, path, bufsiz=5)
    o.add("maps", maps_view(read_all(root, f"/proc/{t.pid}/maps")))
    o.add("own maps", maps_view(read_all(t, "/proc/self/maps")))
    # the shared anonymous object and /dev/zero MAP_SHARED are both shmem files: same kind of target
    a = attempt(lambda: root.sys.stat(mf(t, rng(_at(4), _at(4) + 2 * PAGE))))
    z = attempt(lambda: root.sys.stat(mf(t, rng(_at(8), _at(8) + PAGE))))
    o.add("shmem targets are distinct inodes on one device", (a.st_dev == z.st_dev, a.st_ino != z.st_ino)
          if not isinstance(a, str) and not isinstance(z, str) else (a, z))
    return o.items


def test_mapping_kinds(host: Any, compared: Any) -> None:
    """Listing, link text, mode, target inode and maps line of every kind of mapping."""
    run_compare(host, compared, scenario_kinds)
