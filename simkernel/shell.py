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

This module holds the loop, the command table, `help` and `quit`; the commands are mixins by family:
shell_fs.py (files), shell_proc.py (processes and credentials), shell_mm.py (memory), shell_trace.py
(`trace`, `why`) and shell_debug.py (`dmesg`, `fail-nth`), on shell_base.py (argument parsing, output helpers).
"""

from __future__ import annotations

import io
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, TextIO

from simkernel.shell_base import (Usage, _CommandFailed, _optional_number, cap_names, parse_addr,  # noqa: F401
                                  parse_caps, parse_prot, parse_range, parse_size, prot_string)
from simkernel.shell_debug import DEBUG_COMMANDS, DebugCommands
from simkernel.shell_fs import FileCommands, _file_type, _ls_time  # noqa: F401 - tests import these from here
from simkernel.shell_mm import MemoryCommands
from simkernel.shell_proc import ProcessCommands
from simkernel.shell_trace import TraceCommands
from simkernel.uapi import fcntl as F

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["Shell", "run_shell", "COMMANDS", "parse_prot", "parse_size", "parse_addr", "parse_caps",
           "prot_string", "Usage"]

HOSTNAME = "simkernel"


class _Quit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


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


class Shell(FileCommands, ProcessCommands, MemoryCommands, TraceCommands, DebugCommands):
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
            end = self._step(line)
            if end is not None:
                return end
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
            end = self._step(line)
            if end is not None:
                return end

    def _step(self, line: str) -> int | None:
        """Execute one line of `run` or `interact`: the status to leave with (`quit`'s, or 1 at a failure with
        exit_on_error), else None to go on."""
        try:
            status = self.execute(line)
        except _Quit as q:
            return q.status
        return 1 if status and self.exit_on_error else None

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

    # -- help and quit -------------------------------------------------------------------------------------
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
        status = _optional_number(args)
        raise _Quit(status & 0xFF if status is not None else self.status)


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
