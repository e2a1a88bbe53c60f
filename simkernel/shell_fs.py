"""The shell's file commands: ls, cat, readlink, stat, cd, pwd, touch, echo, rm, mkdir, chmod (a mixin of
simkernel.shell.Shell, carved from simkernel/shell.py), and the coreutils-like formatting they print with.
"""

from __future__ import annotations

import os
import stat as pystat
import time
from typing import Callable

from simkernel.shell_base import ShellBase, Usage, _options, parse_size
from simkernel.uapi import fcntl as F
from simkernel.userspace import cat

__all__ = ["FileCommands"]

_SIX_MONTHS = 31556952 // 2     # coreutils ls: older (or newer) than this shows the year instead of the time


# -- coreutils-like formatting ---------------------------------------------------------------------------

def _major(dev: int) -> int:
    return ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~0xFFF)


def _minor(dev: int) -> int:
    return (dev & 0xFF) | ((dev >> 12) & ~0xFF)


def _ls_time(mtime: float, now: float) -> str:
    """`Jan 10 23:00` for a time within six months of now, `Jan 10  2012` otherwise (coreutils ls)."""
    tm = time.gmtime(mtime)
    if now - _SIX_MONTHS < mtime <= now:
        return time.strftime("%b %e %H:%M", tm)
    return time.strftime("%b %e  %Y", tm)


def _stat_time(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d} +0000"


def _file_type(st: os.stat_result) -> str:
    m = st.st_mode
    if pystat.S_ISREG(m):
        return "regular file" if st.st_size else "regular empty file"
    for test, name in ((pystat.S_ISDIR, "directory"), (pystat.S_ISLNK, "symbolic link"),
                       (pystat.S_ISCHR, "character special file"), (pystat.S_ISBLK, "block special file"),
                       (pystat.S_ISFIFO, "fifo"), (pystat.S_ISSOCK, "socket")):
        if test(m):
            return name
    return "weird file"


def _join(d: str, name: str) -> str:
    """The path of `name` in directory `d`, as ls prints it: `/tmp` + `f` -> `/tmp/f`, `/` + `tmp` -> `/tmp`."""
    return d.rstrip("/") + "/" + name if d != "/" else "/" + name


def _quote(path: str) -> str:
    """coreutils' shell-escape quoting in the C locale, for the plain names simkernel makes: 'PATH'."""
    return "'" + path.replace("'", "'\\''") + "'"


def _chmod_what(path: str, e: OSError) -> str:
    """chmod's words for a failure: `chmod: cannot access 'PATH'` when it is missing, else
    `chmod: changing permissions of 'PATH'`."""
    what = "cannot access" if isinstance(e, FileNotFoundError) else "changing permissions of"
    return f"chmod: {what} {_quote(path)}"


class FileCommands(ShellBase):
    """do_ls, do_cat, do_readlink, do_stat, do_cd, do_pwd, do_touch, do_echo, do_rm, do_mkdir, do_chmod."""

    def do_ls(self, args: list[str]) -> int:
        opts, paths = _options(args, flags=("-l", "-a", "-d"))
        long, show_all, as_file = "-l" in opts, "-a" in opts, "-d" in opts
        s = self.task.sys
        status = 0
        files: list[tuple[str, os.stat_result | None]] = []
        dirs: list[str] = []
        for p in paths or ["."]:
            try:
                st = s.lstat(p) if long or as_file else self._stat_or_lstat(p)
            except OSError as e:
                status = self._oserror(f"ls: cannot access {_quote(p)}: {e.strerror}", e)
                continue
            if pystat.S_ISDIR(st.st_mode) and not as_file:
                dirs.append(p)
            else:
                files.append((p, st))
        files.sort()
        if files:
            self._ls_entries("", files, long, header=False)
        for i, d in enumerate(sorted(dirs)):
            if files or len(dirs) > 1:
                self._print(("\n" if files or i else "") + f"{d}:")
            try:
                names = s.listdir(d)
            except OSError as e:
                status = self._oserror(f"ls: cannot open directory {_quote(d)}: {e.strerror}", e)
                continue
            names = sorted(n for n in names + ([".", ".."] if show_all else []) if show_all or n[0] != ".")
            entries: list[tuple[str, os.stat_result | None]] = []
            for n in names:
                full = _join(d, n)
                if not long:
                    entries.append((n, None))
                    continue
                try:
                    entries.append((n, s.lstat(full)))
                except OSError as e:
                    status = self._oserror(f"ls: cannot access {_quote(full)}: {e.strerror}", e)
                    entries.append((n, None))
            status = self._ls_entries(d, entries, long, header=True) or status
        return status

    def _stat_or_lstat(self, path: str) -> os.stat_result:
        try:
            return self.task.sys.stat(path)
        except FileNotFoundError:
            return self.task.sys.lstat(path)   # a dangling symlink is still listed

    def _ls_entries(self, d: str, entries: list[tuple[str, os.stat_result | None]], long: bool,
                    header: bool) -> int:
        if not long:
            for n, _ in entries:
                self._print(n)
            return 0
        status = 0
        users, groups = self._names()
        now = self.k.clock_ns / 1e9
        rows: list[list[str]] = []
        for n, st in entries:
            full = _join(d, n) if d else n
            if st is None:
                rows.append(["??????????", "?", "?", "?", "?", "           ?", n])
                continue
            size = (f"{_major(st.st_rdev)}, {_minor(st.st_rdev)}"
                    if pystat.S_ISCHR(st.st_mode) or pystat.S_ISBLK(st.st_mode) else str(st.st_size))
            name = n
            if pystat.S_ISLNK(st.st_mode):
                try:
                    name += " -> " + self.task.sys.readlink(full)
                except OSError as e:
                    status = self._oserror(f"ls: cannot read symbolic link {_quote(full)}: {e.strerror}", e)
            rows.append([pystat.filemode(st.st_mode), str(st.st_nlink), users.get(st.st_uid, str(st.st_uid)),
                         groups.get(st.st_gid, str(st.st_gid)), size, _ls_time(st.st_mtime, now), name])
        if header:
            blocks = sum(getattr(st, "st_blocks", 0) for _, st in entries if st is not None)
            self._print(f"total {blocks // 2}")
        w = [max((len(r[i]) for r in rows), default=0) for i in range(5)]
        for r in rows:
            self._print(f"{r[0]} {r[1]:>{w[1]}} {r[2]:<{w[2]}} {r[3]:<{w[3]}} {r[4]:>{w[4]}} {r[5]} {r[6]}")
        return status

    def _each(self, paths: list[str], action: Callable[[str], object],
              what: Callable[[str, OSError], str]) -> int:
        """Run `action` on every path as coreutils do: a failure prints `what(path, error): strerror` and the
        next path still runs; the status is 1 if any failed."""
        status = 0
        for p in paths:
            try:
                action(p)
            except OSError as e:
                status = self._oserror(f"{what(p, e)}: {e.strerror}", e)
        return status

    def do_cat(self, args: list[str]) -> int:
        if not args:
            raise Usage("missing file operand")
        status = self._each(args, lambda p: self._stdout.write(cat(self.task, p)), lambda p, e: f"cat: {p}")
        self._stdout.flush()
        return status

    def do_readlink(self, args: list[str]) -> int:
        if not args:
            raise Usage("missing operand")
        return self._each(args, lambda p: self._print(self.task.sys.readlink(p)), lambda p, e: f"readlink: {p}")

    def do_stat(self, args: list[str]) -> int:
        opts, paths = _options(args, flags=("-L",))
        if not paths:
            raise Usage("missing operand")
        status = 0
        users, groups = self._names()
        for p in paths:
            try:
                st = self.task.sys.stat(p) if "-L" in opts else self.task.sys.lstat(p)
                link = f" -> {self.task.sys.readlink(p)}" if pystat.S_ISLNK(st.st_mode) else ""
            except OSError as e:
                status = self._oserror(f"stat: cannot statx {_quote(p)}: {e.strerror}", e)
                continue
            dev = st.st_dev
            special = pystat.S_ISCHR(st.st_mode) or pystat.S_ISBLK(st.st_mode)
            links = (f"Links: {st.st_nlink:<5} Device type: {_major(st.st_rdev)},{_minor(st.st_rdev)}"
                     if special else f"Links: {st.st_nlink}")
            self._print(f"  File: {p}{link}")
            self._print(f"  Size: {st.st_size:<10}\tBlocks: {st.st_blocks:<10} IO Block: {st.st_blksize:<6} "
                        f"{_file_type(st)}")
            self._print(f"Device: {_major(dev)},{_minor(dev)}\tInode: {st.st_ino:<11} {links}")
            self._print(f"Access: ({pystat.S_IMODE(st.st_mode):04o}/{pystat.filemode(st.st_mode)})  "
                        f"Uid: ({st.st_uid:>5}/{users.get(st.st_uid, 'UNKNOWN'):>8})   "
                        f"Gid: ({st.st_gid:>5}/{groups.get(st.st_gid, 'UNKNOWN'):>8})")
            for label, ns in (("Access", st.st_atime_ns), ("Modify", st.st_mtime_ns), ("Change", st.st_ctime_ns)):
                self._print(f"{label}: {_stat_time(ns)}")
            self._print(" Birth: -")
        return status

    def do_cd(self, args: list[str]) -> int:
        if len(args) > 1:
            raise Usage("too many arguments")
        path = args[0] if args else "/"
        try:
            self.task.sys.chdir(path)
        except OSError as e:
            return self._oserror(f"cd: {path}: {e.strerror}", e)
        return 0

    def do_pwd(self, args: list[str]) -> int:
        if args:
            raise Usage("too many arguments")
        try:
            self._print(self.task.sys.getcwd())
        except OSError as e:
            return self._oserror(f"pwd: error retrieving current directory: getcwd: {e.strerror}", e)
        return 0

    def do_touch(self, args: list[str]) -> int:
        _, args = _options(args)
        if not 1 <= len(args) <= 2:
            raise Usage("" if args else "missing file operand")
        path = args[0]
        size = parse_size(args[1]) if len(args) == 2 else None
        s = self.task.sys
        try:
            if size is None:
                try:
                    s.stat(path)
                    return 0            # Simplification: touch's time update (utimensat) is not modelled
                except FileNotFoundError:
                    pass
            fd = s.open(path, F.O_WRONLY | F.O_CREAT, 0o666)
            try:
                if size is not None:
                    s.ftruncate(fd, size)
            finally:
                s.close(fd)
        except OSError as e:
            return self._oserror(f"touch: cannot touch {_quote(path)}: {e.strerror}", e)
        return 0

    def do_echo(self, args: list[str]) -> int:
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        self._stdout.write(" ".join(args) + ("\n" if newline else ""))
        return 0

    def do_rm(self, args: list[str]) -> int:
        if not args:
            raise Usage("missing operand")
        return self._each(args, lambda p: self.task.sys.unlink(p), lambda p, e: f"rm: cannot remove {_quote(p)}")

    def do_mkdir(self, args: list[str]) -> int:
        opts, paths = _options(args, flags=("-p",))
        if not paths:
            raise Usage("missing operand")
        status = 0
        for p in paths:
            todo = [p]
            if "-p" in opts:
                parts = [x for x in p.split("/") if x]
                todo = [("/" if p.startswith("/") else "") + "/".join(parts[:i + 1]) for i in range(len(parts))]
            for q in todo:
                try:
                    self.task.sys.mkdir(q, 0o777)
                except FileExistsError as e:
                    if "-p" not in opts:
                        status = self._oserror(f"mkdir: cannot create directory {_quote(q)}: {e.strerror}", e)
                except OSError as e:
                    status = self._oserror(f"mkdir: cannot create directory {_quote(q)}: {e.strerror}", e)
                    break
        return status

    def do_chmod(self, args: list[str]) -> int:
        if len(args) < 2:
            raise Usage("missing operand")
        try:
            mode = int(args[0], 8)
        except ValueError:
            raise Usage(f"invalid mode: {_quote(args[0])} (octal modes only)") from None
        return self._each(args[1:], lambda p: self.task.sys.chmod(p, mode), _chmod_what)
