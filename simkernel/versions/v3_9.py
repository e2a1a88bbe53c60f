"""Linux 3.9: the CAP_SYS_ADMIN check of lookup, readdir and d_revalidate fails with EPERM.

3.3-3.8 returned EACCES.  The commit was not identified.  [S: 3.8.13 vs 3.9.6 per reference §3]
"""

from __future__ import annotations

from simkernel.uapi import errno as E
from simkernel.versions.profile import derive
from simkernel.versions.v3_7 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.9", (3, 9),
                 "CAP_SYS_ADMIN failures give EPERM instead of EACCES",
                 __doc__,
                 map_files_admin_errno=E.EPERM)
