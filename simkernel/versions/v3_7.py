"""Linux 3.7: readdir snapshots each file's f_mode instead of holding file references.

7b540d0646ce (Al Viro, "proc_map_files_readdir(): don't bother with grabbing files"): between the pass
under mmap_sem and the emitting pass, readdir no longer pins every mapped `struct file` with get_file().
No errno changes; the difference is visible only inside the kernel (f_count while the entries are
emitted).  05f564849d49 (same release) made lookup skip instantiate for an exact anonymous VMA, fixing a
NULL dereference that 7b540d06 had introduced during the 3.7 cycle: ENOENT before and after.  [M; S:
3.7.2]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v3_5 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "3.7", (3, 7),
                 "readdir keeps f_mode, not file references (7b540d0646ce)",
                 __doc__,
                 map_files_readdir_fmode=True)
