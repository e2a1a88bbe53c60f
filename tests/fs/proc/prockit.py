"""Small builders for the procfs unit tests: a booted kernel, a target with file mappings, path helpers."""

from __future__ import annotations

from typing import Any

import attrs

import simkernel
from simkernel.fs.namei import LOOKUP_FOLLOW, filename_lookup
from simkernel.uapi import MAP_FIXED_NOREPLACE, MAP_PRIVATE, MAP_SHARED, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY
from simkernel.uapi import PR_SET_DUMPABLE, PROT_READ, PROT_WRITE
from simkernel.versions import VERSIONS, resolve_version

__all__ = ["BASE", "PAGE", "Setup", "setup", "kernel", "rng", "mf", "dentry_of", "profile"]

BASE = 0x7E0000000000
PAGE = 4096


def rng(start: int, end: int) -> str:
    return f"{start:x}-{end:x}"


def mf(t: Any, name: str = "") -> str:
    base = f"/proc/{t.pid}/map_files"
    return f"{base}/{name}" if name else base


def profile(base: str = "6.18.44", **switches: Any) -> Any:
    """A version profile derived from a known one with some switches changed."""
    return attrs.evolve(resolve_version(base), name=f"{base}-test", **switches)


def kernel(version: Any = None) -> simkernel.Kernel:
    k = simkernel.Kernel(version=version)
    s = k.init.sys
    s.mkdir("/srv/mf", 0o755)
    for name, mode in (("ro", 0o644), ("rw", 0o666)):
        fd = s.open(f"/srv/mf/{name}", O_CREAT | O_WRONLY, mode)
        s.ftruncate(fd, 4 * PAGE)
        s.close(fd)
        s.chmod(f"/srv/mf/{name}", mode)
    return k


@attrs.define
class Setup:
    k: simkernel.Kernel
    t: Any                 # the target (uid 1000 unless said otherwise)
    root: Any              # a root observer
    ro: str                # name of the read-only private mapping (2 pages at BASE)
    rw: str                # name of the read-write shared mapping (1 page at BASE + 4 pages)
    anon: str              # name of a private anonymous mapping (1 page at BASE + 8 pages)


def setup(uid: int = 1000, version: Any = None, dumpable: int = 1) -> Setup:
    """A kernel whose target maps /srv/mf/ro (O_RDONLY, private), /srv/mf/rw (O_RDWR, shared) and an
    anonymous page at fixed addresses."""
    k = kernel(version)
    t = k.spawn("target", uid=uid, gid=uid)
    s = t.sys
    fd = s.open("/srv/mf/ro", O_RDONLY)
    s.mmap(BASE, 2 * PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 0)
    fd2 = s.open("/srv/mf/rw", O_RDWR)
    s.mmap(BASE + 4 * PAGE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd2, 0)
    s.mmap(BASE + 8 * PAGE, PAGE, PROT_READ, MAP_PRIVATE | 0x20 | MAP_FIXED_NOREPLACE)
    if dumpable != 1:
        s.prctl(PR_SET_DUMPABLE, dumpable)
    root = k.spawn("root")
    return Setup(k, t, root, rng(BASE, BASE + 2 * PAGE), rng(BASE + 4 * PAGE, BASE + 5 * PAGE),
                 rng(BASE + 8 * PAGE, BASE + 9 * PAGE))


def dentry_of(t: Any, path: str, follow: bool = False) -> Any:
    """The dentry a walk by `t` ends on (kernel-level, no syscall)."""
    return filename_lookup(t, -100, path, LOOKUP_FOLLOW if follow else 0).dentry


assert "6.18" in VERSIONS
