"""The namespaces a task lives in, other than its user namespace (which is in its cred).

Linux: include/linux/nsproxy.h, kernel/nsproxy.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field

if TYPE_CHECKING:
    from simkernel.fs.mount import MntNamespace
    from simkernel.kernel.task import PidNamespace

__all__ = ["Nsproxy"]


@define(eq=False)
class Nsproxy:
    """struct nsproxy: mount namespace and the pid namespace children will be born in."""

    mnt_ns: MntNamespace = field(repr=False)
    pid_ns_for_children: PidNamespace = field(repr=False)
