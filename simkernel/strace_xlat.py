"""strace's decoders: the flag tables (strace's src/xlat order, x86-64 values) and the printers built on them.

`open_flags(0o2000102)` == "O_RDWR|O_CREAT|O_CLOEXEC", `mmap_flags`, `prot`, `caps_text`, `stat_struct`,
`wait_status`; the per-syscall formatters of simkernel/strace_format.py compose them into argument lists.

Carved from simkernel/strace.py (its tables and primitives; `flags` and `quote` are in
simkernel/trace_render.py, shared with the tracer).  Tracer machinery: simkernel/trace.py lists this module
among the modules never recorded.
"""

from __future__ import annotations

import os
import stat as pystat
from typing import Any

from simkernel.trace_render import capability_name, flags, quote

__all__ = ["USER_BUF", "AT_FDCWD", "open_flags", "mmap_flags", "prot", "caps_text", "stat_struct", "wait_status"]

USER_BUF = "0x7ffc5a5a0000"   # stand-in for a user buffer address (the model has none)
AT_FDCWD = -100

_O_ACCMODE = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}
# strace's src/xlat/open_mode_flags.in order (x86-64 values); O_TMPFILE before O_DIRECTORY
_O_FLAGS = (("O_CREAT", 0o100), ("O_EXCL", 0o200), ("O_NOCTTY", 0o400), ("O_TRUNC", 0o1000),
            ("O_APPEND", 0o2000), ("O_NONBLOCK", 0o4000), ("O_SYNC", 0o4010000), ("O_DSYNC", 0o10000),
            ("O_DIRECT", 0o40000), ("O_LARGEFILE", 0o100000), ("O_NOFOLLOW", 0o400000),
            ("O_NOATIME", 0o1000000), ("O_CLOEXEC", 0o2000000), ("O_PATH", 0o10000000),
            ("O_TMPFILE", 0o20200000), ("O_DIRECTORY", 0o200000), ("FASYNC", 0o20000))
_PROT = (("PROT_READ", 0x1), ("PROT_WRITE", 0x2), ("PROT_EXEC", 0x4), ("PROT_SEM", 0x8),
         ("PROT_GROWSDOWN", 0x01000000), ("PROT_GROWSUP", 0x02000000))
_MAP_TYPE = {0x1: "MAP_SHARED", 0x2: "MAP_PRIVATE", 0x3: "MAP_SHARED_VALIDATE"}
# strace's src/xlat/mmap_flags.in order (x86-64), after the mapping type
_MAP_FLAGS = (("MAP_DROPPABLE", 0x8), ("MAP_FIXED", 0x10), ("MAP_ANONYMOUS", 0x20), ("MAP_32BIT", 0x40),
              ("MAP_ABOVE4G", 0x80), ("MAP_NORESERVE", 0x4000), ("MAP_POPULATE", 0x8000),
              ("MAP_NONBLOCK", 0x10000), ("MAP_GROWSDOWN", 0x100), ("MAP_DENYWRITE", 0x800),
              ("MAP_EXECUTABLE", 0x1000), ("MAP_LOCKED", 0x2000), ("MAP_STACK", 0x20000),
              ("MAP_HUGETLB", 0x40000), ("MAP_SYNC", 0x80000), ("MAP_UNINITIALIZED", 0x4000000),
              ("MAP_FIXED_NOREPLACE", 0x100000))
_MREMAP = (("MREMAP_MAYMOVE", 1), ("MREMAP_FIXED", 2), ("MREMAP_DONTUNMAP", 4))
_MFD = (("MFD_CLOEXEC", 1), ("MFD_ALLOW_SEALING", 2), ("MFD_HUGETLB", 4), ("MFD_NOEXEC_SEAL", 8),
        ("MFD_EXEC", 0x10))
_AT = (("AT_SYMLINK_NOFOLLOW", 0x100), ("AT_REMOVEDIR", 0x200), ("AT_SYMLINK_FOLLOW", 0x400),
       ("AT_NO_AUTOMOUNT", 0x800), ("AT_EMPTY_PATH", 0x1000))
_CLONE = (("CLONE_VM", 0x100), ("CLONE_FS", 0x200), ("CLONE_FILES", 0x400), ("CLONE_SIGHAND", 0x800),
          ("CLONE_PIDFD", 0x1000), ("CLONE_PTRACE", 0x2000), ("CLONE_VFORK", 0x4000),
          ("CLONE_PARENT", 0x8000), ("CLONE_THREAD", 0x10000), ("CLONE_NEWNS", 0x20000),
          ("CLONE_SYSVSEM", 0x40000), ("CLONE_SETTLS", 0x80000), ("CLONE_PARENT_SETTID", 0x100000),
          ("CLONE_CHILD_CLEARTID", 0x200000), ("CLONE_UNTRACED", 0x800000),
          ("CLONE_CHILD_SETTID", 0x1000000), ("CLONE_NEWCGROUP", 0x2000000), ("CLONE_NEWUTS", 0x4000000),
          ("CLONE_NEWIPC", 0x8000000), ("CLONE_NEWUSER", 0x10000000), ("CLONE_NEWPID", 0x20000000),
          ("CLONE_NEWNET", 0x40000000), ("CLONE_IO", 0x80000000))
_MS = (("MS_RDONLY", 1), ("MS_NOSUID", 2), ("MS_NODEV", 4), ("MS_NOEXEC", 8), ("MS_SYNCHRONOUS", 16),
       ("MS_REMOUNT", 32), ("MS_MANDLOCK", 64), ("MS_DIRSYNC", 128), ("MS_NOSYMFOLLOW", 256),
       ("MS_NOATIME", 1024), ("MS_NODIRATIME", 2048), ("MS_BIND", 4096), ("MS_MOVE", 8192),
       ("MS_REC", 16384), ("MS_SILENT", 32768), ("MS_UNBINDABLE", 1 << 17), ("MS_PRIVATE", 1 << 18),
       ("MS_SLAVE", 1 << 19), ("MS_SHARED", 1 << 20), ("MS_RELATIME", 1 << 21), ("MS_STRICTATIME", 1 << 24),
       ("MS_LAZYTIME", 1 << 25))
_WAIT = (("WNOHANG", 1), ("WUNTRACED", 2), ("WCONTINUED", 8), ("__WNOTHREAD", 0x20000000),
         ("__WALL", 0x40000000), ("__WCLONE", 0x80000000))
_SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE",
            14: "SIGALRM", 15: "SIGTERM", 17: "SIGCHLD"}
_SEEK = {0: "SEEK_SET", 1: "SEEK_CUR", 2: "SEEK_END", 3: "SEEK_DATA", 4: "SEEK_HOLE"}
_S_IFMT = {0o140000: "S_IFSOCK", 0o120000: "S_IFLNK", 0o100000: "S_IFREG", 0o060000: "S_IFBLK",
           0o040000: "S_IFDIR", 0o020000: "S_IFCHR", 0o010000: "S_IFIFO"}
_PR = {3: "PR_GET_DUMPABLE", 4: "PR_SET_DUMPABLE", 7: "PR_GET_KEEPCAPS", 8: "PR_SET_KEEPCAPS",
       15: "PR_SET_NAME", 16: "PR_GET_NAME", 23: "PR_CAPBSET_READ", 24: "PR_CAPBSET_DROP",
       27: "PR_GET_SECUREBITS", 28: "PR_SET_SECUREBITS", 38: "PR_SET_NO_NEW_PRIVS", 39: "PR_GET_NO_NEW_PRIVS",
       47: "PR_CAP_AMBIENT", 0x59616D61: "PR_SET_PTRACER"}
_DUMPABLE = {0: "SUID_DUMP_DISABLE", 1: "SUID_DUMP_USER", 2: "SUID_DUMP_ROOT"}
_AMBIENT = {1: "PR_CAP_AMBIENT_IS_SET", 2: "PR_CAP_AMBIENT_RAISE", 3: "PR_CAP_AMBIENT_LOWER",
            4: "PR_CAP_AMBIENT_CLEAR_ALL"}
_SECBITS = (("SECBIT_NOROOT", 1), ("SECBIT_NOROOT_LOCKED", 2), ("SECBIT_NO_SETUID_FIXUP", 4),
            ("SECBIT_NO_SETUID_FIXUP_LOCKED", 8), ("SECBIT_KEEP_CAPS", 16), ("SECBIT_KEEP_CAPS_LOCKED", 32),
            ("SECBIT_NO_CAP_AMBIENT_RAISE", 64), ("SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED", 128))


def _path(p: Any) -> str:
    if isinstance(p, (str, bytes)):
        return quote(p, None)
    return USER_BUF if p is not None else "NULL"


def _dfd(fd: int) -> str:
    return "AT_FDCWD" if fd == AT_FDCWD else str(fd)


def _mode(mode: int) -> str:
    """Permission bits as strace prints them: 0644, 000."""
    return f"0{mode:o}" if mode else "000"


def _addr(a: int) -> str:
    return "NULL" if a == 0 else hex(a)


def open_flags(f: int) -> str:
    """openat's flags: access mode first, then strace's order: O_RDWR|O_CREAT|O_CLOEXEC."""
    acc = _O_ACCMODE.get(f & 3)
    rest = f & ~3
    text = flags(rest, _O_FLAGS, "")
    if acc is None:
        return flags(f, _O_FLAGS)
    return acc + ("|" + text if text else "")


def mmap_flags(f: int) -> str:
    """MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS: the mapping type, then the flags."""
    typ = _MAP_TYPE.get(f & 0xF & ~0x8)
    rest = f & ~0x3 if typ else f
    text = flags(rest, _MAP_FLAGS, "")
    if typ is None:
        return text or "0"
    return typ + ("|" + text if text else "")


def prot(p: int) -> str:
    return flags(p, _PROT, "PROT_NONE")


def caps_text(mask: int) -> str:
    """capget/capset sets as strace prints them: 1<<CAP_CHOWN|1<<CAP_KILL, or 0."""
    if mask == 0:
        return "0"
    parts = [f"1<<{capability_name(c)}" for c in range(64) if mask >> c & 1]
    return "|".join(parts)


def stat_struct(st: os.stat_result) -> str:
    """{st_mode=S_IFREG|0644, st_size=8192, ...}; devices show st_rdev instead of the size."""
    fmt = _S_IFMT.get(pystat.S_IFMT(st.st_mode), f"0{pystat.S_IFMT(st.st_mode):o}")
    mode = f"{fmt}|{pystat.S_IMODE(st.st_mode):04o}"
    if pystat.S_ISCHR(st.st_mode) or pystat.S_ISBLK(st.st_mode):
        return f"{{st_mode={mode}, st_rdev=makedev({os.major(st.st_rdev):#x}, {os.minor(st.st_rdev):#x}), ...}}"
    return f"{{st_mode={mode}, st_size={st.st_size}, ...}}"


def wait_status(status: int) -> str:
    """[{WIFEXITED(s) && WEXITSTATUS(s) == 0}] for a wait status word."""
    sig = status & 0x7F
    if sig == 0:
        return f"[{{WIFEXITED(s) && WEXITSTATUS(s) == {(status >> 8) & 0xFF}}}]"
    if sig != 0x7F:
        core = " && WCOREDUMP(s)" if status & 0x80 else ""
        return f"[{{WIFSIGNALED(s) && WTERMSIG(s) == {_SIGNALS.get(sig, sig)}{core}}}]"
    return f"[{status:#x}]"
