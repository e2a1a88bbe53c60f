"""Linux 3.14: map_files_get_link() resets rc to -ENOENT before looking for the VMA.

Through 3.13, rc still held 0 from the successful name parse, so a VMA unmapped between the walk's
d_revalidate and ->follow_link/readlink made get_link return success with an uninitialised path: a general
protection fault in d_path() (readlink) or in the walk (follow).  The simulation reports it as a
`simkernel.errors.KernelBug`.  Title "fs/proc/base.c: fix GPF in /proc/$PID/map_files" (id 70335abb2689
recalled, not verified); back-ported to 3.10.y and 3.13.y.  [S: 3.13.0 (absent) vs 3.14.1 (present)
per reference §3, §4.6]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v3_13 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.14", (3, 14),
                 "get_link: rc = -ENOENT before find_exact_vma (the GPF fix)",
                 __doc__,
                 map_files_get_link_rc_fix=True)
