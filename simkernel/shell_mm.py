"""The shell's memory commands: mmap, mmap-anon, munmap, mprotect (a mixin of simkernel.shell.Shell, carved
from simkernel/shell.py).  Each prints what the acting task's system call returned or the call it refused.
"""

from __future__ import annotations

from typing import Any

from simkernel.shell_base import ShellBase, Usage, _options, parse_addr, parse_prot, parse_range, parse_size, \
    prot_string
from simkernel.uapi import fcntl as F
from simkernel.uapi import mman as M

__all__ = ["MemoryCommands"]


class MemoryCommands(ShellBase):
    """do_mmap, do_mmap_anon, do_munmap, do_mprotect."""

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
