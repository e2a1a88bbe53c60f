"""Linux 3.12: sub-threads are no longer strangers.

* 73af963f9f30 "__ptrace_may_access() should not deny sub-threads": the shortcut `task == current` becomes
  same_thread_group(task, current).  [M: hash; S: 3.11.0 vs 3.13.0]
* 96d0df79f264 "proc: make proc_fd_permission() thread-friendly": the directory's DAC fallback compares
  the caller's tgid (was: its pid) with the directory's pid.  [M: hash; S: 3.11.0 vs 3.13.0]
"""

from __future__ import annotations

from simkernel.versions.profile import FD_PERM_TGID, derive
from simkernel.versions.v3_9 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.12", (3, 12),
                 "ptrace: same_thread_group shortcut (73af963f9f30); proc_fd_permission: tgid (96d0df79f264)",
                 __doc__,
                 ptrace_same_thread_group=True, proc_fd_permission_rule=FD_PERM_TGID)
