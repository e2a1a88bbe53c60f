"""Linux 4.5: "ptrace: use fsuid, fsgid, effective creds for fs access checks" (caaee6234d05, Jann Horn).

map_files (and every procfs check) asks PTRACE_MODE_READ_FSCREDS: the caller's fsuid/fsgid are compared
with the target's ids and commoncap compares against the caller's effective set.  Before, the real
uid/gid and the permitted set were used (REALCREDS), so a setuid-root program that had dropped its
effective ids still passed, and a caller whose fsuid alone matched did not.  [M: patch text; S: 4.4.121
carries the stable back-port; U: full hash]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v4_4 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.5", (4, 5),
                 "ptrace: PTRACE_MODE_FSCREDS (fsuid/fsgid, effective caps) (caaee6234d05)",
                 __doc__,
                 ptrace_fscreds=True)
