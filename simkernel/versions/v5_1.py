"""Linux 5.1: "proc: commit to genradix" (Kent Overstreet).

readdir's flex_array is replaced by a generic radix tree allocated per element: no hard limit, ENOMEM
only when memory runs out.  [S: 5.0.1 vs 5.2.1 per reference §3; U: id and exact release]
"""

from __future__ import annotations

from simkernel.versions.profile import derive
from simkernel.versions.v4_17 import PROFILE as PREVIOUS

__all__ = ["PROFILE"]

PROFILE = derive(PREVIOUS, "5.1", (5, 1),
                 "readdir collects into a genradix: no element limit",
                 __doc__,
                 map_files_readdir_limit=None)
