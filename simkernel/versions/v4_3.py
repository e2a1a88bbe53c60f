"""Linux 4.3: "procfs: always expose /proc/<pid>/map_files/ and make it readable" (bdb4d100afe9).

Calvin Owens: no CONFIG_CHECKPOINT_RESTORE dependency; the capable(CAP_SYS_ADMIN) checks of lookup,
readdir and d_revalidate are removed (only PTRACE_MODE_READ remains), so readlink needs no capability; a
new follow_link wrapper requires capable(CAP_SYS_ADMIN) -> EPERM, because following would bypass the
permission checks of the mapped file's ancestor directories.  [M: merge shortlog, kbuild blame; S: 4.2.8
vs 4.4.121 per reference §5.2]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v3_14 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.3", (4, 3),
                 "always exposed and readable: no CAP_SYS_ADMIN to list/readlink; follow needs it (bdb4d100afe9)",
                 __doc__,
                 map_files_admin_errno=0, map_files_follow_needs_cap=True)
