"""Linux 4.10: mm_struct gets a user_ns owner (bfedb589252c, Eric Biederman).

The ptrace check of a non-dumpable target asks for CAP_SYS_PTRACE over mm->user_ns (the namespace the mm
was created in) instead of the target's cred namespace, and a task without mm (a kernel thread, a zombie) is
no longer treated as dumpable 0: before, a same-uid reader without CAP_SYS_PTRACE was refused a zombie's
map_files (the 3.x source initialises `dumpable = 0` and only reads it from an existing mm; the reference's
"no mm skips the test" holds from this release).  The readdir item shrank to 44 bytes (an
`unsigned int len`), raising the flex_array limit to 47430 entries.  [S: 4.10.17 per reference §3, §4.7;
3.x kernel/ptrace.c; M: Eric Biederman's patch mail of 2016-10-17; U: hash]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v4_5 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.10", (4, 10),
                 "ptrace: non-dumpable check against mm->user_ns (bfedb589252c); flex_array limit 47430",
                 __doc__,
                 ptrace_dumpable_mm_user_ns=True, map_files_readdir_limit=47430)
