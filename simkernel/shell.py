"""`python -m simkernel shell`: a prompt over a simulated kernel, with the commands a learner types.

Every command runs as the *acting task* (the prompt shows it: `uid1000@simkernel:pid 2:/tmp$ `) through that
task's system calls, so what it prints is what Linux would show that process: `ls -l /proc/2/map_files` as
root lists the links, as another uid it fails the way coreutils reports it
(`ls: cannot open directory '/proc/2/map_files': Permission denied`), and `why` names the check that said no.

    $ python -m simkernel shell
    uid0@simkernel:pid 1:/# spawn app --uid 1000
    2
    uid0@simkernel:pid 1:/# as 2
    uid1000@simkernel:pid 2:/# touch /tmp/f 8192
    uid1000@simkernel:pid 2:/# mmap /tmp/f
    0x7ffff7ffe000
    uid1000@simkernel:pid 2:/# ls -l /proc/2/map_files

Scripts: `python -m simkernel shell SCRIPT` or lines on stdin (no prompt then).  `$PID` is the last spawned
pid, `$ADDR`-`$END` the last mapped range (hex, as map_files names it), `$SELF` the acting pid, `$?` the last
status.  `CMD > PATH` and
`CMD >> PATH` write a command's output to a simulated file as the acting task.  Statuses: 0 ok, 1 the
command failed, 2 bad usage; `--exit-on-error` stops at the first failure with status 1.

Error lines follow coreutils (C locale quoting); `readlink` reports its error as `readlink -v` does.
Simplification: `ls` prints one name per line (as when its output is not a terminal) and times in UTC.
"""

from __future__ import annotations

import io
import os
import shlex
import stat as pystat
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Iterable, TextIO

from simkernel.uapi import capability as C
from simkernel.uapi import fcntl as F
from simkernel.uapi import mman as M
from simkernel.uapi import prctl as P
from simkernel.shell_debug import DEBUG_COMMANDS, DebugCommands
from simkernel.userspace import cat, passwd_names, ps

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Shell", "run_shell", "COMMANDS", "parse_prot", "parse_size", "parse_addr", "parse_caps",
           "prot_string", "Usage"]

HOSTNAME = "simkernel"
_SIX_MONTHS = 31556952 // 2     # coreutils ls: older (or newer) than this shows the year instead of the time


class Usage(Exception):
    """A command was typed wrong: the shell prints its usage line (status 2)."""


class _Quit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


# -- argument parsing ------------------------------------------------------------------------------------

def parse_size(text: str) -> int:
    """A length: decimal, 0x-hex, or with a K/M/G suffix (`"8k"` == 8192, `"0x2000"` == 8192)."""
    t = text.strip().lower()
    mult = 1
    if t and t[-1] in "kmg":
        mult, t = 1 << (10 * ("kmg".index(t[-1]) + 1)), t[:-1]
    try:
        value = int(t, 0) * mult
    except ValueError:
        raise Usage(f"not a size: {text!r}") from None
    if value < 0:
        raise Usage(f"not a size: {text!r}")
    return value


def parse_addr(text: str) -> int:
    """An address, hexadecimal with or without 0x, as maps and map_files print them: `"7e0000000000"`."""
    t = text.strip().lower()
    try:
        return int(t[2:] if t.startswith("0x") else t, 16)
    except ValueError:
        raise Usage(f"not an address: {text!r}") from None


def parse_range(text: str, length: str | None) -> tuple[int, int]:
    """(address, length) from `ADDR LEN` or from a map_files name `START-END` (then without LEN)."""
    if "-" in text and length is None:
        start, _, end = text.partition("-")
        lo, hi = parse_addr(start), parse_addr(end)
        return lo, hi - lo
    if length is None:
        raise Usage("missing length")
    return parse_addr(text), parse_size(length)


def parse_prot(text: str) -> int:
    """`r`, `rw`, `rx`, `rwx`, `r-x`, `none` or a number -> PROT_* bits."""
    t = text.strip().lower()
    if t in ("none", "---", "0"):
        return M.PROT_NONE
    if t.isdigit() or t.startswith("0x"):
        return int(t, 0)
    prot = 0
    for ch in t:
        if ch == "-":
            continue
        if ch not in "rwx":
            raise Usage(f"not a protection: {text!r} (use r, rw, rx, rwx or none)")
        prot |= {"r": M.PROT_READ, "w": M.PROT_WRITE, "x": M.PROT_EXEC}[ch]
    return prot


def prot_string(prot: int) -> str:
    """PROT_READ|PROT_EXEC -> 'PROT_READ|PROT_EXEC'."""
    names = [n for bit, n in ((M.PROT_READ, "PROT_READ"), (M.PROT_WRITE, "PROT_WRITE"),
                              (M.PROT_EXEC, "PROT_EXEC")) if prot & bit]
    return "|".join(names) or "PROT_NONE"


_CAP_BY_NAME = {name: num for num, name in C.CAP_NAMES.items()}


def parse_caps(text: str) -> list[int]:
    """`CAP_SYS_PTRACE,dac_read_search,19` -> [19, 2, 19]; `none` or `""` -> []; `all` -> every capability."""
    t = text.strip().lower()
    if t in ("", "none"):
        return []
    if t == "all":
        return list(range(C.CAP_LAST_CAP + 1))
    caps = []
    for part in t.split(","):
        part = part.strip()
        name = part if part.startswith("cap_") else f"cap_{part}"
        if part.isdigit() and int(part) <= C.CAP_LAST_CAP:
            caps.append(int(part))
        elif name in _CAP_BY_NAME:
            caps.append(_CAP_BY_NAME[name])
        else:
            raise Usage(f"unknown capability {part!r}")
    return caps


def cap_names(mask: int) -> str:
    """A capability mask in words: 'cap_dac_read_search,cap_sys_ptrace', 'none' or 'all'."""
    if mask & C.CAP_FULL_SET == C.CAP_FULL_SET:
        return "all"
    names = [C.CAP_NAMES[c] for c in range(C.CAP_LAST_CAP + 1) if mask >> c & 1]
    return ",".join(names) or "none"


def _options(args: list[str], flags: Iterable[str] = (), valued: Iterable[str] = ()) -> tuple[dict[str, Any],
                                                                                             list[str]]:
    """A small getopt: flags (`-l`, `--shared`; short ones combine: `-la`) and valued options (`--uid 5`,
    `--uid=5`); `--` ends the options.  Unknown options are a Usage error."""
    flags, valued = set(flags), set(valued)
    opts: dict[str, Any] = {}
    pos: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--":
            pos.extend(it)
            break
        if a.startswith("--"):
            name, eq, value = a.partition("=")
            if name in valued:
                if not eq:
                    value = next(it, None)  # type: ignore[assignment]
                    if value is None:
                        raise Usage(f"option {name} needs a value")
                opts[name] = value
            elif name in flags and not eq:
                opts[name] = True
            else:
                raise Usage(f"unknown option {a}")
        elif a.startswith("-") and len(a) > 1 and not a[1].isdigit():
            for ch in a[1:]:
                if f"-{ch}" not in flags:
                    raise Usage(f"unknown option -{ch}")
                opts[f"-{ch}"] = True
        else:
            pos.append(a)
    return opts, pos


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


def _quote(path: str) -> str:
    """coreutils' shell-escape quoting in the C locale, for the plain names simkernel makes: 'PATH'."""
    return "'" + path.replace("'", "'\\''") + "'"


# -- the command table -----------------------------------------------------------------------------------

# name -> (usage, one-line summary); the method is Shell.do_<name with - as _>
COMMANDS: dict[str, tuple[str, str]] = {
    "ls": ("ls [-l] [-a] [-d] [PATH...]", "list a directory (as the acting task)"),
    "cat": ("cat PATH...", "print files"),
    "readlink": ("readlink PATH...", "print symbolic link targets"),
    "stat": ("stat [-L] PATH...", "show a file's inode (lstat; -L follows links)"),
    "cd": ("cd [PATH]", "change the acting task's working directory"),
    "pwd": ("pwd", "print the acting task's working directory"),
    "ps": ("ps", "list the processes the acting task can see in /proc"),
    "spawn": ("spawn NAME [--uid N] [--gid N] [--groups G,G] [--caps CAP,CAP] [--parent PID] [--no-dumpable]",
              "start a process (fork of init, then setgroups/setresgid/setresuid); prints its pid"),
    "as": ("as PID", "act as process PID from now on (also: su PID; su alone acts as init)"),
    "su": ("su [PID]", "same as `as`; without PID, act as init (pid 1)"),
    "whoami": ("whoami", "the acting task's user name"),
    "id": ("id", "the acting task's uids, gids, groups, capabilities and dumpable flag"),
    "mmap": ("mmap PATH [--prot r|rw|rx|rwx|none] [--shared] [--at ADDR] [--len N] [--offset N]",
             "map a file into the acting task; prints the address"),
    "mmap-anon": ("mmap-anon [LEN] [--prot P] [--shared] [--at ADDR] [--len N]",
                  "map anonymous memory into the acting task; prints the address"),
    "munmap": ("munmap ADDR LEN | munmap START-END", "unmap a range of the acting task"),
    "mprotect": ("mprotect ADDR LEN PROT | mprotect START-END PROT", "change the protection of a range"),
    "touch": ("touch PATH [SIZE]", "create a file (and set its size)"),
    "echo": ("echo [-n] TEXT... [> PATH]", "print text (or write it to a file with > or >>)"),
    "rm": ("rm PATH...", "remove files"),
    "mkdir": ("mkdir [-p] PATH...", "make directories"),
    "chmod": ("chmod MODE PATH...", "change a file's mode (octal MODE)"),
    "prctl": ("prctl dumpable [0|1] | prctl name [NAME]", "read or set the acting task's dumpable flag or name"),
    "exit-task": ("exit-task [STATUS]", "the acting process exits (exit_group); act as its parent or init"),
    "trace": ("trace on [DEPTH] | trace off | trace", "show the kernel call graph of every command"),
    "why": ("why", "explain the last error: which kernel check said no"),
    **DEBUG_COMMANDS,
    "help": ("help [COMMAND]", "list the commands, or show one command's usage"),
    "quit": ("quit [STATUS]", "leave the shell (also: exit, or end of input)"),
}
_ALIASES = {"exit": "quit", "setpriv": "as"}


class Shell(DebugCommands):
    """The shell's state: a kernel, the acting task, variables, the last error and the tracer.

    Args:
        kernel: the kernel to drive (default: a new one of `version`, booted with the lock validator and
            the refcount ledger so that `dmesg` has something to say).
        version: kernel release profile for a new kernel.
        out, err: where output and error lines go.
        exit_on_error: stop at the first failing command (`run` then returns 1).
    """

    def __init__(self, kernel: Kernel | None = None, *, version: str | None = None, out: TextIO | None = None,
                 err: TextIO | None = None, exit_on_error: bool = False) -> None:
        from simkernel.machine import Kernel
        self.k = kernel if kernel is not None else Kernel(version=version, lockdep=True, ref_tracker=True)
        self.task: Task = self.k.init
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.exit_on_error = exit_on_error
        self.status = 0
        self.vars: dict[str, str] = {"PID": "", "ADDR": "", "END": ""}
        self.last_error: tuple[str, OSError] | None = None
        self.tracing: int | None | bool = False   # False: off; None: full depth; int: max depth
        self.last_trace: Any = None
        self.tracer_factory: Callable[..., Any] | None = getattr(self.k, "trace", None)
        self._stdout: TextIO = self.out

    # -- the prompt and the loop ---------------------------------------------------------------------------
    def prompt(self) -> str:
        """`uid1000@simkernel:pid 2:/tmp$ ` (no system call: the prompt must not move the clock)."""
        from simkernel.fs.d_path import d_unlinked, prepend_path
        t = self.task
        cwd, _ = prepend_path(t.fs.pwd, t.fs.root)
        if d_unlinked(t.fs.pwd.dentry):
            cwd += " (deleted)"
        euid = t.cred.euid
        return f"uid{euid}@{HOSTNAME}:pid {t.pid}:{cwd}{'#' if euid == 0 else '$'} "

    def run(self, lines: Iterable[str]) -> int:
        """Run script lines; returns the exit status (the last command's, or 1 at a failure with
        exit_on_error, or the `quit` status)."""
        for line in lines:
            try:
                status = self.execute(line)
            except _Quit as q:
                return q.status
            if status and self.exit_on_error:
                return 1
        return self.status

    def interact(self) -> int:
        """The interactive loop: prompt, readline history and completion when available."""
        _setup_readline()
        while True:
            try:
                line = input(self.prompt())
            except EOFError:
                self.out.write("\n")
                return self.status
            except KeyboardInterrupt:
                self.out.write("^C\n")
                continue
            try:
                status = self.execute(line)
            except _Quit as q:
                return q.status
            if status and self.exit_on_error:
                return 1

    # -- one line -----------------------------------------------------------------------------------------
    def execute(self, line: str) -> int:
        """Parse and run one line; returns its status (also kept in `self.status` and `$?`)."""
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            return self._set_status(self._error(f"sh: syntax error: {e}", 2))
        if not words:
            return self.status
        name = _ALIASES.get(words[0], words[0])
        if name not in COMMANDS:
            return self._set_status(self._error(f"sh: {words[0]}: command not found (try help)", 2))
        try:
            args, redirect = self._redirect([self._expand(w) for w in words[1:]])
        except Usage as u:
            return self._set_status(self._error(f"{name}: {u}\nusage: {COMMANDS[name][0]}", 2))
        method = getattr(self, "do_" + name.replace("-", "_"))
        status = self._run_command(name, method, args, redirect)
        return self._set_status(status)

    def _set_status(self, status: int) -> int:
        self.status = status
        return status

    def _run_command(self, name: str, method: Callable[[list[str]], int], args: list[str],
                     redirect: tuple[str, bool] | None) -> int:
        fd = None
        if redirect is not None:
            path, append = redirect
            flags = F.O_WRONLY | F.O_CREAT | (F.O_APPEND if append else F.O_TRUNC)
            try:
                fd = self.task.sys.open(path, flags, 0o666)
            except OSError as e:
                return self._oserror(f"sh: {path}: {e.strerror}", e)
            self._stdout = io.StringIO()
        quiet = name in ("trace", "why")
        trace = self._start_trace() if self.tracing is not False and not quiet else None
        try:
            status = self._call(name, method, args)
        finally:
            if trace is not None:
                trace.__exit__(None, None, None)
            if not quiet:
                self.last_trace = trace
            if fd is not None:
                text, self._stdout = self._stdout.getvalue(), self.out  # type: ignore[attr-defined]
                try:
                    self.task.sys.write(fd, text.encode())
                finally:
                    self.task.sys.close(fd)
        if trace is not None:
            self.out.write(f"--- trace of `{name}` ({len(trace.calls)} system calls) ---\n")
            self.out.write(str(trace) + ("\n" if str(trace) else ""))
        return status

    def _call(self, name: str, method: Callable[[list[str]], int], args: list[str]) -> int:
        """Run one command; every failure becomes an error line and a status, never a traceback."""
        try:
            return method(args)
        except _CommandFailed as e:
            return self._error(f"{name}: {e}", 1)
        except Usage as u:
            msg = f"{name}: {u}\n" if str(u) else ""
            return self._error(f"{msg}usage: {COMMANDS[name][0]}", 2)
        except OSError as e:   # a call the command did not expect to fail
            return self._oserror(f"{name}: {e.strerror}", e)
        except _Quit:
            raise
        except Exception as e:  # a simulator bug: one line, never a traceback
            return self._error(f"{name}: simulator error: {type(e).__name__}: {e}", 1)

    def _expand(self, word: str) -> str:
        """$PID, $ADDR, $END, $SELF, $? and ${NAME}."""
        if "$" not in word:
            return word
        values = dict(self.vars, SELF=str(self.task.pid))
        values["?"] = str(self.status)
        for key in sorted(values, key=len, reverse=True):
            word = word.replace("${" + key + "}", values[key]).replace("$" + key, values[key])
        if "$" in word:
            raise Usage(f"unknown variable in {word!r} (known: $PID $ADDR $END $SELF $?)")
        return word

    @staticmethod
    def _redirect(args: list[str]) -> tuple[list[str], tuple[str, bool] | None]:
        """Split off `> PATH` / `>> PATH` (also `>PATH`)."""
        for i, a in enumerate(args):
            if a.startswith(">"):
                append = a.startswith(">>")
                rest = a[2:] if append else a[1:]
                tail = args[i + 1:]
                if rest:
                    tail = [rest] + tail
                if len(tail) != 1:
                    raise Usage("redirection needs exactly one PATH after > or >>")
                return args[:i], (tail[0], append)
        return args, None

    # -- output helpers -----------------------------------------------------------------------------------
    def _print(self, text: str = "") -> None:
        self._stdout.write(text + "\n")

    def _error(self, text: str, status: int = 1) -> int:
        self.err.write(text + "\n")
        self.err.flush()
        return status

    def _oserror(self, text: str, e: OSError) -> int:
        """Print a coreutils-style error line and remember it for `why`."""
        self.last_error = (text, e)
        return self._error(text, 1)

    def _start_trace(self) -> Any:
        kwargs = {} if self.tracing is None else {"max_depth": self.tracing}
        try:
            tr = self.tracer_factory(**kwargs)  # type: ignore[misc]
            tr.__enter__()
        except Exception as e:  # noqa: BLE001 - a broken tracer must not break the shell
            self.tracing = False
            self._error(f"trace: {type(e).__name__}: {e}; tracing is off")
            return None
        return tr

    def _names(self) -> tuple[dict[int, str], dict[int, str]]:
        return passwd_names(self.task)

    # -- files --------------------------------------------------------------------------------------------
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
                full = d.rstrip("/") + "/" + n if d != "/" else "/" + n
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
            full = n if not d else (d.rstrip("/") + "/" + n if d != "/" else "/" + n)
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

    def do_cat(self, args: list[str]) -> int:
        if not args:
            raise Usage("missing file operand")
        status = 0
        for p in args:
            try:
                self._stdout.write(cat(self.task, p))
            except OSError as e:
                status = self._oserror(f"cat: {p}: {e.strerror}", e)
        self._stdout.flush()
        return status

    def do_readlink(self, args: list[str]) -> int:
        if not args:
            raise Usage("missing operand")
        status = 0
        for p in args:
            try:
                self._print(self.task.sys.readlink(p))
            except OSError as e:
                status = self._oserror(f"readlink: {p}: {e.strerror}", e)
        return status

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
        status = 0
        for p in args:
            try:
                self.task.sys.unlink(p)
            except OSError as e:
                status = self._oserror(f"rm: cannot remove {_quote(p)}: {e.strerror}", e)
        return status

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
        status = 0
        for p in args[1:]:
            try:
                self.task.sys.chmod(p, mode)
            except OSError as e:
                what = "cannot access" if isinstance(e, FileNotFoundError) else "changing permissions of"
                status = self._oserror(f"chmod: {what} {_quote(p)}: {e.strerror}", e)
        return status

    # -- processes and credentials ------------------------------------------------------------------------
    def do_ps(self, args: list[str]) -> int:
        if args:
            raise Usage("no options are supported")
        try:
            lines = ps(self.task)
        except OSError as e:
            return self._oserror(f"ps: /proc: {e.strerror}", e)
        for line in lines:
            self._print(line)
        return 0

    def do_spawn(self, args: list[str]) -> int:
        opts, pos = _options(args, flags=("--no-dumpable",),
                             valued=("--uid", "--gid", "--groups", "--caps", "--parent"))
        if len(pos) != 1:
            raise Usage("give one NAME")
        try:
            uid = int(opts.get("--uid", 0))
            gid = int(opts.get("--gid", uid))
            groups = [int(g) for g in opts["--groups"].split(",") if g] if "--groups" in opts else []
        except ValueError:
            raise Usage("uids, gids and groups are numbers") from None
        caps = parse_caps(opts["--caps"]) if "--caps" in opts else None
        parent = self._task_arg(opts["--parent"]) if "--parent" in opts else None
        try:
            t = self.k.spawn(pos[0], uid=uid, gid=gid, groups=groups, caps=caps, parent=parent,
                             dumpable="--no-dumpable" not in opts)
        except OSError as e:
            return self._oserror(f"spawn: {e.strerror}", e)
        self.vars["PID"] = str(t.pid)
        self._print(str(t.pid))
        return 0

    def _task_arg(self, text: str) -> Task:
        from simkernel.kernel.task import TASK_RUNNING
        try:
            pid = int(text)
        except ValueError:
            raise Usage(f"not a pid: {text!r}") from None
        t = self.k.find_task(pid)
        if t is None:
            raise _CommandFailed(f"no such process: {pid}")
        if t.state != TASK_RUNNING:
            raise _CommandFailed(f"process {pid} has exited ({t.state})")
        return t

    def do_as(self, args: list[str]) -> int:
        if len(args) != 1:
            raise Usage("give one PID")
        self.task = self._task_arg(args[0])
        return 0

    def do_su(self, args: list[str]) -> int:
        if len(args) > 1:
            raise Usage("give at most one PID")
        return self.do_as(args or [str(self.k.init.pid)])

    def do_whoami(self, args: list[str]) -> int:
        if args:
            raise Usage("extra operand")
        euid = self.task.sys.geteuid()
        self._print(self._names()[0].get(euid, str(euid)))
        return 0

    def do_id(self, args: list[str]) -> int:
        if args:
            raise Usage("extra operand")
        s = self.task.sys
        users, groups = self._names()
        (ruid, euid, suid), (rgid, egid, sgid) = s.getresuid(), s.getresgid()
        u = lambda i: f"{i}({users[i]})" if i in users else str(i)  # noqa: E731
        g = lambda i: f"{i}({groups[i]})" if i in groups else str(i)  # noqa: E731
        line = f"uid={u(ruid)} gid={g(rgid)}"
        if euid != ruid:
            line += f" euid={u(euid)}"
        if egid != rgid:
            line += f" egid={g(egid)}"
        supp = [egid] + [x for x in s.getgroups() if x != egid]
        self._print(line + " groups=" + ",".join(g(x) for x in supp))
        cred = self.task.cred
        self._print(f"suid={suid} fsuid={cred.fsuid} sgid={sgid} fsgid={cred.fsgid}")
        eff, prm, inh = s.capget()
        for label, mask in (("CapEff", eff), ("CapPrm", prm), ("CapInh", inh), ("CapBnd", cred.cap_bset),
                            ("CapAmb", cred.cap_ambient)):
            self._print(f"{label}: {cap_names(mask)}")
        self._print(f"dumpable: {s.prctl(P.PR_GET_DUMPABLE)}")
        return 0

    def do_prctl(self, args: list[str]) -> int:
        if not args or args[0] not in ("dumpable", "name") or len(args) > 2:
            raise Usage("")
        s = self.task.sys
        try:
            if args[0] == "dumpable":
                if len(args) == 1:
                    self._print(str(s.prctl(P.PR_GET_DUMPABLE)))
                elif args[1].isdigit():
                    s.prctl(P.PR_SET_DUMPABLE, int(args[1]))
                else:
                    raise Usage(f"not a number: {args[1]!r}")
            elif len(args) == 1:
                self._print(self.task.comm)
            else:
                s.prctl(P.PR_SET_NAME, args[1])
        except OSError as e:
            return self._oserror(f"prctl: {e.strerror}", e)
        return 0

    def do_exit_task(self, args: list[str]) -> int:
        if len(args) > 1 or (args and not args[0].isdigit()):
            raise Usage("")
        from simkernel.kernel.task import TASK_RUNNING
        t = self.task
        if t is self.k.init:
            return self._error("exit-task: pid 1 is init: the kernel would panic; `as PID` another task first")
        t.sys.exit_group(int(args[0]) if args else 0)
        parent = t.real_parent
        self.task = parent if parent is not None and parent.state == TASK_RUNNING else self.k.init
        self._print(f"process {t.pid} exited ({t.state}); acting as pid {self.task.pid}")
        return 0

    # -- memory ---------------------------------------------------------------------------------------------
    def do_mmap(self, args: list[str]) -> int:
        opts, pos = _options(args, flags=("--shared",), valued=("--prot", "--at", "--len", "--offset"))
        if len(pos) != 1:
            raise Usage("give one PATH")
        path = pos[0]
        prot = parse_prot(opts.get("--prot", "r"))
        shared = "--shared" in opts
        offset = parse_size(opts.get("--offset", "0"))
        s = self.task.sys
        mode = F.O_RDWR if shared and prot & M.PROT_WRITE else F.O_RDONLY
        try:
            fd = s.open(path, mode)
        except OSError as e:
            return self._oserror(f"mmap: {path}: {e.strerror}", e)
        try:
            if "--len" in opts:
                length = parse_size(opts["--len"])
            else:
                size = s.fstat(fd).st_size - offset
                if size <= 0:
                    raise Usage(f"{path} has no bytes at offset {offset}: give --len")
                length = (size + M.PAGE_SIZE - 1) & M.PAGE_MASK
            return self._mmap(opts, length, prot, M.MAP_SHARED if shared else M.MAP_PRIVATE, fd, offset)
        finally:
            s.close(fd)

    def do_mmap_anon(self, args: list[str]) -> int:
        opts, pos = _options(args, flags=("--shared",), valued=("--prot", "--at", "--len"))
        if len(pos) > 1 or (pos and "--len" in opts):
            raise Usage("give LEN once")
        length = parse_size(pos[0] if pos else opts.get("--len", str(M.PAGE_SIZE)))
        prot = parse_prot(opts.get("--prot", "rw"))
        flags = (M.MAP_SHARED if "--shared" in opts else M.MAP_PRIVATE) | M.MAP_ANONYMOUS
        return self._mmap(opts, length, prot, flags, -1, 0)

    def _mmap(self, opts: dict[str, Any], length: int, prot: int, flags: int, fd: int, offset: int) -> int:
        addr = 0
        if "--at" in opts:
            addr = parse_addr(opts["--at"])
            flags |= M.MAP_FIXED
        try:
            got = self.task.sys.mmap(addr, length, prot, flags, fd, offset)
        except OSError as e:
            names = [n for bit, n in ((M.MAP_SHARED, "MAP_SHARED"), (M.MAP_PRIVATE, "MAP_PRIVATE"),
                                      (M.MAP_FIXED, "MAP_FIXED"), (M.MAP_ANONYMOUS, "MAP_ANONYMOUS"))
                     if flags & bit]
            return self._oserror(f"mmap: mmap({addr:#x}, {length:#x}, {prot_string(prot)}, {'|'.join(names)}, "
                                 f"{fd}, {offset:#x}): {e.strerror}", e)
        self.vars["ADDR"], self.vars["END"] = f"{got:x}", f"{got + length:x}"
        self._print(f"{got:#x}")
        return 0

    def do_munmap(self, args: list[str]) -> int:
        if not 1 <= len(args) <= 2:
            raise Usage("")
        addr, length = parse_range(args[0], args[1] if len(args) == 2 else None)
        try:
            self.task.sys.munmap(addr, length)
        except OSError as e:
            return self._oserror(f"munmap: munmap({addr:#x}, {length:#x}): {e.strerror}", e)
        return 0

    def do_mprotect(self, args: list[str]) -> int:
        if not 2 <= len(args) <= 3:
            raise Usage("")
        addr, length = parse_range(args[0], args[1] if len(args) == 3 else None)
        prot = parse_prot(args[-1])
        try:
            self.task.sys.mprotect(addr, length, prot)
        except OSError as e:
            return self._oserror(f"mprotect: mprotect({addr:#x}, {length:#x}, {prot_string(prot)}): "
                                 f"{e.strerror}", e)
        return 0

    # -- explaining -----------------------------------------------------------------------------------------
    def do_trace(self, args: list[str]) -> int:
        if not args:
            state = "off" if self.tracing is False else "on" + ("" if self.tracing is None else f" {self.tracing}")
            self._print(f"trace is {state}")
            return 0
        if args[0] == "off" and len(args) == 1:
            self.tracing = False
            return 0
        if args[0] != "on" or len(args) > 2 or (len(args) == 2 and not args[1].isdigit()):
            raise Usage("")
        try:
            probe = self.tracer_factory() if self.tracer_factory is not None else None
        except Exception as e:  # noqa: BLE001 - the tracer module is optional
            probe, why = None, f"{type(e).__name__}: {e}"
        else:
            why = "simkernel.trace is not available in this build"
        if probe is None or not hasattr(probe, "__enter__"):
            return self._error(f"trace: not available yet ({why})")
        self.tracing = int(args[1]) if len(args) == 2 else None
        return 0

    def do_why(self, args: list[str]) -> int:
        if args:
            raise Usage("no arguments")
        tr = self.last_trace
        if tr is not None and hasattr(tr, "why") and tr.failures():
            self._print(tr.why())
            return 0
        if self.last_error is None:
            self._print("why: no command has failed yet")
            return 0
        import errno as pyerrno
        text, e = self.last_error
        name = pyerrno.errorcode.get(e.errno, str(e.errno)) if e.errno else "?"
        explain = getattr(e, "explain", None) or "(no explanation recorded; `trace on` shows the call graph)"
        self._print(f"{text}\n  {name}: {explain}")
        return 0

    def do_help(self, args: list[str]) -> int:
        if args:
            name = _ALIASES.get(args[0], args[0])
            if name not in COMMANDS:
                return self._error(f"help: no such command: {args[0]}")
            usage, summary = COMMANDS[name]
            self._print(f"usage: {usage}\n  {summary}")
            return 0
        self._print("Commands (run as the acting task; `help COMMAND` for one):")
        for name, (_usage, summary) in COMMANDS.items():
            self._print(f"  {name:<10} {summary}")
        self._print("Variables: $PID (last spawned), $ADDR-$END (last mapped range), $SELF, $?.  "
                    "CMD > PATH writes a file.")
        return 0

    def do_quit(self, args: list[str]) -> int:
        if len(args) > 1 or (args and not args[0].isdigit()):
            raise Usage("")
        raise _Quit(int(args[0]) & 0xFF if args else self.status)


class _CommandFailed(Exception):
    """A shell-level failure that is not a system call's (no such pid)."""


def _setup_readline() -> None:
    """History (~/.simkernel_history) and command-name completion, when readline exists."""
    try:
        import atexit
        import readline
    except ImportError:  # pragma: no cover - not on this platform
        return
    path = os.path.expanduser("~/.simkernel_history")
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    atexit.register(_save_history, readline, path)
    names = sorted(set(COMMANDS) | set(_ALIASES))
    readline.set_completer(lambda text, i: ([n for n in names if n.startswith(text)] + [None])[i])
    readline.parse_and_bind("tab: complete")


def _save_history(readline: Any, path: str) -> None:
    try:
        readline.write_history_file(path)
    except OSError:
        pass


def run_shell(script: str | None = None, version: str | None = None, exit_on_error: bool = False,
              stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None,
              kernel: Kernel | None = None, banner: str = "", variables: dict[str, str] | None = None) -> int:
    """`python -m simkernel shell [SCRIPT]`: interactive on a terminal, else run SCRIPT or stdin's lines.

    `banner` is shown before the first prompt (on stderr when not interactive); `variables` presets $NAMEs.
    Returns the exit status.  A SCRIPT that cannot be read is status 1 with a message.
    """
    stdin = stdin if stdin is not None else sys.stdin
    sh = Shell(kernel, version=version, out=out, err=err, exit_on_error=exit_on_error)
    sh.vars.update(variables or {})
    interactive = script is None and stdin.isatty()
    if banner and not interactive:
        sh.err.write(banner)
    if script is not None and script != "-":
        try:
            with open(script, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            sh.err.write(f"simkernel shell: {script}: {e.strerror}\n")
            return 1
        return sh.run(lines)
    if interactive:
        import simkernel
        sh.out.write(f"simkernel {simkernel.__version__} shell on a model of Linux {sh.k.version.name}; "
                     f"`help` lists the commands.\n{banner}")
        return sh.interact()
    return sh.run(line.rstrip("\n") for line in stdin)
