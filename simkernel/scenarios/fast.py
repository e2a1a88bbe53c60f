"""Building many VMAs fast (simulation only): what tens of thousands of mmap() calls would leave behind.

readdir's flex_array limit (v3.3-5.0) needs more than 37,230 file-backed VMAs beyond f_pos.  Making them
with one mmap() system call each costs ~50 us apiece in the simulation, far too slow for a behaviour matrix
over every release.  `map_file_pages` makes the first mapping with a real mmap() and then adds the others
as the same VMA at further addresses: what `n` calls of `mmap(base + 2*i*PAGE, PAGE, prot, MAP_PRIVATE |
MAP_FIXED, fd, 0)` produce (one page each, a one-page gap between them, so nothing merges).

Simplification: the copies skip the mmap() path's checks (they are the checks the first call passed) and
its vm.max_map_count limit; the file reference, map_count and total_vm are kept as mmap() keeps them.

Linux: mm/mmap.c:do_mmap() (the result, not the path)
"""

from __future__ import annotations

from typing import Any

from simkernel.uapi import MAP_FIXED, MAP_PRIVATE, O_RDONLY, PROT_READ

__all__ = ["map_file_pages"]

PAGE = 4096


def map_file_pages(t: Any, path: str, n: int, base: int) -> int:
    """Map one page of `path` read-only at base, base + 2 pages, ... (`n` VMAs); returns the address past the
    last one.  `t` must be a task of a simulated kernel."""
    from simkernel.mm.mm_types import VmAreaStruct
    from simkernel.mm.vma import find_exact_vma, vm_stat_account
    fd = t.sys.open(path, O_RDONLY)
    t.sys.mmap(base, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0)
    t.sys.close(fd)
    mm = t.mm
    f = find_exact_vma(mm, base, base + PAGE)
    assert f is not None and f.vm_file is not None
    copies = [VmAreaStruct(start, start + PAGE, f.vm_flags, f.vm_pgoff, f.vm_file, mm, f.anon_vma, f.vm_ops,
                           f.anon_name, False)
              for start in range(base + 2 * PAGE, base + 2 * n * PAGE, 2 * PAGE)]
    f.vm_file.f_count += len(copies)      # get_file() per copy
    mm.mm_rb.update(copies)
    mm.map_count = len(mm.mm_rb)
    vm_stat_account(mm, f.vm_flags, len(copies))
    return base + 2 * n * PAGE
