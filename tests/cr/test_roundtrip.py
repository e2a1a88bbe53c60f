"""Round trips: dump a scenario tree, restore it, dump the result, and require the same state."""

from __future__ import annotations

import attrs
import pytest

from simkernel.cr import (CONTENTS_ALL, Image, MapFilesLookup, assert_same, canonical, compare, dump, restore,
                          sim_parasite)
from simkernel.cr.image import HOW_ANON, HOW_MAP_FILES, KIND_DELETED, KIND_MEMFD, KIND_REG, KIND_SHMEM
from simkernel.uapi import O_RDONLY, O_RDWR, PR_GET_DUMPABLE
from tests.cr.conftest import SCENARIO_DIR, boot
from tests.cr.scenarios import SCENARIOS, at

D = SCENARIO_DIR


def _dump(k, criu, pid, **kw):
    return dump(criu, pid, parasite=sim_parasite(k), source="simkernel", **kw)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_restore_same_kernel_equals_original(name, k, criu):
    """Restored into the same kernel (after a JSON round trip of the image): VMAs, objects, sharing,
    credentials and dumpable flags equal the original, and regular files are the very same inodes."""
    root = SCENARIOS[name](k, D)
    image = _dump(k, criu, root.pid)
    assert image.restorable, image.impossible()
    assert all(v.how in (HOW_ANON, HOW_MAP_FILES) for t in image.tasks for v in t.vmas)
    image = Image.from_json(image.to_json())
    result = restore(image, criu, check_inodes=True)
    again = _dump(k, criu, result.root.pid)
    assert_same(image, again, same_inodes=True, with_how=True)
    assert set(result.pids) == {t.pid for t in image.tasks}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_restore_fresh_kernel_equals_original(name, k, criu):
    """Restored into a fresh kernel from an image carrying file contents: the same state, files recreated."""
    root = SCENARIOS[name](k, D)
    image = _dump(k, criu, root.pid, contents=CONTENTS_ALL)
    k2 = boot()
    criu2 = k2.spawn("criu")
    result = restore(Image.from_json(image.to_json()), criu2, create_missing=True)
    assert_same(image, _dump(k2, criu2, result.root.pid, contents=CONTENTS_ALL))


def test_dump_use1_names_the_exact_file_after_rename(k, criu):
    """Use 1: the link names the renamed file, not the impostor now at the old name."""
    root = SCENARIOS["renamed"](k, D)
    image = _dump(k, criu, root.pid)
    (f,) = image.files
    assert (f.kind, f.path, f.how) == (KIND_REG, f"{D}/moved", HOW_MAP_FILES)
    assert (f.dev, f.ino) == (criu.sys.stat(f"{D}/moved").st_dev, criu.sys.stat(f"{D}/moved").st_ino)


def test_dump_use2_groups_shared_anon_by_inode(k, criu):
    """Use 2: shared anonymous VMAs are grouped by inode, across the forked tree and across mprotect splits."""
    root = SCENARIOS["forked"](k, D)
    image = _dump(k, criu, root.pid)
    pids = [t.pid for t in image.tasks]
    assert len(pids) == 4
    p, c, g, c2 = pids
    groups = image.shared_groups()
    by_vma = {(pid, s): fid for fid, members in groups.items() for pid, s, _e in members}
    whole = by_vma[(p, at(0))]
    assert image.file(whole).kind == KIND_SHMEM
    assert [m[0] for m in groups[whole]] == [p, c, c2]          # g unmapped it
    split = {by_vma[(p, at(1) + i * 4096)] for i in range(3)}
    assert len(split) == 1 and split != {whole}               # three VMAs, one object, another than at(0)
    assert (c, at(7)) in by_vma and [m[0] for m in groups[by_vma[(c, at(7))]]] == [c, g, c2]
    memfds = [f for f in image.files if f.kind == KIND_MEMFD]
    assert [f.path for f in memfds] == ["/memfd:tree (deleted)"]
    assert len(groups[memfds[0].id]) == 4


def test_dump_carries_ghost_and_memfd_contents(k, criu):
    """Deleted files and memfds carry their bytes (read through the link), with size and mode."""
    root = SCENARIOS["deleted"](k, D)
    image = _dump(k, criu, root.pid)
    gone, taken = image.files
    assert (gone.kind, gone.path, gone.nlink, gone.mode & 0o777) == (KIND_DELETED, f"{D}/gone (deleted)", 0, 0o640)
    assert gone.contents.startswith(b"deleted contents") and len(gone.contents) == 2 * 4096
    assert taken.contents.startswith(b"old contents")
    k2 = boot()
    root2 = SCENARIOS["memfd"](k2, D)
    (mem,) = _dump(k2, k2.spawn("criu"), root2.pid).files
    assert mem.contents.startswith(b"memfd contents") and mem.size == 2 * 4096


def test_restore_ghost_puts_the_occupant_back(k, criu):
    """Restoring a deleted file whose name is taken renames the occupant aside and back."""
    root = SCENARIOS["deleted"](k, D)
    image = _dump(k, criu, root.pid)
    before = criu.sys.stat(f"{D}/taken")
    restore(image, criu)
    after = criu.sys.stat(f"{D}/taken")
    assert (after.st_ino, after.st_size) == (before.st_ino, before.st_size)
    assert sorted(criu.sys.listdir(D)) == ["taken"]


def test_dump_open_flags_from_link_mode(k, criu):
    """Open flags come from the link mode: 0600 -> O_RDWR, 0400 -> O_RDONLY (memfd reopened read-only)."""
    root = SCENARIOS["memfd"](k, D)
    (t,) = _dump(k, criu, root.pid).tasks
    assert [v.open_flags for v in t.vmas] == [O_RDWR, O_RDWR, O_RDONLY]


def test_dump_dumpable_sources(k, criu):
    """Dumpable: /proc owner for non-root tasks, the parasite for root ones, unknown without a parasite."""
    root = SCENARIOS["mixed_creds"](k, D)
    image = _dump(k, criu, root.pid)
    got = [(t.cred.uid, t.dumpable, t.dumpable_source) for t in image.tasks]
    assert got == [((0, 0, 0, 0), 1, "parasite"), ((1000,) * 4, 1, "proc-owner"),
                   ((1000, 1001, 1002, 1001), 0, "proc-owner"), ((1000, 0, 0, 1005), 0, "parasite"),
                   ((0, 0, 0, 0), 1, "parasite"), ((0, 0, 0, 0), 0, "parasite")]
    blind = dump(criu, root.pid)
    assert [t.dumpable_source for t in blind.tasks] == ["unknown", "proc-owner", "proc-owner", "unknown",
                                                        "unknown", "unknown"]


def test_restore_unknown_dumpable_leaves_it(k, criu):
    """A task whose dumpable flag is unknown keeps what the restore left (PR_SET_DUMPABLE is not called)."""
    t = k.spawn("r")
    image = dump(criu, t.pid)
    assert image.tasks[0].dumpable is None
    result = restore(image, criu)
    assert result.root.sys.prctl(PR_GET_DUMPABLE) == 1     # a fork of root stays dumpable


def test_compare_reports_differences(k, criu):
    """compare() names what differs: another name, a missing task, lost objects."""
    root = SCENARIOS["forked"](k, D)
    image = _dump(k, criu, root.pid)
    t0 = image.tasks[0]
    changed = attrs.evolve(image.tasks[1], comm="other")
    other = Image(source="x", lookup="maps", tasks=[t0, changed, *image.tasks[2:]], files=image.files)
    assert compare(image, other) == ["image.tasks[1].comm: 'app' != 'other'"]
    shorter = Image(source="x", lookup="maps", tasks=image.tasks[:1], files=image.files)
    assert "image.tasks: 4 items != 1 items" in compare(image, shorter)
    assert canonical(image)["files"]["F0"]["kind"] == KIND_SHMEM
    with pytest.raises(AssertionError, match="differs"):
        assert_same(image, other)


def test_compare_same_inodes_detects_another_file(k, criu):
    """same_inodes=True: a regular file recreated elsewhere (another inode) is a difference."""
    root = SCENARIOS["file_private"](k, D)
    image = _dump(k, criu, root.pid, contents=CONTENTS_ALL)
    k2 = boot()
    criu2 = k2.spawn("criu")
    criu2.sys.mkdir("/tmp/pad")                      # the fresh kernel's next inode numbers differ
    result = restore(image, criu2, create_missing=True)
    again = _dump(k2, criu2, result.root.pid, contents=CONTENTS_ALL)
    assert compare(image, again) == []
    assert compare(image, again, same_inodes=True)[0].startswith("regular-file inodes")


def test_image_lookup_name_recorded(k, criu):
    """The image records which lookup strategy made it."""
    t = k.spawn("r")
    assert dump(criu, t.pid, lookup=MapFilesLookup()).lookup == "map_files"


def test_compare_shortens_file_contents(k, criu):
    """A contents difference is reported by length and digest, not as megabytes of repr."""
    image = _dump(k, criu, SCENARIOS["deleted"](k, D).pid)
    f = image.files[0]
    other = attrs.evolve(image, files=[attrs.evolve(f, contents=f.contents[:-1] + b"!"), *image.files[1:]])
    (diff,) = compare(image, other)
    assert "8192 bytes" in diff and "sha256" in diff and len(diff) < 300
