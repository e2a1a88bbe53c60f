"""/proc/<pid>/fail-nth and /proc/<pid>/task/<tid>/fail-nth (CONFIG_FAULT_INJECTION): the task's countdown.

Writing "n" arms it (the n-th fault point the task passes from then on fails; "0" disarms); reading gives what
is left of it: 0 once the fault was injected (or never armed), else the remaining count.  As in Linux the
countdown stays armed across syscalls until it fires -- the usual sequence is write, the syscall under test,
read, write "0" (Documentation/fault-injection/fault-injection.rst) -- and the open(2) of the file itself
passes fault points too, so open it before arming.  Mode 0644: the owner (task_dump_owner) may arm it.

The host this model is checked against is built without CONFIG_FAULT_INJECTION, so its /proc/<pid> has no
such file, and neither has a default `Kernel()`; `Kernel(fault_injection=True)` is the build with it.
(`Kernel.fail_nth()`, the simulator's own switch, works on both.)

Linux: fs/proc/base.c:proc_fail_nth_write(), proc_fail_nth_read(), tgid_base_stuff[]/tid_base_stuff[]
(REG("fail-nth", 0644, proc_fail_nth_operations) under CONFIG_FAULT_INJECTION)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.errors import KernelError
from simkernel.fs.file import FileOperations
from simkernel.fs.proc.internal import REG, PidEntry, generic_file_llseek, get_proc_task
from simkernel.kernel.task import put_task_struct
from simkernel.lib.fault_inject import set_fail_nth
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.task import Task

__all__ = ["kstrtouint", "proc_fail_nth_write", "proc_fail_nth_read", "PROC_FAIL_NTH_OPERATIONS", "fail_nth_entry"]

UINT_MAX = (1 << 32) - 1


def kstrtouint(text: bytes, base: int = 0) -> int:
    """kstrtouint(): an unsigned int, one optional "+" and one optional trailing newline; base 0 takes
    "0x" (hex) and "0" (octal) prefixes.  `b"5\\n"` is 5; `b" 5"` and `b"5 "` are EINVAL; `b"4294967296"` ERANGE.

    Raises:
        KernelError(EINVAL): not a number.   KernelError(ERANGE): above UINT_MAX.

    Linux: lib/kstrtox.c:kstrtouint(), _kstrtoull(), _parse_integer_fixup_radix()
    """
    s = text[:-1] if text.endswith(b"\n") else text
    if s.startswith(b"+"):
        s = s[1:]
    if base == 0:
        if s[:2].lower() == b"0x" and len(s) > 2:
            base, s = 16, s[2:]
        elif s.startswith(b"0") and len(s) > 1:
            base, s = 8, s[1:]
        else:
            base = 10
    digits = "0123456789abcdef"[:base]
    if not s or any(chr(c).lower() not in digits for c in s):
        raise KernelError(E.EINVAL, f"kstrtouint: {text!r} is not an unsigned number")
    n = int(s.decode("ascii"), base)
    if n > UINT_MAX:
        raise KernelError(E.ERANGE, f"kstrtouint: {text!r} does not fit an unsigned int")
    return n


def proc_fail_nth_write(current: Task, file: File, data: bytes, pos: int) -> int:
    """proc_fail_nth_write(): parse the count (kstrtouint_from_user: at most 63 bytes are looked at), then
    set the task's countdown.

    Raises:
        KernelError(EINVAL), KernelError(ERANGE): the count does not parse.
        KernelError(ESRCH): the task was reaped.

    Linux: fs/proc/base.c:proc_fail_nth_write()
    """
    n = kstrtouint(bytes(data[:63]), 0)
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ESRCH, "fail-nth: the task is gone")
    set_fail_nth(task, n)
    put_task_struct(task)
    return len(data)


def proc_fail_nth_read(current: Task, file: File, count: int, pos: int) -> bytes:
    """proc_fail_nth_read(): "%u\\n" of the countdown, through simple_read_from_buffer() at `pos`.

    Raises:
        KernelError(ESRCH): the task was reaped.

    Linux: fs/proc/base.c:proc_fail_nth_read()
    """
    task = get_proc_task(file.f_inode)
    if task is None:
        raise KernelError(E.ESRCH, "fail-nth: the task is gone")
    text = b"%d\n" % task.fail_nth
    put_task_struct(task)
    if pos < 0:
        raise KernelError(E.EINVAL)
    return text[pos:pos + count]


PROC_FAIL_NTH_OPERATIONS = FileOperations(read=proc_fail_nth_read, write=proc_fail_nth_write,
                                          llseek=generic_file_llseek)


def fail_nth_entry() -> PidEntry:
    """REG("fail-nth", 0644, proc_fail_nth_operations)."""
    return REG("fail-nth", 0o644, PROC_FAIL_NTH_OPERATIONS)
