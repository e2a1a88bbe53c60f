"""The shell's explaining commands: `trace` (the kernel call graph of every command) and `why` (which check
said no to the last failure); a mixin of simkernel.shell.Shell, carved from simkernel/shell.py.
"""

from __future__ import annotations

import errno as pyerrno
from typing import Any, Callable

from simkernel.shell_base import ShellBase, Usage

__all__ = ["TraceCommands"]


class TraceCommands(ShellBase):
    """do_trace, do_why, and the tracer each command runs under while `trace on`."""

    tracing: int | None | bool
    last_trace: Any
    tracer_factory: Callable[..., Any] | None

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
        text, e = self.last_error
        name = pyerrno.errorcode.get(e.errno, str(e.errno)) if e.errno else "?"
        explain = getattr(e, "explain", None) or "(no explanation recorded; `trace on` shows the call graph)"
        self._print(f"{text}\n  {name}: {explain}")
        return 0
