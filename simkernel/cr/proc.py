"""Reading /proc as a checkpoint tool does: whole files, directories, the status lines, the task tree.

Every helper takes the `sys` of the reading task (`task.sys` of a simulated or host task, or any object with
the same methods) and makes only contract system calls, one Python call per system call, so a counting
wrapper (simkernel/cr/cost.py) sees exactly the calls a C program would make.

Linux: fs/proc/array.c:proc_pid_status() (the lines parsed here), fs/proc/array.c:children_seq_show()
"""

from __future__ import annotations

from typing import Any

from simkernel.cr.image import CredImage
from simkernel.uapi import O_CLOEXEC, O_DIRECTORY, O_RDONLY

__all__ = ["READ_CHUNK", "read_file", "read_text", "list_dir", "parse_status", "cred_from_status",
           "task_tree", "GETDENTS_BUF"]

READ_CHUNK = 1 << 20   # one read(2) per MiB: a maps text of 10,000 VMAs (~1 MB) takes two reads
GETDENTS_BUF = 32768   # as CPython's listdir


def read_file(sys: Any, path: str, chunk: int = READ_CHUNK) -> bytes:
    """open(O_RDONLY) + read(chunk) until EOF + close: the whole content of `path`.

    Raises:
        OSError: from open or read (PermissionError for a denied /proc file, ...).
    """
    fd = sys.open(path, O_RDONLY | O_CLOEXEC)
    try:
        parts = []
        while True:
            data = sys.read(fd, chunk)
            if not data:
                return b"".join(parts)
            parts.append(data)
    finally:
        sys.close(fd)


def read_text(sys: Any, path: str, chunk: int = READ_CHUNK) -> str:
    """read_file() decoded as the kernel's bytes (surrogateescape keeps odd file names round-trippable)."""
    return read_file(sys, path, chunk).decode("utf-8", "surrogateescape")


def list_dir(sys: Any, path: str) -> list[str]:
    """open(O_DIRECTORY) + getdents64 until empty + close; names without "." and ".." (as os.listdir)."""
    fd = sys.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    names: list[str] = []
    try:
        while True:
            batch = sys.getdents(fd, GETDENTS_BUF)
            if not batch:
                return names
            names.extend(name for name, _ino, _type, _off in batch if name not in (".", ".."))
    finally:
        sys.close(fd)


def parse_status(text: str) -> dict[str, str]:
    """/proc/<pid>/status as {"Name": "app", "Uid": "1000\\t1000\\t1000\\t1000", ...} (values unstripped of
    inner tabs).

    Example:
        "Name:\\tapp\\nUid:\\t1000\\t1000\\t1000\\t1000\\n" -> {"Name": "app", "Uid": "1000\\t1000\\t1000\\t1000"}
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key] = value.strip("\t ")
    return out


def cred_from_status(st: dict[str, str]) -> CredImage:
    """The credentials of a parsed status (the Uid/Gid/Groups/Cap*/NoNewPrivs lines)."""
    def ids(key: str) -> tuple[int, ...]:
        return tuple(int(x) for x in st[key].split())
    return CredImage(uid=ids("Uid"), gid=ids("Gid"), groups=ids("Groups") if st.get("Groups") else (),
                     cap_inheritable=int(st["CapInh"], 16), cap_permitted=int(st["CapPrm"], 16),
                     cap_effective=int(st["CapEff"], 16), cap_bset=int(st["CapBnd"], 16),
                     cap_ambient=int(st["CapAmb"], 16), no_new_privs=st.get("NoNewPrivs", "0") == "1")


def task_tree(sys: Any, root: int, statuses: dict[int, dict[str, str]]) -> list[int]:
    """The pids of `root` and its descendants, pre-order (a parent before its children, siblings by pid).

    Uses /proc/<pid>/task/<pid>/children (CONFIG_PROC_CHILDREN, as CRIU does) when the kernel has it, else
    scans every /proc/<pid>/status for its PPid.  `statuses` caches parsed status files by pid (filled here).
    """
    def status(pid: int) -> dict[str, str]:
        if pid not in statuses:
            statuses[pid] = parse_status(read_text(sys, f"/proc/{pid}/status"))
        return statuses[pid]

    try:
        text = read_text(sys, f"/proc/{root}/task/{root}/children")
    except FileNotFoundError:
        return _tree_by_scan(sys, root, status)
    order, stack = [], [root]
    while stack:
        pid = stack.pop()
        order.append(pid)
        status(pid)
        if pid != root:
            text = read_text(sys, f"/proc/{pid}/task/{pid}/children")
        stack.extend(sorted((int(x) for x in text.split()), reverse=True))
    return order


def _tree_by_scan(sys: Any, root: int, status: Any) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in list_dir(sys, "/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(status(int(name))["PPid"])
        except FileNotFoundError:  # exited while we looked
            continue
        children.setdefault(ppid, []).append(int(name))
    order, stack = [], [root]
    while stack:
        pid = stack.pop()
        order.append(pid)
        stack.extend(sorted(children.get(pid, ()), reverse=True))
    return order
