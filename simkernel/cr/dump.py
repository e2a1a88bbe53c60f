"""The dumper: checkpoint a task tree through system calls and /proc only, as CRIU's cr-dump does.

    image = dump(criu, root_pid)                        # criu: a task (simulated or host) with `.sys`

For each task of the tree (found through /proc/<pid>/task/<pid>/children or, where the kernel lacks it, the
PPid lines of /proc/*/status): its credentials from /proc/<pid>/status, its dumpable flag, and its VMAs from
/proc/<pid>/maps (ranges, prot, shared/private, offset); for each file-backed VMA the lookup strategy
(simkernel/cr/lookup.py) finds the object behind it.  Objects are keyed by (dev, ino), so VMAs that map one
inode -- in one task or across a forked tree -- share one FileImage: that is how shared anonymous groups are
found (use 2 of commit 640708a2cff7).  Deleted files and memfds carry their bytes, read through the link.

Decision tree (per VMA, recorded as VmaImage.how / .note; per task as TaskImage.access):
  1. maps / map_files of the task unreadable (no PTRACE_MODE_READ_FSCREDS: another uid without
     CAP_SYS_PTRACE, or a non-dumpable task): the task's VMAs are lost -- access "denied: ...".
  2. anonymous private memory: HOW_ANON (nothing to look up).
  3. readlink + lstat of the link work for any reader that passed 1: the path and O_RDONLY/O_RDWR.
  4. the link follows (CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN in the initial user namespace):
     HOW_MAP_FILES for every kind, identity from stat through the link, contents read through it.
  5. it does not (EPERM): a linked file is accepted when stat(path) names the maps dev:ino
     (HOW_READLINK_PATH), shared anonymous memory is grouped by the maps dev:ino (HOW_MAPS_INODE), a
     deleted file or a memfd is HOW_IMPOSSIBLE (no name to open, and the link cannot be followed).

Dumpable flag: /proc/<pid>/status (like every /proc/<pid> entry but the directory) is owned by the task's
euid/egid when it is dumpable and by root otherwise (task_dump_owner()), so for a task whose (euid, egid) is
not (0, 0) its owner tells.  For a root task it cannot: CRIU then asks its parasite code in the task.
Simplification: the parasite is `parasite(pid).sys.prctl(PR_GET_DUMPABLE)`, the dumpee making the call
itself; without a parasite the flag is recorded as unknown.

Simplification: memory CONTENTS of anonymous memory (private or shared) are not dumped -- the simulation does
not model page contents, only file bytes.  Threads other than the leader are counted, not dumped.

Linux: fs/proc/base.c (map_files, task_dump_owner), fs/proc/task_mmu.c (maps), fs/proc/array.c (status)
"""

from __future__ import annotations

from typing import Any, Callable

from simkernel.cr.image import (HOW_ANON, HOW_IMPOSSIBLE, KIND_DELETED, KIND_MEMFD, KIND_REG, CredImage,
                                FileImage, Image, TaskImage, VmaImage)
from simkernel.cr.lookup import Backing, MapFilesLookup, map_files_path
from simkernel.cr.maps_parser import MapsEntry, parse_maps
from simkernel.cr.proc import cred_from_status, list_dir, parse_status, read_file, read_text, task_tree
from simkernel.uapi import PR_GET_DUMPABLE

__all__ = ["dump", "dump_task", "FileTable", "sim_parasite", "host_parasite", "CONTENTS_GHOSTS", "CONTENTS_ALL",
           "task_dumpable"]

CONTENTS_GHOSTS = "ghosts"   # carry the bytes of deleted files and memfds (what cannot be found again)
CONTENTS_ALL = "all"         # also of regular files (to restore into a kernel without them)

Parasite = Callable[[int], Any]


def sim_parasite(kernel: Any) -> Parasite:
    """A parasite for a simulated kernel: pid -> the Task (its `sys` runs calls in the dumpee)."""
    def find(pid: int) -> Any:
        task = kernel.find_task(pid)
        if task is None:
            raise ProcessLookupError(pid)
        return task
    return find


def host_parasite(host: Any) -> Parasite:
    """A parasite for a HostKernel: pid -> the HostTask with that pid."""
    def find(pid: int) -> Any:
        for t in host.tasks:
            if t.pid == pid and t.state == "running":
                return t
        raise ProcessLookupError(pid)
    return find


class FileTable:
    """The objects of one dump, keyed by (dev, ino); ids "f0", "f1", ... in order of first appearance."""

    def __init__(self, contents: str) -> None:
        self.contents = contents
        self.by_key: dict[tuple[int, int], FileImage] = {}

    def add(self, sys: Any, pid: int, entry: MapsEntry, b: Backing) -> str:
        """The id of the object behind `entry`, recording it (and reading its bytes if needed) when new."""
        key = (b.dev, b.ino)
        known = self.by_key.get(key)
        if known is not None:
            return known.id
        st = b.stat
        data = None
        if b.how != HOW_IMPOSSIBLE and (b.kind in (KIND_DELETED, KIND_MEMFD)
                                        or (b.kind == KIND_REG and self.contents == CONTENTS_ALL)):
            # through the link when it follows (the only way to a deleted file or a memfd), else the path
            data = read_file(sys, map_files_path(pid, entry.start, entry.end) if b.followable else b.path)
        f = FileImage(id=f"f{len(self.by_key)}", kind=b.kind, path=b.path, dev=b.dev, ino=b.ino, how=b.how,
                      mode=st.st_mode if st is not None else None, uid=st.st_uid if st is not None else None,
                      gid=st.st_gid if st is not None else None, size=st.st_size if st is not None else None,
                      nlink=st.st_nlink if st is not None else None, contents=data)
        self.by_key[key] = f
        return f.id


def task_dumpable(sys: Any, pid: int, cred: CredImage, parasite: Parasite | None) -> tuple[int | None, str]:
    """(dumpable, source): from the owner of /proc/<pid>/status when the task's (euid, egid) is not
    (0, 0), else from the parasite, else (None, "unknown").  Linux: fs/proc/base.c:task_dump_owner()"""
    euid, egid = cred.uid[1], cred.gid[1]
    if (euid, egid) != (0, 0):
        st = sys.stat(f"/proc/{pid}/status")
        return int((st.st_uid, st.st_gid) == (euid, egid)), "proc-owner"
    if parasite is not None:
        return int(parasite(pid).sys.prctl(PR_GET_DUMPABLE)), "parasite"
    return None, "unknown"


def _in_window(e: MapsEntry, window: tuple[int, int] | None) -> bool:
    return window is None or window[0] <= e.start < window[1]


def _task_vmas(sys: Any, pid: int, lookup: Any) -> list[MapsEntry]:
    """The task's VMAs from maps; with map_files, also list the directory and check it agrees.

    Raises:
        PermissionError: no ptrace-read access to the task (EACCES).
    """
    if isinstance(lookup, MapFilesLookup):
        entries = parse_maps(read_text(sys, f"/proc/{pid}/maps"))
        names = set(list_dir(sys, f"/proc/{pid}/map_files"))
        backed = {e.range_name for e in entries if e.ino or e.dev}
        if names != backed:
            raise RuntimeError(f"task {pid}: map_files lists {sorted(names - backed)} that maps does not, and "
                               f"misses {sorted(backed - names)}")
        return entries
    return lookup.entries(sys, pid)


def dump_task(sys: Any, pid: int, status: dict[str, str], lookup: Any, files: FileTable,
              window: tuple[int, int] | None = None, parasite: Parasite | None = None) -> TaskImage:
    """Dump one task (see the module docstring for the decision tree)."""
    cred = cred_from_status(status)
    dumpable, source = task_dumpable(sys, pid, cred, parasite)
    vmas: list[VmaImage] = []
    access = "ok"
    try:
        entries = _task_vmas(sys, pid, lookup)
    except PermissionError as err:
        entries, access = [], f"denied: /proc/{pid}: {err.strerror} (no PTRACE_MODE_READ_FSCREDS access)"
    for e in entries:
        if not _in_window(e, window):
            continue
        if not (e.ino or e.dev):
            vmas.append(VmaImage(e.start, e.end, e.prot, e.shared, 0, None, None, HOW_ANON, name=e.name))
            continue
        b = lookup.identify(sys, pid, e)
        vmas.append(VmaImage(e.start, e.end, e.prot, e.shared, e.offset, files.add(sys, pid, e, b),
                             b.open_flags, b.how, note=b.note))
    return TaskImage(pid=pid, ppid=int(status["PPid"]), comm=status["Name"], cred=cred, dumpable=dumpable,
                     dumpable_source=source, threads=int(status.get("Threads", "1")), access=access, vmas=vmas)


def dump(criu: Any, root_pid: int, *, lookup: Any = None, window: tuple[int, int] | None = None,
         parasite: Parasite | None = None, contents: str = CONTENTS_GHOSTS, source: str = "") -> Image:
    """Checkpoint `root_pid` and its descendants, as task `criu` sees them.

    Args:
        criu: the dumping task (`.sys` is all that is used): a simulated Task, a HostTask, or
            simkernel.cr.local.LocalTask (the calling process on the host).
        root_pid: the root of the tree.
        lookup: MapFilesLookup() (default), MapsLookup() or MapsLookup(reread=False).
        window: only VMAs starting in [lo, hi) (host processes also map an interpreter).
        parasite: pid -> task handle, to ask a root task for its dumpable flag (see the module docstring).
        contents: CONTENTS_GHOSTS or CONTENTS_ALL.
        source: a label for the dumped kernel, stored in the image.

    Returns:
        The image; `image.restorable` says whether every VMA was captured.

    Raises:
        OSError: a /proc file of the tree vanished or could not be read (other than the per-task EACCES,
            which is recorded in the image).
    """
    sys = criu.sys
    lookup = lookup if lookup is not None else MapFilesLookup()
    statuses: dict[int, dict[str, str]] = {}
    files = FileTable(contents)
    tasks = [dump_task(sys, pid, statuses[pid], lookup, files, window, parasite)
             for pid in task_tree(sys, root_pid, statuses)]
    me = cred_from_status(parse_status(read_text(sys, "/proc/self/status")))
    return Image(source=source, lookup=lookup.name, tasks=tasks, files=list(files.by_key.values()),
                 window=window, dumper=me)
