"""Linux 6.18.0: no map_files change since 6.15 (d_revalidate's new signature in 6.14 is invisible).

The state before Jann Horn's 2026 exec_update_lock series: lookup checks ptrace_may_access() before
parsing the name, readdir checks it before emitting "." and "..", a task without mm lists as "." and ".."
and looks names up as ENOENT, and readlink of a reaped task is EACCES.  [S: 6.18.2 per reference §8]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v6_15 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "6.18", (6, 18),
                 "6.18 before the 2026 exec_update_lock back-ports",
                 __doc__)
