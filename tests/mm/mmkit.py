"""Helpers for the memory tests: a booted kernel and task, and VMA layouts in /proc/<pid>/maps terms.

`layout(mm, lo, hi)` renders the simulated VMAs overlapping [lo, hi) as (start, end, perms, offset, name)
tuples, the same shape `host_layout(lines)` makes from real /proc/<pid>/maps lines, so a test can compare
the two without the procfs code.  Names are normalised: "" for anonymous memory, "file:BASENAME" for a
regular file, and the pseudo names as the kernel prints them ("/dev/zero (deleted)", "/memfd:x (deleted)",
"/dev/zero").
"""

from __future__ import annotations

import os
from typing import Any

from simkernel.mm.mm_types import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE, MmStruct, VmAreaStruct

PAGE = 4096
BASE = 0x200000000000           # a fixed-address window far from anything the simulation places itself

Layout = list[tuple[int, int, str, int, str]]


def perms(vma: VmAreaStruct) -> str:
    """The rwxp/rwxs column of show_map_vma()."""
    f = vma.vm_flags
    return ("r" if f & VM_READ else "-") + ("w" if f & VM_WRITE else "-") + ("x" if f & VM_EXEC else "-") + \
        ("s" if f & VM_MAYSHARE else "p")


def vma_name(vma: VmAreaStruct) -> str:
    """Normalised mapping name (see module docstring)."""
    f = vma.vm_file
    if f is None:
        return ""
    d = f.f_path.dentry
    if d.d_parent is d and d.d_name != "/":          # a pseudo dentry (shmem, memfd)
        return f"/{d.d_name} (deleted)"
    if d.d_name == "zero" and d.d_parent.d_name == "dev":
        return "/dev/zero"
    return f"file:{d.d_name}" + ("" if d.d_hashed else " (deleted)")


def layout(mm: MmStruct, lo: int = 0, hi: int = 1 << 64) -> Layout:
    """The VMAs of `mm` overlapping [lo, hi) as maps tuples."""
    out: Layout = []
    for v in mm:
        if v.vm_start < hi and v.vm_end > lo:
            off = v.vm_pgoff << 12 if v.vm_file is not None else 0
            out.append((v.vm_start, v.vm_end, perms(v), off, vma_name(v)))
    return out


def host_layout(lines: list[str]) -> Layout:
    """The same tuples from /proc/<pid>/maps lines."""
    out: Layout = []
    for line in lines:
        parts = line.split(None, 5)
        start, end = (int(x, 16) for x in parts[0].split("-"))
        name = parts[5].strip() if len(parts) > 5 else ""
        if name.startswith("/") and not name.startswith(("/dev/zero", "/memfd:")):
            deleted = name.endswith(" (deleted)")
            base = os.path.basename(name[:-10] if deleted else name)
            name = f"file:{base}" + (" (deleted)" if deleted else "")
        out.append((start, end, parts[1], int(parts[2], 16), name))
    return out


def pages(layout_: Layout) -> dict[int, tuple[str, int, str]]:
    """Page address -> (perms, file offset of that page, name): what a page-level model predicts."""
    out: dict[int, tuple[str, int, str]] = {}
    for start, end, p, off, name in layout_:
        for a in range(start, end, PAGE):
            out[a] = (p, off + (a - start) if name and name != "" else 0, name)
    return out


def fmt(layout_: Layout) -> str:
    """Readable lines for assertion messages."""
    return "\n".join(f"{s:x}-{e:x} {p} {o:08x} {n}" for s, e, p, o, n in layout_)


def boot(**kw: Any) -> Any:
    import simkernel
    return simkernel.Kernel(**kw)
