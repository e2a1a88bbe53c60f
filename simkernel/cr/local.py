"""The calling process as the dumping task on the host: `LocalTask().sys` makes the calls right here.

A HostTask makes each call in another process over an RPC channel, which costs far more than most of the
system calls a dump makes; to time the kernel's work rather than the channel, the benchmark dumps host
processes from the test process itself (root with the capabilities the host gave it).  `sys` is
simkernel.host.childsys.ChildSys, the same code the host tasks run, so results and exceptions are as `os`
gives them.  It cannot fork a restorable task: restore() needs a HostTask.
"""

from __future__ import annotations

import os
from typing import Any

from attrs import define, field

__all__ = ["LocalTask"]


@define
class LocalTask:
    """This process, driven like a task: `.pid` and `.sys` (no fork)."""

    pid: int = field(factory=os.getpid)
    sys: Any = field(init=False)

    def __attrs_post_init__(self) -> None:
        from simkernel.host.childsys import ChildSys
        self.sys = ChildSys()
