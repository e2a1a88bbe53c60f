"""Linux 5.3: "proc: use down_read_killable mmap_sem for /proc/pid/map_files" (cd9e2bb8271c).

Konstantin Khlebnikov: lookup, readdir, get_link and d_revalidate take the mmap lock killably; with a
fatal signal pending they fail with EINTR (d_revalidate's EINTR aborts the walk).  [M: stable mail]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v5_1 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "5.3", (5, 3),
                 "killable mmap lock: EINTR (cd9e2bb8271c)",
                 __doc__,
                 map_files_mmap_lock_killable=True)
