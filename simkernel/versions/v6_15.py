"""Linux 6.15: "mm,procfs: allow read-only remote mm access under CAP_PERFMON" (Andrii Nakryiko).

mm_access() goes through may_access_mm(): the caller's own mm, or ptrace_may_access(), or -- for
PTRACE_MODE_READ only -- perfmon_capable() (CAP_PERFMON or CAP_SYS_ADMIN in the initial namespace).  So a
caller that fails the ptrace check but holds CAP_PERFMON passes every mm_access() path (d_revalidate;
readdir and lookup since the 2026 back-port; /proc/<pid>/maps), while readlink, a plain ptrace check,
still gives EACCES.  [M: patch v2 of 2025-01-27; R: observed on 6.18.44; U: merged for 6.15]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v6_13 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "6.15", (6, 15),
                 "may_access_mm(): PTRACE_MODE_READ also with perfmon_capable()",
                 __doc__,
                 mm_access_perfmon=True)
