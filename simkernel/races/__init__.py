"""Packaged races on /proc/<pid>/map_files, explored per release profile (the interleaving explorer).

Each race is two programs (the syscalls two simulated tasks make), a condition on their outcome, and the
verdict this project expects per release, with the reason.  `explore()` runs every schedule up to a
preemption bound on a fresh machine of the chosen release and reports Always / Sometimes / Never with a
witness; the tests (tests/test_races.py) check the verdicts against `expected()` and replay the witness.

    >>> from simkernel.races import RACES, verdict_table
    >>> race = RACES["readlink-vs-suid-exec"]
    >>> r = race.explore("6.18")
    >>> r.verdict, race.expected("6.18")
    ('Sometimes', 'Sometimes')
    >>> race.replay("6.18", r.witness)["A"]
    '/usr/bin/suidprog'
    >>> race.explore("6.18.44").verdict
    'Never'
    >>> print(verdict_table(("readlink-vs-suid-exec", "lookup-vs-exit"), ("6.18", "6.18.44")))
                                 6.18     6.18.44
    readlink-vs-suid-exec   Sometimes       Never
    lookup-vs-exit              Never   Sometimes

Layout: simkernel/races/registry.py holds the machinery (`Race`, the `RACES` registry, `verdict_table()`
and its `VerdictTable`, which `python -m simkernel races` prints); simkernel/races/map_files.py defines the
races -- readdir-vs-munmap, readdir-vs-mmap, readdir-one-pass-vs-mmap, readlink-vs-suid-exec, lookup-vs-exit,
lookup-vs-exit-reap, revalidate-vs-remap -- says what each shows, and registers them when this package is
imported.

Linux: fs/proc/base.c (map_files), fs/exec.c, kernel/exit.c, kernel/fork.c:mm_access()
"""

from simkernel.races.map_files import BASE, PAGE  # noqa: F401  (importable from here since before the split)
from simkernel.races.map_files import READDIR_VS_THREAD_MMAP, SUIDPROG, thread_mmap_setup
from simkernel.races.registry import RACES, Race, VerdictTable, race, verdict_table

__all__ = ["Race", "RACES", "race", "VerdictTable", "verdict_table", "SUIDPROG", "READDIR_VS_THREAD_MMAP",
           "thread_mmap_setup"]
