"""Observing a machine: helpers shared by the scenario library and the host differential tests.

Lifted from tests/host/scenarios_procfs.py, which now imports them from here.  A scenario written with these
helpers runs unchanged on `simkernel.Kernel()` (any release profile, patched or not) and on
`simkernel.host.HostKernel()`.  Observations are plain values: names restricted to the scenario window,
readlink text, selected lstat fields, booleans for dev/inode relations (never raw inode numbers or pids,
which legitimately differ), and every failure as its errno *name* prefixed with "!" (`"!ENOENT"`).
"""

from __future__ import annotations

import errno as _errno
from typing import Any, Callable, Iterable, NamedTuple

from simkernel.errors import KernelBug
from simkernel.host import SCENARIO_BASE, SCENARIO_SPAN
from simkernel.uapi import MAP_FIXED_NOREPLACE, O_CREAT, O_RDONLY, O_WRONLY, PR_SET_DUMPABLE

__all__ = ["BASE", "PAGE", "OOPS", "Observation", "Obs", "attempt", "spawn", "make_file", "mf", "rng", "in_window",
           "listing", "lstat_view", "stat_view", "read_all", "maps_view", "status_view", "getdents_view",
           "same_file", "open_close", "sim_prepare_dir", "ERRNAME", "files_below_window", "FIXED", "is_sim",
           "scratch_dir"]

BASE = SCENARIO_BASE
PAGE = 4096
FIXED = MAP_FIXED_NOREPLACE
OOPS = "!OOPS"     # the modelled release hit a kernel bug (simkernel.errors.KernelBug)


def ERRNAME(err: OSError) -> str:
    """`"!ENOENT"` for an OSError with errno ENOENT."""
    return "!" + _errno.errorcode.get(err.errno or 0, str(err.errno))


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """fn(*args) or, if it raises OSError, the errno name ("!EACCES"); "!OOPS" for a KernelBug."""
    try:
        return fn(*args, **kwargs)
    except OSError as err:
        return ERRNAME(err)
    except KernelBug:
        return OOPS


class Observation(NamedTuple):
    """One observation of a scenario: what was done (`label`) and what came back (`value`: a value, or the
    errno name prefixed with "!", or "!OOPS" when the modelled release would have crashed)."""

    label: str
    value: Any


class Obs:
    """An ordered list of observations."""

    def __init__(self) -> None:
        self.items: list[Observation] = []

    def add(self, label: str, value: Any) -> Any:
        self.items.append(Observation(label, value))
        return value

    def do(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Record attempt(fn, *args) under `label` and return it."""
        return self.add(label, attempt(fn, *args, **kwargs))


# -- machines --------------------------------------------------------------------------------------
def is_sim(k: Any) -> bool:
    """Is `k` a simulated kernel (not the host)?"""
    from simkernel.machine import Kernel
    return isinstance(k, Kernel)


SIM_SCRATCH = "/srv"


def scratch_dir(k: Any) -> str:
    """A root-owned 0755 directory for a scenario's files: the host's tmpdir(), or /srv on a simulation."""
    if is_sim(k):
        sim_prepare_dir(k, SIM_SCRATCH)
        return SIM_SCRATCH
    return str(k.tmpdir())


def sim_prepare_dir(k: Any, d: str) -> None:
    """On the simulation: create `d` (and its parents) as root with mode 0755, like HostKernel.tmpdir()."""
    parts = [p for p in d.split("/") if p]
    path = ""
    for p in parts:
        path += "/" + p
        try:
            k.init.sys.mkdir(path, 0o755)
        except FileExistsError:
            continue
        k.init.sys.chmod(path, 0o755)


def spawn(k: Any, comm: str, uid: int = 0, gid: int | None = None, groups: Iterable[int] = (),
          caps: Any = None, dumpable: int | None = 1, parent: Any = None) -> Any:
    """k.spawn(...) and then an explicit PR_SET_DUMPABLE, so both machines agree on dumpability.

    (simkernel.Kernel.spawn ends dumpable; HostKernel.spawn leaves what commit_creds set, i.e. non-dumpable
    after a uid change with fs.suid_dumpable = 0.)
    """
    t = k.spawn(comm, uid=uid, gid=uid if gid is None else gid, groups=tuple(groups), caps=caps,
                parent=parent)
    if dumpable is not None:
        t.sys.prctl(PR_SET_DUMPABLE, dumpable)
    return t


def make_file(k: Any, path: str, size: int = 4 * PAGE, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    """Create a regular file as root (init) with `size` bytes, mode and owner."""
    s = k.init.sys
    fd = s.open(path, O_CREAT | O_WRONLY, mode)
    s.ftruncate(fd, size)
    s.write(fd, b"simkernel")
    s.close(fd)
    s.chmod(path, mode)
    if uid or gid:
        s.chown(path, uid, gid)


def mf(t: Any, name: str = "") -> str:
    """/proc/<tgid>/map_files[/name]."""
    base = f"/proc/{t.pid}/map_files"
    return f"{base}/{name}" if name else base


def rng(start: int, end: int) -> str:
    """The map_files name of [start, end)."""
    return f"{start:x}-{end:x}"


def in_window(name: str) -> bool:
    """True for a map_files name inside [SCENARIO_BASE, SCENARIO_BASE + SCENARIO_SPAN)."""
    try:
        start = int(name.split("-", 1)[0], 16)
    except ValueError:
        return False
    return BASE <= start < BASE + SCENARIO_SPAN


def listing(obs_task: Any, path: str) -> Any:
    """Names in the scenario window from listdir(path) (sorted as returned), or the errno name."""
    got = attempt(obs_task.sys.listdir, path)
    if isinstance(got, str):
        return got
    return [n for n in got if in_window(n)]


def lstat_view(st: Any) -> dict[str, int]:
    """The lstat fields that must agree: mode, uid, gid, size, nlink, blocks, blksize."""
    return {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "nlink": st.st_nlink,
            "blocks": st.st_blocks, "blksize": st.st_blksize}


def stat_view(st: Any) -> dict[str, int]:
    """stat fields of an ordinary file that must agree: mode, uid, gid, size, nlink."""
    return {"mode": st.st_mode, "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "nlink": st.st_nlink}


def same_file(a: Any, b: Any) -> bool:
    """Do two stat results name the same inode (st_dev, st_ino)?"""
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def open_close(t: Any, path: str, flags: int) -> str:
    """open(path, flags) then close: "ok" or the errno name."""
    try:
        fd = t.sys.open(path, flags)
    except OSError as err:
        return ERRNAME(err)
    t.sys.close(fd)
    return "ok"


def read_all(t: Any, path: str) -> Any:
    """The whole text of a file read by `t` (open, read until EOF, close), or the errno name."""
    try:
        fd = t.sys.open(path, O_RDONLY)
    except OSError as err:
        return ERRNAME(err)
    chunks = []
    try:
        while True:
            try:
                b = t.sys.read(fd, 65536)
            except OSError as err:
                return ERRNAME(err)
            if not b:
                break
            chunks.append(b)
    finally:
        t.sys.close(fd)
    return b"".join(chunks).decode("utf-8", "surrogateescape")


def maps_view(text: Any) -> Any:
    """maps lines of the scenario window, byte-exact but with "maj:min ino" normalised to "DEV INO" and the
    column where the name starts recorded (the padding depends on the inode number's width)."""
    if not isinstance(text, str) or text.startswith("!"):
        return text
    out = []
    for line in text.splitlines():
        start = int(line.split("-", 1)[0], 16)
        if not BASE <= start < BASE + SCENARIO_SPAN:
            continue
        fields = line.split(" ", 5)
        rng_, perms, off, dev, ino = fields[:5]
        rest = fields[5] if len(fields) > 5 else None
        if rest is None:   # "... ino " without a name ends after one space
            out.append((f"{rng_} {perms} {off} DEV INO", None, line.endswith(" ")))
            continue
        name = rest.lstrip(" ")
        col = len(line) - len(name) if name else None
        zero = dev == "00:00" and ino == "0"
        out.append((f"{rng_} {perms} {off} {'00:00 0' if zero else 'DEV INO'} {name}", col, line.endswith(" ")))
    return out


def status_view(text: Any) -> Any:
    """The Uid/Gid/Groups/Cap*/NoNewPrivs lines of /proc/<pid>/status."""
    if not isinstance(text, str) or text.startswith("!"):
        return text
    keep = ("Uid:", "Gid:", "Groups:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:", "NoNewPrivs:")
    return [line for line in text.splitlines() if line.startswith(keep)]


def getdents_view(batch: Any) -> Any:
    """One getdents64 batch as comparable values: the dots with their (d_type, d_off), the window names with
    their d_type, and whether the window names' d_off values run consecutively (their absolute values count
    the file-backed VMAs below the window, which differ between an interpreter and a fresh simulated task).
    """
    if isinstance(batch, str):
        return batch
    dots = [(n, t, off) for n, _i, t, off in batch if n in (".", "..")]
    win = [(n, t, off) for n, _i, t, off in batch if in_window(n)]
    offs = [off for _n, _t, off in win]
    consecutive = all(b == a + 1 for a, b in zip(offs, offs[1:]))
    return {"dots": dots, "window": [(n, t) for n, t, _o in win], "consecutive": consecutive}


def files_below_window(t: Any, path: str) -> int:
    """How many map_files entries of `path` lie below the window (as `t` lists them): the position offset
    that turns window-relative d_off values into absolute ones on this machine."""
    return sum(1 for n in t.sys.listdir(path) if int(n.split("-", 1)[0], 16) < BASE)
