"""Linux 3.3: /proc/<pid>/map_files appears (640708a2cff7, Pavel Emelyanov, for checkpoint/restore).

Behaviour of this profile, and what each claim rests on:

* The directory exists only with CONFIG_CHECKPOINT_RESTORE (modelled as built in, as on the host).
* lookup, readdir and d_revalidate start with capable(CAP_SYS_ADMIN) -> EACCES; lookup and readdir then
  take lock_trace(): cred_guard_mutex (killable) and ptrace_may_access(PTRACE_MODE_ATTACH), every
  failure mapped to EACCES.  Yama did not exist yet (it came in 3.4, where map_files stopped using
  ATTACH), so `Kernel(version="3.3", yama=True)` is a what-if: the one release where Yama would have
  mattered.  [S: 3.3.8 fs/proc/base.c per reference §4; M: commit hash]
* Names are parsed by sscanf("%lx-%lx"): whitespace before each number, "0x", overflow wrap-around and
  trailing junk are accepted.  [S: reference §4.2, lib/vsprintf.c]
* readdir holds a get_file() reference on every mapped file between its two passes and collects them in
  a flex_array of 56-byte items: more than 37230 file-backed VMAs beyond f_pos -> ENOMEM.  [S: computed
  from the struct layout, reference §4.7]
* d_revalidate uses ptrace_may_access(READ) + get_task_mm(); get_link does not reset rc before
  find_exact_vma (a VMA gone between revalidate and get_link returns success without a path: a GPF).  [S]
* Following needs no check of its own.  ptrace checks use the real uid/gid and cap_permitted (no
  FSCREDS yet), the `task == current` shortcut, the `!dumpable` test and CAP_SYS_PTRACE over the
  target's cred namespace.  proc_fd_permission's fallback is the leader's own pid.  Inodes of a
  non-dumpable task belong to uid 0.  mm_access() may return NULL.  [S: reference §4, §6, §7]
"""

from __future__ import annotations

from simkernel.uapi import errno as E
from simkernel.versions.profile import FD_PERM_PID, NAME_SSCANF, VersionProfile

__all__ = ["PROFILE"]

PROFILE = VersionProfile(
    name="3.3", release=(3, 3), description="map_files added: CAP_SYS_ADMIN (EACCES), lock_trace ATTACH, sscanf "
                                            "names, flex_array limit 37230",
    doc=(__doc__ or "").strip(),
    map_files_name_parser=NAME_SSCANF, map_files_admin_errno=E.EACCES, map_files_lock_trace=True,
    map_files_revalidate_mm_access=False, map_files_readdir_fmode=False, map_files_get_link_rc_fix=False,
    map_files_follow_needs_cap=False, checkpoint_restore_cap=False, map_files_readdir_limit=37230,
    map_files_mmap_lock_killable=False, map_files_dont_mount=False, map_files_exec_update_lock=False,
    proc_link_exec_update_lock=False, proc_fd_permission_rule=FD_PERM_PID, task_dump_owner_user_ns=False,
    ptrace_same_thread_group=False, ptrace_dumpable_user_only=False, ptrace_dumpable_mm_user_ns=False,
    ptrace_fscreds=False, ptrace_has_cap_subjective=False, mm_access_esrch=False, mm_access_perfmon=False,
    exec_update_lock=False,
)
