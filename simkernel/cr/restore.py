"""The restorer: rebuild an image's task tree with system calls only, as CRIU's cr-restore does.

    result = restore(image, criu)          # criu: a task with `.sys` that can fork (simulated or HostTask)

Three phases, so that every task is still root with all capabilities while it maps:
  1. fork the tree: the root from `criu`, every other task from its restored parent (the parent-child
     structure is kept; pids are new -- `result.pids` maps old to new);
  2. map every VMA, task by task in image order.  The first VMA of each object *creates* it:
       regular file / device: open(path);  deleted file: a ghost file created at the old name with the
       dumped bytes, opened, then unlinked;  memfd: memfd_create(name) + the bytes;  shared anonymous memory:
       mmap(MAP_SHARED|MAP_ANONYMOUS) (or, when the VMA is only part of the object, a whole-size temporary
       mapping reopened through /proc/self/map_files);
     every later VMA of the same object -- in this task or another -- opens the creator's
     /proc/<pid>/map_files/<range> entry (use 3 of commit 640708a2cff7), or, with MapsLookup, re-reads the
     creator's maps and opens the path (which fails for objects without a path);
  3. credentials and the dumpable flag: bounding set, groups, setresgid/setresuid with PR_SET_KEEPCAPS,
     setfsgid/setfsuid, capset, ambient set, no_new_privs, PR_SET_DUMPABLE last (a uid change clears it).

Simplification: anonymous memory comes back with no contents (the simulation models no page contents); file
bytes come from the file, the ghost file or the memfd.  Threads are not restored.

Linux: mm/mmap.c:do_mmap(), mm/shmem.c:shmem_zero_setup(), mm/memfd.c, kernel/sys.c, security/commoncap.c
"""

from __future__ import annotations

from typing import Any

from attrs import define, field

from simkernel.cr.image import (HOW_IMPOSSIBLE, KIND_CHR, KIND_DELETED, KIND_MEMFD, KIND_REG, KIND_SHMEM,
                                CredImage, FileImage, Image, TaskImage, VmaImage)
from simkernel.cr.lookup import MEMFD_PREFIX, MapFilesLookup, RestoreError, guess_open_flags
from simkernel.cr.maps_parser import DELETED_SUFFIX
from simkernel.uapi import (MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, O_CLOEXEC, O_CREAT,
                            O_EXCL, O_RDWR, O_WRONLY, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE,
                            PR_CAPBSET_DROP, PR_CAPBSET_READ, PR_SET_DUMPABLE, PR_SET_KEEPCAPS, PR_SET_NAME,
                            PR_SET_NO_NEW_PRIVS, PROT_READ, PROT_WRITE)

__all__ = ["restore", "RestoreResult", "restore_creds", "RestoreError"]


@define
class RestoreResult:
    """What restore() made.

    Attributes:
        tasks: old pid -> the restored task handle.
        pids: old pid -> new pid.
        creators: object id -> (new pid, start, end) of the VMA that created it.
    """

    tasks: dict[int, Any] = field(factory=dict)
    pids: dict[int, int] = field(factory=dict)
    creators: dict[str, tuple[int, int, int]] = field(factory=dict)

    @property
    def root(self) -> Any:
        """The restored root task."""
        return next(iter(self.tasks.values()))


def _write_all(sys: Any, fd: int, data: bytes) -> None:
    while data:
        data = data[sys.write(fd, data):]


def _as_owner(sys: Any, f: FileImage) -> tuple[int, int] | None:
    """setfsgid/setfsuid to the object's owner, so a memfd or shmem inode is created with it."""
    if f.uid is None or f.gid is None:
        return None
    return sys.setfsgid(f.gid), sys.setfsuid(f.uid)


def _back(sys: Any, saved: tuple[int, int] | None) -> None:
    if saved is not None:
        sys.setfsuid(saved[1])
        sys.setfsgid(saved[0])


def _create_file(sys: Any, path: str, f: FileImage) -> None:
    """Create `path` with the object's bytes, size, mode and owner (ghost files, missing regular files)."""
    fd = sys.open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
    try:
        _write_all(sys, fd, f.contents or b"")
        if f.size is not None:
            sys.ftruncate(fd, f.size)
    finally:
        sys.close(fd)
    if f.uid is not None and f.gid is not None:
        sys.chown(path, f.uid, f.gid)
    if f.mode is not None:
        sys.chmod(path, f.mode & 0o7777)


def _open_ghost(sys: Any, f: FileImage, flags: int) -> int:
    """A deleted file again: create it at its old name, open it, unlink it (renaming an occupant aside)."""
    path = f.path[: -len(DELETED_SUFFIX)]
    aside = None
    try:
        sys.lstat(path)
        aside = path + ".cr-aside"
        sys.rename(path, aside)
    except FileNotFoundError:
        pass
    try:
        _create_file(sys, path, f)
        fd = sys.open(path, flags | O_CLOEXEC)
        sys.unlink(path)
    finally:
        if aside is not None:
            sys.rename(aside, path)
    return fd


def _open_memfd(sys: Any, f: FileImage, flags: int) -> int:
    """memfd_create(name) as the object's owner, with its bytes; reopened O_RDONLY if the VMA's was."""
    name = f.path[len(MEMFD_PREFIX): -len(DELETED_SUFFIX)]
    saved = _as_owner(sys, f)
    try:
        fd = sys.memfd_create(name, 0)
    finally:
        _back(sys, saved)
    _write_all(sys, fd, f.contents or b"")
    if f.size is not None:
        sys.ftruncate(fd, f.size)
    if flags == O_RDWR:
        return fd
    ro = sys.open(f"/proc/self/fd/{fd}", flags | O_CLOEXEC)
    sys.close(fd)
    return ro


def _open_regular(sys: Any, f: FileImage, flags: int, create_missing: bool, check_inodes: bool) -> int:
    try:
        fd = sys.open(f.path, flags | O_CLOEXEC)
    except FileNotFoundError:
        if not create_missing or f.contents is None:
            raise
        _create_file(sys, f.path, f)
        fd = sys.open(f.path, flags | O_CLOEXEC)
    st = sys.fstat(fd)
    if (f.kind == KIND_REG and f.size is not None and st.st_size != f.size) or \
            (check_inodes and (st.st_dev, st.st_ino) != (f.dev, f.ino)):
        sys.close(fd)
        raise RestoreError(f"{f.path!r} is not the file that was dumped (size or inode differs)")
    return fd


def _map_shmem(task: Any, v: VmaImage, f: FileImage, flags: int) -> None:
    """Create shared anonymous memory for VMA `v`: directly when `v` covers the whole object, else map the
    whole object somewhere, reopen it through /proc/self/map_files and map the part `v` shows."""
    sys = task.sys
    size = f.size if f.size is not None else v.end - v.start
    saved = _as_owner(sys, f)
    try:
        if v.offset == 0 and v.end - v.start == size and flags == O_RDWR:
            sys.mmap(v.start, size, v.prot, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
            return
        tmp = sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS)
    finally:
        _back(sys, saved)
    fd = sys.open(f"/proc/self/map_files/{tmp:x}-{tmp + size:x}", flags | O_CLOEXEC)
    try:
        sys.munmap(tmp, size)
        sys.mmap(v.start, v.end - v.start, v.prot, MAP_SHARED | MAP_FIXED_NOREPLACE, fd, v.offset)
    finally:
        sys.close(fd)


def _create_object(task: Any, v: VmaImage, f: FileImage, flags: int, create_missing: bool,
                   check_inodes: bool) -> None:
    """Map `v` as the first VMA of object `f` (see the module docstring)."""
    sys = task.sys
    if f.kind == KIND_SHMEM:
        _map_shmem(task, v, f, flags)
        return
    if f.kind in (KIND_REG, KIND_CHR):
        fd = _open_regular(sys, f, flags, create_missing, check_inodes)
    elif f.kind == KIND_DELETED:
        fd = _open_ghost(sys, f, flags)
    elif f.kind == KIND_MEMFD:
        fd = _open_memfd(sys, f, flags)
    else:
        raise RestoreError(f"cannot restore {f.path!r}: a {f.kind} object")
    _map_fd(sys, v, fd)


def _map_fd(sys: Any, v: VmaImage, fd: int) -> None:
    try:
        sys.mmap(v.start, v.end - v.start, v.prot, (MAP_SHARED if v.shared else MAP_PRIVATE) | MAP_FIXED_NOREPLACE,
                 fd, v.offset)
    finally:
        sys.close(fd)


def restore_vmas(task: Any, t: TaskImage, image: Image, lookup: Any, result: RestoreResult,
                 create_missing: bool = False, check_inodes: bool = False) -> None:
    """Phase 2 for one task: map its VMAs in address order."""
    sys = task.sys
    for v in t.vmas:
        if v.how == HOW_IMPOSSIBLE:
            raise RestoreError(f"task {t.pid}: VMA {v.start:x}-{v.end:x} was not dumped: {v.note}")
        if v.file is None:
            sys.mmap(v.start, v.end - v.start, v.prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
            continue
        flags = v.open_flags if v.open_flags is not None else guess_open_flags(v.prot, v.shared)
        creator = result.creators.get(v.file)
        if creator is None:
            _create_object(task, v, image.file(v.file), flags, create_missing, check_inodes)
            result.creators[v.file] = (task.pid, v.start, v.end)
        else:
            _map_fd(sys, v, lookup.open_peer(sys, *creator, flags))


def restore_creds(task: Any, cred: CredImage, dumpable: int | None) -> None:
    """Phase 3: give a root task with all capabilities exactly `cred`, then set the dumpable flag.

    Linux: kernel/sys.c (setres[ug]id, setfs[ug]id, prctl), kernel/groups.c, security/commoncap.c
    """
    sys = task.sys
    for cap in range(64):
        if not cred.cap_bset >> cap & 1:
            try:
                if sys.prctl(PR_CAPBSET_READ, cap) == 1:
                    sys.prctl(PR_CAPBSET_DROP, cap)
            except OSError:      # EINVAL past CAP_LAST_CAP
                break
    sys.setgroups(list(cred.groups))
    sys.prctl(PR_SET_KEEPCAPS, 1)
    sys.setresgid(*cred.gid[:3])
    sys.setresuid(*cred.uid[:3])
    kept = sys.capget()[1]
    sys.capset(kept, kept, cred.cap_inheritable)   # CAP_SETUID/SETGID back in effective for setfs*
    sys.setfsgid(cred.gid[3])
    sys.setfsuid(cred.uid[3])
    sys.capset(cred.cap_effective, cred.cap_permitted, cred.cap_inheritable)
    for cap in range(64):
        if cred.cap_ambient >> cap & 1:
            sys.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)
    sys.prctl(PR_SET_KEEPCAPS, 0)
    if cred.no_new_privs:
        sys.prctl(PR_SET_NO_NEW_PRIVS, 1)
    if dumpable is not None:
        sys.prctl(PR_SET_DUMPABLE, dumpable)


def restore(image: Image, criu: Any, *, lookup: Any = None, create_missing: bool = False,
            check_inodes: bool = False) -> RestoreResult:
    """Restore `image` below task `criu` (see the module docstring for the three phases).

    Args:
        image: a restorable image (`image.restorable`).
        criu: root with all capabilities; its `sys.fork()` makes the restored root.
        lookup: how a task finds an object another task created: MapFilesLookup() (default) or MapsLookup().
        create_missing: create regular files that do not exist from the image's bytes (dumped with
            CONTENTS_ALL), e.g. when restoring into a fresh kernel.
        check_inodes: require regular files to be the very inode dumped (restoring into the same kernel).

    Raises:
        RestoreError: the image has impossible VMAs or denied tasks, or an object cannot be recreated.
        OSError: a system call failed.
    """
    for t in image.tasks:
        if t.access != "ok":
            raise RestoreError(f"task {t.pid} was not dumped: {t.access}")
    lookup = lookup if lookup is not None else MapFilesLookup()
    result = RestoreResult()
    for t in image.tasks:                      # phase 1: the tree, parents first
        parent = result.tasks.get(t.ppid, criu)
        task = parent.sys.fork()
        task.sys.prctl(PR_SET_NAME, t.comm)
        result.tasks[t.pid], result.pids[t.pid] = task, task.pid
    for t in image.tasks:                      # phase 2: memory
        restore_vmas(result.tasks[t.pid], t, image, lookup, result, create_missing, check_inodes)
    for t in image.tasks:                      # phase 3: credentials, dumpable last
        restore_creds(result.tasks[t.pid], t.cred, t.dumpable)
    return result
