"""Kernel release profiles: which map_files behaviour a `Kernel` models.

A profile is a frozen record of the behaviour switches that changed between releases (profile.py).  Code
that behaves differently by release reads `kernel.version.<switch>`, so each difference lives in one place
and cites the commit that introduced it.  One module per release that changed something (v3_3.py ...
v6_18_44.py); its docstring says what changed and which source each claim rests on (source read, commit
text, observed on the host).  The default is the release this project's machines run.

    >>> import simkernel
    >>> list(simkernel.VERSIONS)[:4]
    ['3.3', '3.4', '3.5', '3.7']
    >>> simkernel.VERSIONS["4.3"].changes_from(simkernel.VERSIONS["3.14"])
    {'map_files_admin_errno': (1, 0), 'map_files_follow_needs_cap': (False, True)}

Linux: see ../shared/reference/map_files.md §3 for the timeline.
"""

from __future__ import annotations

from attrs import evolve

from simkernel.versions import (v3_3, v3_4, v3_5, v3_7, v3_9, v3_12, v3_13, v3_14, v4_3, v4_4, v4_5, v4_10,
                                v4_11, v4_16, v4_17, v5_1, v5_3, v5_6, v5_9, v6_12, v6_13, v6_15, v6_18,
                                v6_18_44)
from simkernel.versions.profile import VersionProfile

__all__ = ["VersionProfile", "VERSIONS", "DEFAULT_VERSION", "resolve_version"]

VERSIONS: dict[str, VersionProfile] = {m.PROFILE.name: m.PROFILE for m in (
    v3_3, v3_4, v3_5, v3_7, v3_9, v3_12, v3_13, v3_14, v4_3, v4_4, v4_5, v4_10, v4_11, v4_16, v4_17, v5_1, v5_3,
    v5_6, v5_9, v6_12, v6_13, v6_15, v6_18, v6_18_44)}
"""Every profile by name, oldest first."""

DEFAULT_VERSION = "6.18.44"

# The default profile must be the record's defaults: the code's unversioned behaviour is this machine's.
assert VERSIONS[DEFAULT_VERSION].switches() == VersionProfile(name="", release=()).switches()


def resolve_version(version: str | VersionProfile | None) -> VersionProfile:
    """The profile for a name (`"6.18.44"`), a profile, or None (the default).

    A release between two profiles behaves as the older one (the next profile is the first release known to
    differ): `resolve_version("4.15")` is the 4.11 profile renamed "4.15".

    Raises:
        ValueError: not a release number, older than 3.3 (no map_files) or newer than the newest profile;
            the message lists the known ones.
    """
    if version is None:
        return VERSIONS[DEFAULT_VERSION]
    if isinstance(version, VersionProfile):
        return version
    name = str(version)
    if name in VERSIONS:
        return VERSIONS[name]
    try:
        release = tuple(int(x) for x in name.split("."))
    except ValueError:
        release = ()
    newest = VERSIONS[DEFAULT_VERSION].release
    if release and VERSIONS["3.3"].release <= release <= newest:
        base = [p for p in VERSIONS.values() if p.release <= release][-1]
        return evolve(base, name=name, release=release,
                      description=f"{base.description} (as profile {base.name}: nothing known changed since)")
    raise ValueError(f"unknown kernel version {version!r}; known: {', '.join(VERSIONS)} (and any release "
                     f"between 3.3 and {DEFAULT_VERSION}, which behaves as the profile before it)")
