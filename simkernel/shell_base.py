"""What every family of shell commands shares: the usage error, argument parsing and the output helpers.

Carved from simkernel/shell.py.  `ShellBase` is the part of simkernel.shell.Shell that the command mixins
(shell_fs.py, shell_proc.py, shell_mm.py, shell_trace.py, shell_debug.py) print and fail through; Shell sets up
its state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, TextIO

from simkernel.uapi import capability as C
from simkernel.uapi import mman as M
from simkernel.userspace import passwd_names

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["ShellBase", "Usage", "parse_size", "parse_addr", "parse_range", "parse_prot", "prot_string",
           "parse_caps", "cap_names"]


class Usage(Exception):
    """A command was typed wrong: the shell prints its usage line (status 2)."""


class _CommandFailed(Exception):
    """A shell-level failure that is not a system call's (no such pid)."""


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


def _optional_number(args: list[str]) -> int | None:
    """The one optional decimal operand of `quit`, `exit-task` and `fail-nth`: `["7"]` -> 7, `[]` -> None;
    more operands or a non-number (`["-1"]`, `["x"]`) are a Usage error."""
    if len(args) > 1 or (args and not args[0].isdigit()):
        raise Usage("")
    return int(args[0]) if args else None


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



class ShellBase:
    """The shell's state that every command reads, and the helpers it prints and fails with."""

    k: Kernel
    task: Task
    err: TextIO
    vars: dict[str, str]
    last_error: tuple[str, OSError] | None
    _stdout: TextIO

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

    def _names(self) -> tuple[dict[int, str], dict[int, str]]:
        return passwd_names(self.task)
