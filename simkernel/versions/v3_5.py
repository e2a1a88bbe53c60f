"""Linux 3.5: map_files_d_revalidate() uses mm_access(task, PTRACE_MODE_READ).

Before, it called ptrace_may_access() and get_task_mm().  mm_access() adds the "same mm" shortcut (a
CLONE_VM sibling outside the thread group passes) and takes cred_guard_mutex killably; an error or NULL
makes the entry invalid (re-looked-up).  The commit was not identified.  [S: 3.4.4 vs 3.5.0 per
reference §3]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v3_4 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.5", (3, 5),
                 "d_revalidate uses mm_access()",
                 __doc__,
                 map_files_revalidate_mm_access=True)
