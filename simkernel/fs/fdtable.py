"""Per-process file descriptor tables.

Linux: include/linux/fdtable.h (struct files_struct), fs/file.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.file_table import get_file
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.file import File

__all__ = ["FilesStruct", "NR_OPEN_DEFAULT", "RLIMIT_NOFILE_DEFAULT"]

NR_OPEN_DEFAULT = 64
RLIMIT_NOFILE_DEFAULT = 1024


@define(eq=False)
class FilesStruct:
    """struct files_struct: fd -> struct file, with close-on-exec bits; shared by CLONE_FILES."""

    fdt: dict[int, File] = field(factory=dict, repr=False)
    close_on_exec: set[int] = field(factory=set, repr=False)
    count: int = 1
    rlimit_nofile: int = RLIMIT_NOFILE_DEFAULT

    def get_unused_fd(self, start: int = 0) -> int:
        """get_unused_fd_flags() without installing: the lowest free descriptor >= start. Linux: fs/file.c

        Raises:
            KernelError(EMFILE): no descriptor below RLIMIT_NOFILE is free.
        """
        fd = start
        while fd in self.fdt:
            fd += 1
        if fd >= self.rlimit_nofile:
            raise KernelError(E.EMFILE)
        return fd

    def alloc_fd(self, file: File, cloexec: bool = False, start: int = 0) -> int:
        """alloc_fd()+fd_install(): the lowest free descriptor >= start. Linux: fs/file.c

        Raises:
            KernelError(EMFILE): no descriptor below RLIMIT_NOFILE is free.
        """
        fd = start
        while fd in self.fdt:
            fd += 1
        if fd >= self.rlimit_nofile:
            raise KernelError(E.EMFILE)
        self.fdt[fd] = file
        if cloexec:
            self.close_on_exec.add(fd)
        else:
            self.close_on_exec.discard(fd)
        return fd

    def fget(self, fd: int) -> File | None:
        """fget()/fdget(): the file at fd, or None (callers return EBADF). Linux: fs/file.c"""
        return self.fdt.get(fd)

    def close_fd(self, fd: int) -> File | None:
        """file_close_fd(): remove fd from the table and return its file, or None. Linux: fs/file.c"""
        self.close_on_exec.discard(fd)
        return self.fdt.pop(fd, None)

    def dup(self) -> FilesStruct:
        """dup_fd(): a copy for fork without CLONE_FILES. Linux: fs/file.c"""
        for f in self.fdt.values():
            get_file(f)
        return FilesStruct(fdt=dict(self.fdt), close_on_exec=set(self.close_on_exec),
                           rlimit_nofile=self.rlimit_nofile)
