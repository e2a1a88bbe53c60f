"""Linux 4.17: leading zeros are refused (a lone "0" stays valid).

Added together with the selftests proc-self-map-files-001 and -002, which therefore pass from this
release on and fail on every earlier one (sscanf era: whitespace, leading zeros and overflow resolve;
4.16: leading zeros resolve).  Commit not identified.  [S: 4.16.13 vs 4.17.0 per reference §3, §11]
"""

from __future__ import annotations

from simkernel.versions.profile import NAME_STRICT_NO_LEADING_ZERO, derive
from simkernel.versions.v4_16 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "4.17", (4, 17),
                 "leading zeros refused; selftests proc-self-map-files-001/002 added",
                 __doc__,
                 map_files_name_parser=NAME_STRICT_NO_LEADING_ZERO)
