"""The address space for notebooks: an SVG strip of the VMAs and a table like /proc/<pid>/maps.

  * `mm_svg(mm)`     each run of adjacent VMAs to scale, the gaps between runs log-compressed; file-backed
                     vs anonymous, and the protection
  * `maps_html(mm)`  a table like /proc/<pid>/maps (`mm_html` = strip + table, `vma_html` one row)

Carved from simkernel/display.py (which re-exports every name).  Only reads kernel objects; simkernel/trace.py
lists this module among the modules never recorded.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from simkernel.display_style import _RED, _e, _table
from simkernel.fs.super import MAJOR, MINOR
from simkernel.trace_render import _path_text

if TYPE_CHECKING:
    from simkernel.mm.mm_types import MmStruct, VmAreaStruct

__all__ = ["mm_svg", "mm_html", "maps_html", "vma_html", "vma_perms", "vma_name"]


def vma_perms(vma: VmAreaStruct) -> str:
    """The maps permission column: r-xp, rw-s, ---p."""
    from simkernel.mm.mm_types import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE
    f = vma.vm_flags
    return (("r" if f & VM_READ else "-") + ("w" if f & VM_WRITE else "-") + ("x" if f & VM_EXEC else "-")
            + ("s" if f & VM_MAYSHARE else "p"))


def vma_name(vma: VmAreaStruct) -> str:
    """The file's path (from the namespace root, no side effects), the anonymous name, or ""."""
    f = vma.vm_file
    if f is not None:
        dentry = f.f_path.dentry
        if dentry.d_op is not None and dentry.d_op.d_dname is not None:
            return str(dentry.d_op.d_dname(dentry))
        return _path_text(f.f_path.mnt, dentry)
    return vma.anon_name or ""


def _human(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:g} {unit}" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError("unreachable")  # pragma: no cover


def _vma_fill(vma: VmAreaStruct) -> str:
    from simkernel.mm.mm_types import VM_MAYSHARE
    perms = vma_perms(vma)
    if perms.startswith("---"):
        return "#bdbdbd"
    shared = bool(vma.vm_flags & VM_MAYSHARE)
    if _is_shmem(vma):
        return "#00897b"
    if vma.vm_file is not None:
        return "#7b4fa3" if shared else "#3f6fb5"
    return "#4c9a3f"


def _is_shmem(vma: VmAreaStruct) -> bool:
    """Shared anonymous memory: a file on the kernel's internal shmem mount (/dev/zero (deleted))."""
    f = vma.vm_file
    mm = vma.vm_mm
    shm = getattr(mm.kernel, "shm_mnt", None) if mm is not None else None
    return f is not None and shm is not None and f.f_path.mnt is shm


def _layout(mm: MmStruct, width: float) -> list[tuple[str, Any, float, float]]:
    """[("vma"|"gap", vma or gap bytes, x, w)]: runs of adjacent VMAs to scale, gaps log-compressed."""
    vmas = list(mm)
    runs: list[list[Any]] = []
    gaps: list[int] = []
    for v in vmas:
        if runs and runs[-1][-1].vm_end == v.vm_start:
            runs[-1].append(v)
        else:
            if runs:
                gaps.append(v.vm_start - runs[-1][-1].vm_end)
            runs.append([v])
    run_w = [24.0 + 10.0 * math.log2(sum(v.vm_end - v.vm_start for v in r) / 4096 + 1) for r in runs]
    gap_w = [10.0 + 2.0 * math.log2(g / 4096 + 1) for g in gaps]
    total = sum(run_w) + sum(gap_w)
    scale = width / total if total else 1.0
    out: list[tuple[str, Any, float, float]] = []
    x = 0.0
    for i, r in enumerate(runs):
        rw = run_w[i] * scale
        sizes = [v.vm_end - v.vm_start for v in r]
        widths = _proportional(sizes, rw, 2.0)
        for v, w in zip(r, widths):
            out.append(("vma", v, x, w))
            x += w
        if i < len(gaps):
            gw = gap_w[i] * scale
            out.append(("gap", gaps[i], x, gw))
            x += gw
    return out


def _proportional(sizes: list[int], total: float, minimum: float) -> list[float]:
    """Split `total` in proportion to `sizes`, each part at least `minimum` (when there is room)."""
    n = len(sizes)
    if minimum * n >= total:
        return [total / n] * n
    fixed = [False] * n
    while True:
        free = total - minimum * sum(fixed)
        weight = sum(s for s, f in zip(sizes, fixed) if not f)
        widths = [minimum if f else free * s / weight for s, f in zip(sizes, fixed)]
        small = [i for i, w in enumerate(widths) if not fixed[i] and w < minimum]
        if not small:
            return widths
        for i in small:
            fixed[i] = True


def mm_svg(mm: MmStruct, width: int = 900) -> str:
    """The address space as an SVG strip (see the module docstring); hover a VMA for its maps line."""
    height, top, bar = 112, 22, 34
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width + 20}" height="{height}" '
             f'viewBox="0 0 {width + 20} {height}" font-family="monospace" font-size="10">']
    vmas = list(mm)
    if not vmas:
        parts.append('<text x="10" y="20">empty address space</text></svg>')
        return "".join(parts)
    x0 = 10.0
    last_label_end = -1e9
    for kind, obj, x, w in _layout(mm, float(width)):
        x += x0
        if kind == "gap":
            mid = top + bar / 2
            parts.append(f'<g class="gap"><title>gap of {_e(_human(obj))}</title>'
                         f'<line x1="{x:.1f}" y1="{mid}" x2="{x + w:.1f}" y2="{mid}" stroke="#999" '
                         f'stroke-dasharray="2,2"/>'
                         f'<text x="{x + w / 2:.1f}" y="{top + bar + 12}" text-anchor="middle" fill="#999">'
                         f'{_e(_human(obj)) if w > 34 else ""}</text></g>')
            continue
        v = obj
        perms = vma_perms(v)
        name = vma_name(v)
        tip = f"{v.vm_start:08x}-{v.vm_end:08x} {perms} {_human(v.vm_end - v.vm_start)} {name}".rstrip()
        fill = _vma_fill(v)
        opacity = "1" if "w" in perms else "0.6"
        kind_cls = ("file shmem" if _is_shmem(v) else "file") if v.vm_file is not None else "anon"
        parts.append(f'<g class="vma {kind_cls}"><title>{_e(tip)}</title>'
                     f'<rect x="{x:.1f}" y="{top}" width="{max(w - 0.5, 0.5):.1f}" height="{bar}" fill="{fill}" '
                     f'fill-opacity="{opacity}" stroke="#fff" stroke-width="0.5"/>')
        if "x" in perms:
            parts.append(f'<rect x="{x:.1f}" y="{top}" width="{max(w - 0.5, 0.5):.1f}" height="4" '
                         f'fill="{_RED}"/>')
        if w > 30:
            parts.append(f'<text x="{x + 2:.1f}" y="{top + bar - 5}" fill="#fff">{_e(perms)}</text>')
        if w > 60 and name:
            label = name.rsplit("/", 1)[-1][: int(w / 6.2)]
            parts.append(f'<text x="{x + 2:.1f}" y="{top + 13}" fill="#fff">{_e(label)}</text>')
        parts.append("</g>")
        if x > last_label_end:
            text = f"{v.vm_start:x}"
            parts.append(f'<text x="{x:.1f}" y="{top - 6}" fill="#333">{text}</text>')
            last_label_end = x + 6.2 * len(text) + 4
    legend = [("#3f6fb5", "file, private"), ("#7b4fa3", "file, shared"), ("#4c9a3f", "anon, private"),
              ("#00897b", "shared anon (shmem file)"), (_RED, "executable"), ("#bdbdbd", "no access")]
    lx = x0
    ly = height - 24
    for color, label in legend:
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 8}" width="10" height="8" fill="{color}"/>'
                     f'<text x="{lx + 13:.1f}" y="{ly}" fill="#333">{_e(label)}</text>')
        lx += 22 + 6.2 * len(label)
    parts.append(f'<text x="{x0:.1f}" y="{ly + 16}" fill="#666">faded: not writable; each run of adjacent '
                 f'VMAs to scale; gaps between runs log-compressed; hover for details</text>')
    parts.append("</svg>")
    return "".join(parts)


def _maps_row(vma: VmAreaStruct) -> tuple[str, ...]:
    """One /proc/<pid>/maps line as table cells: address, perms, offset, dev, inode, pathname."""
    f = vma.vm_file
    if f is not None:
        inode = f.f_inode
        dev, ino, off = inode.i_sb.s_dev, inode.i_ino, vma.vm_pgoff << 12
    else:
        dev = ino = off = 0
    return (f"{vma.vm_start:08x}-{vma.vm_end:08x}", vma_perms(vma), f"{off:08x}",
            f"{MAJOR(dev):02x}:{MINOR(dev):02x}", str(ino), vma_name(vma))


_MAPS_HEAD = ("address", "perms", "offset", "dev", "inode", "pathname")


def maps_html(mm: MmStruct) -> str:
    """A table like /proc/<pid>/maps (paths from the namespace root)."""
    return _table(_MAPS_HEAD, [_maps_row(v) for v in mm], "simkernel-maps")


def mm_html(mm: MmStruct) -> str:
    """The strip and the maps table."""
    return f'<div class="simkernel-mm">{mm_svg(mm)}{maps_html(mm)}</div>'


def vma_html(vma: VmAreaStruct) -> str:
    """One VMA as a one-row maps table."""
    return _table(_MAPS_HEAD, [_maps_row(vma)], "simkernel-maps")
