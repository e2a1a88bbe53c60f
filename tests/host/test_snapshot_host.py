"""simkernel.host.snapshot on the real kernel: a process started through the host bridge maps every kind of
mapping at SCENARIO_BASE; the snapshot rebuilds it in a simulated kernel, and the simulated /proc/<pid>/maps
lines (device and inode numbers aside), map_files names, link targets and link modes, and the credential
lines of /proc/<pid>/status must equal the host's.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from simkernel.host import SCENARIO_BASE, SCENARIO_SPAN
from simkernel.host.snapshot import MapsEntry, compare, snapshot
from simkernel.uapi import (CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE,
                            MAP_SHARED, O_RDONLY, O_RDWR, PR_SET_DUMPABLE, PROT_EXEC, PROT_NONE, PROT_READ,
                            PROT_WRITE)
from simkernel.userspace import cat

PAGE = 4096
LO, HI = SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN
CRED_FIELDS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")


def _at(page: int) -> int:
    return SCENARIO_BASE + page * PAGE


def _file(path: str, size: int, mode: int = 0o644, uid: int = 1000) -> None:
    with open(path, "wb") as f:
        f.truncate(size)
    os.chmod(path, mode)
    os.chown(path, uid, uid)


def _window(lines: list[str]) -> list[str]:
    return [e.normalised() for e in map(MapsEntry.parse, lines) if e.start < HI and e.end > LO]


def _cred_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.split(":")[0] in CRED_FIELDS]


def _host_map_files(pid: int) -> list[tuple[str, str, str]]:
    d = f"/proc/{pid}/map_files"
    out = []
    for n in os.listdir(d):
        lo, _, hi = n.partition("-")
        if int(lo, 16) < HI and int(hi, 16) > LO:
            out.append((n, os.readlink(f"{d}/{n}"), stat.filemode(os.lstat(f"{d}/{n}").st_mode)))
    return sorted(out, key=lambda x: int(x[0].split("-")[0], 16))


def _sim_map_files(snap: Any) -> list[tuple[str, str, str]]:
    modes = snap.link_modes()
    return [(n, t, stat.filemode(modes[n])) for n, t in snap.map_files()
            if int(n.split("-")[0], 16) < HI and int(n.split("-")[1], 16) > LO]


def _every_kind(host: Any) -> Any:
    """A uid-1000 task with one of each mapping kind in the window, some split by mprotect/munmap."""
    d = host.tmpdir()
    _file(f"{d}/lib.so", 8 * PAGE, 0o755)
    _file(f"{d}/data", 4 * PAGE, 0o600)
    _file(f"{d}/gone", 2 * PAGE)
    _file(f"{d}/line\nbreak and space", 2 * PAGE)
    t = host.spawn("snapme", uid=1000, gid=1000)
    s = t.sys
    lib = s.open(f"{d}/lib.so", O_RDONLY)
    s.mmap(_at(0), 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, lib, 0)
    s.mmap(_at(2), 4 * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, lib, 2 * PAGE)
    s.mmap(_at(6), 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, lib, 6 * PAGE)
    s.mprotect(_at(7), PAGE, PROT_READ | PROT_WRITE)                       # split: r--p + rw-p
    s.mmap(_at(8), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)   # "bss"
    s.mmap(_at(10), PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)                   # guard
    data = s.open(f"{d}/data", O_RDWR)
    s.mmap(_at(16), 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, data, 0)
    s.mmap(_at(20), PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, data, PAGE)   # O_RDWR file, private: lrw-
    gone = s.open(f"{d}/gone", O_RDONLY)
    s.mmap(_at(24), 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, gone, 0)
    os.unlink(f"{d}/gone")
    odd = s.open(f"{d}/line\nbreak and space", O_RDONLY)
    s.mmap(_at(28), PAGE, PROT_READ, MAP_SHARED | MAP_FIXED, odd, PAGE)
    mfd = s.memfd_create("snap memfd")
    s.ftruncate(mfd, 4 * PAGE)
    s.mmap(_at(32), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 2 * PAGE)
    ro = s.open(f"/proc/self/fd/{mfd}", O_RDONLY)                          # a read-only reopen: lr--
    s.mmap(_at(36), PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, ro, 0)
    s.mmap(_at(40), 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED)
    s.munmap(_at(40), PAGE)                                                 # shared anon at offset 0x1000
    s.mmap(_at(48), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    s.mmap(_at(50), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)  # merges on both
    return t


def test_snapshot_window_maps_and_map_files_equal_host(host: Any, compared: Any) -> None:
    """Every kind of mapping in the window is rebuilt: maps lines, map_files names, targets and modes agree."""
    t = _every_kind(host)
    snap = snapshot(t.pid)
    host_maps = _window(t.read_maps())
    assert len(host_maps) >= 12, host_maps
    compared.check(_window(snap.maps()), host_maps, "maps lines in the scenario window")
    host_files = _host_map_files(t.pid)
    sim_files = _sim_map_files(snap)
    compared.check([n for n, _, _ in sim_files], [n for n, _, _ in host_files], "map_files names")
    compared.check([x for _, x, _ in sim_files], [x for _, x, _ in host_files], "map_files link targets")
    compared.check([m for _, _, m in sim_files], [m for _, _, m in host_files], "map_files link modes")
    compared.check(compare(snap, LO, HI).differences, [], "snapshot.compare() in the window")


def test_snapshot_whole_process_equals_host(host: Any, compared: Any) -> None:
    """The whole bridge process (an interpreter with its libraries, heap, stack, vdso) is rebuilt exactly,
    the gate area aside."""
    t = _every_kind(host)
    snap = snapshot(t.pid)
    c = compare(snap)
    compared.check(c.maps_sim, c.maps_host, "all maps lines")
    compared.check(c.map_files_sim, c.map_files_host, "all map_files entries")
    compared.check(c.differences, [], "snapshot.compare() of the whole process")
    assert len(c.maps_host) > 20


def test_snapshot_credentials_equal_host(host: Any, compared: Any) -> None:
    """uids, gids, groups, the capability sets and dumpability are those of the host process."""
    t = host.spawn("creds", uid=1000, gid=1001, groups=(5, 1002), caps=[CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH])
    t.sys.prctl(PR_SET_DUMPABLE, 0)
    snap = snapshot(t.pid)
    with open(f"/proc/{t.pid}/status") as f:
        host_status = f.read()
    sim_status = cat(snap.kernel.init, f"/proc/{snap.task.pid}/status")
    compared.check(_cred_lines(sim_status), _cred_lines(host_status), "status credential lines")
    compared.check(snap.host.dumpable, False, "dumpable read from the owner of /proc/<pid>/status")
    for entry in ("", "/status", "/map_files"):
        sim_owner = snap.kernel.init.sys.stat(f"/proc/{snap.task.pid}{entry}").st_uid
        compared.check(sim_owner, os.stat(f"/proc/{t.pid}{entry}").st_uid, f"owner of /proc/<pid>{entry}")
    compared.check(snap.notes, [n for n in snap.notes if "credentials" not in n], "no credential step failed")
