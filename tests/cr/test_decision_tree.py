"""The dumper's decision tree, one test per privilege level of the dumping task."""

from __future__ import annotations

import pytest

from simkernel.cr import MapsLookup, RestoreError, assert_same, dump, restore
from simkernel.cr.image import (HOW_ANON, HOW_IMPOSSIBLE, HOW_MAP_FILES, HOW_MAPS_INODE, HOW_MAPS_PATH,
                                HOW_READLINK_PATH, KIND_CHR, KIND_DELETED, KIND_MEMFD, KIND_REG, KIND_SHMEM)
from simkernel.uapi import (CAP_CHECKPOINT_RESTORE, CAP_LAST_CAP, CAP_SYS_ADMIN, CAP_SYS_CHROOT, MAP_ANONYMOUS,
                            MAP_PRIVATE, MAP_SHARED, O_RDONLY, O_RDWR, PR_SET_DUMPABLE, PROT_READ, PROT_WRITE)
from tests.cr.conftest import SCENARIO_DIR as D
from tests.cr.scenarios import FIXED, PAGE, SCENARIOS, at, make_file, spawn

RW = PROT_READ | PROT_WRITE


def kinds(k, uid: int = 1000):
    """One task mapping every kind: a file, /dev/zero privately, shared anon, a memfd, a deleted file, anon."""
    make_file(k, f"{D}/reg", b"regular", 2 * PAGE, 0o644, uid, uid)
    make_file(k, f"{D}/del", b"doomed", PAGE, 0o600, uid, uid)
    t = spawn(k, "app", uid)
    s = t.sys
    for i, (path, flags, prot, mflags) in enumerate([(f"{D}/reg", O_RDONLY, PROT_READ, MAP_PRIVATE),
                                                     ("/dev/zero", O_RDONLY, PROT_READ, MAP_PRIVATE),
                                                     (f"{D}/del", O_RDWR, RW, MAP_SHARED)]):
        fd = s.open(path, flags)
        s.mmap(at(i), PAGE, prot, mflags | FIXED, fd, 0)
        s.close(fd)
    k.init.sys.unlink(f"{D}/del")
    s.mmap(at(3), PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    m = s.memfd_create("m")
    s.ftruncate(m, PAGE)
    s.mmap(at(4), PAGE, RW, MAP_SHARED | FIXED, m, 0)
    s.close(m)
    s.mmap(at(5), PAGE, RW, MAP_PRIVATE | MAP_ANONYMOUS | FIXED)
    return t


def decisions(image):
    """[(kind or None, how)] of the single task's VMAs."""
    (t,) = image.tasks
    return [(image.file(v.file).kind if v.file else None, v.how) for v in t.vmas]


FULL = [(KIND_REG, HOW_MAP_FILES), (KIND_CHR, HOW_MAP_FILES), (KIND_DELETED, HOW_MAP_FILES),
        (KIND_SHMEM, HOW_MAP_FILES), (KIND_MEMFD, HOW_MAP_FILES), (None, HOW_ANON)]
READLINK_ONLY = [(KIND_REG, HOW_READLINK_PATH), (KIND_CHR, HOW_READLINK_PATH), (KIND_DELETED, HOW_IMPOSSIBLE),
                 (KIND_SHMEM, HOW_MAPS_INODE), (KIND_MEMFD, HOW_IMPOSSIBLE), (None, HOW_ANON)]


def test_decision_root_all_capabilities(k, criu):
    """Root with every capability follows every link: all kinds through map_files, restorable."""
    image = dump(criu, kinds(k).pid)
    assert decisions(image) == FULL
    assert image.restorable and image.tasks[0].access == "ok"


def test_decision_same_uid_with_checkpoint_restore(k):
    """The unprivileged CRIU of v5.9+: the target's uid plus CAP_CHECKPOINT_RESTORE is enough for everything."""
    t = kinds(k)
    criu = k.spawn("criu", uid=1000, gid=1000, caps=[CAP_CHECKPOINT_RESTORE])
    image = dump(criu, t.pid)
    assert decisions(image) == FULL
    assert image.file(image.tasks[0].vmas[2].file).contents.startswith(b"doomed")


def test_decision_same_uid_without_capabilities(k):
    """Same uid, no capability: readlink and lstat work, following gives EPERM; linked files fall back to
    stat(path) checked against the maps dev:ino, shared anon is grouped by maps dev:ino, deleted files and
    memfds are impossible -- and the image refuses to restore."""
    t = kinds(k)
    criu = k.spawn("criu", uid=1000, gid=1000)
    image = dump(criu, t.pid)
    assert decisions(image) == READLINK_ONLY
    (task,) = image.tasks
    assert [v.open_flags for v in task.vmas] == [O_RDONLY, O_RDONLY, O_RDWR, O_RDWR, O_RDWR, None]
    assert "EPERM" in task.vmas[0].note or "not permitted" in task.vmas[0].note
    assert "deleted file" in task.vmas[2].note and "memfd" in task.vmas[4].note
    assert not image.restorable and len(image.impossible()) == 2
    with pytest.raises(RestoreError, match="was not dumped"):
        restore(image, k.spawn("root-criu"))


def test_decision_root_without_follow_capabilities(k):
    """Root that lacks CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE (but may ptrace): same as an unprivileged
    reader of its own tasks -- the follow check is the capability, not the uid."""
    t = kinds(k)
    caps = [c for c in range(CAP_LAST_CAP + 1) if c not in (CAP_SYS_ADMIN, CAP_CHECKPOINT_RESTORE)]
    criu = k.spawn("criu", caps=caps)
    assert decisions(dump(criu, t.pid)) == READLINK_ONLY


def test_decision_other_uid_denied(k):
    """Another uid without CAP_SYS_PTRACE: maps is EACCES, the task's VMAs are lost; restore refuses."""
    t = kinds(k)
    criu = k.spawn("criu", uid=1001, gid=1001)
    image = dump(criu, t.pid)
    (task,) = image.tasks
    assert task.vmas == () and task.access.startswith("denied")
    assert "Permission denied" in task.access
    assert task.cred.uid == (1000,) * 4                  # status stays world-readable
    assert not image.restorable
    with pytest.raises(RestoreError, match="not dumped"):
        restore(image, k.spawn("root-criu"))


def test_decision_same_uid_nondumpable_target_denied(k):
    """A non-dumpable target stops a same-uid dumper without CAP_SYS_PTRACE (and reads as dumpable 0)."""
    t = kinds(k)
    t.sys.prctl(PR_SET_DUMPABLE, 0)
    image = dump(k.spawn("criu", uid=1000, gid=1000), t.pid)
    (task,) = image.tasks
    assert task.access.startswith("denied") and task.vmas == ()
    assert (task.dumpable, task.dumpable_source) == (0, "proc-owner")


def test_decision_path_check_in_chroot(k):
    """A chrooted dumper without the follow capability: readlink shows a path outside its root, which it
    resolves to another file (rejected: another inode) or to nothing (rejected: stat fails)."""
    jail = f"{D}/jail"
    s = k.init.sys
    for p in (jail, f"{jail}/proc", f"{jail}/srv", f"{jail}{D}"):
        s.mkdir(p, 0o755)
    s.mount("proc", f"{jail}/proc", "proc")
    make_file(k, f"{D}/a", b"a", PAGE, 0o644, 1000, 1000)
    make_file(k, f"{D}/b", b"b", PAGE, 0o644, 1000, 1000)
    make_file(k, f"{jail}{D}/a", b"twin", PAGE, 0o644, 1000, 1000)
    t = spawn(k, "app", 1000)
    for i, name in enumerate("ab"):
        fd = t.sys.open(f"{D}/{name}", O_RDONLY)
        t.sys.mmap(at(i), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
        t.sys.close(fd)
    criu = k.spawn("criu", uid=1000, gid=1000, caps=[CAP_SYS_CHROOT])
    criu.sys.chroot(jail)
    criu.sys.chdir("/")
    image = dump(criu, t.pid)
    a, b = image.tasks[0].vmas
    assert (a.how, b.how) == (HOW_IMPOSSIBLE, HOW_IMPOSSIBLE)
    assert "another inode" in a.note and "stat" in b.note and "No such file" in b.note
    assert image.file(a.file).path == f"{D}/a"


def test_decision_maps_only(k, criu):
    """Without map_files at all (MapsLookup): paths from maps checked by stat, shared anon by dev:ino, no open
    mode, deleted files and memfds impossible even for root."""
    image = dump(criu, kinds(k).pid, lookup=MapsLookup())
    assert decisions(image) == [(KIND_REG, HOW_MAPS_PATH), (KIND_CHR, HOW_MAPS_PATH), (KIND_DELETED, HOW_IMPOSSIBLE),
                                (KIND_SHMEM, HOW_MAPS_INODE), (KIND_MEMFD, HOW_IMPOSSIBLE), (None, HOW_ANON)]
    assert {v.open_flags for v in image.tasks[0].vmas} == {None}
    assert image.lookup == "maps"


def test_decision_readlink_only_image_restores_files_and_shared_anon(k):
    """What the unprivileged dumper does capture restores: linked files and shared anon groups round-trip
    (compared with a dump at the same privilege)."""
    t = SCENARIOS["file_shared"](k, D)
    t.sys.mmap(at(5), 2 * PAGE, RW, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    t.sys.fork()
    low = k.spawn("criu", uid=1000, gid=1000)
    image = dump(low, t.pid)
    assert image.restorable
    assert {v.how for task in image.tasks for v in task.vmas} == {HOW_READLINK_PATH, HOW_MAPS_INODE}
    result = restore(image, k.spawn("root-criu"))
    assert_same(image, dump(low, result.root.pid), with_how=True)
