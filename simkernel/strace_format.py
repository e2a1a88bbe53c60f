"""One strace line per system call: a formatter per syscall hook name, and `format_syscall` that runs it.

`format_syscall("mmap", (0, 8192, 1, 2, 3, 0), 0x7f0000000000)` ==
"mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 3, 0) = 0x7f0000000000"; `strace_name("open", ...)` == "openat".

Carved from simkernel/strace.py (the decoders it uses are in simkernel/strace_xlat.py).  Tracer machinery:
simkernel/trace.py lists this module among the modules never recorded.
"""

from __future__ import annotations

import os
import stat as pystat
from typing import Any, Callable

from simkernel.errors import KernelError, errno_name
from simkernel.strace_xlat import (_AMBIENT, _AT, _CLONE, _DUMPABLE, _MFD, _MREMAP, _MS, _PR, _S_IFMT, _SECBITS,
                                   _SEEK, _SIGNALS, _WAIT, AT_FDCWD, USER_BUF, _addr, _dfd, _mode, _path, caps_text,
                                   mmap_flags, open_flags, prot, stat_struct, wait_status)
from simkernel.trace_render import capability_name, flags, quote
from simkernel.uapi import errno as E

__all__ = ["format_syscall", "strace_name", "Fmt"]


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
    option, a2, a3, a4, a5 = a
    name = _PR.get(option, str(option))
    cap = lambda c: capability_name(c) if isinstance(c, int) else str(c)  # noqa: E731
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
