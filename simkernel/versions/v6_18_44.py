"""Linux 6.18.44, the kernel of this project's machines: 6.18 with the 2026 back-ports.

* 6650527444da "proc: protect ptrace_may_access() with exec_update_lock (part 1)": lookup parses the name
  before any permission check and then uses mm_access() (EACCES, ESRCH for a task without mm, EINTR);
  readdir emits "." and ".." first and lists a task without mm as empty.
* "proc: protect ptrace_may_access() with exec_update_lock (FD links)" (CVE-2026-64375): readlink and
  follow of /proc magic links take exec_update_lock and look the task up themselves (a reaped task:
  ENOENT instead of EACCES).
[M: stable mails; R: every behaviour of this profile is compared with the host kernel by tests/host]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v6_18 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "6.18.44", (6, 18, 44),
                 "this machine: 6.18 with the 2026 exec_update_lock back-ports",
                 __doc__,
                 map_files_exec_update_lock=True, proc_link_exec_update_lock=True)
