"""Helpers for the VFS unit tests: a booted kernel, files and directories made as root with chosen owners."""

from __future__ import annotations

from typing import Any

import simkernel
from simkernel.uapi import O_CREAT, O_TRUNC, O_WRONLY

__all__ = ["boot", "mkfile", "mkdir", "names", "fresh_dir"]


def boot() -> simkernel.Kernel:
    return simkernel.Kernel()


def mkfile(k: Any, path: str, mode: int = 0o644, uid: int = 0, gid: int = 0, data: bytes = b"data") -> None:
    """A regular file made by init: contents, then owner, then mode (chown would clear set-id bits)."""
    s = k.init.sys
    fd = s.open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    s.write(fd, data)
    s.close(fd)
    s.chown(path, uid, gid)
    s.chmod(path, mode)


def mkdir(k: Any, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
    s = k.init.sys
    s.mkdir(path, 0o700)
    s.chown(path, uid, gid)
    s.chmod(path, mode)


def names(batch: list[tuple[str, int, int, int]]) -> list[str]:
    return [n for n, _ino, _t, _off in batch]


def fresh_dir(k: Any, path: str = "/tmp/t", mode: int = 0o777) -> str:
    mkdir(k, path, mode)
    return path
