"""Parse /proc/<pid>/maps text as a checkpoint tool reads it (the userspace side of fs/proc/task_mmu.c).

One line per VMA:

    start-end perms offset major:minor inode<padding>name

`show_map_vma()` prints the addresses with at least 8 hex digits, the offset in bytes, the device as
`%02x:%02x` and the name after padding to column 73; a name is `d_path()` of the file (newline escaped as
`\\012` by `seq_file_path()`, ` (deleted)` appended for an unlinked dentry) or a pseudo name (`[heap]`).

What this text cannot say, and why map_files exists (commit 640708a2cff7):
  * the name is ambiguous: a file literally called `a (deleted)` prints like the deleted file `a`, a name
    containing the five characters `\\012` prints like one containing a newline, and leading spaces of a
    name are lost in the padding;
  * nothing can be opened from it when the file has no name (deleted files, memfd, shared anonymous memory);
  * there is no open mode: the link mode of map_files (0400/0600) tells O_RDONLY from O_RDWR;
  * each lookup re-reads and re-parses the whole text: O(M) bytes for one VMA out of M.

Linux: fs/proc/task_mmu.c:show_map_vma(), show_vma_header_prefix(); fs/seq_file.c:seq_file_path()
"""

from __future__ import annotations

import os
from typing import Iterable

from attrs import frozen

from simkernel.uapi import PROT_EXEC, PROT_READ, PROT_WRITE

__all__ = ["MapsEntry", "parse_maps_line", "parse_maps", "find_entry", "DELETED_SUFFIX"]

DELETED_SUFFIX = " (deleted)"


@frozen
class MapsEntry:
    """One parsed line of /proc/<pid>/maps.

    Attributes:
        start: vm_start.
        end: vm_end.
        prot: PROT_* bits from the "rwx" columns.
        shared: True for "s" (VM_MAYSHARE), False for "p".
        offset: vm_pgoff in bytes.
        dev: st_dev encoding of "major:minor" (os.makedev), 0 for anonymous memory.
        ino: the inode number (0 for anonymous memory).
        name: the name column with `\\012` decoded to a newline, "" when there is none.
    """

    start: int
    end: int
    prot: int
    shared: bool
    offset: int
    dev: int
    ino: int
    name: str

    @property
    def deleted(self) -> bool:
        """Whether the name ends in " (deleted)" (which a live file may also be called)."""
        return self.name.endswith(DELETED_SUFFIX)

    @property
    def range_name(self) -> str:
        """The map_files name of this VMA: "%lx-%lx"."""
        return f"{self.start:x}-{self.end:x}"


def parse_maps_line(line: str) -> MapsEntry:
    """Parse one maps line (with or without its newline).

    Examples:
        "7e0000000000-7e0000002000 r--p 00001000 00:20 20          /tmp/f" parses to start 0x7e0000000000,
        end 0x7e0000002000, prot PROT_READ, private, offset 0x1000, dev os.makedev(0, 0x20), ino 20, "/tmp/f".
        "7e0000080000-7e0000081000 rw-p 00000000 00:00 0 " (anonymous: one space after the inode) has name "".
        "01e4f000-01e70000 rw-p 00000000 00:00 0          [heap]" has name "[heap]".

    Raises:
        ValueError: the line does not have the five leading fields.
    """
    fields = line.rstrip("\n").split(" ", 5)
    if len(fields) < 5:
        raise ValueError(f"not a maps line: {line!r}")
    rng, perms, offset, dev, ino = fields[:5]
    lo, hi = rng.split("-", 1)
    major, minor = dev.split(":", 1)
    if len(perms) != 4:
        raise ValueError(f"bad perms {perms!r} in maps line {line!r}")
    prot = ((PROT_READ if perms[0] == "r" else 0) | (PROT_WRITE if perms[1] == "w" else 0)
            | (PROT_EXEC if perms[2] == "x" else 0))
    name = fields[5].lstrip(" ") if len(fields) > 5 else ""
    return MapsEntry(start=int(lo, 16), end=int(hi, 16), prot=prot, shared=perms[3] == "s",
                     offset=int(offset, 16), dev=os.makedev(int(major, 16), int(minor, 16)), ino=int(ino),
                     name=name.replace("\\012", "\n"))


def parse_maps(text: str) -> list[MapsEntry]:
    """All lines of a maps text, in address order (as the kernel prints them)."""
    return [parse_maps_line(line) for line in text.splitlines() if line]


def find_entry(entries: Iterable[MapsEntry], start: int, end: int) -> MapsEntry | None:
    """The entry for exactly [start, end) (what find_exact_vma() does in the kernel), or None."""
    for e in entries:
        if e.start == start and e.end == end:
            return e
    return None
