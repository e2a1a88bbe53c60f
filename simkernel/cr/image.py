"""The checkpoint image: what the dumper learned through /proc, as plain values that survive JSON.

Like CRIU's images (core-*.img, mm-*.img, reg-files.img, ...) but one document: the tasks of a tree with their
credentials and VMAs, and the file objects the VMAs map, each VMA pointing at its object by id.  Two VMAs (of
one task or of several) point at the same object exactly when the dumper found the same inode behind them, so
shared groups (use 2 of commit 640708a2cff7) are part of the image.

Every VMA and object records `how` the dumper learned it (see simkernel/cr/dump.py for the decision tree).

Example:
    >>> img = Image(source="example", lookup="map_files", tasks=[], files=[])
    >>> Image.from_json(img.to_json()) == img
    True
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable, Iterable

import attrs
from attrs import field, frozen

__all__ = ["CredImage", "FileImage", "VmaImage", "TaskImage", "Image", "FORMAT",
           "HOW_ANON", "HOW_MAP_FILES", "HOW_READLINK_PATH", "HOW_MAPS_INODE", "HOW_MAPS_PATH", "HOW_IMPOSSIBLE",
           "KIND_REG", "KIND_DELETED", "KIND_MEMFD", "KIND_SHMEM", "KIND_CHR", "KIND_OTHER"]

FORMAT = 1

# how a VMA's backing object was learned (dump.py explains the tree)
HOW_ANON = "anon"                        # no file: nothing to look up
HOW_MAP_FILES = "map_files"              # followed /proc/<pid>/map_files/<range>: stat (and read) the object
HOW_READLINK_PATH = "readlink+stat(path)"  # link not followable: path from readlink, dev/ino checked on the path
HOW_MAPS_INODE = "maps-inode"            # shared anonymous memory grouped by the maps dev:ino columns
HOW_MAPS_PATH = "maps+stat(path)"        # no map_files at all: path parsed from maps, dev/ino checked on the path
HOW_IMPOSSIBLE = "impossible"            # cannot be dumped at this privilege; the reason is in `note`

# what kind of object a VMA maps
KIND_REG = "reg"          # a regular file reachable by its path
KIND_DELETED = "deleted"  # an unlinked regular file ("... (deleted)"): restored as a ghost file
KIND_MEMFD = "memfd"      # memfd_create() ("/memfd:NAME (deleted)")
KIND_SHMEM = "shmem"      # shared anonymous memory or MAP_SHARED /dev/zero ("/dev/zero (deleted)")
KIND_CHR = "chr"          # a character device mapped privately (/dev/zero)
KIND_OTHER = "other"      # anything else (SysV shm, hugetlb, anon inodes): not restorable here


def _tuple_of(cls: type) -> Callable[[Iterable[Any]], tuple[Any, ...]]:
    """Converter: a tuple of `cls`, building each element from a dict when it comes from JSON."""
    def convert(items: Iterable[Any]) -> tuple[Any, ...]:
        return tuple(x if isinstance(x, cls) else cls(**x) for x in items)
    return convert


def _maybe(cls: type) -> Callable[[Any], Any]:
    def convert(x: Any) -> Any:
        return x if x is None or isinstance(x, cls) else cls(**x)
    return convert


def _bytes(x: Any) -> bytes | None:
    """Converter: bytes, from base64 text when it comes from JSON."""
    if x is None or isinstance(x, bytes):
        return x
    return base64.b64decode(x)


def _opt_tuple(x: Any) -> tuple[int, ...] | None:
    return None if x is None else tuple(x)


@frozen
class CredImage:
    """A task's credentials as /proc/<pid>/status shows them (cf. struct cred, include/linux/cred.h).

    Attributes:
        uid: (real, effective, saved, fs) uids of the "Uid:" line.
        gid: (real, effective, saved, fs) gids of the "Gid:" line.
        groups: supplementary groups ("Groups:").
        cap_inheritable, cap_permitted, cap_effective, cap_bset, cap_ambient: the Cap* masks.
        no_new_privs: "NoNewPrivs:".
    """

    uid: tuple[int, ...] = field(converter=tuple)
    gid: tuple[int, ...] = field(converter=tuple)
    groups: tuple[int, ...] = field(converter=tuple)
    cap_inheritable: int
    cap_permitted: int
    cap_effective: int
    cap_bset: int
    cap_ambient: int
    no_new_privs: bool = False


@frozen
class FileImage:
    """One mapped object (an inode), shared by every VMA that names its id.

    Attributes:
        id: "f0", "f1", ... in order of first appearance.
        kind: one of the KIND_* values.
        path: the readlink (or maps) text, with " (deleted)" where the kernel adds it.
        dev, ino: the identity the dumper found (stat through the link, or the maps columns).
        mode, uid, gid, size, nlink: stat of the object; None where it could not be stat'ed.
        contents: the bytes of a deleted file or memfd (read through the link); of a regular file only when
            the dump was asked to carry file contents; else None.
        how: how the object was identified (HOW_*).
    """

    id: str
    kind: str
    path: str
    dev: int
    ino: int
    how: str
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None
    size: int | None = None
    nlink: int | None = None
    contents: bytes | None = field(default=None, converter=_bytes, repr=False)


@frozen
class VmaImage:
    """One VMA (cf. struct vm_area_struct, include/linux/mm_types.h), as maps and map_files show it.

    Attributes:
        start, end: vm_start and vm_end.
        prot: PROT_* bits.
        shared: MAP_SHARED (VM_MAYSHARE) rather than MAP_PRIVATE.
        offset: the file offset in bytes (vm_pgoff << PAGE_SHIFT); 0 for anonymous memory.
        file: the FileImage id, None for anonymous private memory.
        open_flags: O_RDONLY or O_RDWR, from the map_files link mode 0400/0600 (FMODE_READ/FMODE_WRITE of the
            mapped struct file); None when not known (anonymous, or guessed from prot in maps-only mode).
        how: HOW_* decision for this VMA.
        note: why, for a fallback or an impossible VMA.
        name: the maps name of an anonymous VMA ("[heap]", ...), "" otherwise.
    """

    start: int
    end: int
    prot: int
    shared: bool
    offset: int
    file: str | None
    open_flags: int | None
    how: str
    note: str = ""
    name: str = ""


@frozen
class TaskImage:
    """One task of the dumped tree (thread-group leaders only).

    Attributes:
        pid: its pid on the dumped kernel.
        ppid: its parent's pid ("PPid:").
        comm: "Name:".
        cred: its credentials.
        dumpable: 0 or 1 (SUID_DUMP_*), None when neither /proc ownership nor the parasite could tell.
        dumpable_source: "proc-owner", "parasite" or "unknown".
        threads: "Threads:" (Simplification: threads other than the leader are not restored).
        access: "ok", or why the VMAs could not be read at all (no ptrace access).
        vmas: in address order.
    """

    pid: int
    ppid: int
    comm: str
    cred: CredImage = field(converter=_maybe(CredImage))
    dumpable: int | None
    dumpable_source: str
    threads: int
    access: str
    vmas: tuple[VmaImage, ...] = field(converter=_tuple_of(VmaImage))


@frozen
class Image:
    """A checkpoint of a task tree.

    Attributes:
        source: which kernel was dumped ("simkernel 6.18.44", "host Linux 6.18.44").
        lookup: "map_files" or "maps" (the lookup strategy the dumper used).
        tasks: the tree in pre-order (a parent before its children), the root first.
        files: the mapped objects.
        window: (lo, hi) when only VMAs starting in [lo, hi) were dumped (host processes carry an interpreter).
        dumper: the dumping task's own credentials.
        format: image format version.
    """

    source: str
    lookup: str
    tasks: tuple[TaskImage, ...] = field(converter=_tuple_of(TaskImage))
    files: tuple[FileImage, ...] = field(converter=_tuple_of(FileImage))
    window: tuple[int, ...] | None = field(default=None, converter=_opt_tuple)
    dumper: CredImage | None = field(default=None, converter=_maybe(CredImage))
    format: int = FORMAT

    # -- queries ---------------------------------------------------------------------------------------
    def file(self, file_id: str) -> FileImage:
        """The object with this id. Raises KeyError."""
        for f in self.files:
            if f.id == file_id:
                return f
        raise KeyError(file_id)

    def shared_groups(self) -> dict[str, list[tuple[int, int, int]]]:
        """Objects mapped by more than one VMA: id -> [(pid, start, end), ...] in image order."""
        groups: dict[str, list[tuple[int, int, int]]] = {}
        for t in self.tasks:
            for v in t.vmas:
                if v.file is not None:
                    groups.setdefault(v.file, []).append((t.pid, v.start, v.end))
        return {k: g for k, g in groups.items() if len(g) > 1}

    def impossible(self) -> list[tuple[int, VmaImage]]:
        """The VMAs this dump could not capture: [(pid, vma), ...]."""
        return [(t.pid, v) for t in self.tasks for v in t.vmas if v.how == HOW_IMPOSSIBLE]

    @property
    def restorable(self) -> bool:
        """True when every task was readable and no VMA is impossible."""
        return all(t.access == "ok" for t in self.tasks) and not self.impossible()

    # -- serialisation ---------------------------------------------------------------------------------
    def to_json(self, indent: int | None = None) -> str:
        """JSON text; bytes become base64 strings, tuples lists."""
        def ser(_inst: Any, _field: Any, value: Any) -> Any:
            if isinstance(value, bytes):
                return base64.b64encode(value).decode("ascii")
            return value
        return json.dumps(attrs.asdict(self, value_serializer=ser), indent=indent, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Image:
        """The image `to_json` wrote."""
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"image format {data.get('format')!r}, this reader knows {FORMAT}")
        return cls(**data)
