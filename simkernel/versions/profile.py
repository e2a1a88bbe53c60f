"""The release profile record: one frozen value per kernel release, one field per behaviour switch.

The defaults are the release this project's machines run (6.18.44 with the 2026 back-ports); the older
profiles in this package set the fields to what their release did.  Code that behaves differently by release
reads `kernel.version.<switch>` at the one place where the behaviour differs; the comment above each field
names that place and the commit that introduced the current behaviour.

Evidence tags in the comments (as in ../shared/reference/map_files.md §0): [S] source read, [M] commit or
mailing-list text, [R] observed on the host kernel (6.18.44), [U] recalled, not verified.

Linux: see ../shared/reference/map_files.md §3 (timeline) and §5 (era deltas)
"""

from __future__ import annotations

from typing import Any

from attrs import fields, frozen

__all__ = ["VersionProfile", "derive", "NAME_SSCANF", "NAME_STRICT", "NAME_STRICT_NO_LEADING_ZERO", "FOLLOW_NO_CHECK",
           "FOLLOW_SYS_ADMIN", "FOLLOW_CHECKPOINT_RESTORE", "FD_PERM_PID", "FD_PERM_TGID", "FD_PERM_THREAD_GROUP"]

# map_files_name_parser values (dname_to_vma_addr eras)
NAME_SSCANF = "sscanf"                        # 3.3 - 4.15: sscanf("%lx-%lx") == 2
NAME_STRICT = "strict"                        # 4.16: _parse_integer, leading zeros still accepted
NAME_STRICT_NO_LEADING_ZERO = "strict-nlz"    # 4.17+: leading zeros refused
# map_files_follow values (what ->get_link of an entry checks first)
FOLLOW_NO_CHECK = "none"                      # 3.3 - 4.2: the generic proc link follower
FOLLOW_SYS_ADMIN = "sys_admin"                # 4.3 - 5.8: capable(CAP_SYS_ADMIN)
FOLLOW_CHECKPOINT_RESTORE = "checkpoint_restore"   # 5.9+: checkpoint_restore_ns_capable(&init_user_ns)
# proc_fd_permission fallback when generic_permission() refuses
FD_PERM_PID = "pid"                           # 3.3 - 3.11: task_pid(current) == proc_pid(inode)
FD_PERM_TGID = "tgid"                         # 3.12 - 4.3: task_tgid(current) == proc_pid(inode)
FD_PERM_THREAD_GROUP = "thread_group"         # 4.4+: same_thread_group(task, current)


@frozen
class VersionProfile:
    """One kernel release, as the switches that matter to map_files and its helpers.

    `doc` is the profile module's docstring: what changed in that release and which source each claim
    rests on.  `changes_from(other)` lists the switches two profiles set differently.
    """

    name: str
    release: tuple[int, ...]
    description: str = ""
    doc: str = ""
    first_ino: int = 4000   # get_next_ino() values start here (the real counter is far past 1 at boot)

    # -- fs/proc/base.c: the map_files directory ------------------------------------------------------
    # dname_to_vma_addr(): sscanf("%lx-%lx") since 640708a2cff7 (v3.3) [S]; the strict _parse_integer
    # parser since ac7f1061c2c1 (v4.16) [M][S]; leading zeros refused since v4.17 [S] (commit not
    # identified).  Read in fs/proc/map_files.py:dname_to_vma_addr().
    map_files_name_parser: str = NAME_STRICT_NO_LEADING_ZERO
    # lookup, readdir and d_revalidate first required capable(CAP_SYS_ADMIN): EACCES in v3.3-3.8
    # (640708a2cff7) [S], EPERM in v3.9-4.2 (commit not identified) [S]; 0 = no such check since
    # bdb4d100afe9 (v4.3) [M][S].  Read in fs/proc/map_files_history.py:_map_files_capable().
    map_files_admin_errno: int = 0
    # v3.3 lookup/readdir took lock_trace(): cred_guard_mutex (killable) + PTRACE_MODE_ATTACH, any failure
    # EACCES; ptrace_may_access(PTRACE_MODE_READ) since eb94cd96e05d (v3.4) [M][S].  Read in
    # fs/proc/map_files_history.py:_map_files_access().
    map_files_lock_trace: bool = False
    # map_files_d_revalidate() uses mm_access() since v3.5 (ptrace_may_access() + get_task_mm() in
    # v3.3-3.4; commit not identified) [S].  Read in map_files.py:map_files_d_revalidate().
    map_files_revalidate_mm_access: bool = True
    # readdir snapshots f_mode since 7b540d0646ce (v3.7) [M][S]; before, it held a get_file() reference on
    # every file between its two passes.  Read in map_files.py:proc_map_files_readdir().
    map_files_readdir_fmode: bool = True
    # map_files_get_link() resets rc = -ENOENT before find_exact_vma() since v3.14 ("fs/proc/base.c: fix
    # GPF in /proc/$PID/map_files", id 70335abb2689 [U]); before, a VMA gone between revalidate and
    # get_link returned 0 with no path (a GPF in d_path).  Read in map_files.py:map_files_get_link().
    map_files_get_link_rc_fix: bool = True
    # following an entry: no check of its own in v3.3-4.2 (reaching it needed CAP_SYS_ADMIN);
    # capable(CAP_SYS_ADMIN) since bdb4d100afe9 (v4.3) [M][S]; CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE
    # since 12886f8ab10c (v5.9) [M], kept as `checkpoint_restore_cap`.  Read in
    # map_files.py:proc_map_files_get_link().
    map_files_follow_needs_cap: bool = True
    checkpoint_restore_cap: bool = True
    # readdir's flex_array of (name, mode) items held at most this many elements (x86-64, 4 KiB pages):
    # 37230 (56-byte items, v3.3-4.9), 47430 (44-byte items, v4.10-4.15), 86700 (24-byte items,
    # v4.16-5.0) [S: computed from the struct layouts, reference §4.7]; None = genradix, no limit
    # ("proc: commit to genradix", v5.1) [S].  Read in map_files.py:proc_map_files_readdir().
    map_files_readdir_limit: int | None = None
    # the mmap lock is taken killably (EINTR) since cd9e2bb8271c (v5.3) [M].  Read in
    # map_files.py:_mmap_read_lock().
    map_files_mmap_lock_killable: bool = True
    # entries are dont_mount() since 3836b31c3e71 (v6.12) [M][R].  Read in
    # map_files.py:proc_map_files_instantiate().
    map_files_dont_mount: bool = True
    # Since the 2026 back-port of 6650527444da ("proc: protect ptrace_may_access() with exec_update_lock
    # (part 1)") [M][R]: lookup parses the name first and uses mm_access(); readdir emits . and .. before
    # the permission check and treats "no mm" as an empty directory.  Read in map_files.py.
    map_files_exec_update_lock: bool = True
    # The 2026 "FD links" sibling (CVE-2026-64375) [M][R]: readlink/follow of /proc magic links take
    # exec_update_lock and look the task up themselves: a reaped task gives ENOENT (EACCES before).
    # Read in fs/proc/base.py:call_proc_get_link().
    proc_link_exec_update_lock: bool = True

    # -- fs/proc/fd.c, fs/proc/base.c: ownership and the directory permission ---------------------------
    # proc_fd_permission()'s fallback: the leader's own pid (v3.3-3.11) [S]; the caller's tgid since
    # 96d0df79f264 (v3.12) [M][S]; same_thread_group() since 54708d2858e7 (v4.4) [M][S].  Read in
    # fs/proc/fd.py:proc_fd_permission().
    proc_fd_permission_rule: str = FD_PERM_THREAD_GROUP
    # task_dump_owner(): a non-dumpable task's inodes belong to the root of mm->user_ns since 68eb94f16227
    # (v4.11) [M][S]; to global root (uid 0) before.  Read in fs/proc/internal.py:task_dump_owner().
    task_dump_owner_user_ns: bool = True

    # -- kernel/ptrace.c, kernel/fork.c, security/commoncap.c ----------------------------------------
    # __ptrace_may_access()'s first shortcut: same_thread_group() since 73af963f9f30 (v3.12) [M][S];
    # `task == current` before.  Read in kernel/ptrace.py:__ptrace_may_access().
    ptrace_same_thread_group: bool = True
    # the dumpable test denies everything but SUID_DUMP_USER since d049f74f2dbe (v3.13) [S][U id]; only
    # SUID_DUMP_DISABLE (`!dumpable`) before.  Read in ptrace.py:_ptrace_dumpable_pre410() (from v4.10 the
    # test is always `!= SUID_DUMP_USER`).
    ptrace_dumpable_user_only: bool = True
    # ...and asks for CAP_SYS_PTRACE over mm->user_ns, skipping the test for a task without mm, since
    # bfedb589252c (v4.10) [S: the patch mail and later trees]; before, over the target's cred user namespace,
    # and a task without mm counted as dumpable 0 [S: 3.x kernel/ptrace.c].  Read in
    # ptrace.py:__ptrace_may_access().
    ptrace_dumpable_mm_user_ns: bool = True
    # PTRACE_MODE_FSCREDS exists since caaee6234d05 (v4.5) [M][S]: fsuid/fsgid and, in commoncap, the
    # effective set; before, every check used the real uid/gid and the permitted set (REALCREDS).
    # Read in ptrace.py:__ptrace_may_access() (which hands the mode on to commoncap).
    ptrace_fscreds: bool = True
    # ptrace_has_cap() asks the caller's subjective cred (ns_capable) since 6b3ad6649a4c (v5.6; perhaps
    # v5.5) [S][U]; has_ns_capability() on the objective cred (real_cred) before.  Read in
    # ptrace.py:ptrace_has_cap().
    ptrace_has_cap_subjective: bool = True
    # mm_access() returns ERR_PTR(-ESRCH) for a task without mm ("mm: refactor mm_access() to not return
    # NULL", v6.13 era) [S]; NULL before.  Read in kernel/fork.py:mm_access().
    mm_access_esrch: bool = True
    # may_access_mm(): a PTRACE_MODE_READ caller that fails the ptrace check passes with perfmon_capable()
    # ("mm,procfs: allow read-only remote mm access under CAP_PERFMON", Andrii Nakryiko, 2025; v6.15
    # [M patch v2][U release]) [R].  Read in fork.py:may_access_mm().
    mm_access_perfmon: bool = True
    # exec holds signal->exec_update_lock for write from exec_mmap() until setup_new_exec() (after
    # commit_creds), and mm_access() takes it for read, since eea9673250db (v5.7, exec_update_mutex; an
    # rwsem since f7cfd871ae0c, v5.11) [M][S: fs/exec.c]; before, mm_access() took cred_guard_mutex, which
    # exec held from prepare_bprm_creds() to install_exec_creds() [S].  No profile between 5.6 and 5.9:
    # the 5.9 profile is the first to set it.  Read in fs/exec.py:exec_mmap() and kernel/fork.py:mm_access().
    exec_update_lock: bool = True

    def __str__(self) -> str:
        return self.name

    def switches(self) -> dict[str, Any]:
        """The behaviour switches (every field but name, release, description, doc, first_ino)."""
        return {f.name: getattr(self, f.name) for f in fields(type(self)) if f.name not in _META}

    def changes_from(self, other: VersionProfile) -> dict[str, tuple[Any, Any]]:
        """{switch: (other's value, this profile's value)} for every switch the two set differently.

        Example: `VERSIONS["3.9"].changes_from(VERSIONS["3.7"]) == {"map_files_admin_errno": (13, 1)}`.
        """
        mine, theirs = self.switches(), other.switches()
        return {k: (theirs[k], v) for k, v in mine.items() if theirs[k] != v}


_META = frozenset({"name", "release", "description", "doc", "first_ino"})


def derive(previous: VersionProfile, name: str, release: tuple[int, ...], description: str, doc: str | None,
           **changes: Any) -> VersionProfile:
    """The profile of a release: `previous` with `changes`; every change must really change a switch."""
    from attrs import evolve
    for key, value in changes.items():
        assert key not in _META, key
        assert getattr(previous, key) != value, f"{name}: {key} is already {value!r} in {previous.name}"
    return evolve(previous, name=name, release=release, description=description, doc=(doc or "").strip(),
                  **changes)
