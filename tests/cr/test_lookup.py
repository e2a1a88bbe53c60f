"""The two lookup strategies (simkernel/cr/lookup.py) and the restorer's refusals."""

from __future__ import annotations

import attrs
import pytest

from simkernel.cr import MapFilesLookup, MapsLookup, RestoreError, assert_same, dump, restore
from simkernel.cr.image import KIND_CHR, KIND_DELETED, KIND_MEMFD, KIND_OTHER, KIND_REG, KIND_SHMEM
from simkernel.cr.lookup import classify, guess_open_flags
from simkernel.uapi import (MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, O_RDONLY, O_RDWR, PROT_READ, PROT_WRITE,
                            S_IFCHR, S_IFREG)
from tests.cr.conftest import SCENARIO_DIR as D
from tests.cr.scenarios import FIXED, PAGE, SCENARIOS, at, make_file, spawn


@pytest.mark.parametrize("path, mode, kind", [
    ("/dev/zero (deleted)", None, KIND_SHMEM), ("/memfd:x (deleted)", None, KIND_MEMFD),
    ("/tmp/f (deleted)", None, KIND_DELETED), ("/SYSV00000000 (deleted)", None, KIND_OTHER),
    ("/anon_hugepage (deleted)", None, KIND_OTHER), ("anon_inode:[io_uring]", None, KIND_OTHER),
    ("/dev/zero", S_IFCHR | 0o666, KIND_CHR), ("/tmp/f", S_IFREG | 0o644, KIND_REG), ("/tmp/f", None, KIND_REG)])
def test_classify(path, mode, kind):
    """The object kind from the d_path text and, when known, the mode."""
    assert classify(path, mode) == kind


def test_guess_open_flags():
    """Without a link mode, only shared writable mappings need O_RDWR."""
    assert guess_open_flags(PROT_READ | PROT_WRITE, True) == O_RDWR
    assert guess_open_flags(PROT_READ | PROT_WRITE, False) == O_RDONLY
    assert guess_open_flags(PROT_READ, True) == O_RDONLY


def test_maps_open_peer_refuses_objects_without_path(k, criu):
    """Use 3 without map_files: shared anon, memfd and deleted files have no path to open."""
    t = SCENARIOS["shared_anon"](k, D)
    with pytest.raises(RestoreError, match="needs /proc/.*/map_files"):
        MapsLookup().open_peer(criu.sys, t.pid, at(0), at(0) + 2 * PAGE, O_RDWR)
    with pytest.raises(RestoreError, match="has no VMA"):
        MapsLookup().open_peer(criu.sys, t.pid, at(0), at(0) + PAGE, O_RDWR)


def _jailed(k, name: str) -> object:
    """A root task chrooted into {D}/jail (with /proc mounted), where {D}/`name` is another file (a twin)."""
    jail = f"{D}/jail"
    s = k.init.sys
    for p in (jail, f"{jail}/proc", f"{jail}/srv", f"{jail}{D}"):
        s.mkdir(p, 0o755)
    s.mount("proc", f"{jail}/proc", "proc")
    make_file(k, f"{jail}{D}/{name}", b"twin", 4 * PAGE, 0o600, 1000, 1000)
    t = k.spawn("jailed")
    t.sys.chroot(jail)
    return t


def test_maps_open_peer_detects_another_inode(k):
    """The path in maps may name another inode for the reader (chroot, mounts): open_peer checks fstat
    against the maps dev:ino; the map_files link reaches the mapped inode itself."""
    t = SCENARIOS["file_shared"](k, D)
    jailed = _jailed(k, "data")
    with pytest.raises(RestoreError, match="no longer names"):
        MapsLookup().open_peer(jailed.sys, t.pid, at(1), at(1) + PAGE, O_RDONLY)
    fd = MapFilesLookup().open_peer(jailed.sys, t.pid, at(1), at(1) + PAGE, O_RDONLY)
    assert jailed.sys.fstat(fd).st_size == 4 * PAGE and jailed.sys.fstat(fd).st_ino == k.init.sys.stat(
        f"{D}/data").st_ino


def test_a_live_file_named_deleted(k, criu):
    """maps cannot tell a live file called "x (deleted)" from a deleted "x"; following the link can."""
    make_file(k, f"{D}/x (deleted)", b"alive", PAGE, 0o644, 1000, 1000)
    t = spawn(k, "app", 1000)
    fd = t.sys.open(f"{D}/x (deleted)", O_RDONLY)
    t.sys.mmap(at(0), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    (via_maps,) = dump(criu, t.pid, lookup=MapsLookup()).files
    (via_link,) = dump(criu, t.pid).files
    assert (via_maps.kind, via_link.kind) == (KIND_DELETED, KIND_REG)
    result = restore(dump(criu, t.pid), criu, check_inodes=True)
    assert dump(criu, result.root.pid).files[0].ino == via_link.ino


def test_maps_once_reads_each_task_once(k, criu):
    """MapsLookup(reread=False) caches each task's parsed maps."""
    t = SCENARIOS["file_private"](k, D)
    lk = MapsLookup(reread=False)
    assert lk.name == "maps-once" and MapsLookup().name == "maps"
    first = lk.entries(criu.sys, t.pid)
    assert lk.entries(criu.sys, t.pid) is first


def test_restore_with_maps_lookup_round_trip(k, criu):
    """A tree of linked files only restores without map_files too (paths reopened, inodes checked)."""
    t = SCENARIOS["file_shared"](k, D)
    t.sys.fork()
    image = dump(criu, t.pid, lookup=MapsLookup())
    result = restore(image, criu, lookup=MapsLookup(), check_inodes=True)
    assert_same(image, dump(criu, result.root.pid, lookup=MapsLookup()), same_inodes=True, with_how=True)


def test_restore_with_maps_lookup_fails_for_shared_anon(k, criu):
    """Forked shared anonymous memory cannot be shared again without map_files (the commit's use 3)."""
    t = SCENARIOS["shared_anon"](k, D)
    t.sys.fork()
    image = dump(criu, t.pid, lookup=MapsLookup())
    assert image.restorable
    with pytest.raises(RestoreError, match="map_files"):
        restore(image, criu, lookup=MapsLookup())


def test_restore_refuses_a_changed_file(k, criu):
    """A regular file whose size changed since the dump is not the dumped file."""
    image = dump(criu, SCENARIOS["file_private"](k, D).pid)
    k.init.sys.chmod(f"{D}/lib.so", 0o666)
    fd = k.init.sys.open(f"{D}/lib.so", O_RDWR)
    k.init.sys.ftruncate(fd, PAGE)
    with pytest.raises(RestoreError, match="not the file"):
        restore(image, criu)


def test_restore_missing_file_without_create(k, criu):
    """A missing regular file is an error unless asked to create it from the image's bytes."""
    image = dump(criu, SCENARIOS["file_private"](k, D).pid)
    k.init.sys.unlink(f"{D}/lib.so")
    with pytest.raises(FileNotFoundError):
        restore(image, criu)
    with pytest.raises(FileNotFoundError):
        restore(image, criu, create_missing=True)      # no bytes in a CONTENTS_GHOSTS image


def test_restore_refuses_unknown_kinds(k, criu):
    """Objects the restorer cannot recreate (SysV shm, hugetlb, anon inodes) raise RestoreError."""
    image = dump(criu, SCENARIOS["memfd"](k, D).pid)
    other = attrs.evolve(image, files=[attrs.evolve(image.files[0], kind=KIND_OTHER, path="/SYSV00000000 (deleted)")])
    with pytest.raises(RestoreError, match="other object"):
        restore(other, criu)


def test_restore_shmem_without_size_uses_vma_length(k, criu):
    """A shared anon object dumped without stat (size unknown) is recreated with the VMA's length."""
    t = spawn(k, "app", 1000)
    t.sys.mmap(at(0), 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | FIXED)
    image = dump(k.spawn("low", uid=1000, gid=1000), t.pid)
    assert image.files[0].size is None
    result = restore(image, criu)
    again = dump(criu, result.root.pid)
    assert again.files[0].size == 2 * PAGE and again.files[0].uid == 0


def test_restore_private_file_mapping_offsets(k, criu):
    """Offsets and open modes of private file mappings come back (0400 and 0600 links)."""
    t = SCENARIOS["file_private"](k, D)
    result = restore(dump(criu, t.pid), criu)
    (task,) = dump(criu, result.root.pid).tasks
    assert [(v.offset, v.open_flags) for v in task.vmas] == [(0, O_RDONLY), (2 * PAGE, O_RDONLY),
                                                             (3 * PAGE, O_RDWR)]
    assert not any(v.shared for v in task.vmas)


def test_deleted_name_of_a_still_linked_file(k, criu):
    """A mapped name unlinked while another link remains: nlink > 0 but " (deleted)" names nothing, so it is
    a ghost (restored as a new inode with the same bytes)."""
    make_file(k, f"{D}/a", b"linked twice", PAGE, 0o644, 1000, 1000)
    k.init.sys.link(f"{D}/a", f"{D}/b")
    t = spawn(k, "app", 1000)
    fd = t.sys.open(f"{D}/a", O_RDONLY)
    t.sys.mmap(at(0), PAGE, PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    k.init.sys.unlink(f"{D}/a")
    (f,) = dump(criu, t.pid).files
    assert (f.kind, f.nlink, f.path) == (KIND_DELETED, 1, f"{D}/a (deleted)")
    assert f.contents.startswith(b"linked twice")


def test_restore_memfd_first_mapped_read_only(k, criu):
    """A memfd whose first VMA maps a read-only reopen is recreated and reopened O_RDONLY (link 0400)."""
    t = spawn(k, "app", 1000)
    m = t.sys.memfd_create("ro")
    t.sys.write(m, b"ro data")
    ro = t.sys.open(f"/proc/self/fd/{m}", O_RDONLY)
    t.sys.mmap(at(0), PAGE, PROT_READ, MAP_SHARED | FIXED, ro, 0)
    t.sys.close(ro)
    t.sys.close(m)
    image = dump(criu, t.pid)
    result = restore(image, criu)
    assert_same(image, dump(criu, result.root.pid), with_how=True)
    assert image.tasks[0].vmas[0].open_flags == O_RDONLY


def test_restore_check_inodes_refuses_a_replaced_file(k, criu):
    """check_inodes=True: a file replaced by another of the same size is not the dumped inode."""
    t = SCENARIOS["file_private"](k, D)
    image = dump(criu, t.pid)
    k.init.sys.rename(f"{D}/lib.so", f"{D}/old.so")
    make_file(k, f"{D}/lib.so", b"other", 8 * PAGE, 0o644, 1000, 1000)
    with pytest.raises(RestoreError, match="not the file"):
        restore(image, criu, check_inodes=True)
    restore(image, criu)                                  # same size: accepted without the inode check


def test_sim_parasite_unknown_pid(k):
    """The simulated parasite has no task to run in for a reaped pid."""
    from simkernel.cr import sim_parasite
    with pytest.raises(ProcessLookupError):
        sim_parasite(k)(4242)
