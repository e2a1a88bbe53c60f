"""Linux 5.9: "proc: allow access in init userns for map_files with CAP_CHECKPOINT_RESTORE" (12886f8ab10c).

Adrian Reber, Nicolas Viennot: following an entry needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE, both in
the initial user namespace (checkpoint_restore_ns_capable(&init_user_ns)).  [M: pull request
cap-checkpoint-restore-v5.9; R: a root inside `unshare -Ur` gets EPERM]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v5_6 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "5.9", (5, 9),
                 "follow with CAP_CHECKPOINT_RESTORE too (12886f8ab10c)",
                 __doc__,
                 checkpoint_restore_cap=True,
                 # exec_update_mutex came in v5.7 (eea9673250db); 5.9 is the first profile after it
                 exec_update_lock=True)
