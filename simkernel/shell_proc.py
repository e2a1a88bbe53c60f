"""The shell's process and credential commands: ps, spawn, as, su, whoami, id, prctl, exit-task (a mixin of
simkernel.shell.Shell, carved from simkernel/shell.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.kernel.task import TASK_RUNNING
from simkernel.shell_base import ShellBase, Usage, _CommandFailed, _optional_number, _options, cap_names, parse_caps
from simkernel.uapi import prctl as P
from simkernel.userspace import ps

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["ProcessCommands"]


class ProcessCommands(ShellBase):
    """do_ps, do_spawn, do_as, do_su, do_whoami, do_id, do_prctl, do_exit_task."""

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
        status = _optional_number(args)
        t = self.task
        if t is self.k.init:
            return self._error("exit-task: pid 1 is init: the kernel would panic; `as PID` another task first")
        t.sys.exit_group(status if status is not None else 0)
        parent = t.real_parent
        self.task = parent if parent is not None and parent.state == TASK_RUNNING else self.k.init
        self._print(f"process {t.pid} exited ({t.state}); acting as pid {self.task.pid}")
        return 0
