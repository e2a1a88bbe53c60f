"""Checkpoint/restore through /proc: the three uses map_files was added for (commit 640708a2cff7, v3.3).

    from simkernel.cr import dump, restore, compare
    image = dump(criu, root.pid)                 # 1. which file backs each VMA; 2. shared groups by inode
    result = restore(image, criu)                # 3. a second task opens the first's map_files entry
    assert compare(image, dump(criu, result.root.pid)) == []

The dumper and restorer make only system calls (`task.sys.*` of a privileged task) and read /proc, so the
same code runs on `simkernel.Kernel()` and on the real kernel through `simkernel.host`.  simkernel/cr/cost.py
measures what the same work costs through /proc/<pid>/maps instead.

Modules: image (the image and its JSON), maps_parser, proc (reading /proc), lookup (map_files vs maps),
dump, restore, verify (the round-trip check), cost (syscalls, bytes and time of both ways), local (the calling
process as the dumper on the host).
"""

from __future__ import annotations

from simkernel.cr.dump import CONTENTS_ALL, CONTENTS_GHOSTS, dump, host_parasite, sim_parasite
from simkernel.cr.image import CredImage, FileImage, Image, TaskImage, VmaImage
from simkernel.cr.lookup import MapFilesLookup, MapsLookup, RestoreError
from simkernel.cr.restore import RestoreResult, restore
from simkernel.cr.verify import assert_same, canonical, compare

__all__ = ["dump", "restore", "compare", "canonical", "assert_same", "Image", "TaskImage", "VmaImage",
           "FileImage", "CredImage", "MapFilesLookup", "MapsLookup", "RestoreError", "RestoreResult",
           "sim_parasite", "host_parasite", "CONTENTS_ALL", "CONTENTS_GHOSTS"]
