"""The shell's kernel-debugging commands: `dmesg` and `fail-nth` (a mixin of simkernel.shell.Shell).

`dmesg` prints what the kernel would have written to its log: oopses of the modelled release, the lock
validator's splats and the refcount ledger's leaks (the shell boots `Kernel(lockdep=True, ref_tracker=True)`).
`fail-nth N` arms the acting task's fault injection for its next system call, as writing N to
/proc/thread-self/fail-nth does; `fail-nth` alone says what the armed call did.
"""

from __future__ import annotations

import errno as pyerrno

from simkernel.shell_base import ShellBase, Usage, _optional_number

__all__ = ["DebugCommands", "DEBUG_COMMANDS"]

# name -> (usage, summary), merged into the shell's command table
DEBUG_COMMANDS: dict[str, tuple[str, str]] = {
    "dmesg": ("dmesg [-c]", "the kernel log: oopses, lock validator and refcount ledger reports (-c: clear)"),
    "fail-nth": ("fail-nth [N]", "make the N-th fault point of the next system call fail; alone: what it did"),
}


class DebugCommands(ShellBase):
    """do_dmesg / do_fail_nth."""

    def do_dmesg(self, args: list[str]) -> int:
        if args not in ([], ["-c"]):
            raise Usage("")
        k = self.k
        lockdep, ledger = getattr(k, "lockdep", None), getattr(k, "ref_tracker", None)
        lines = [str(o) for o in k.oopses]
        lines += [str(r) for r in (lockdep.reports if lockdep is not None else ())]
        lines += [str(r) for r in (ledger.reports if ledger is not None else ())]
        for line in lines:
            self._print(line.rstrip("\n"))
        if args == ["-c"]:
            k.oopses.clear()
            if lockdep is not None:
                lockdep.clear()
            if ledger is not None:
                ledger.clear()
        return 0

    def do_fail_nth(self, args: list[str]) -> int:
        nth = _optional_number(args)
        t = self.task
        if nth is not None:
            self.k.fail_nth(t, nth)
            return 0
        res = self.k.fail_nth_result(t)
        if res is None:
            self._print("fail-nth: nothing armed has run yet")
        elif res.injected is None:
            self._print(f"fail-nth: {res.syscall}() has fewer fault points: nothing injected "
                        f"({res.remaining} left)")
        else:
            outcome = "succeeded" if not res.errno else pyerrno.errorcode.get(res.errno, str(res.errno))
            self._print(f"fail-nth: {res.syscall}(): injected {res.injected} -> {outcome}")
        return 0
