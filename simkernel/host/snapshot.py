"""Import a live process of this machine into a simulated kernel: `snapshot(pid)`.

What is read (the host side only reads /proc, as root for another user's process):

* `/proc/<pid>/maps`: every VMA's range, protection, shared/private flag, file offset and name;
* `/proc/<pid>/status`: name, uids, gids, groups, the five capability sets, NoNewPrivs;
* `/proc/<pid>/map_files/`: the entry names and link targets (root only), and through each entry `stat` of the
  mapped file itself (size, mode, owner; this works for deleted files too);
* the owner of `/proc/<pid>/status`: a non-dumpable process's files belong to root (fs/proc/base.c:
  task_dump_owner(); the /proc/<pid> directory itself keeps the euid), which is how the dumpable flag shows
  from outside.

What is built, through system calls of a task forked from the simulated init (root while it builds): each mapped
file at its path (missing directories made with the host's modes and owners, the file truncated to the host's
size and given its mode and owner), each deleted file created, mapped and unlinked again (so its maps name ends in
" (deleted)"), memfds by memfd_create (reopened read-only through /proc/self/fd where the host's link mode says
so), shared anonymous memory ("/dev/zero (deleted)") by MAP_SHARED|MAP_ANONYMOUS
(moved into place with mremap when the host's offset is not 0), every VMA mapped with MAP_FIXED at its address
with its protection and offset.  Then the task switches to the host's credentials the way a setpriv would (bounding
set drops, setgroups, setresgid/setresuid keeping capabilities, setfsgid/setfsuid, capset, ambient raises,
NO_NEW_PRIVS) and sets its dumpable flag.

Simplifications (each listed in `Snapshot.notes` when it applies):

* The host kept VMAs apart that the model would merge (their anon_vmas differ, or flags maps does not show).  The
  build tags each new VMA with a temporary anon name so the next mmap cannot merge with it, and afterwards gives
  each VMA that touches a mergeable twin its own `AnonVma` (as if its pages had been faulted).
* `[heap]`, `[stack]`, `[vdso]`, `[vvar]`, `[anon:...]` are anonymous mappings carrying that name (the model names
  special areas by `vm_area_struct.anon_name`); `[stack]` is mapped MAP_GROWSDOWN.  The `[vsyscall]` gate area is
  above TASK_SIZE and not a VMA; it is left out, and out of comparisons.
* File contents are zeros; a file bigger than `max_file_size` is cut to it (the model keeps file bytes in memory).
* Names that are no path (`anon_inode:[perf_event]`) cannot be rebuilt and are skipped; so is anything an mmap of
  the model refuses.  Pid, device and inode numbers are the simulation's own.

Linux: fs/proc/task_mmu.c:show_map_vma() (the maps text read here), fs/proc/array.c (status), fs/proc/base.c
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, TextIO

from attrs import define, field, frozen

from simkernel.uapi import capability as C
from simkernel.uapi import fcntl as F
from simkernel.uapi import mman as M
from simkernel.uapi import prctl as P

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["SnapshotError", "MapsEntry", "HostFile", "HostProcess", "Snapshot", "Comparison", "read_host",
           "build", "snapshot", "compare", "normalise_maps_line", "run_snapshot", "MAX_FILE_SIZE"]

MAX_FILE_SIZE = 64 << 20
_TASK_SIZE = (1 << 47) - 4096
_TAG = "\0simkernel-snapshot:"          # temporary anon_name while building (never shown)


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
    from simkernel.host.procfs import read_status
    base = f"{proc}/{pid}"
    try:
        status = read_status(pid) if proc == "/proc" else _read_status_at(base)
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
        host.map_files = sorted(((n, os.readlink(f"{base}/map_files/{n}")) for n in names), key=_addr_key)
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
        for d in _parents(e.name):
            if d not in host.dirs:
                try:
                    host.dirs[d] = HostFile.of(os.stat(d))
                except OSError:
                    pass
    return host


def _read_status_at(base: str) -> dict[str, Any]:
    """read_status() for a /proc mounted elsewhere (tests, a container's /proc)."""
    out: dict[str, Any] = {}
    with open(f"{base}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            value = value.strip()
            if key.startswith("Cap"):
                out[key] = int(value, 16)
            elif key in ("Uid", "Gid", "Groups"):
                out[key] = tuple(int(v) for v in value.split())
            elif key == "NoNewPrivs":
                out[key] = int(value)
            elif key == "Name":
                out[key] = value
    return out


def _unescape(name: str) -> str:
    """maps shows a newline in a path as `\\012` (seq_path(m, path, "\\n")); the file's real name has it."""
    return name.replace("\\012", "\n")


def _parents(path: str) -> list[str]:
    """`/usr/lib/x.so` -> ['/usr', '/usr/lib']."""
    parts = path.split("/")[1:-1]
    return ["/" + "/".join(parts[:i + 1]) for i in range(len(parts))]


def _addr_key(item: tuple[str, str]) -> int:
    return int(item[0].split("-")[0], 16)


# -- building the simulated process --------------------------------------------------------------------------

@define(eq=False)
class Snapshot:
    """A host process rebuilt in a simulated kernel: `task` is its copy; `notes` says what differs and why."""

    kernel: Kernel
    task: Task
    host: HostProcess
    notes: list[str] = field(factory=list)
    skipped: list[MapsEntry] = field(factory=list)

    def maps(self) -> list[str]:
        """The simulated /proc/<pid>/maps lines, read by the simulated init."""
        from simkernel.userspace import cat
        return cat(self.kernel.init, f"/proc/{self.task.pid}/maps").splitlines()

    def map_files(self) -> list[tuple[str, str]]:
        """The simulated /proc/<pid>/map_files entries and link targets, read by init, in address order."""
        s = self.kernel.init.sys
        d = f"/proc/{self.task.pid}/map_files"
        return sorted(((n, s.readlink(f"{d}/{n}")) for n in s.listdir(d)), key=_addr_key)

    def link_modes(self) -> dict[str, int]:
        """st_mode of each simulated map_files link (`lr--------` or `lrw-------`: the file's f_mode)."""
        s = self.kernel.init.sys
        d = f"/proc/{self.task.pid}/map_files"
        return {n: s.lstat(f"{d}/{n}").st_mode for n in s.listdir(d)}


def snapshot(pid: int, kernel: Kernel | None = None, version: str | None = None,
             max_file_size: int = MAX_FILE_SIZE) -> Snapshot:
    """Import host process `pid` into `kernel` (default: a new one of `version`); see the module docstring.

    Raises:
        SnapshotError: the host process cannot be read.
    """
    return build(read_host(pid), kernel=kernel, version=version, max_file_size=max_file_size)


def build(host: HostProcess, kernel: Kernel | None = None, version: str | None = None,
          max_file_size: int = MAX_FILE_SIZE) -> Snapshot:
    """Rebuild `host` in a simulated kernel (see the module docstring); never raises for one bad mapping."""
    from simkernel.machine import Kernel
    k = kernel if kernel is not None else Kernel(version=version)
    t = k.init.sys.fork()
    snap = Snapshot(k, t, host)
    _Builder(snap, max_file_size).run()
    _set_credentials(snap)
    return snap


class _Builder:
    """Maps every host VMA into the snapshot task (root while it builds)."""

    def __init__(self, snap: Snapshot, max_file_size: int) -> None:
        self.snap = snap
        self.s = snap.task.sys
        self.max_file_size = max_file_size
        self.final_names: dict[tuple[int, int], str | None] = {}
        self.made_dirs: set[str] = set()

    def note(self, text: str) -> None:
        if text not in self.snap.notes:
            self.snap.notes.append(text)

    def skip(self, e: MapsEntry, why: str) -> None:
        self.snap.skipped.append(e)
        self.note(f"{e.start:x}-{e.end:x} {e.name or '(anonymous)'}: not rebuilt: {why}")

    def run(self) -> None:
        deleted: dict[tuple[str, str, int], list[MapsEntry]] = {}
        memfds: dict[tuple[str, int], list[MapsEntry]] = {}
        files: dict[str, list[MapsEntry]] = {}
        for e in self.snap.host.maps:
            name = e.name
            if e.start >= _TASK_SIZE:
                self.snap.skipped.append(e)
                self.note(f"{name or e.map_files_name}: the gate area above TASK_SIZE is not a VMA; left out")
            elif name is None or name.startswith("["):
                self.map_anonymous(e, name)
            elif name == "/dev/zero (deleted)" and e.shared:
                self.map_shared_anonymous(e)
            elif name.startswith("/memfd:") and name.endswith(" (deleted)"):
                memfds.setdefault((e.dev, e.inode), []).append(e)
            elif not name.startswith("/"):
                self.skip(e, "not a path the model can create")
            elif name.endswith(" (deleted)"):
                deleted.setdefault((name, e.dev, e.inode), []).append(e)
            else:
                files.setdefault(name, []).append(e)
        for (name, _dev, _ino), entries in deleted.items():
            self.map_file(_unescape(name[:-len(" (deleted)")]), entries, unlink=True)
        for entries in memfds.values():
            self.map_memfd(entries)
        for path, entries in files.items():
            self.map_file(_unescape(path), entries, unlink=False)
        self.finish()

    # -- one VMA ----------------------------------------------------------------------------------------------
    def mmap(self, e: MapsEntry, flags: int, fd: int = -1, final_name: str | None = None) -> None:
        try:
            self.s.mmap(e.start, e.end - e.start, e.prot, flags | M.MAP_FIXED, fd, e.offset if fd >= 0 else 0)
        except OSError as err:
            self.skip(e, f"mmap: {err.strerror}")
            return
        self.tag(e, final_name)

    def tag(self, e: MapsEntry, final_name: str | None) -> None:
        from simkernel.mm.vma import find_exact_vma
        vma = find_exact_vma(self.snap.task.mm, e.start, e.end)
        assert vma is not None, f"the VMA {e.start:x}-{e.end:x} just mapped is not in the mm"
        vma.anon_name = f"{_TAG}{e.start:x}"
        self.final_names[(e.start, e.end)] = final_name

    def map_anonymous(self, e: MapsEntry, name: str | None) -> None:
        flags = (M.MAP_SHARED if e.shared else M.MAP_PRIVATE) | M.MAP_ANONYMOUS
        if name == "[stack]":
            flags |= M.MAP_GROWSDOWN
        self.mmap(e, flags, final_name=name)
        if name == "[heap]":
            mm = self.snap.task.mm
            mm.start_brk, mm.brk = e.start, e.end

    def map_shared_anonymous(self, e: MapsEntry) -> None:
        """MAP_SHARED|MAP_ANONYMOUS; a host offset > 0 (the area was split) is rebuilt by mapping offset+len
        elsewhere, moving the tail into place with mremap and unmapping the head."""
        flags = M.MAP_SHARED | M.MAP_ANONYMOUS
        if not e.offset:
            self.mmap(e, flags)
            return
        length = e.end - e.start
        size = e.offset + length
        try:
            scratch = self.s.mmap(0, size, e.prot, flags)
            if scratch < e.end and scratch + size > e.start:   # it covers the target: take another place
                first, scratch = scratch, self.s.mmap(0, size, e.prot, flags)
                self.s.munmap(first, size)
            self.s.mremap(scratch + e.offset, length, length, M.MREMAP_MAYMOVE | M.MREMAP_FIXED, e.start)
            self.s.munmap(scratch, e.offset)
        except OSError as err:
            self.skip(e, f"shared anonymous memory at offset {e.offset:#x}: {err.strerror}")
            return
        self.tag(e, None)

    def map_memfd(self, entries: list[MapsEntry]) -> None:
        name = entries[0].name[len("/memfd:"):-len(" (deleted)")]  # type: ignore[index]
        size = self.size_of(entries)
        try:
            fd = self.s.memfd_create(name)
            self.s.ftruncate(fd, size)
        except OSError as err:
            for e in entries:
                self.skip(e, f"memfd_create: {err.strerror}")
            return
        fds = {F.O_RDWR: fd}
        try:
            for e in entries:
                mode = F.O_RDWR if self.opened_for_write(e) else F.O_RDONLY
                if mode not in fds:      # the host mapped a read-only reopen (e.g. a sealed memfd)
                    fds[mode] = self.s.open(f"/proc/self/fd/{fd}", mode)
                self.mmap(e, M.MAP_SHARED if e.shared else M.MAP_PRIVATE, fds[mode])
        finally:
            for f in fds.values():
                self.s.close(f)

    def size_of(self, entries: list[MapsEntry]) -> int:
        """The host file's size (from stat through map_files), else the end of the furthest mapping."""
        files = self.snap.host.files
        for e in entries:
            if e.map_files_name in files:
                size = files[e.map_files_name].size
                break
        else:
            size = max(e.offset + e.end - e.start for e in entries)
        if size > self.max_file_size:
            self.note(f"{entries[0].name}: {size} bytes on the host; the simulated file is cut to "
                      f"{self.max_file_size} (contents are kept in memory)")
            size = self.max_file_size
        return size

    # -- files ------------------------------------------------------------------------------------------------
    def map_file(self, path: str, entries: list[MapsEntry], unlink: bool) -> None:
        """Create `path` (unless it exists and `unlink` is False), map `entries` of it, unlink it if asked.

        Each mapping gets a file opened the way the host's was: O_RDWR when its map_files link is `lrw-`
        (the file's f_mode had FMODE_WRITE) or it is a shared writable mapping, else O_RDONLY.
        """
        s = self.s
        try:
            self.make_dirs(path)
            self.create(path, entries, exclusive=unlink)
        except OSError as err:
            for e in entries:
                self.skip(e, f"{path}: {err.strerror}")
            return
        fds: dict[int, int] = {}
        try:
            for e in entries:
                mode = F.O_RDWR if self.opened_for_write(e) else F.O_RDONLY
                if mode not in fds:
                    try:
                        fds[mode] = s.open(path, mode)
                    except OSError as err:
                        self.skip(e, f"{path}: {err.strerror}")
                        continue
                self.mmap(e, M.MAP_SHARED if e.shared else M.MAP_PRIVATE, fds[mode])
            if unlink:
                s.unlink(path)
        finally:
            for fd in fds.values():
                s.close(fd)

    def opened_for_write(self, e: MapsEntry) -> bool:
        link_mode = self.snap.host.link_modes.get(e.map_files_name)
        return bool(e.shared and e.prot & M.PROT_WRITE) or bool(link_mode is not None and link_mode & 0o200)

    def create(self, path: str, entries: list[MapsEntry], exclusive: bool) -> None:
        """Make the file with the host's size, mode and owner; an existing file is used as it is."""
        s = self.s
        try:
            fd = s.open(path, F.O_CREAT | F.O_EXCL | F.O_WRONLY, 0o600)
        except FileExistsError:
            if exclusive:
                raise
            return
        try:
            s.ftruncate(fd, self.size_of(entries))
        finally:
            s.close(fd)
        st = next((self.snap.host.files[e.map_files_name] for e in entries
                   if e.map_files_name in self.snap.host.files), None)
        if st is not None:
            s.chmod(path, st.mode)
            s.chown(path, st.uid, st.gid)

    def make_dirs(self, path: str) -> None:
        for d in _parents(path):
            try:
                self.s.mkdir(d, 0o755)
            except FileExistsError:
                continue
            st = self.snap.host.dirs.get(d)
            if st is not None:
                self.s.chmod(d, st.mode)
                self.s.chown(d, st.uid, st.gid)

    # -- after every mapping ------------------------------------------------------------------------------------
    def finish(self) -> None:
        """Put the final names on the VMAs; give each VMA that touches a mergeable twin its own anon_vma."""
        from simkernel.mm.mm_types import VM_SOFTDIRTY, AnonVma
        mm = self.snap.task.mm
        vmas = list(mm)
        for vma in vmas:
            if vma.anon_name is not None and vma.anon_name.startswith(_TAG):
                vma.anon_name = self.final_names.get((vma.vm_start, vma.vm_end))
        twins = 0
        for a, b in zip(vmas, vmas[1:]):
            if (a.vm_end == b.vm_start and not (a.vm_flags ^ b.vm_flags) & ~VM_SOFTDIRTY
                    and a.vm_file is b.vm_file and a.anon_name == b.anon_name
                    and (a.vm_file is None or a.vm_pgoff + a.vm_pages == b.vm_pgoff)):
                twins += 1
                for v in (a, b):
                    if v.anon_vma is None:
                        v.anon_vma = AnonVma(anon_vma_id=mm.kernel.next_id("anon_vma"))
        if twins:
            self.note(f"{twins} pair(s) of adjacent VMAs the model would merge were kept apart as on the host "
                      f"(each given its own anon_vma)")


def _set_credentials(snap: Snapshot) -> None:
    """Switch the snapshot task to the host's credentials, as setpriv would; record what failed."""
    h = snap.host
    s = snap.task.sys
    steps: list[tuple[str, Any]] = [
        ("prctl(PR_SET_NAME)", lambda: s.prctl(P.PR_SET_NAME, h.comm)),
        ("prctl(PR_CAPBSET_DROP)", lambda: [s.prctl(P.PR_CAPBSET_DROP, c) for c in range(C.CAP_LAST_CAP + 1)
                                            if not h.cap_bnd >> c & 1]),
        ("setgroups", lambda: s.setgroups(list(h.groups))),
        ("prctl(PR_SET_KEEPCAPS, 1)", lambda: s.prctl(P.PR_SET_KEEPCAPS, 1)),
        ("setresgid", lambda: s.setresgid(*h.gids[:3])),
        ("setresuid", lambda: s.setresuid(*h.uids[:3])),
        ("capset (to set the fs ids)", lambda: s.capset(s.capget()[1], s.capget()[1], 0)),
        ("setfsgid", lambda: s.setfsgid(h.gids[3])),
        ("setfsuid", lambda: s.setfsuid(h.uids[3])),
        ("capset", lambda: s.capset(h.cap_eff, h.cap_prm, h.cap_inh)),
        ("prctl(PR_CAP_AMBIENT_RAISE)", lambda: [s.prctl(P.PR_CAP_AMBIENT, P.PR_CAP_AMBIENT_RAISE, c)
                                                 for c in range(C.CAP_LAST_CAP + 1) if h.cap_amb >> c & 1]),
        ("prctl(PR_SET_KEEPCAPS, 0)", lambda: s.prctl(P.PR_SET_KEEPCAPS, 0)),
        ("prctl(PR_SET_NO_NEW_PRIVS)", lambda: s.prctl(P.PR_SET_NO_NEW_PRIVS, 1) if h.no_new_privs else None),
        ("prctl(PR_SET_DUMPABLE)", lambda: s.prctl(P.PR_SET_DUMPABLE, int(h.dumpable))),
    ]
    for label, step in steps:
        try:
            step()
        except OSError as err:
            snap.notes.append(f"credentials: {label} failed: {err.strerror}")


# -- comparing with the host ---------------------------------------------------------------------------------

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
        return start < hi and end > lo and start < _TASK_SIZE

    host_maps = [e.normalised() for e in snap.host.maps if inside(e.start, e.end)]
    sim_maps = [e.normalised() for e in map(MapsEntry.parse, snap.maps()) if inside(e.start, e.end)]
    sim_files = [(n, t) for n, t in snap.map_files() if inside(*_range(n))]
    host_files = None if snap.host.map_files is None else [
        (n, t) for n, t in snap.host.map_files if inside(*_range(n))]
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


def _range(name: str) -> tuple[int, int]:
    lo, _, hi = name.partition("-")
    return int(lo, 16), int(hi, 16)


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
