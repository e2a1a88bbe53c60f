"""The machinery of the packaged races: `Race` (two programs, a condition, the expected verdict per release),
the `RACES` registry and `verdict_table()` (`python -m simkernel races` prints it).  The races themselves are
defined in simkernel/races/map_files.py; see simkernel/races/__init__.py for an example.
"""

from __future__ import annotations

from typing import Any, Callable

from attrs import frozen

from simkernel.kernel.sched import Exploration, Outcome, Step, explore, replay
from simkernel.versions import VersionProfile, resolve_version

__all__ = ["Race", "RACES", "race", "VerdictTable", "verdict_table"]


@frozen
class Race:
    """One packaged race: `setup(version)` builds the machine, `programs` race on it, `condition` judges.

    `expect(profile)` is the verdict this project expects for a release, from the profile's switches.
    """

    name: str
    doc: str
    setup: Callable[[str], Any]
    programs: dict[str, Any]
    condition: Callable[[Outcome], bool]
    condition_text: str
    expect: Callable[[VersionProfile], str]
    bound: int = 1
    observe: Callable[[Any], Any] | None = None     # default: the lock validator's reports

    def explore(self, version: str = "6.18.44", bound: int | None = -1, max_schedules: int = 5000) -> Exploration:
        """Every schedule on a `version` machine, up to `bound` preemptions (default: the race's own)."""
        return explore(lambda: self.setup(version), self.programs, self.condition,
                       bound=self.bound if bound == -1 else bound, max_schedules=max_schedules,
                       observe=self.observe or _lockdep_reports, description=self.condition_text)

    def replay(self, version: str, schedule: tuple[Step, ...]) -> Outcome:
        """One schedule again, on a fresh `version` machine."""
        return replay(lambda: self.setup(version), self.programs, schedule,
                      observe=self.observe or _lockdep_reports)

    def expected(self, version: str) -> str:
        """The verdict expected for `version` (Always / Sometimes / Never)."""
        return self.expect(resolve_version(version))


# The registry: filled by race() below, at import, and not changed afterwards -- like VERSIONS and SCENARIOS
# it holds definitions only (every exploration boots fresh kernels), so it is no simulation state shared
# between kernels.  An experiment needs no registration: build a Race and call its explore().
RACES: dict[str, Race] = {}


@frozen
class VerdictTable:
    """Verdicts of races (rows) on releases (columns): `cells[(race, version)]` is the Exploration."""

    names: tuple[str, ...]
    versions: tuple[str, ...]
    cells: dict[tuple[str, str], Exploration]

    def verdict(self, name: str, version: str) -> str:
        return self.cells[(name, version)].verdict

    def mismatches(self) -> list[tuple[str, str, str, str]]:
        """(race, version, explored, expected) wherever the simulation disagrees with the expectation."""
        return [(n, v, self.verdict(n, v), RACES[n].expected(v)) for n in self.names for v in self.versions
                if self.verdict(n, v) != RACES[n].expected(v)]

    def __str__(self) -> str:
        w = max(len(n) for n in self.names)
        lines = [" " * w + "".join(f"  {v:>10}" for v in self.versions)]
        for n in self.names:
            lines.append(f"{n:<{w}}" + "".join(f"  {self.verdict(n, v):>10}" for v in self.versions))
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{v}</th>" for v in self.versions)
        rows = "".join(f"<tr><th>{n}</th>" + "".join(
            f"<td title='{self.cells[(n, v)].schedules} schedules'>{self.verdict(n, v)}</td>"
            for v in self.versions) + "</tr>" for n in self.names)
        return f"<table><tr><th>race</th>{head}</tr>{rows}</table>"


def verdict_table(names: tuple[str, ...] | None = None,
                  versions: tuple[str, ...] = ("3.4", "4.4", "6.18", "6.18.44"),
                  progress: Callable[[int, int, str, str], None] | None = None) -> VerdictTable:
    """Explore each race (default: all) on each release; a table of verdicts (about 10 s for the default).
    `progress(i, total, race, version)` is called before each exploration (the CLI prints it)."""
    names, versions = tuple(names or RACES), tuple(versions)
    cells: dict[tuple[str, str], Exploration] = {}
    total = len(names) * len(versions)
    for i, (n, v) in enumerate(((n, v) for n in names for v in versions), 1):
        if progress is not None:
            progress(i, total, n, v)
        cells[(n, v)] = RACES[n].explore(v)
    return VerdictTable(names, versions, cells)


def race(r: Race) -> Race:
    """Register a race by name (at import of this module only: see RACES)."""
    RACES[r.name] = r
    return r


def _lockdep_reports(s: Any) -> tuple[str, ...]:
    """What the lock validator reported during the schedule (its report kinds)."""
    return tuple(r.kind for r in s.k.lockdep.reports)
