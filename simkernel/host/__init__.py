"""The bridge to the real kernel: run a simkernel scenario on the host and observe it through /proc.

`HostKernel` mirrors `simkernel.Kernel` with real processes: `spawn()` forks a child of the kernel's init task
and switches its credentials; `task.sys.<call>(...)` has the signatures of `simkernel.syscalls.Sys` and makes
the call inside that task.  A scenario function written against the public API therefore runs unchanged on
`simkernel.Kernel()` and on `HostKernel()`; tests/host compares the two.

Fixed addresses: `SCENARIO_BASE` (0x7e0000000000, 126 TiB) starts a `SCENARIO_SPAN` (64 GiB) window meant for
MAP_FIXED / MAP_FIXED_NOREPLACE mappings in scenarios.  On x86-64 with 4-level paging the top-down mmap area
of a process starts below the stack at TASK_SIZE - gap - rnd, where the ASLR offset rnd is at most 2^28 pages
(1 TiB) and the gap is at least the stack rlimit plus the stack randomisation (16 GiB), so no mmap_base lies
below ~0x7efb00000000; the interpreter's libraries and arenas grow down from there by well under 1 TiB.  The
window is also far above the PIE executable and heap (0x55..-0x56..).  100 fresh interpreters on the CI host
mapped nothing below 0x7efe00000000.  The simulation has the same TASK_SIZE, so the addresses are valid there.
"""

from __future__ import annotations

import os
import platform
import sys

from simkernel.host.bridge import HostBridgeError, HostKernel, HostSys, HostTask, HostTimeoutError

__all__ = ["available", "HostKernel", "HostTask", "HostSys", "HostBridgeError", "HostTimeoutError",
           "SCENARIO_BASE", "SCENARIO_SPAN"]

SCENARIO_BASE = 0x7E0000000000
SCENARIO_SPAN = 64 << 30

# CAP_SETGID, CAP_SETUID, CAP_SETPCAP: what spawn() needs from the test process
_NEEDED_CAPS = (6, 7, 8)


def available() -> tuple[bool, str]:
    """Whether scenarios can run on this host: (True, description) on x86-64 Linux as root, else (False, why).

    The raw system call numbers in simkernel/host/libc.py are x86-64's; spawn() needs CAP_SETUID,
    CAP_SETGID and CAP_SETPCAP; comparisons need procfs with map_files at /proc.
    """
    if not sys.platform.startswith("linux"):
        return False, f"needs Linux, this is {sys.platform}"
    if platform.machine() != "x86_64":
        return False, f"needs x86-64 (raw system call numbers), this is {platform.machine()}"
    if os.geteuid() != 0:
        return False, f"needs root, running as euid {os.geteuid()}"
    if not os.path.isdir("/proc/self/map_files"):
        return False, "needs procfs with /proc/<pid>/map_files mounted at /proc"
    try:
        with open("/proc/self/status") as f:
            eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return False, "cannot read CapEff from /proc/self/status"
    missing = [c for c in _NEEDED_CAPS if not eff >> c & 1]
    if missing:
        return False, f"root without capabilities {missing} (needed to spawn tasks with other credentials)"
    return True, f"Linux {platform.release()} x86-64 as root"
