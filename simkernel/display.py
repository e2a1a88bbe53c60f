"""Rich display for notebooks: HTML and SVG renderings of the objects a lesson shows.

Jupyter calls `_repr_html_` / `_repr_svg_`; the kernel classes keep one-line methods that call the functions
here (`Task._repr_html_` -> `task_html`), so importing this module changes nothing anywhere else.
The address-space pictures live in simkernel/display_mm.py, `ls` and `dcache` in simkernel/display_fs.py,
the shared styles in simkernel/display_style.py; every name is importable from here.

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

from typing import TYPE_CHECKING

from simkernel.display_fs import DcacheTree, Listing, dcache, ls
from simkernel.display_mm import _human, _layout, _proportional, maps_html, mm_html, mm_svg, vma_html, vma_name, \
    vma_perms
from simkernel.display_style import _FONT, _GRAY, _ORANGE, _RED, _TABLE, _TD, _TH, _e
from simkernel.trace_node import hidden_label

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.strace import Strace
    from simkernel.trace import Trace, TraceNode

__all__ = ["task_html", "mm_svg", "mm_html", "maps_html", "vma_html", "ls", "Listing", "dcache", "DcacheTree",
           "caps", "CapSet", "trace_html", "strace_html", "vma_perms", "vma_name"]
_ = (_human, _layout, _proportional)   # re-exported for tests/test_display.py


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
        inner.append(f'<div class="leaf" style="margin-left:1.2em;color:{_GRAY}">{hidden_label(node)}</div>')
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
