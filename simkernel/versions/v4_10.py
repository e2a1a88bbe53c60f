"""Linux 4.10: mm_struct gets a user_ns owner (bfedb589252c, Eric Biederman).

The ptrace check of a non-dumpable target asks for CAP_SYS_PTRACE over mm->user_ns (the namespace the mm
was created in) instead of the target's cred namespace.  The readdir item shrank to 44 bytes (an
`unsigned int len`), raising the flex_array limit to 47430 entries.  [S: 4.10.17 per reference §3, §4.7;
U: hash]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v4_5 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.10", (4, 10),
                 "ptrace: non-dumpable check against mm->user_ns (bfedb589252c); flex_array limit 47430",
                 __doc__,
                 ptrace_dumpable_mm_user_ns=True, map_files_readdir_limit=47430)
