"""Linux 4.16: "proc: fix /proc/*/map_files lookup" (ac7f1061c2c1, Alexey Dobriyan).

sscanf() is replaced by a strict _parse_integer() parser: no whitespace, no "0x", no junk, overflow
refused -- but leading zeros are still accepted ("0400000-452000" resolves).  "proc: less memory for
/proc/*/map_files readdir" stores (start, end, mode) in 24-byte items: the flex_array limit becomes 86700,
above the default vm.max_map_count.  [M; S: 4.15.0 sscanf vs 4.16.13 parser, reference §3, §4.7]
"""

from __future__ import annotations

from simkernel.versions.profile import NAME_STRICT, derive
from simkernel.versions.v4_11 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.16", (4, 16),
                 "strict name parser (ac7f1061c2c1, leading zeros still accepted); flex_array limit 86700",
                 __doc__,
                 map_files_name_parser=NAME_STRICT, map_files_readdir_limit=86700)
