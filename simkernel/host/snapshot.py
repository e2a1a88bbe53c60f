"""Import a live process of this machine into a simulated kernel: `snapshot(pid)`; `compare()` it with the host.

`snapshot(pid)` is `build(read_host(pid))`: simkernel/host/snapshot_read.py reads the process through the host's
/proc (maps, status, map_files; a `HostProcess`), simkernel/host/snapshot_build.py rebuilds it with system calls
of a task of the simulated kernel (a `Snapshot`, whose `notes` list what could not be copied and why).  This
module compares the two sides and runs `python -m simkernel snapshot PID [--compare]`.

Linux: fs/proc/task_mmu.c:show_map_vma() (the maps text compared), fs/proc/base.c (map_files)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, TextIO

from attrs import define

from simkernel.host.snapshot_build import MAX_FILE_SIZE, Snapshot, build
from simkernel.host.snapshot_read import (TASK_SIZE, HostFile, HostProcess, MapsEntry, SnapshotError,
                                          entry_range, normalise_maps_line, read_host)

if TYPE_CHECKING:
    from simkernel.machine import Kernel

__all__ = ["SnapshotError", "MapsEntry", "HostFile", "HostProcess", "Snapshot", "Comparison", "read_host",
           "build", "snapshot", "compare", "normalise_maps_line", "run_snapshot", "MAX_FILE_SIZE"]


def snapshot(pid: int, kernel: Kernel | None = None, version: str | None = None,
             max_file_size: int = MAX_FILE_SIZE) -> Snapshot:
    """Import host process `pid` into `kernel` (default: a new one of `version`); see the module docstring.

    Raises:
        SnapshotError: the host process cannot be read.
    """
    return build(read_host(pid), kernel=kernel, version=version, max_file_size=max_file_size)


@define
class Comparison:
    """Normalised maps lines and map_files entries of both sides within [lo, hi), and their differences."""

    maps_sim: list[str]
    maps_host: list[str]
    map_files_sim: list[tuple[str, str]]
    map_files_host: list[tuple[str, str]] | None
    differences: list[str]

    @property
    def same(self) -> bool:
        return not self.differences


def compare(snap: Snapshot, lo: int = 0, hi: int = 1 << 64) -> Comparison:
    """Compare the simulated copy with the host process as it was read, within [lo, hi).

    maps lines are compared without device and inode numbers; the gate area (`[vsyscall]`) is left out of both.
    map_files entries are compared as `mode name -> target` (the mode when the host's could be read).
    """
    import difflib
    import stat

    def inside(start: int, end: int) -> bool:
        return start < hi and end > lo and start < TASK_SIZE

    host_maps = [e.normalised() for e in snap.host.maps if inside(e.start, e.end)]
    sim_maps = [e.normalised() for e in map(MapsEntry.parse, snap.maps()) if inside(e.start, e.end)]
    sim_files = [(n, t) for n, t in snap.map_files() if inside(*entry_range(n))]
    host_files = None if snap.host.map_files is None else [
        (n, t) for n, t in snap.host.map_files if inside(*entry_range(n))]
    diffs = [line for line in difflib.unified_diff(host_maps, sim_maps, "host maps", "simulated maps", lineterm="")]
    if host_files is None:
        diffs.append(f"host map_files unreadable ({snap.host.map_files_error}): not compared")
    else:
        host_modes, sim_modes = snap.host.link_modes, snap.link_modes()

        def entry(n: str, t: str, modes: dict[str, int]) -> str:
            return (f"{stat.filemode(modes[n])} " if n in host_modes and n in modes else "") + f"{n} -> {t}"
        diffs += difflib.unified_diff([entry(n, t, host_modes) for n, t in host_files],
                                      [entry(n, t, sim_modes) for n, t in sim_files],
                                      "host map_files", "simulated map_files", lineterm="")
    return Comparison(sim_maps, host_maps, sim_files, host_files, diffs)


_compare = compare



def run_snapshot(pid: int, *, compare: bool = False, version: str | None = None, out: TextIO | None = None,
                 err: TextIO | None = None) -> int:
    """`python -m simkernel snapshot PID [--compare]`: print the simulated copy; returns the exit status."""
    import sys

    from simkernel.userspace import ls_l
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        snap = snapshot(pid, version=version)
    except SnapshotError as e:
        err.write(f"snapshot: {e}\n")
        return 1
    h, t = snap.host, snap.task
    w = out.write
    w(f"host process {pid} ({h.comm}) is simulated pid {t.pid} on a model of Linux {snap.kernel.version.name}\n")
    w(f"  Uid: {_ids(h.uids)}  Gid: {_ids(h.gids)}  Groups: {' '.join(map(str, h.groups)) or '-'}\n")
    w(f"  CapEff: {h.cap_eff:016x}  CapPrm: {h.cap_prm:016x}  CapInh: {h.cap_inh:016x}  "
      f"CapBnd: {h.cap_bnd:016x}  CapAmb: {h.cap_amb:016x}  dumpable: {int(h.dumpable)}\n")
    for n in snap.notes:
        w(f"  note: {n}\n")
    w(f"\n== cat /proc/{t.pid}/maps (simulated, as root) ==\n")
    w("".join(line + "\n" for line in snap.maps()))
    w(f"\n== ls -l /proc/{t.pid}/map_files (simulated, as root) ==\n")
    w("".join(line + "\n" for line in ls_l(snap.kernel.init, f"/proc/{t.pid}/map_files")))
    if not compare:
        return 0
    c = _compare(snap)
    w(f"\n== compared with host process {pid} (device and inode numbers ignored) ==\n")
    w(f"maps: {len(c.maps_host)} host lines, {len(c.maps_sim)} simulated lines\n")
    if c.map_files_host is not None:
        w(f"map_files: {len(c.map_files_host)} host entries, {len(c.map_files_sim)} simulated entries\n")
    if c.same:
        w("identical\n")
        return 0
    w("".join(line + "\n" for line in c.differences))
    changed = sum(1 for d in c.differences if d[:1] in "+-" and d[:3] not in ("+++", "---"))
    w(f"DIFFERENT ({changed} line(s) only on one side)\n")
    return 1


def _ids(ids: Iterable[int]) -> str:
    return "/".join(map(str, ids))
