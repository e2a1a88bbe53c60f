"""Linux 6.13: "mm: refactor mm_access() to not return NULL" (Lorenzo Stoakes).

A kernel thread or a zombie (no mm) makes mm_access() fail with ESRCH; callers test IS_ERR() only.
map_files' lookup does not call mm_access() yet in this release, so the visible ESRCH waits for the 2026
back-port (6.18.44).  [S: 6.12 vs 6.18.2 per reference §3; U: exact release]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v6_12 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "6.13", (6, 13),
                 "mm_access() returns ESRCH, not NULL, for a task without mm",
                 __doc__,
                 mm_access_esrch=True)
