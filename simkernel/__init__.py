"""simkernel: a deterministic model of the Linux kernel objects behind /proc/<pid>/map_files.

    >>> import simkernel
    >>> from simkernel.uapi import O_CREAT, O_RDWR, PROT_READ, MAP_PRIVATE
    >>> k = simkernel.Kernel()
    >>> t = k.spawn("app", uid=1000, gid=1000)
    >>> fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644); t.sys.ftruncate(fd, 8192)
    >>> addr = t.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0)
    >>> t.sys.listdir(f"/proc/{t.pid}/map_files") == [f"{addr:x}-{addr + 8192:x}"]
    True

See README.md and ../shared/DESIGN.md for the public API contract.
"""

from __future__ import annotations

from simkernel import uapi
from simkernel.errors import KernelBug, KernelError
from simkernel.kernel.cred import Cred
from simkernel.kernel.task import Task
from simkernel.machine import Kernel
from simkernel.versions import DEFAULT_VERSION, VERSIONS, VersionProfile

__all__ = ["Kernel", "Task", "Cred", "KernelError", "KernelBug", "VERSIONS", "DEFAULT_VERSION", "VersionProfile",
           "uapi", "__version__"]

__version__ = "0.1.0"
