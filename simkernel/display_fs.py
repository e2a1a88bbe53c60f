"""What a task sees of the filesystem, for notebooks: `ls -l` of a directory and the dcache under map_files.

  * `ls(task, path)`  a `Listing`: `ls -l PATH` run as `task` (through its system calls)
  * `dcache(task)`    a `DcacheTree`: the dentries cached under /proc/<pid>/map_files

Carved from simkernel/display.py (which re-exports every name).  `dcache` only reads kernel objects;
simkernel/trace.py lists this module among the modules never recorded.
"""

from __future__ import annotations

import stat as pystat
import time
from typing import TYPE_CHECKING, Any

from simkernel.display_style import _FONT, _GRAY, _RED, _TABLE, _e, _td, _th
from simkernel.trace_render import _dentry_name_path
from simkernel.userspace import _ls_key, format_errno, mode_string, passwd_names

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.kernel.task import Task
    from simkernel.mm.mm_types import MmStruct

__all__ = ["ls", "Listing", "dcache", "DcacheTree"]


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
            body.append(f'<tr style="{style}"{tip}>' + _td(cells) + "</tr>")
        return (f'<div class="simkernel-ls" style="{_FONT}">{title}<table style="{_TABLE}"><thead><tr>{_th(head)}'
                f'</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def ls(task: Task, path: str) -> Listing:
    """`ls -l PATH` as `task`: listdir, then lstat and readlink of each entry (real system calls).

    A failure to list the directory is kept in the Listing (not raised); entries that cannot be
    lstat'ed or whose link cannot be read are marked with the errno and its explanation.
    """
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
        for d in sorted(self.dentry.d_subdirs.values(), key=lambda d: _ls_key(d.d_name)):
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


def _dcache_row_text(r: dict[str, Any], name: bool = True) -> str:
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
