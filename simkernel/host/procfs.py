"""Observations of host tasks from the test process, through the host's own /proc.

These read /proc as the test process (root, initial pid namespace) sees it, never as the task: they are the
"ground truth" side of a comparison, e.g. `/proc/<pid>/maps` lines next to the simulation's VMAs.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["read_maps", "read_status", "task_state", "start_time", "descendants", "global_tid", "parse_maps_line"]

# /proc/<pid>/status fields turned into ints; Uid/Gid/Groups/NSpid become tuples, Cap* hex masks
_INT_FIELDS = frozenset({"Tgid", "Ngid", "Pid", "PPid", "TracerPid", "FDSize", "Threads", "NoNewPrivs",
                         "Seccomp", "Kthread"})
_CAP_FIELDS = frozenset({"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
_TUPLE_FIELDS = frozenset({"Uid", "Gid", "Groups", "NStgid", "NSpid", "NSpgid", "NSsid"})


def parse_maps_line(line: str) -> tuple[int, int]:
    """`"7e0000000000-7e0000003000 rw-p 00000000 00:00 0"` -> (0x7e0000000000, 0x7e0000003000)."""
    start, _, end = line.split(None, 1)[0].partition("-")
    return int(start, 16), int(end, 16)


def read_maps(pid: int, lo: int = 0, hi: int = 1 << 64) -> list[str]:
    """Lines of /proc/<pid>/maps (newline stripped) for the VMAs that overlap [lo, hi), in address order."""
    with open(f"/proc/{pid}/maps") as f:
        lines = f.read().splitlines()
    out = []
    for line in lines:
        start, end = parse_maps_line(line)
        if start < hi and end > lo:
            out.append(line)
    return out


def read_status(pid: int, proc: str = "/proc") -> dict[str, Any]:
    """/proc/<pid>/status as a dict (`proc`: where procfs is mounted, e.g. a container's or a test's copy).

    Example: {"Name": "app", "State": "S (sleeping)", "Uid": (1000, 1000, 1000, 1000), "Groups": (5, 6),
    "CapEff": 0x80000, "Pid": 4242, ...}: Uid/Gid are (real, effective, saved, fs); Cap* are ints; fields
    not known to be numeric stay strings.
    """
    with open(f"{proc}/{pid}/status") as f:
        text = f.read()
    out: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.strip()
        if key in _CAP_FIELDS:
            out[key] = int(value, 16)
        elif key in _TUPLE_FIELDS:
            out[key] = tuple(int(v) for v in value.split())
        elif key in _INT_FIELDS and value.lstrip("-").isdigit():
            out[key] = int(value)
        elif key == "Umask":
            out[key] = int(value, 8)
        else:
            out[key] = value
    return out


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after "(comm)": [state, ppid, pgrp, ...]; None if the task is gone.

    The comm may itself hold spaces and ')', hence the split at the last ')'.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2:].split()


def task_state(pid: int) -> str | None:
    """The one-letter state of task `pid` ("R", "S", "Z", ...), None once it is reaped."""
    fields = _stat_fields(pid)
    return None if fields is None else fields[0]


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot): with the pid, an identity that
    survives pid reuse. None if the task is gone."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def descendants(root: int) -> list[int]:
    """Pids of every process below `root` (not `root` itself), parents before children."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = _stat_fields(int(name))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(name))
    out: list[int] = []
    todo = list(children.get(root, ()))
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def global_tid(tgid: int, ns_tid: int) -> int:
    """The global tid of the thread of process `tgid` (global) whose tid in its own pid namespace is `ns_tid`.

    Reads NSpid (the tid in each nested namespace, outermost first) of every thread of the process.
    """
    for name in os.listdir(f"/proc/{tgid}/task"):
        nspid = read_status(int(name)).get("NSpid", (int(name),))
        if nspid and nspid[-1] == ns_tid:
            return int(name)
    raise LookupError(f"no thread {ns_tid} in process {tgid}")
