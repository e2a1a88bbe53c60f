"""The simulated side of a snapshot (simkernel/host/snapshot.py): `build(host)` rebuilds a `HostProcess` (read by
simkernel/host/snapshot_read.py) in a simulated kernel as a `Snapshot`.

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
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.host.snapshot_read import TASK_SIZE, HostProcess, MapsEntry, addr_key, parents, unescape
from simkernel.uapi import capability as C
from simkernel.uapi import fcntl as F
from simkernel.uapi import mman as M
from simkernel.uapi import prctl as P

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Snapshot", "build", "MAX_FILE_SIZE"]

MAX_FILE_SIZE = 64 << 20
_TAG = "\0simkernel-snapshot:"          # temporary anon_name while building (never shown)


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
        return sorted(((n, s.readlink(f"{d}/{n}")) for n in s.listdir(d)), key=addr_key)

    def link_modes(self) -> dict[str, int]:
        """st_mode of each simulated map_files link (`lr--------` or `lrw-------`: the file's f_mode)."""
        s = self.kernel.init.sys
        d = f"/proc/{self.task.pid}/map_files"
        return {n: s.lstat(f"{d}/{n}").st_mode for n in s.listdir(d)}


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
            if e.start >= TASK_SIZE:
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
            self.map_file(unescape(name[:-len(" (deleted)")]), entries, unlink=True)
        for entries in memfds.values():
            self.map_memfd(entries)
        for path, entries in files.items():
            self.map_file(unescape(path), entries, unlink=False)
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
        # a mode other than O_RDWR: the host mapped a read-only reopen (e.g. of a sealed memfd)
        self.map_opened(f"/proc/self/fd/{fd}", entries, {F.O_RDWR: fd})

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
        """Create `path` (unless it exists and `unlink` is False), map `entries` of it, unlink it if asked."""
        try:
            self.make_dirs(path)
            self.create(path, entries, exclusive=unlink)
        except OSError as err:
            for e in entries:
                self.skip(e, f"{path}: {err.strerror}")
            return
        self.map_opened(path, entries, {}, unlink=unlink)

    def map_opened(self, path: str, entries: list[MapsEntry], fds: dict[int, int], unlink: bool = False) -> None:
        """Map `entries` of the file at `path`, each from a file opened the way the host's was: O_RDWR when its
        map_files link is `lrw-` (the file's f_mode had FMODE_WRITE) or it is a shared writable mapping, else
        O_RDONLY.  `fds` (open mode -> fd) holds the files already open; `path` is opened for each other mode
        needed.  Then `path` is unlinked if asked, and every fd in `fds` closed."""
        s = self.s
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
        for d in parents(path):
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
