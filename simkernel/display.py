"""Rich display for notebooks: HTML and SVG renderings of the objects a lesson shows.

Jupyter calls `_repr_html_` / `_repr_svg_`; the kernel classes keep one-line methods that call the functions
here (`Task._repr_html_` -> `task_html`), so importing this module changes nothing anywhere else.

  * `task_html(task)`       ids, credentials, capabilities by name, dumpable, namespaces
  * `mm_svg(mm)`            the address space as a strip: each run of adjacent VMAs to scale, the gaps
                            between runs log-compressed; file-backed vs anonymous, and the protection
  * `maps_html(mm)`         a table like /proc/<pid>/maps (`mm_html` = strip + table)
  * `ls(task, path)`        a `Listing`: `ls -l PATH` run as `task` (through its system calls)
  * `dcache(task)`          a `DcacheTree`: the dentries cached under /proc/<pid>/map_files
  * `caps(mask)`            a `CapSet`: a capability mask by name
  * `trace_html(tr)`, `strace_html(st)`   the tracer's collapsible tree and the strace log

Everything but `ls` only reads kernel objects: rendering makes no system call, moves no clock and
creates no dentry, so displaying an object never changes what the next cell sees.
"""

from __future__ import annotations

import math
import stat as pystat
import time
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.kernel.task import Task
    from simkernel.mm.mm_types import MmStruct, VmAreaStruct
    from simkernel.strace import Strace
    from simkernel.trace import Trace, TraceNode

__all__ = ["task_html", "mm_svg", "mm_html", "maps_html", "vma_html", "ls", "Listing", "dcache", "DcacheTree",
           "caps", "CapSet", "trace_html", "strace_html", "vma_perms", "vma_name"]

_FONT = "font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px"
_TABLE = "border-collapse:collapse;" + _FONT
_TH = "text-align:left;padding:2px 8px;border-bottom:1px solid #999"
_TD = "padding:1px 8px;vertical-align:top;white-space:nowrap"
_RED = "#c0392b"
_ORANGE = "#d35400"
_GRAY = "#888"


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


# -- capability sets ----------------------------------------------------------------------------------------

class CapSet:
    """A capability mask shown by name: `str(caps(1 << 19))` == "CAP_SYS_PTRACE".

    The full set prints as "all", an empty one as "none"; a set missing a few capabilities of the full set
    prints as "all except CAP_SYS_PTRACE".
    """

    __slots__ = ("mask",)

    def __init__(self, mask: int) -> None:
        self.mask = mask

    @property
    def names(self) -> list[str]:
        from simkernel.uapi.capability import CAP_NAMES
        return [CAP_NAMES[c].upper() if c in CAP_NAMES else f"CAP_{c}" for c in range(64) if self.mask >> c & 1]

    def __str__(self) -> str:
        from simkernel.uapi.capability import CAP_FULL_SET, CAP_NAMES
        if self.mask == 0:
            return "none"
        if self.mask == CAP_FULL_SET:
            return "all"
        missing = CAP_FULL_SET & ~self.mask
        if not self.mask & ~CAP_FULL_SET and bin(missing).count("1") <= 4:
            return "all except " + ", ".join(CAP_NAMES[c].upper() for c in range(64) if missing >> c & 1)
        return ", ".join(self.names)

    def __repr__(self) -> str:
        return f"<CapSet {self.mask:#x}: {self}>"

    def _repr_html_(self) -> str:
        from simkernel.uapi.capability import CAP_LAST_CAP, CAP_NAMES
        cells = []
        for c in range(CAP_LAST_CAP + 1):
            held = bool(self.mask >> c & 1)
            style = ("background:#2e7d32;color:#fff" if held else "background:#eee;color:#999;"
                     "text-decoration:line-through")
            cells.append(f'<span class="cap {"held" if held else "missing"}" title="{c}" '
                         f'style="display:inline-block;margin:1px;padding:0 4px;border-radius:3px;{style}">'
                         f'{_e(CAP_NAMES[c].upper())}</span>')
        return (f'<div class="simkernel-caps" style="{_FONT};max-width:900px">'
                f'<div><b>{_e(str(self))}</b> ({self.mask:#x})</div>{"".join(cells)}</div>')


def caps(mask: int) -> CapSet:
    """A capability mask for display: `caps(task.cred.cap_effective)`."""
    return CapSet(mask)


# -- tasks --------------------------------------------------------------------------------------------------

def task_html(task: Task) -> str:
    """A task card: ids, credentials (real/effective/saved/fs), groups, capability sets, dumpable, mm."""
    c = task.cred
    mm = task.mm
    parent = task.real_parent.pid if task.real_parent is not None else 0
    from simkernel.uapi.prctl import SUID_DUMP_DISABLE, SUID_DUMP_ROOT, SUID_DUMP_USER
    dump_names = {SUID_DUMP_DISABLE: "SUID_DUMP_DISABLE", SUID_DUMP_USER: "SUID_DUMP_USER",
                  SUID_DUMP_ROOT: "SUID_DUMP_ROOT"}
    if mm is not None:
        d = mm.get_dumpable()
        dumpable = f"{d} ({dump_names.get(d, '?')})"
        mm_text = f"{len(mm)} VMAs, {sum(v.vm_end - v.vm_start for v in mm) // 1024} KiB mapped"
    else:
        dumpable = "- (no mm)"
        mm_text = "none (kernel thread or exited)"
    ns = c.user_ns
    rows = [
        ("pid / tgid / ppid", f"{task.pid} / {task.tgid} / {parent}"),
        ("state", task.state),
        ("uid real/eff/saved/fs", f"{c.uid} / {c.euid} / {c.suid} / {c.fsuid}"),
        ("gid real/eff/saved/fs", f"{c.gid} / {c.egid} / {c.sgid} / {c.fsgid}"),
        ("groups", ", ".join(map(str, c.groups)) or "none"),
        ("CapEff", str(CapSet(c.cap_effective))),
        ("CapPrm", str(CapSet(c.cap_permitted))),
        ("CapInh", str(CapSet(c.cap_inheritable))),
        ("CapBnd", str(CapSet(c.cap_bset))),
        ("CapAmb", str(CapSet(c.cap_ambient))),
        ("dumpable", dumpable),
        ("user namespace", "initial" if ns is None or ns.level == 0 else f"level {ns.level}"),
        ("mm", mm_text),
    ]
    body = "".join(f'<tr><th style="{_TH};border:none">{_e(k)}</th><td style="{_TD}">{_e(v)}</td></tr>'
                   for k, v in rows)
    return (f'<div class="simkernel-task" style="{_FONT}"><div><b>task {task.pid}</b> '
            f'&quot;{_e(task.comm)}&quot;</div><table style="{_TABLE}">{body}</table></div>')


# -- address spaces -----------------------------------------------------------------------------------------

def vma_perms(vma: VmAreaStruct) -> str:
    """The maps permission column: r-xp, rw-s, ---p."""
    from simkernel.mm.mm_types import VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE
    f = vma.vm_flags
    return (("r" if f & VM_READ else "-") + ("w" if f & VM_WRITE else "-") + ("x" if f & VM_EXEC else "-")
            + ("s" if f & VM_MAYSHARE else "p"))


def vma_name(vma: VmAreaStruct) -> str:
    """The file's path (from the namespace root, no side effects), the anonymous name, or ""."""
    from simkernel.trace import _path_text
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


def _maps_rows(mm: MmStruct) -> list[tuple[str, ...]]:
    from simkernel.fs.super import MAJOR, MINOR
    rows = []
    for v in mm:
        f = v.vm_file
        if f is not None:
            inode = f.f_inode
            dev, ino, off = inode.i_sb.s_dev, inode.i_ino, v.vm_pgoff << 12
        else:
            dev = ino = off = 0
        rows.append((f"{v.vm_start:08x}-{v.vm_end:08x}", vma_perms(v), f"{off:08x}",
                     f"{MAJOR(dev):02x}:{MINOR(dev):02x}", str(ino), vma_name(v)))
    return rows


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], cls: str) -> str:
    th = "".join(f'<th style="{_TH}">{_e(h)}</th>' for h in head)
    body = "".join("<tr>" + "".join(f'<td style="{_TD}">{_e(c)}</td>' for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}" style="{_TABLE}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


_MAPS_HEAD = ("address", "perms", "offset", "dev", "inode", "pathname")


def maps_html(mm: MmStruct) -> str:
    """A table like /proc/<pid>/maps (paths from the namespace root)."""
    return _table(_MAPS_HEAD, _maps_rows(mm), "simkernel-maps")


def mm_html(mm: MmStruct) -> str:
    """The strip and the maps table."""
    return f'<div class="simkernel-mm">{mm_svg(mm)}{maps_html(mm)}</div>'


def vma_html(vma: VmAreaStruct) -> str:
    """One VMA as a one-row maps table."""
    from simkernel.fs.super import MAJOR, MINOR
    f = vma.vm_file
    dev = f.f_inode.i_sb.s_dev if f is not None else 0
    row = (f"{vma.vm_start:08x}-{vma.vm_end:08x}", vma_perms(vma),
           f"{(vma.vm_pgoff << 12) if f is not None else 0:08x}", f"{MAJOR(dev):02x}:{MINOR(dev):02x}",
           str(f.f_inode.i_ino if f is not None else 0), vma_name(vma))
    return _table(_MAPS_HEAD, [row], "simkernel-maps")


# -- ls -l --------------------------------------------------------------------------------------------------

class Listing:
    """`ls -l` of one directory as one task saw it; `str()` is the text `simkernel.userspace.ls_l` prints.

    Attributes:
        path: the directory.   pid: the task that listed it.
        rows: one dict per entry: name, mode, nlink, owner, group, size, mtime, target, error, explain.
        error: the listing's own failure ("EACCES (Permission denied)") with `explain`, or None.
    """

    def __init__(self, path: str, pid: int) -> None:
        self.path = path
        self.pid = pid
        self.rows: list[dict[str, Any]] = []
        self.error: str | None = None
        self.explain: str | None = None

    def lines(self) -> list[str]:
        from simkernel.userspace import mode_string
        out = []
        for r in self.rows:
            if r["error"] is not None and r["mode"] is None:
                out.append(f"?????????? ? ?    ?     ?            ? {r['name']}  [lstat: {r['error']}]")
                continue
            line = (f"{mode_string(r['mode'])} {r['nlink']} {r['owner']} {r['group']} {r['size']:>4} "
                    f"{r['mtime']} {r['name']}")
            if r["target"] is not None:
                line += f" -> {r['target']}"
            elif r["error"] is not None:
                line += f" -> ?  [readlink: {r['error']}]"
            out.append(line)
        return out

    def __str__(self) -> str:
        if self.error is not None:
            return f"ls: cannot open directory '{self.path}': {self.error}"
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return f"<Listing {self.path} as pid {self.pid}: {len(self.rows)} entries>"

    def __len__(self) -> int:
        return len(self.rows)

    def _repr_html_(self) -> str:
        from simkernel.userspace import mode_string
        title = f'<div><b>ls -l {_e(self.path)}</b> <span style="color:{_GRAY}">as pid {self.pid}</span></div>'
        if self.error is not None:
            return (f'<div class="simkernel-ls" style="{_FONT}">{title}<div style="color:{_RED}" '
                    f'title="{_e(self.explain or "")}">{_e(str(self))}</div>'
                    f'<div style="color:{_GRAY}">{_e(self.explain or "")}</div></div>')
        head = ("mode", "links", "owner", "group", "size", "modified", "name", "")
        body = []
        for r in self.rows:
            if r["mode"] is None:
                cells = ["??????????", "?", "?", "?", "?", "?", r["name"], f"lstat: {r['error']}"]
            else:
                target = ""
                if r["target"] is not None:
                    target = f"-> {r['target']}"
                elif r["error"] is not None:
                    target = f"-> ? readlink: {r['error']}"
                cells = [mode_string(r["mode"]), str(r["nlink"]), r["owner"], r["group"], str(r["size"]),
                         r["mtime"], r["name"], target]
            style = f"color:{_RED}" if r["error"] is not None else ""
            tip = f' title="{_e(r["explain"])}"' if r["explain"] else ""
            body.append(f'<tr style="{style}"{tip}>' + "".join(f'<td style="{_TD}">{_e(c)}</td>' for c in cells)
                        + "</tr>")
        th = "".join(f'<th style="{_TH}">{_e(h)}</th>' for h in head)
        return (f'<div class="simkernel-ls" style="{_FONT}">{title}<table style="{_TABLE}"><thead><tr>{th}'
                f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def ls(task: Task, path: str) -> Listing:
    """`ls -l PATH` as `task`: listdir, then lstat and readlink of each entry (real system calls).

    A failure to list the directory is kept in the Listing (not raised); entries that cannot be
    lstat'ed or whose link cannot be read are marked with the errno and its explanation.
    """
    from simkernel.userspace import _ls_key, format_errno, passwd_names
    listing = Listing(path, task.pid)
    users, groups = passwd_names(task)
    try:
        names = task.sys.listdir(path)
    except OSError as err:
        listing.error = format_errno(err)
        listing.explain = getattr(err, "explain", None)
        return listing
    for name in sorted(names, key=_ls_key):
        full = f"{path.rstrip('/')}/{name}"
        row: dict[str, Any] = {"name": name, "mode": None, "nlink": None, "owner": None, "group": None,
                               "size": None, "mtime": None, "target": None, "error": None, "explain": None}
        try:
            st = task.sys.lstat(full)
        except OSError as err:
            row["error"], row["explain"] = format_errno(err), getattr(err, "explain", None)
            listing.rows.append(row)
            continue
        row.update(mode=st.st_mode, nlink=st.st_nlink, owner=users.get(st.st_uid, str(st.st_uid)),
                   group=groups.get(st.st_gid, str(st.st_gid)), size=st.st_size,
                   mtime=time.strftime("%b %e %H:%M", time.gmtime(st.st_mtime)))
        if pystat.S_ISLNK(st.st_mode):
            try:
                row["target"] = task.sys.readlink(full)
            except OSError as err:
                row["error"], row["explain"] = format_errno(err), getattr(err, "explain", None)
        listing.rows.append(row)
    return listing


# -- the dcache under /proc/<pid>/map_files -----------------------------------------------------------------

class DcacheTree:
    """The dentries cached below one dentry (by default /proc/<pid>/map_files of a task), read-only.

    Each child shows its inode (or "negative"), mode, owner, whether it is hashed, DCACHE_DONTMOUNT, and,
    for map_files entries, whether a file-backed VMA with exactly that range still exists (a stale entry is
    dropped by map_files_d_revalidate at the next lookup).
    """

    def __init__(self, title: str, dentry: Dentry | None, mm: MmStruct | None = None) -> None:
        self.title = title
        self.dentry = dentry
        self.mm = mm

    def rows(self) -> list[dict[str, Any]]:
        from simkernel.fs.dcache import DCACHE_DONTMOUNT
        if self.dentry is None:
            return []
        ranges = None
        if self.mm is not None:
            ranges = {(v.vm_start, v.vm_end) for v in self.mm if v.vm_file is not None}
        out = []
        for d in sorted(self.dentry.d_subdirs.values(), key=lambda d: _sort_key(d.d_name)):
            inode = d.d_inode
            vma = None
            if ranges is not None:
                from simkernel.fs.proc.map_files import dname_to_vma_addr
                addr = dname_to_vma_addr(d.d_name)
                vma = addr is not None and addr in ranges
            out.append({"name": d.d_name, "ino": inode.i_ino if inode is not None else None,
                        "mode": inode.i_mode if inode is not None else None,
                        "owner": f"{inode.i_uid}:{inode.i_gid}" if inode is not None else "",
                        "hashed": d.d_hashed, "dontmount": bool(d.d_flags & DCACHE_DONTMOUNT), "vma": vma})
        return out

    def lines(self) -> list[str]:
        from simkernel.userspace import mode_string
        if self.dentry is None:
            return [f"{self.title}: not in the dcache (never looked up)"]
        root = self.dentry.d_inode
        head = f"{self.title}  inode {root.i_ino} {mode_string(root.i_mode)} {root.i_uid}:{root.i_gid}" \
            if root is not None else f"{self.title}  negative"
        out = [head]
        rows = self.rows()
        for i, r in enumerate(rows):
            branch = "└── " if i == len(rows) - 1 else "├── "
            out.append(branch + _dcache_row_text(r))
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return f"<DcacheTree {self.title}: {len(self.rows())} children>"

    def _repr_html_(self) -> str:
        from simkernel.userspace import mode_string
        if self.dentry is None:
            return f'<div class="simkernel-dcache" style="{_FONT}">{_e(self.lines()[0])}</div>'
        items = []
        for r in self.rows():
            style = f"color:{_GRAY}" if not r["hashed"] or r["vma"] is False else ""
            items.append(f'<li style="{style}"><b>{_e(r["name"])}</b> {_e(_dcache_row_text(r, name=False))}'
                         f'</li>')
        root = self.dentry.d_inode
        head = (f"inode {root.i_ino} {mode_string(root.i_mode)}" if root is not None else "negative")
        return (f'<div class="simkernel-dcache" style="{_FONT}"><details open><summary><b>{_e(self.title)}'
                f'</b> {_e(head)} ({len(items)} cached)</summary><ul style="margin:0">{"".join(items)}</ul>'
                f'</details></div>')


def _sort_key(name: str) -> tuple[int, str]:
    head = name.split("-", 1)[0]
    try:
        return int(head, 16), name
    except ValueError:
        return -1, name


def _dcache_row_text(r: dict[str, Any], name: bool = True) -> str:
    from simkernel.userspace import mode_string
    parts = [r["name"]] if name else []
    if r["ino"] is None:
        parts.append("negative")
    else:
        parts.append(f"inode {r['ino']} {mode_string(r['mode'])} {r['owner']}")
    parts.append("hashed" if r["hashed"] else "unhashed")
    if r["dontmount"]:
        parts.append("DCACHE_DONTMOUNT")
    if r["vma"] is True:
        parts.append("vma present")
    elif r["vma"] is False:
        parts.append("stale: no such file mapping now")
    return " ".join(parts)


def dcache(obj: Any) -> DcacheTree:
    """The cached dentries under /proc/<pid>/map_files of a Task, or under any Dentry."""
    if type(obj).__name__ == "Dentry":
        from simkernel.trace import _dentry_name_path
        return DcacheTree(_dentry_name_path(obj), obj)
    task = obj
    title = f"/proc/{task.tgid}/map_files"
    ns = task.nsproxy.mnt_ns if task.nsproxy is not None else task.kernel.init_mnt_ns
    for mnt in ns.mounts:
        if mnt.mnt_sb.s_type.name == "proc":
            root = mnt.mnt_root
            piddir = root.d_subdirs.get(str(task.tgid))
            mf = piddir.d_subdirs.get("map_files") if piddir is not None else None
            return DcacheTree(title, mf, task.mm)
    return DcacheTree(title, None)


# -- tracer and strace output -------------------------------------------------------------------------------

def _node_html(node: TraceNode, on_error_path: bool) -> str:
    label = node.label()
    color = ""
    if node.error is not None:
        color = f"color:{_RED}" if on_error_path else f"color:{_ORANGE}"
    tip = f' title="{_e(node.error.explain)}"' if node.error is not None and node.error.explain else ""
    if node.module and not tip:
        tip = f' title="{_e(node.module)}"'
    text = f'<span style="{color}"{tip}>{_e(label)}</span>'
    if not node.children and not node.hidden:
        return f'<div class="leaf" style="margin-left:1.2em">{text}</div>'
    inner = []
    for c in node.children:
        inner.append(_node_html(c, on_error_path and c.error is not None and c.error is node.error))
    if node.hidden:
        inner.append(f'<div class="leaf" style="margin-left:1.2em;color:{_GRAY}">... {node.hidden} deeper '
                     f'call{"s" if node.hidden != 1 else ""}</div>')
    is_open = " open" if node.kind == "syscall" or on_error_path else ""
    return (f'<details{is_open} style="margin-left:0.6em"><summary>{text}</summary>{"".join(inner)}'
            f'</details>')


def trace_html(tr: Trace) -> str:
    """The call tree as nested <details>: syscalls and the failing path open, the rest folded.

    Red: the error the syscall returned, along the functions it passed through; orange: errors that were
    raised and handled (a capability check that said no, a ptrace check turned into another errno).
    """
    parts = [f'<div class="simkernel-trace" style="{_FONT}">']
    for c in tr.calls:
        parts.append(_node_html(c, c.error is not None))
    fails = tr.failures()
    if fails:
        parts.append(f'<pre style="color:{_RED};white-space:pre-wrap">{_e(tr.why())}</pre>')
    if not tr.calls:
        parts.append(f'<div style="color:{_GRAY}">no system calls traced</div>')
    parts.append("</div>")
    return "".join(parts)


def strace_html(st: Strace) -> str:
    """The strace log, failed calls in red with their explanation as a tooltip and below the line."""
    lines = st.lines()
    parts = [f'<pre class="simkernel-strace" style="{_FONT};white-space:pre-wrap">']
    for e, line in zip(st.entries, lines):
        if e.errno is not None:
            parts.append(f'<span style="color:{_RED}" title="{_e(e.explain or "")}">{_e(line)}</span>\n')
            if e.explain:
                parts.append(f'<span style="color:{_GRAY}">    # {_e(e.explain)}</span>\n')
        else:
            parts.append(_e(line) + "\n")
    parts.append("</pre>")
    return "".join(parts)
