"""Small userspace tools that run *on* a simulated kernel through a task's system calls: ls -l, cat, ps.

They are what the demo, the notebooks and the shell print with; everything they show comes from the
simulated syscalls (lstat, readlink, getdents, read), exactly as the real tools get it from Linux.
"""

from __future__ import annotations

import stat as pystat
import time
from typing import TYPE_CHECKING

from simkernel.uapi import fcntl as F

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["cat", "ls_l", "mode_string", "passwd_names", "ps", "format_errno"]


def cat(task: Task, path: str, limit: int = 1 << 20) -> str:
    """Read a whole file as `task` (open, read until EOF, close)."""
    fd = task.sys.open(path, F.O_RDONLY)
    try:
        chunks = []
        while True:
            data = task.sys.read(fd, 65536)
            if not data or sum(map(len, chunks)) >= limit:
                break
            chunks.append(data)
        return b"".join(chunks).decode("utf-8", "replace")
    finally:
        task.sys.close(fd)


def mode_string(mode: int) -> str:
    """`ls`'s mode column: 0o120400 -> 'lr--------'."""
    return pystat.filemode(mode)


def passwd_names(task: Task) -> tuple[dict[int, str], dict[int, str]]:
    """uid -> name and gid -> name from the simulated /etc/passwd (groups named after their users)."""
    users: dict[int, str] = {}
    groups: dict[int, str] = {}
    try:
        text = cat(task, "/etc/passwd")
    except OSError:
        return users, groups
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].isdigit() and parts[3].isdigit():
            users.setdefault(int(parts[2]), parts[0])
            groups.setdefault(int(parts[3]), parts[0] if parts[0] != "nobody" else "nogroup")
    return users, groups


def format_errno(err: OSError) -> str:
    """'EACCES (Permission denied)'."""
    import errno as pyerrno
    return f"{pyerrno.errorcode.get(err.errno, err.errno)} ({err.strerror})"


def ls_l(task: Task, path: str) -> list[str]:
    """`ls -l PATH` as `task` sees it: one line per entry, symlink targets after ' -> '.

    A target that cannot be read is shown as `-> ?` with the errno, the way ls reports it.
    """
    users, groups = passwd_names(task)
    lines = []
    for name in sorted(task.sys.listdir(path), key=_ls_key):
        full = f"{path.rstrip('/')}/{name}"
        try:
            st = task.sys.lstat(full)
        except OSError as err:
            lines.append(f"?????????? ? ?    ?     ?            ? {name}  [lstat: {format_errno(err)}]")
            continue
        when = time.strftime("%b %e %H:%M", time.gmtime(st.st_mtime))
        owner = users.get(st.st_uid, str(st.st_uid))
        group = groups.get(st.st_gid, str(st.st_gid))
        line = f"{mode_string(st.st_mode)} {st.st_nlink} {owner} {group} {st.st_size:>4} {when} {name}"
        if pystat.S_ISLNK(st.st_mode):
            try:
                line += f" -> {task.sys.readlink(full)}"
            except OSError as err:
                line += f" -> ?  [readlink: {format_errno(err)}]"
        lines.append(line)
    return lines


def _ls_key(name: str) -> tuple[int, str]:
    """Sort map_files names by address, other names alphabetically."""
    head = name.split("-", 1)[0]
    try:
        return int(head, 16), name
    except ValueError:
        return -1, name


def ps(task: Task) -> list[str]:
    """`ps`-like lines for every process `task` can see in /proc: PID, UID, comm, dumpable-owner hint."""
    lines = ["  PID   UID   GID COMM"]
    for name in task.sys.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = cat(task, f"/proc/{name}/status")
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        uid = fields.get("Uid", "?").split("\t")[1] if "Uid" in fields else "?"
        gid = fields.get("Gid", "?").split("\t")[1] if "Gid" in fields else "?"
        lines.append(f"{name:>5} {uid:>5} {gid:>5} {fields.get('Name', '?')}")
    return lines
