"""Linux 3.4: lookup and readdir check ptrace_may_access(PTRACE_MODE_READ) instead of lock_trace().

eb94cd96e05d (Cyrill Gorcunov): exec'ing a map_files entry took cred_guard_mutex in exec and again in
lock_trace() from the lookup (an ABBA deadlock), so the lookup and readdir dropped the mutex and the
ATTACH mode.  Errors stay EACCES.  Yama arrives in this release and, acting only on ATTACH, never affects
map_files from here on.  [M: kbuild blame with the hash; S: 3.3.8 vs 3.4.4 per reference §3, the release
inferred from its absence in 3.3.8]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v3_3 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.4", (3, 4),
                 "lookup/readdir: ptrace_may_access(READ) instead of lock_trace (eb94cd96e05d)",
                 __doc__,
                 map_files_lock_trace=False)
