"""Two ways to find the object behind a VMA: through /proc/<pid>/map_files, or by re-reading /proc/<pid>/maps.

Commit 640708a2cff7 (v3.3) added map_files so a checkpoint tool could (1) learn exactly which file backs a
region by following `/proc/$pid/map_files/$address`, (2) group shared anonymous mappings by inode and (3) on
restore, let a second task open the first task's mapping through that link.  It argues that doing the same
through /proc/$pid/maps "brings repeatable re-reading and reparsing for this text file which slows down
restore procedure significantly".  Both strategies implement one interface so the dumper and restorer run
unchanged with either and simkernel/cr/cost.py can count what each costs:

    identify(sys, pid, entry) -> Backing     what backs the VMA `entry` of task `pid` (use 1 and 2)
    open_peer(sys, pid, start, end, flags)   an fd on the object task `pid` maps at [start, end) (use 3)

`MapFilesLookup` makes three calls per VMA (readlink, lstat, stat through the link) whatever the number of
VMAs.  `MapsLookup` re-reads and re-parses the whole maps text for every lookup (O(M) bytes for one VMA out
of M), then stat()s or opens the *path*, which only exists for linked files; `MapsLookup(reread=False)`
reads each task's maps once and caches it, to separate the cost of re-reading from the cost of maps itself.
"""

from __future__ import annotations

from typing import Any

from attrs import define, field, frozen

from simkernel.cr.image import (HOW_IMPOSSIBLE, HOW_MAP_FILES, HOW_MAPS_INODE, HOW_MAPS_PATH, HOW_READLINK_PATH,
                                KIND_CHR, KIND_DELETED, KIND_MEMFD, KIND_OTHER, KIND_REG, KIND_SHMEM)
from simkernel.cr.maps_parser import DELETED_SUFFIX, MapsEntry, find_entry, parse_maps
from simkernel.cr.proc import read_text
from simkernel.uapi import O_CLOEXEC, O_RDONLY, O_RDWR, PROT_WRITE, S_ISCHR, S_IWUSR

__all__ = ["Backing", "RestoreError", "classify", "guess_open_flags", "MapFilesLookup", "MapsLookup",
           "map_files_path", "SHMEM_NAME", "MEMFD_PREFIX"]

SHMEM_NAME = "/dev/zero" + DELETED_SUFFIX   # shmem_zero_setup() names its file "dev/zero" on shm_mnt
MEMFD_PREFIX = "/memfd:"                     # memfd_create() names its file "memfd:NAME" on shm_mnt


class RestoreError(RuntimeError):
    """The image cannot be restored this way (not an errno of one system call)."""


@frozen
class Backing:
    """What a lookup found behind one VMA.

    Attributes:
        kind: KIND_* of the object.
        path: readlink (or maps) text.
        dev, ino: identity of the object (stat through the link, or the maps columns).
        how: HOW_* decision; HOW_IMPOSSIBLE with `note` saying why.
        open_flags: O_RDONLY/O_RDWR from the link mode, None when unknown.
        stat: os.stat_result of the object when it could be stat'ed, else None.
        note: the reason for a fallback or an impossible VMA.
        followable: the map_files link could be followed (so contents can be read through it).
    """

    kind: str
    path: str
    dev: int
    ino: int
    how: str
    open_flags: int | None
    stat: Any = field(default=None, eq=False, repr=False)
    note: str = ""
    followable: bool = False


def map_files_path(pid: int, start: int, end: int) -> str:
    """/proc/<pid>/map_files/<start>-<end> ("%lx-%lx", as proc_map_files_readdir() names entries)."""
    return f"/proc/{pid}/map_files/{start:x}-{end:x}"


def classify(path: str, st_mode: int | None = None) -> str:
    """The KIND_* of an object from its d_path() text (and its st_mode when known).

    Examples:
        "/dev/zero (deleted)" -> shmem;  "/memfd:x (deleted)" -> memfd;  "/tmp/f (deleted)" -> deleted;
        "/SYSV00000000 (deleted)", "/anon_hugepage (deleted)", "anon_inode:[io_uring]" -> other;
        "/dev/zero" with a character-device mode -> chr;  "/tmp/f" -> reg.
    """
    if not path.startswith("/"):
        return KIND_OTHER
    if path.endswith(DELETED_SUFFIX):
        if path == SHMEM_NAME:
            return KIND_SHMEM
        if path.startswith(MEMFD_PREFIX):
            return KIND_MEMFD
        if path.startswith("/SYSV") or path == "/anon_hugepage" + DELETED_SUFFIX:
            return KIND_OTHER
        return KIND_DELETED
    if st_mode is not None and S_ISCHR(st_mode):
        return KIND_CHR
    return KIND_REG


def guess_open_flags(prot: int, shared: bool) -> int:
    """Without the link mode: the least an mmap() of this VMA needs (O_RDWR only for shared writable)."""
    return O_RDWR if shared and prot & PROT_WRITE else O_RDONLY


def _same(st: Any, dev: int, ino: int) -> bool:
    return (st.st_dev, st.st_ino) == (dev, ino)


def _names(sys: Any, path: str, st: Any) -> bool:
    """Does `path` (taken literally) name the inode of `st`?"""
    try:
        return _same(sys.stat(path), st.st_dev, st.st_ino)
    except OSError:
        return False


def _check_path(sys: Any, path: str, dev: int, ino: int, kind: str, how: str, flags: int | None,
                why: str) -> Backing:
    """The fallback for linked files: stat(path) must name the inode maps reports (dev, ino)."""
    try:
        st = sys.stat(path)
    except OSError as err:
        return Backing(kind, path, dev, ino, HOW_IMPOSSIBLE, flags,
                       note=f"{why}; stat({path!r}) failed: {err.strerror}")
    if not _same(st, dev, ino):
        return Backing(kind, path, dev, ino, HOW_IMPOSSIBLE, flags,
                       note=f"{why}; the path now names another inode ({st.st_dev}:{st.st_ino})")
    if S_ISCHR(st.st_mode):
        kind = KIND_CHR
    return Backing(kind, path, dev, ino, how, flags, stat=st, note=why)


def _no_path(entry_kind: str, path: str, dev: int, ino: int, flags: int | None, why: str) -> Backing:
    """Objects without a usable path: shared anonymous memory is grouped by inode, the rest is lost."""
    if entry_kind == KIND_SHMEM:
        return Backing(entry_kind, path, dev, ino, HOW_MAPS_INODE, flags,
                       note=f"{why}; shared anonymous memory grouped by the maps dev:ino")
    what = {KIND_DELETED: "a deleted file", KIND_MEMFD: "a memfd"}.get(entry_kind, "an object without a path")
    return Backing(entry_kind, path, dev, ino, HOW_IMPOSSIBLE, flags,
                   note=f"{why}; {what} can only be reached through the map_files link")


@define
class MapFilesLookup:
    """Use 1-3 of commit 640708a2cff7: the map_files link names, opens and identifies the object.

    Decision tree of identify() (the dumper's answer per VMA, for any privilege):
      readlink + lstat of the link (needs PTRACE_MODE_READ_FSCREDS only): the path text and the link mode
      (0400/0600 -> O_RDONLY/O_RDWR); then stat through the link:
        * it follows (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the initial user namespace): HOW_MAP_FILES,
          exact dev/ino/size/mode of the object, contents readable through the link;
        * EPERM (no such capability): a linked file falls back to stat(path), accepted only when it names
          the inode of the maps dev:ino columns (HOW_READLINK_PATH); shared anonymous memory is grouped by the
          maps dev:ino (HOW_MAPS_INODE); deleted files and memfds become HOW_IMPOSSIBLE.
    """

    name: str = "map_files"

    def identify(self, sys: Any, pid: int, entry: MapsEntry) -> Backing:
        """What backs `entry` of task `pid`. Raises OSError when even readlink is denied (EACCES)."""
        link = map_files_path(pid, entry.start, entry.end)
        path = sys.readlink(link)
        flags = O_RDWR if sys.lstat(link).st_mode & S_IWUSR else O_RDONLY
        try:
            st = sys.stat(link)
        except PermissionError as err:
            why = f"following map_files: {err.strerror} (needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN)"
            kind = classify(path)
            if kind == KIND_REG:
                return _check_path(sys, path, entry.dev, entry.ino, kind, HOW_READLINK_PATH, flags, why)
            return _no_path(kind, path, entry.dev, entry.ino, flags, why)
        kind = classify(path, st.st_mode)
        if kind == KIND_DELETED and st.st_nlink and _names(sys, path, st):
            kind = KIND_REG     # a live file whose name really ends in " (deleted)"
        return Backing(kind, path, st.st_dev, st.st_ino, HOW_MAP_FILES, flags, stat=st, followable=True)

    def open_peer(self, sys: Any, pid: int, start: int, end: int, flags: int) -> int:
        """open(/proc/<pid>/map_files/<start>-<end>, flags): a new struct file on the peer's object."""
        return sys.open(map_files_path(pid, start, end), flags | O_CLOEXEC)


@define
class MapsLookup:
    """The /proc/<pid>/maps way: every lookup re-reads and re-parses the text (unless `reread` is False).

    identify(): the line for the VMA gives the name and dev:ino; a linked file is verified by stat(path)
    (HOW_MAPS_PATH), shared anonymous memory grouped by dev:ino (HOW_MAPS_INODE), everything else is
    impossible.  The open mode is unknown (maps has no such column): `open_flags` is None and the restorer
    guesses the least mmap() needs.  open_peer() opens the path of the peer's line and checks its inode.
    """

    reread: bool = True
    name: str = field(default="")
    _cache: dict[int, list[MapsEntry]] = field(factory=dict, repr=False, alias="_cache")
    _index: dict[int, dict[tuple[int, int], MapsEntry]] = field(factory=dict, repr=False, alias="_index")

    def __attrs_post_init__(self) -> None:
        if not self.name:
            self.name = "maps" if self.reread else "maps-once"

    def entries(self, sys: Any, pid: int) -> list[MapsEntry]:
        """The parsed maps of `pid`: read again on every call, or once per pid when not `reread`."""
        if self.reread or pid not in self._cache:
            self._cache[pid] = parse_maps(read_text(sys, f"/proc/{pid}/maps"))
        return self._cache[pid]

    def _line(self, sys: Any, pid: int, start: int, end: int) -> MapsEntry:
        if self.reread:   # a linear search costs no more than the parse it follows
            e = find_entry(self.entries(sys, pid), start, end)
        else:             # the cached text is looked up by range, as a real tool would index it
            if pid not in self._index:
                self._index[pid] = {(x.start, x.end): x for x in self.entries(sys, pid)}
            e = self._index[pid].get((start, end))
        if e is None:
            raise RestoreError(f"task {pid} has no VMA {start:x}-{end:x} in /proc/{pid}/maps")
        return e

    def identify(self, sys: Any, pid: int, entry: MapsEntry) -> Backing:
        """What backs `entry` of task `pid`, from its maps line alone."""
        e = self._line(sys, pid, entry.start, entry.end)
        kind = classify(e.name)
        why = "maps only"
        if kind == KIND_REG:
            return _check_path(sys, e.name, e.dev, e.ino, kind, HOW_MAPS_PATH, None, why)
        return _no_path(kind, e.name, e.dev, e.ino, None, why)

    def open_peer(self, sys: Any, pid: int, start: int, end: int, flags: int) -> int:
        """Find the peer's line, open its path, and check the inode is the one the peer maps.

        Raises:
            RestoreError: the peer maps no such VMA, the object has no path (deleted, memfd, shared
                anonymous memory: only map_files reaches it), or the path names another inode.
        """
        e = self._line(sys, pid, start, end)
        kind = classify(e.name)
        if kind not in (KIND_REG, KIND_CHR):
            raise RestoreError(f"{e.name!r} ({kind}) mapped by task {pid} has no path to open: sharing it "
                               f"needs /proc/{pid}/map_files")
        fd = sys.open(e.name, flags | O_CLOEXEC)
        if not _same(sys.fstat(fd), e.dev, e.ino):
            sys.close(fd)
            raise RestoreError(f"{e.name!r} no longer names the inode task {pid} maps")
        return fd
