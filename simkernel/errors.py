"""Errors inside the kernel and their translation at the syscall boundary.

Inside the simulated kernel every failure is a `KernelError` carrying a Linux errno, raised where the
kernel decides it (kernel `return -EACCES;`). Kernel `NULL` is `None`; the caller picks the errno, as in C.
Only `simkernel.syscalls` turns a `KernelError` into the `OSError` subclass that Python's `os` module raises
on Linux for that errno.  Simulator bugs are `AssertionError`/`RuntimeError`, never an errno.  A bug of the
*modelled* kernel (an old release that dereferenced garbage) is a `KernelBug`: an oops report the syscall
boundary lets through unchanged, so a test or a behaviour matrix can show it as "OOPS".

Linux: include/linux/err.h (ERR_PTR/PTR_ERR), include/uapi/asm-generic/errno*.h
"""

from __future__ import annotations

from simkernel.uapi import errno as E

__all__ = ["KernelError", "KernelBug", "oserror_from_errno", "errno_name"]


class KernelError(Exception):
    """A negative errno returned by a kernel function (`return -EACCES;`).

    Attributes:
        errno: the positive Linux errno value.
        explain: optional words naming the deciding check (filled by the deciding function).
    """

    def __init__(self, errno: int, explain: str | None = None) -> None:
        super().__init__(errno, E.ERRORCODE.get(errno, str(errno)))
        self.errno = errno
        self.explain = explain

    def __repr__(self) -> str:
        return f"KernelError({errno_name(self.errno)})"

    __str__ = __repr__


class KernelBug(Exception):
    """An oops of the modelled kernel: the release had a bug that would crash here (never a simulator bug).

    The kernel code detects the state that crashed the real kernel (e.g. map_files_get_link() returning
    success without a path before v3.14), records the report in `kernel.oopses` (as dmesg keeps it) and
    raises this instead of dereferencing anything.  Locks taken on the way are released as the exception
    unwinds, so the simulation goes on.

    Attributes:
        function: the kernel function whose bug this is ("map_files_get_link").
        report: what the real kernel would have done, in words ("general protection fault in d_path() ...").
        fixed_by: the commit or release that fixed it.
    """

    def __init__(self, function: str, report: str, fixed_by: str = "") -> None:
        super().__init__(f"BUG in {function}(): {report}" + (f" [fixed by {fixed_by}]" if fixed_by else ""))
        self.function = function
        self.report = report
        self.fixed_by = fixed_by


def errno_name(errno: int) -> str:
    """`errno_name(13) == 'EACCES'`."""
    return E.ERRORCODE.get(errno, str(errno))


_OSERROR_CLASS: dict[int, type[OSError]] = {
    E.EPERM: PermissionError,
    E.EACCES: PermissionError,
    E.ENOENT: FileNotFoundError,
    E.ESRCH: ProcessLookupError,
    E.ECHILD: ChildProcessError,
    E.EEXIST: FileExistsError,
    E.ENOTDIR: NotADirectoryError,
    E.EISDIR: IsADirectoryError,
    E.EINTR: InterruptedError,
    E.EAGAIN: BlockingIOError,
}


def oserror_from_errno(errno: int, filename: str | None = None, filename2: str | None = None,
                       explain: str | None = None) -> OSError:
    """Build the exception `os` raises on Linux for `errno` (`OSError(errno, strerror, filename)`).

    The class comes from the table above (Linux numbering), not from the host's errno table, so the result is
    the same on any host.
    """
    cls = _OSERROR_CLASS.get(errno, OSError)
    strerror = E.STRERROR.get(errno, f"Unknown error {errno}")
    if filename2 is not None:
        err = cls(errno, strerror, filename, None, filename2)
    elif filename is not None:
        err = cls(errno, strerror, filename)
    else:
        err = cls(errno, strerror)
    err.explain = explain  # type: ignore[attr-defined]
    return err
