"""The host side of a snapshot (simkernel/host/snapshot.py): a live process of this machine as /proc shows it.

What is read (only /proc, as root for another user's process):

* `/proc/<pid>/maps`: every VMA's range, protection, shared/private flag, file offset and name;
* `/proc/<pid>/status`: name, uids, gids, groups, the five capability sets, NoNewPrivs;
* `/proc/<pid>/map_files/`: the entry names and link targets (root only), and through each entry `stat` of the
  mapped file itself (size, mode, owner; this works for deleted files too);
* the owner of `/proc/<pid>/status`: a non-dumpable process's files belong to root (fs/proc/base.c:
  task_dump_owner(); the /proc/<pid> directory itself keeps the euid), which is how the dumpable flag shows
  from outside.

`read_host(pid)` returns it as a `HostProcess`; `MapsEntry` is one maps line (also used to read the simulated
side back for comparisons).

Linux: fs/proc/task_mmu.c:show_map_vma() (the maps text read here), fs/proc/array.c (status), fs/proc/base.c
"""

from __future__ import annotations

import os

from attrs import define, field, frozen

from simkernel.host.procfs import read_status
from simkernel.uapi import capability as C
from simkernel.uapi import mman as M

__all__ = ["SnapshotError", "MapsEntry", "HostFile", "HostProcess", "read_host", "normalise_maps_line",
           "TASK_SIZE"]

TASK_SIZE = (1 << 47) - 4096     # x86-64, 4-level paging: the gate area ([vsyscall]) lies above it


class SnapshotError(Exception):
    """The host process cannot be read (gone, not permitted, not Linux)."""


@frozen
class MapsEntry:
    """One /proc/<pid>/maps line: `7f83f4a56000-7f83f4a7c000 r--p 00000000 fe:00 339380   /usr/lib/libc.so.6`."""

    start: int
    end: int
    perms: str
    offset: int
    dev: str
    inode: int
    name: str | None

    @classmethod
    def parse(cls, line: str) -> MapsEntry:
        """Parse one maps line; the name keeps inner spaces ("/memfd:a b (deleted)"), None when absent.

        Raises:
            ValueError: not a maps line.
        """
        parts = line.rstrip("\n").split(None, 5)
        if len(parts) < 5 or "-" not in parts[0] or len(parts[1]) != 4:
            raise ValueError(f"not a maps line: {line!r}")
        lo, _, hi = parts[0].partition("-")
        return cls(int(lo, 16), int(hi, 16), parts[1], int(parts[2], 16), parts[3], int(parts[4]),
                   parts[5].strip() if len(parts) == 6 and parts[5].strip() else None)

    @property
    def prot(self) -> int:
        p = self.perms
        return ((M.PROT_READ if p[0] == "r" else 0) | (M.PROT_WRITE if p[1] == "w" else 0)
                | (M.PROT_EXEC if p[2] == "x" else 0))

    @property
    def shared(self) -> bool:
        return self.perms[3] == "s"

    @property
    def map_files_name(self) -> str:
        return f"{self.start:x}-{self.end:x}"

    def normalised(self) -> str:
        return f"{self.start:08x}-{self.end:08x} {self.perms} {self.offset:08x} {self.name or ''}".rstrip()


def normalise_maps_line(line: str) -> str:
    """A maps line without its device and inode numbers and column padding, for comparing two kernels:
    `"00400000-0041a000 r-xp 00000000 00:20 20      /bin/ls"` -> `"00400000-0041a000 r-xp 00000000 /bin/ls"`."""
    return MapsEntry.parse(line).normalised()


@frozen
class HostFile:
    """What os.stat says about a mapped file or one of its directories."""

    size: int
    mode: int
    uid: int
    gid: int

    @classmethod
    def of(cls, st: os.stat_result) -> HostFile:
        return cls(st.st_size, st.st_mode & 0o7777, st.st_uid, st.st_gid)


@define
class HostProcess:
    """A host process as /proc shows it (see `read_host`); can also be written by hand for a test."""

    pid: int
    comm: str
    uids: tuple[int, int, int, int] = (0, 0, 0, 0)       # real, effective, saved, fs
    gids: tuple[int, int, int, int] = (0, 0, 0, 0)
    groups: tuple[int, ...] = ()
    cap_inh: int = 0
    cap_prm: int = C.CAP_FULL_SET
    cap_eff: int = C.CAP_FULL_SET
    cap_bnd: int = C.CAP_FULL_SET
    cap_amb: int = 0
    no_new_privs: bool = False
    dumpable: bool = True
    maps: list[MapsEntry] = field(factory=list)
    map_files: list[tuple[str, str]] | None = None      # (name, link target); None when unreadable
    map_files_error: str | None = None
    link_modes: dict[str, int] = field(factory=dict)    # map_files name -> the link's st_mode (its f_mode)
    files: dict[str, HostFile] = field(factory=dict)    # map_files name -> the mapped file's stat
    dirs: dict[str, HostFile] = field(factory=dict)     # directory path -> its stat


def read_host(pid: int, proc: str = "/proc") -> HostProcess:
    """Read host process `pid` through /proc (see the module docstring).

    Raises:
        SnapshotError: no such process, or its maps or status cannot be read.
    """
    base = f"{proc}/{pid}"
    try:
        status = read_status(pid, proc)
        with open(f"{base}/maps") as f:
            text = f.read()
        owner = os.stat(f"{base}/status").st_uid
    except FileNotFoundError:
        raise SnapshotError(f"no such process: {pid}") from None
    except OSError as e:
        raise SnapshotError(f"cannot read {e.filename or base}: {e.strerror}"
                            + (" (another user's process needs root)" if os.geteuid() else "")) from None
    uids = tuple(status.get("Uid", (0, 0, 0, 0)))
    host = HostProcess(
        pid=pid, comm=status.get("Name", "?"), uids=uids, gids=tuple(status.get("Gid", (0, 0, 0, 0))),
        groups=tuple(status.get("Groups", ())), cap_inh=status.get("CapInh", 0), cap_prm=status.get("CapPrm", 0),
        cap_eff=status.get("CapEff", 0), cap_bnd=status.get("CapBnd", C.CAP_FULL_SET),
        cap_amb=status.get("CapAmb", 0), no_new_privs=bool(status.get("NoNewPrivs", 0)),
        dumpable=uids[1] == 0 or owner == uids[1],
        maps=[MapsEntry.parse(line) for line in text.splitlines() if line.strip()])
    try:
        names = os.listdir(f"{base}/map_files")
        host.map_files = sorted(((n, os.readlink(f"{base}/map_files/{n}")) for n in names), key=addr_key)
        host.link_modes = {n: os.lstat(f"{base}/map_files/{n}").st_mode for n in names}
    except OSError as e:
        host.map_files_error = f"{base}/map_files: {e.strerror}"
    for e in host.maps:
        if e.name is None or not e.name.startswith("/"):
            continue
        try:
            host.files[e.map_files_name] = HostFile.of(os.stat(f"{base}/map_files/{e.map_files_name}"))
        except OSError:
            if not e.name.endswith(" (deleted)"):
                try:
                    host.files[e.map_files_name] = HostFile.of(os.stat(e.name))
                except OSError:
                    pass
        for d in parents(e.name):
            if d not in host.dirs:
                try:
                    host.dirs[d] = HostFile.of(os.stat(d))
                except OSError:
                    pass
    return host


def unescape(name: str) -> str:
    """maps shows a newline in a path as `\\012` (seq_path(m, path, "\\n")); the file's real name has it."""
    return name.replace("\\012", "\n")


def parents(path: str) -> list[str]:
    """`/usr/lib/x.so` -> ['/usr', '/usr/lib']."""
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


def entry_range(name: str) -> tuple[int, int]:
    """A map_files entry name `7e0000000000-7e0000001000` -> (start, end)."""
    lo, _, hi = name.partition("-")
    return int(lo, 16), int(hi, 16)


def addr_key(item: tuple[str, str]) -> int:
    """Sort key of a (map_files name, link target) pair: the start address."""
    return entry_range(item[0])[0]
