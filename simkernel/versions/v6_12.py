"""Linux 6.12: "proc: block mounting on top of /proc/<pid>/map_files/*" (3836b31c3e71, Christian Brauner).

Entries are spliced with dont_mount(): mounting on the symlink dentry itself fails with ENOENT.  [M:
vfs-6.12.procfs pull; R]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v5_9 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "6.12", (6, 12),
                 "entries are dont_mount() (3836b31c3e71)",
                 __doc__,
                 map_files_dont_mount=True)
