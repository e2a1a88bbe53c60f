"""Kernel release profiles: which map_files behaviour a `Kernel` models.

A profile is a frozen record of the behaviour switches that changed between releases.  Code that behaves
differently by release reads `kernel.version.<switch>`, so each difference lives in one place and cites the
commit that introduced it.  The default is the release this project's machines run.

Linux: see ../shared/reference/map_files.md §3 for the timeline.
"""

from __future__ import annotations

from attrs import evolve, frozen

__all__ = ["VersionProfile", "VERSIONS", "DEFAULT_VERSION", "resolve_version"]


@frozen
class VersionProfile:
    """One kernel release, as the switches that matter to map_files and its helpers."""

    name: str
    release: tuple[int, ...]
    description: str = ""
    first_ino: int = 4000   # get_next_ino() values start here (the real counter is far past 1 at boot)
    # Since the 2026 back-port of 6650527444da ("proc: protect ptrace_may_access() with exec_update_lock
    # (part 1)"): lookup parses the name first and uses mm_access(); readdir emits . and .. before the
    # permission check and treats "no mm" as an empty directory.
    map_files_exec_update_lock: bool = True
    # The 2026 "FD links" sibling (CVE-2026-64375): readlink/follow of /proc magic links take
    # exec_update_lock and look the task up themselves: a reaped task gives ENOENT (EACCES before).
    proc_link_exec_update_lock: bool = True
    # Since "mm: refactor mm_access() to not return NULL" (v6.13 era): no mm -> ERR_PTR(-ESRCH).
    mm_access_esrch: bool = True
    # Since commit 3836b31c3e71 (v6.12): map_files entries are dont_mount().
    map_files_dont_mount: bool = True
    # Since commit 12886f8ab10c (v5.9): following needs CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE.
    checkpoint_restore_cap: bool = True

    def __str__(self) -> str:
        return self.name


_CURRENT = VersionProfile(
    name="6.18.44",
    release=(6, 18, 44),
    description="The kernel of this project's machines: 6.18 with the 2026 exec_update_lock back-ports.",
)

VERSIONS: dict[str, VersionProfile] = {
    "6.18": evolve(_CURRENT, name="6.18", release=(6, 18, 0), map_files_exec_update_lock=False,
                   proc_link_exec_update_lock=False, description="6.18 before the 2026 exec_update_lock back-ports."),
    "6.18.44": _CURRENT,
}
DEFAULT_VERSION = "6.18.44"


def resolve_version(version: str | VersionProfile | None) -> VersionProfile:
    """The profile for a name (`"6.18.44"`), a profile, or None (the default).

    Raises:
        ValueError: an unknown release name; the message lists the known ones.
    """
    if version is None:
        return VERSIONS[DEFAULT_VERSION]
    if isinstance(version, VersionProfile):
        return version
    try:
        return VERSIONS[str(version)]
    except KeyError:
        raise ValueError(f"unknown kernel version {version!r}; known: {', '.join(VERSIONS)}") from None
