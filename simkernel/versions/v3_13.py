"""Linux 3.13: the ptrace dumpable test denies SUID_DUMP_ROOT too.

d049f74f2dbe (Kees Cook, "exec/ptrace: fix get_dumpable() incorrect tests", CVE-2013-2929): the test
`!dumpable` let SUID_DUMP_ROOT (2) through; now anything but SUID_DUMP_USER (1) needs CAP_SYS_PTRACE.
[S: 3.11.0 vs 3.13.0 per reference §3; U: the hash is recalled]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v3_12 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.13", (3, 13),
                 "ptrace: only SUID_DUMP_USER is dumpable (d049f74f2dbe)",
                 __doc__,
                 ptrace_dumpable_user_only=True)
