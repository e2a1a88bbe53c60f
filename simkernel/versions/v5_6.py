"""Linux 5.6: "ptrace: reintroduce usage of subjective credentials in ptrace_has_cap()" (6b3ad6649a4c).

Christian Brauner: CAP_SYS_PTRACE is checked with ns_capable() on the caller's subjective cred (its
`cred`), no longer with has_ns_capability() on its objective cred (`real_cred`).  The two differ only
while a kernel path runs with override_creds(); no modelled system call does, so the difference shows
in kernel-level tests only.  [S: 5.2.1 vs 6.1 per reference §3; U: the release may be 5.5]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v5_3 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "5.6", (5, 6),
                 "ptrace_has_cap() on subjective creds (6b3ad6649a4c)",
                 __doc__,
                 ptrace_has_cap_subjective=True)
