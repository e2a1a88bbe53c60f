"""`python -m simkernel demo`: boot a kernel, start processes that map real-looking libraries, and show
what map_files shows them — and who may look.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, TextIO

from simkernel.uapi import (CAP_CHECKPOINT_RESTORE, CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE, MAP_ANONYMOUS,
                            MAP_FIXED, MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDONLY, O_WRONLY, PROT_EXEC, PROT_READ, PROT_WRITE)
from simkernel.userspace import cat, format_errno, ls_l

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["run_demo", "build_demo_machine", "LIBRARIES", "permission_story"]

# (path, size, [(address, length, prot, file offset)]) — the layout of a 2007-era x86-64 `ls`,
# as in the example listing of the commit that added map_files.
LIBRARIES: tuple[tuple[str, int, tuple[tuple[int, int, int, int], ...]], ...] = (
    ("/bin/ls", 0x1B000, ((0x400000, 0x1A000, PROT_READ | PROT_EXEC, 0),
                          (0x619000, 0x2000, PROT_READ | PROT_WRITE, 0x19000))),
    ("/lib64/ld-2.5.so", 0x1D000, ((0x3DC3A00000, 0x1C000, PROT_READ | PROT_EXEC, 0),
                                   (0x3DC3C1B000, 0x1000, PROT_READ, 0x1B000),
                                   (0x3DC3C1C000, 0x1000, PROT_READ | PROT_WRITE, 0x1C000))),
    ("/lib64/libc-2.5.so", 0x14F000, ((0x3DC3E00000, 0x14E000, PROT_READ | PROT_EXEC, 0),
                                      (0x3DC414E000, 0x4000, PROT_READ, 0x14A000),
                                      (0x3DC4152000, 0x1000, PROT_READ | PROT_WRITE, 0x14E000))),
)


def _install_files(k: Kernel) -> None:
    s = k.init.sys
    for path, size, _segs in LIBRARIES:
        fd = s.open(path, O_CREAT | O_WRONLY, 0o755)
        s.write(fd, b"\x7fELF")
        s.ftruncate(fd, size)
        s.close(fd)


def load(task: Task) -> int:
    """Map every library segment like ld.so would, plus heap-like, stack-like and shared anonymous memory.

    Returns the address of the shared anonymous region.
    """
    s = task.sys
    for path, _size, segs in LIBRARIES:
        fd = s.open(path, O_RDONLY)
        for addr, length, prot, off in segs:
            s.mmap(addr, length, prot, MAP_PRIVATE | MAP_FIXED, fd, off)
        s.close(fd)
    s.mmap(0x1E4F000, 0x21000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)   # "heap"
    return s.mmap(0, 0x140000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS)


def build_demo_machine(version: str | None = None) -> tuple[Kernel, Task]:
    """A kernel with the demo files and one `ls` process of uid 1000 that has loaded its libraries."""
    from simkernel.machine import Kernel
    k = Kernel(version=version)
    _install_files(k)
    app = k.spawn("ls", uid=1000, gid=1000)
    load(app)
    return k, app


# observer label, spawn arguments
OBSERVERS: tuple[tuple[str, dict[str, object]], ...] = (
    ("root (all capabilities)", dict(uid=0, gid=0)),
    ("uid 1000 (same user, no caps)", dict(uid=1000, gid=1000)),
    ("uid 1000 + CAP_CHECKPOINT_RESTORE", dict(uid=1000, gid=1000, caps=[CAP_CHECKPOINT_RESTORE])),
    ("uid 1001 (another user)", dict(uid=1001, gid=1001)),
    ("uid 1001 + CAP_DAC_READ_SEARCH", dict(uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH])),
    ("uid 1001 + DAC_READ_SEARCH,SYS_PTRACE", dict(uid=1001, gid=1001,
                                                   caps=[CAP_DAC_READ_SEARCH, CAP_SYS_PTRACE])),
    ("root without CAP_SYS_PTRACE", dict(uid=0, gid=0, caps=[c for c in range(41) if c != CAP_SYS_PTRACE])),
)


def _try(fn: Callable[[], object]) -> tuple[str, str | None]:
    try:
        fn()
        return "ok", None
    except OSError as err:
        return err.errno and format_errno(err).split(" ")[0] or "?", getattr(err, "explain", None)


def permission_story(k: Kernel, app: Task) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """For each observer: the outcome of listdir, readlink and open(O_RDONLY) of one entry."""
    d = f"/proc/{app.pid}/map_files"
    entry = f"{d}/{0x3DC3E00000:x}-{0x3DC3E00000 + 0x14E000:x}"
    rows = []
    for label, kw in OBSERVERS:
        o = k.spawn("observer", **kw)  # type: ignore[arg-type]

        def do_open(o: Task = o) -> None:
            o.sys.close(o.sys.open(entry, O_RDONLY))
        rows.append((label, [_try(lambda o=o: o.sys.listdir(d)), _try(lambda o=o: o.sys.readlink(entry)),
                             _try(do_open)]))
        o.sys.exit(0)
    return rows


def run_demo(out: TextIO, version: str | None = None) -> int:
    """Print the demo; returns the exit status."""
    import simkernel
    k, app = build_demo_machine(version)
    w = out.write
    w(f"simkernel {simkernel.__version__}: a model of Linux {k.version.name} procfs, "
      f"/proc/<pid>/map_files (commit 640708a2cff7, v3.3)\n\n")
    w("== Tasks ==\n")
    w(f"{'PID':>5} {'COMM':<8} {'UID r/e/s/fs':<20} {'GID r/e/s/fs':<20} {'CapEff':<18} dumpable\n")
    for t in sorted(k.tasks.values(), key=lambda t: t.pid):
        c = t.cred
        dump = t.mm.dumpable if t.mm is not None else "-"
        w(f"{t.pid:>5} {t.comm:<8} {f'{c.uid}/{c.euid}/{c.suid}/{c.fsuid}':<20} "
          f"{f'{c.gid}/{c.egid}/{c.sgid}/{c.fsgid}':<20} {c.cap_effective:016x}   {dump}\n")
    w(f"\n== cat /proc/{app.pid}/maps (as root) ==\n")
    w(cat(k.init, f"/proc/{app.pid}/maps"))
    w(f"\n== ls -l /proc/{app.pid}/map_files (as root) ==\n")
    for line in ls_l(k.init, f"/proc/{app.pid}/map_files"):
        w(line + "\n")
    w(f"\n== Who may look at process {app.pid} ({app.comm}, uid 1000)? ==\n")
    w(f"{'observer':<40} {'list':<8} {'readlink':<9} {'open':<8}\n")
    notes: list[str] = []
    for label, results in permission_story(k, app):
        w(f"{label:<40} " + " ".join(f"{r:<8}" for r, _ in results) + "\n")
        for (r, why), op in zip(results, ("list", "readlink", "open")):
            if why and why not in notes:
                notes.append(why)
                w(f"{'':<6}{op}: {why}\n")
    w("\nlist and readlink need PTRACE_MODE_READ_FSCREDS; open (following the link) additionally needs\n"
      "CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the initial user namespace (fs/proc/base.c).\n")
    return 0
