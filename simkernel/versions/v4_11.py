"""Linux 4.11: "proc: Better ownership of files for non-dumpable tasks in user namespaces" (68eb94f16227).

task_dump_owner(): the inodes of a non-dumpable task belong to the root of mm->user_ns (falling back to
global root when that root has no mapping), no longer always to uid 0.  [M; S: 4.10.17 (absent) vs 4.19]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v4_10 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.11", (4, 11),
                 "task_dump_owner(): non-dumpable inodes owned by the root of mm->user_ns (68eb94f16227)",
                 __doc__,
                 task_dump_owner_user_ns=True)
