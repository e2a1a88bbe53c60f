"""Linux 4.4: "proc: actually make proc_fd_permission() thread-friendly" (54708d2858e7, Oleg Nesterov).

The directory's DAC fallback becomes same_thread_group(task, current): any thread of the process may
reach /proc/<tid>/map_files of any other of its threads.  [M: mmotm shortlog; S: 4.4.121]
"""

from __future__ import annotations

from simkernel.versions.profile import FD_PERM_THREAD_GROUP, derive
from simkernel.versions.v4_3 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.4", (4, 4),
                 "proc_fd_permission: same_thread_group (54708d2858e7)",
                 __doc__,
                 proc_fd_permission_rule=FD_PERM_THREAD_GROUP)
