"""simkernel/versions: the release profiles themselves (order, derivation, documentation, resolution)."""

from __future__ import annotations

import doctest

import attrs
import pytest

import simkernel
import simkernel.versions as V
from simkernel.versions.profile import VersionProfile, derive


def test_versions_are_chronological_and_end_with_the_default() -> None:
    """VERSIONS is ordered by release; the last one is this machine's kernel, the default."""
    releases = [p.release for p in V.VERSIONS.values()]
    assert releases == sorted(releases)
    assert list(V.VERSIONS)[-1] == V.DEFAULT_VERSION == "6.18.44" == simkernel.Kernel().version.name


def test_required_profiles_exist() -> None:
    """Every release the issue names has a profile."""
    for name in ("3.3", "3.4", "3.5", "3.7", "3.9", "3.12", "3.13", "3.14", "4.3", "4.4", "4.5", "4.10", "4.11",
                 "4.16", "4.17", "5.1", "5.3", "5.6", "5.9", "6.12", "6.13", "6.18", "6.18.44"):
        assert name in V.VERSIONS, name


def test_each_profile_changes_something_and_says_why() -> None:
    """Every profile but 3.3 (the baseline) and 6.18 (the release before the back-ports) changes at least one
    switch; every profile has a description and a docstring naming its evidence ([S], [M], [R] or [U])."""
    prev = None
    for name, p in V.VERSIONS.items():
        if prev is not None and name != "6.18":
            assert p.changes_from(prev), name
        assert p.description and p.doc.startswith("Linux ") and "[" in p.doc, name
        assert any(tag in p.doc for tag in ("[S", "[M", "[R", "[U")), name
        prev = p


def test_derive_refuses_a_change_that_changes_nothing() -> None:
    """derive() guards against a profile claiming a change it does not make."""
    base = V.VERSIONS["6.18.44"]
    with pytest.raises(AssertionError):
        derive(base, "x", (9,), "", None, mm_access_esrch=True)
    assert derive(base, "x", (9,), "d", None, mm_access_esrch=False).doc == ""


def test_switches_and_changes_from() -> None:
    """switches() omits the metadata; changes_from() pairs old and new values."""
    sw = V.VERSIONS["3.3"].switches()
    assert "name" not in sw and "doc" not in sw and sw["map_files_name_parser"] == "sscanf"
    assert V.VERSIONS["3.9"].changes_from(V.VERSIONS["3.7"]) == {"map_files_admin_errno": (13, 1)}
    assert str(V.VERSIONS["4.3"]) == "4.3"


def test_resolve_version() -> None:
    """A name, a profile or None; an unknown name lists the known ones."""
    p = attrs.evolve(V.VERSIONS["4.3"], name="mine")
    assert V.resolve_version(None).name == "6.18.44" and V.resolve_version(p) is p
    assert simkernel.Kernel(version=p).version is p
    with pytest.raises(ValueError, match="known: 3.3, 3.4"):
        V.resolve_version("2.6.32")
    assert isinstance(V.resolve_version("3.3"), VersionProfile)


def test_resolve_a_release_between_profiles() -> None:
    """A release without its own profile behaves as the profile before it, under its own name."""
    p = V.resolve_version("4.15")
    assert (p.name, p.release) == ("4.15", (4, 15)) and p.switches() == V.VERSIONS["4.11"].switches()
    assert "as profile 4.11" in p.description
    assert simkernel.Kernel(version="5.0").version.map_files_readdir_limit == 86700
    for bad in ("3.2", "7.1", "four"):
        with pytest.raises(ValueError, match="any release between 3.3 and 6.18.44"):
            V.resolve_version(bad)


def test_versions_doctest() -> None:
    """The package docstring's examples run."""
    assert doctest.testmod(V).failed == 0


def test_config_lsm_mmap_min_addr_is_not_a_release_switch() -> None:
    """CONFIG_LSM_MMAP_MIN_ADDR is a build option (65536 since v2.6.31's Kconfig default, the same for every
    profile modelled), so it stays in mm/unmapped_area.py rather than in the release profile."""
    from simkernel.mm.unmapped_area import CONFIG_LSM_MMAP_MIN_ADDR
    assert CONFIG_LSM_MMAP_MIN_ADDR == 65536
    assert not any("mmap_min" in s for s in V.VERSIONS["3.3"].switches())
