"""Linux userspace API constants, with the values of Linux on x86-64.

`from simkernel.uapi import O_RDONLY, PROT_READ, MAP_PRIVATE, CAP_SYS_ADMIN, ...`
"""

from __future__ import annotations

from simkernel.uapi.capability import *  # noqa: F401,F403
from simkernel.uapi.errno import *  # noqa: F401,F403
from simkernel.uapi.fcntl import *  # noqa: F401,F403
from simkernel.uapi.mman import *  # noqa: F401,F403
from simkernel.uapi.prctl import *  # noqa: F401,F403
from simkernel.uapi.sched import *  # noqa: F401,F403
from simkernel.uapi.stat import *  # noqa: F401,F403
from simkernel.uapi import capability, errno, fcntl, mman, prctl, sched, stat

__all__ = (
    list(capability.__all__) + list(errno.__all__) + list(fcntl.__all__) + list(mman.__all__)
    + list(prctl.__all__) + list(sched.__all__) + list(stat.__all__)
)
