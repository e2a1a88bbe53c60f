"""An strace-style log of the system calls made on a simulated kernel.

    >>> import simkernel
    >>> from simkernel.uapi import O_RDONLY
    >>> k = simkernel.Kernel()
    >>> with k.strace() as st:
    ...     try:
    ...         k.init.sys.open("/nonexistent", O_RDONLY)
    ...     except FileNotFoundError:
    ...         pass
    >>> print(st)
    openat(AT_FDCWD, "/nonexistent", O_RDONLY) = -1 ENOENT (No such file or directory)

Each line is what `strace -f` prints for the call the kernel received: the syscall's kernel name
(`openat`, `newfstatat`, `getdents64`, `exit`), its arguments decoded as strace decodes them (flags by
name in strace's order, strings quoted with C escapes and cut at 32 bytes with `...`, paths whole, results
of out-parameters such as readlink's buffer or the stat structure), then `= result` or
`= -1 EACCES (Permission denied)`.  The log is per kernel (`[pid N]` prefixes when several tasks appear) and
per task (`st.lines(task)`).

Simplifications: user-space buffer addresses do not exist in the model; where strace would print a pointer
(a failed read's buffer, getdents64's buffer, execve's envp) the fixed stand-in `USER_BUF` is printed.
The syscall chosen for a Python call is the one CPython on glibc makes (`os.open` -> openat, `os.stat` ->
newfstatat, `os.listdir` -> openat + getdents64 + close, `exit` -> exit).

Hook: one layer on `kernel.hooks["syscall"]` (see simkernel/trace.py), installed only inside the block.
"""

from __future__ import annotations

import os
import stat as pystat
from typing import TYPE_CHECKING, Any, Callable

from simkernel.errors import KernelError, errno_name
from simkernel.trace import SyscallLayer
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Strace", "StraceEntry", "format_syscall", "strace_name", "quote", "USER_BUF", "STRING_LIMIT"]

USER_BUF = "0x7ffc5a5a0000"   # stand-in for a user buffer address (the model has none)
STRING_LIMIT = 32             # strace -s 32 (the default)
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


# -- primitives -----------------------------------------------------------------------------------------------

def flags(value: int, table: tuple[tuple[str, int], ...], zero: str = "0") -> str:
    """strace's printflags: names in table order, then the unknown rest in hex; `zero` for 0.

    Example: flags(0x22, _MAP_FLAGS) == "MAP_ANONYMOUS|0x2".
    """
    if value == 0:
        return zero
    parts, rest = [], value
    for name, bit in table:
        if bit and rest & bit == bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def quote(data: str | bytes, limit: int | None = STRING_LIMIT) -> str:
    """A C string as strace prints it: "\\177ELF\\2\\1" with octal escapes; `limit` bytes, then "...".

    Examples: quote(b"hi\\n") == '"hi\\\\n"'; quote(b"\\x7fELF\\x02") == '"\\\\177ELF\\\\2"'.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    cut = limit is not None and len(data) > limit
    if cut:
        data = data[:limit]  # type: ignore[index]
    out = []
    special = {0x22: '\\"', 0x5C: "\\\\", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r"}
    for i, b in enumerate(data):
        if b in special:
            out.append(special[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            nxt = data[i + 1] if i + 1 < len(data) else None
            if nxt is not None and 0x30 <= nxt <= 0x37:
                out.append(f"\\{b:03o}")
            else:
                out.append(f"\\{b:o}")
    return '"' + "".join(out) + '"' + ("..." if cut else "")


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
    from simkernel.uapi.capability import CAP_NAMES
    if mask == 0:
        return "0"
    parts = [f"1<<{CAP_NAMES[c].upper()}" if c in CAP_NAMES else f"1<<{c}" for c in range(64) if mask >> c & 1]
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


# -- one formatter per syscall hook name --------------------------------------------------------------------
# Each takes (args as passed to the kernel function, result or None, failed) and returns
# (strace name, [argument texts], result text on success or None for the default decimal).

Fmt = Callable[[tuple[Any, ...], Any, bool], "tuple[str, list[str], str | None]"]


def _f_open(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    dfd, path, fl, mode = a
    args = [_dfd(dfd), _path(path), open_flags(fl)]
    if fl & 0o100 or fl & 0o20000000 == 0o20000000:
        args.append(_mode(mode))
    return "openat", args, None


def _f_read(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    fd, n = a
    return "read", [str(fd), USER_BUF if failed else quote(r), str(n)], None if failed else str(len(r))


def _f_pread(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    fd, n, off = a
    return "pread64", [str(fd), USER_BUF if failed else quote(r), str(n), str(off)], \
        None if failed else str(len(r))


def _f_write(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    fd, data = a
    return "write", [str(fd), quote(data), str(len(data))], None


def _f_lseek(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    fd, pos, how = a
    return "lseek", [str(fd), str(pos), _SEEK.get(how, str(how))], None


def _f_fstatat(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    dfd, path, fl = a
    return "newfstatat", [_dfd(dfd), _path(path), USER_BUF if failed else stat_struct(r),
                          flags(fl, _AT)], "0"


def _f_fstat(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    (fd,) = a
    return "fstat", [str(fd), USER_BUF if failed else stat_struct(r)], "0"


def _f_readlink(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    dfd, path, bufsiz = a
    buf = USER_BUF if failed else quote(r, bufsiz)
    if dfd == AT_FDCWD:
        return "readlink", [_path(path), buf, str(bufsiz)], None if failed else str(len(r))
    return "readlinkat", [str(dfd), _path(path), buf, str(bufsiz)], None if failed else str(len(r))


def _f_getdents(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    from simkernel.fs.readdir import dirent64_reclen
    fd, count = a
    if failed:
        return "getdents64", [str(fd), USER_BUF, str(count)], None
    n = len(r)
    size = sum(dirent64_reclen(e[0]) for e in r)
    return "getdents64", [str(fd), f"{USER_BUF} /* {n} entr{'y' if n == 1 else 'ies'} */", str(count)], str(size)


def _f_path_mode(sname: str) -> Fmt:
    def fmt(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
        dfd, path, mode = a[0], a[1], a[2]
        if dfd == AT_FDCWD:
            return sname, [_path(path), _mode(mode)], "0"
        return sname + "at", [str(dfd), _path(path), _mode(mode)], "0"
    return fmt


def _f_path1(sname: str) -> Fmt:
    def fmt(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
        return sname, [_path(a[-1] if sname in ("rmdir", "unlink") else a[0])], "0"
    return fmt


def _f_two_paths(sname: str) -> Fmt:
    def fmt(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
        if sname == "symlink":
            return sname, [_path(a[0]), _path(a[2])], "0"
        return sname, [_path(a[1]), _path(a[3])], "0"
    return fmt


def _f_mknod(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    _dfd_, path, mode, dev = a
    fmt = _S_IFMT.get(pystat.S_IFMT(mode))
    m = f"{fmt}|{pystat.S_IMODE(mode):04o}" if fmt else _mode(mode)
    args = [_path(path), m]
    if pystat.S_ISCHR(mode) or pystat.S_ISBLK(mode):
        args.append(f"makedev({os.major(dev):#x}, {os.minor(dev):#x})")
    return "mknod", args, "0"


def _f_chown(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    _dfd_, path, uid, gid, _fl = a
    return "chown", [_path(path), str(uid), str(gid)], "0"


def _f_getcwd(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    if failed:
        return "getcwd", [USER_BUF, "4096"], None
    return "getcwd", [quote(r, None), "4096"], str(len(r.encode("utf-8", "surrogateescape")) + 1)


def _f_mount(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    source, target, fstype, fl, data = a
    return "mount", [_path(source), _path(target), _path(fstype), flags(fl, _MS),
                     quote(data) if data else "NULL"], "0"


def _f_mmap(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    addr, length, p, fl, fd, off = a
    return "mmap", [_addr(addr), str(length), prot(p), mmap_flags(fl), str(fd), hex(off) if off else "0"], \
        None if failed else hex(r)


def _f_munmap(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    addr, length = a
    return "munmap", [_addr(addr), str(length)], "0"


def _f_mprotect(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    addr, length, p = a
    return "mprotect", [_addr(addr), str(length), prot(p)], "0"


def _f_mremap(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    old, old_size, new_size, fl, new_addr = a
    args = [_addr(old), str(old_size), str(new_size), flags(fl, _MREMAP)]
    if fl & 2:
        args.append(_addr(new_addr))
    return "mremap", args, None if failed else hex(r)


def _f_memfd(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    name, fl = a
    return "memfd_create", [quote(name), flags(fl, _MFD)], None


def _f_fork(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    return "fork", [], None if failed else str(r.pid)


def _f_clone(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    (fl,) = a
    text = flags(fl & ~0xFF, _CLONE, "")
    sig = fl & 0xFF
    if sig:
        text = (text + "|" if text else "") + _SIGNALS.get(sig, str(sig))
    return "clone", ["child_stack=NULL", f"flags={text or '0'}"], None if failed else str(r.pid)


def _f_execve(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    path, argv, envp = a
    arr = "[" + ", ".join(quote(x) for x in argv) + "]"
    return "execve", [_path(path), arr, f"{USER_BUF} /* {len(envp)} var{'' if len(envp) == 1 else 's'} */"], "0"


def _f_exit(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    (code,) = a
    return "exit", [str((code >> 8) & 0xFF)], "?"


def _f_wait4(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    pid, options = a
    status = USER_BUF if failed or not r[0] else wait_status(r[1])
    return "wait4", [str(pid), status, flags(options, _WAIT), "NULL"], None if failed else str(r[0])


def _f_unshare(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    return "unshare", [flags(a[0], _CLONE)], "0"


def _f_ids(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    return "", [str(x) for x in a], None


def _f_getres(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    if failed:
        return "", [USER_BUF] * 3, None
    return "", [f"[{x}]" for x in r], "0"


def _f_getgroups(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    return "getgroups", ["65536", "[" + ", ".join(map(str, r)) + "]" if not failed else USER_BUF], \
        None if failed else str(len(r))


def _f_setgroups(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    (groups,) = a
    return "setgroups", [str(len(groups)), "[" + ", ".join(map(str, groups)) + "]"], "0"


_CAP_HEADER = "{version=_LINUX_CAPABILITY_VERSION_3, pid=%d}"


def _f_capget(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    (pid,) = a
    if failed:
        return "capget", [_CAP_HEADER % pid, USER_BUF], None
    eff, perm, inh = r
    return "capget", [_CAP_HEADER % pid, f"{{effective={caps_text(eff)}, permitted={caps_text(perm)}, "
                                        f"inheritable={caps_text(inh)}}}"], "0"


def _f_capset(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    pid, eff, perm, inh = a
    return "capset", [_CAP_HEADER % pid, f"{{effective={caps_text(eff)}, permitted={caps_text(perm)}, "
                                        f"inheritable={caps_text(inh)}}}"], "0"


def _f_prctl(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    from simkernel.uapi.capability import CAP_NAMES
    option, a2, a3, a4, a5 = a
    name = _PR.get(option, str(option))
    cap = lambda c: CAP_NAMES[c].upper() if isinstance(c, int) and c in CAP_NAMES else str(c)  # noqa: E731
    ret = None
    if option in (3, 7, 16, 27, 39):          # PR_GET_*: no arguments
        args = [name] if option != 16 else [name, USER_BUF]
        if option == 3 and not failed:
            ret = f"{r} ({_DUMPABLE[r]})" if r in _DUMPABLE else str(r)
    elif option == 4:
        args = [name, _DUMPABLE.get(a2, str(a2))]
    elif option == 15:
        args = [name, quote(a2) if isinstance(a2, (str, bytes)) else str(a2)]
    elif option in (23, 24):
        args = [name, cap(a2)]
    elif option == 28:
        args = [name, flags(a2, _SECBITS)]
    elif option == 47:
        args = [name, _AMBIENT.get(a2, str(a2)), cap(a3) if a2 in (1, 2, 3) else str(a3), str(a4), str(a5)]
    elif option == 38:
        args = [name, str(a2), str(a3), str(a4), str(a5)]
    else:
        args = [name, str(a2)]
    return "prctl", args, ret


_FORMATTERS: dict[str, Fmt] = {
    "open": _f_open, "openat": _f_open, "read": _f_read, "pread": _f_pread, "write": _f_write,
    "lseek": _f_lseek, "stat": _f_fstatat, "fstatat": _f_fstatat, "fstat": _f_fstat,
    "readlink": _f_readlink, "getdents64": _f_getdents,
    "close": lambda a, r, f: ("close", [str(a[0])], "0"),
    "ftruncate": lambda a, r, f: ("ftruncate", [str(a[0]), str(a[1])], "0"),
    "mkdir": _f_path_mode("mkdir"), "chmod": _f_path_mode("chmod"),
    "rmdir": _f_path1("rmdir"), "unlink": _f_path1("unlink"), "chdir": _f_path1("chdir"),
    "chroot": _f_path1("chroot"),
    "fchdir": lambda a, r, f: ("fchdir", [str(a[0])], "0"),
    "rename": _f_two_paths("rename"), "link": _f_two_paths("link"), "symlink": _f_two_paths("symlink"),
    "mknod": _f_mknod, "chown": _f_chown, "getcwd": _f_getcwd, "mount": _f_mount,
    "mmap": _f_mmap, "munmap": _f_munmap, "mprotect": _f_mprotect, "mremap": _f_mremap,
    "memfd_create": _f_memfd, "fork": _f_fork, "clone": _f_clone, "execve": _f_execve, "exit": _f_exit,
    "waitpid": _f_wait4, "unshare": _f_unshare, "getresuid": _f_getres, "getresgid": _f_getres,
    "getgroups": _f_getgroups, "setgroups": _f_setgroups, "capget": _f_capget, "capset": _f_capset,
    "prctl": _f_prctl,
}
for _n in ("getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "setuid", "setgid",
           "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid"):
    _FORMATTERS[_n] = _f_ids


def _generic(a: tuple[Any, ...], r: Any, failed: bool) -> tuple[str, list[str], str | None]:
    return "", [quote(x, None) if isinstance(x, (str, bytes)) else str(x) for x in a], None


def strace_name(name: str, args: tuple[Any, ...]) -> str:
    """The syscall strace names for a hook name: strace_name("open", ...) == "openat"."""
    fmt = _FORMATTERS.get(name)
    if fmt is None:
        return name
    try:
        return fmt(args, None, True)[0] or name
    except (TypeError, ValueError):
        return name


def format_syscall(name: str, args: tuple[Any, ...], result: Any = None, error: KernelError | None = None) -> str:
    """One strace line for the syscall hook's `name` and kernel-function `args`.

    Example: format_syscall("mmap", (0, 8192, 1, 2, 3, 0), 0x7f0000000000) ==
    "mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f0000000000".
    """
    fmt = _FORMATTERS.get(name, _generic)
    failed = error is not None
    sname, argv, ok = fmt(args, result, failed)
    sname = sname or name
    call = f"{sname}({', '.join(argv)})"
    if failed:
        assert error is not None
        strerror = E.STRERROR.get(error.errno, f"Unknown error {error.errno}")
        return f"{call} = -1 {errno_name(error.errno)} ({strerror})"
    if ok is not None:
        return f"{call} = {ok}"
    if isinstance(result, bool) or result is None:
        return f"{call} = 0"
    if isinstance(result, int):
        return f"{call} = {result}"
    return f"{call} = 0"  # pragma: no cover - every result type has a formatter above


# -- the log --------------------------------------------------------------------------------------------------

class StraceEntry:
    """One logged call: the task, the strace text, and the errno and explanation of a failure."""

    __slots__ = ("pid", "name", "text", "errno", "explain")

    def __init__(self, pid: int, name: str, text: str, errno: int | None, explain: str | None) -> None:
        self.pid = pid
        self.name = name
        self.text = text
        self.errno = errno
        self.explain = explain

    def __repr__(self) -> str:
        return f"<StraceEntry [pid {self.pid}] {self.text}>"


class Strace(SyscallLayer):
    """The strace log of one kernel while active: `with k.strace() as st: ...`, then `print(st)`.

    Args:
        kernel: the kernel to watch.
        task: log only this task's calls (like `strace -p PID`); None logs every task (`strace -f`).
    """

    def __init__(self, kernel: Kernel, task: Task | None = None) -> None:
        self.kernel = kernel
        self.task = task
        self.entries: list[StraceEntry] = []
        self.active = False

    _what = "strace log"

    def _layer(self, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...],
               call_next: Callable[..., Any]) -> Any:
        if self.task is not None and current is not self.task:
            return call_next(fn, current, *args)
        try:
            result = call_next(fn, current, *args)
        except KernelError as err:
            self.entries.append(StraceEntry(current.pid, name, format_syscall(name, args, None, err), err.errno,
                                            err.explain))
            raise
        self.entries.append(StraceEntry(current.pid, name, format_syscall(name, args, result), None, None))
        if name == "exit":
            self.entries.append(StraceEntry(current.pid, "", f"+++ exited with {(args[0] >> 8) & 0xFF} +++",
                                            None, None))
        return result

    def lines(self, task: Task | int | None = None) -> list[str]:
        """The log lines; of one task (no prefix) or of all (`[pid N] ` prefixes when several tasks appear)."""
        if task is not None:
            pid = task if isinstance(task, int) else task.pid
            return [e.text for e in self.entries if e.pid == pid]
        if len({e.pid for e in self.entries}) <= 1:
            return [e.text for e in self.entries]
        return [f"[pid {e.pid:>5}] {e.text}" for e in self.entries]

    def failures(self) -> list[StraceEntry]:
        """The failed calls, each with its errno and `explain`."""
        return [e for e in self.entries if e.errno is not None]

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"<Strace {'active' if self.active else 'closed'}: {len(self.entries)} calls>"

    def _repr_html_(self) -> str:
        from simkernel.display import strace_html
        return strace_html(self)
