"""Rich display (simkernel/display.py): HTML that parses, SVG that is well-formed XML, text that matches ls -l."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from typing import Any

import pytest

import simkernel
from simkernel import display
from simkernel.display import CapSet, DcacheTree, Listing, _layout, _proportional, caps, dcache, ls
from simkernel.uapi import (CAP_FULL_SET, CAP_SYS_PTRACE, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED,
                            O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE)
from simkernel.userspace import cat, ls_l

SVG = "{http://www.w3.org/2000/svg}"


def world() -> tuple[simkernel.Kernel, Any]:
    """A task with a file mapping (two VMAs of one file), a shared file mapping, anonymous memory of every
    kind, and far-apart regions (gaps of very different sizes)."""
    k = simkernel.Kernel()
    s = k.init.sys
    fd = s.open("/tmp/lib.so", O_CREAT | O_WRONLY, 0o755)
    s.ftruncate(fd, 0x10000)
    s.close(fd)
    app = k.spawn("app", uid=1000, gid=1000)
    a = app.sys
    fd = a.open("/tmp/lib.so", O_RDONLY)
    a.mmap(0x400000, 0x8000, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, fd, 0)
    a.mmap(0x408000, 0x1000, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0x8000)
    a.close(fd)
    fd = a.open("/tmp/data", O_CREAT | O_RDWR, 0o600)
    a.ftruncate(fd, 0x2000)
    a.mmap(0x7f0000000000, 0x2000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0)
    a.close(fd)
    a.mmap(0x1000000, 0x21000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS)
    a.mmap(0x1021000, 0x1000, PROT_NONE, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS)
    a.mmap(0, 0x4000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS)
    return k, app


class Html(HTMLParser):
    """Parses and checks that every element is closed in order; collects tags, text and attributes."""

    VOID = {"br", "img", "meta", "hr", "input"}

    def __init__(self, text: str) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.attrs: list[dict[str, str | None]] = []
        self.feed(text)
        self.close()
        assert self.stack == [], f"unclosed {self.stack}"

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        if tag not in self.VOID:
            self.stack.append(tag)
        self.tags.append(tag)
        self.attrs.append(dict(attrs))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if data.strip():
            self.text.append(data.strip())


def test_rendering_changes_nothing() -> None:
    """Rendering a task, an mm, a VMA, the dcache or caps makes no syscall: the clock does not move."""
    k, app = world()
    app.sys.listdir(f"/proc/{app.pid}/map_files")
    before = k.clock_ns
    for obj in (app, app.mm, list(app.mm)[0], dcache(app), caps(3)):
        obj._repr_html_()
    app.mm._repr_svg_()
    str(dcache(app))
    assert k.clock_ns == before


def test_task_html_shows_ids_creds_caps() -> None:
    """A task card: ids, four uids and gids, capability sets by name, dumpable with its name."""
    k, app = world()
    h = Html(app._repr_html_())
    text = " ".join(h.text)
    assert 'task 2' in text and '"app"' in text.replace("&quot;", '"')
    assert "1000 / 1000 / 1000 / 1000" in text
    assert "1 (SUID_DUMP_USER)" in text
    assert "CapEff none" in text and "CapBnd all" in text
    root = Html(display.task_html(k.init))
    assert "CapEff all" in " ".join(root.text)
    assert h.tags.count("tr") == 13
    assert len(repr(app)) < 100


def test_task_html_without_mm_and_in_user_ns() -> None:
    """A zombie has no mm; a task in a new user namespace shows its level and full caps there."""
    k, app = world()
    c = app.sys.fork()
    c.sys.exit(0)
    text = " ".join(Html(display.task_html(c)).text)
    assert "- (no mm)" in text and "none (kernel thread or exited)" in text
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(0x10000000)
    text = " ".join(Html(display.task_html(u)).text)
    assert "user namespace level 1" in text and "CapEff all" in text


def test_capset_text_and_html() -> None:
    """none / all / all except X / a list; the HTML shows every capability, held ones marked."""
    assert str(caps(0)) == "none" and str(caps(CAP_FULL_SET)) == "all"
    assert str(caps(CAP_FULL_SET & ~(1 << CAP_SYS_PTRACE))) == "all except CAP_SYS_PTRACE"
    assert str(caps(0b101)) == "CAP_CHOWN, CAP_DAC_READ_SEARCH"
    assert str(caps(1 << 45)) == "CAP_45"
    assert repr(caps(1)) == "<CapSet 0x1: CAP_CHOWN>"
    h = Html(CapSet((1 << CAP_SYS_PTRACE) | 1)._repr_html_())
    classes = [a.get("class") for a in h.attrs if a.get("class", "").startswith("cap ")]  # type: ignore[union-attr]
    assert len(classes) == 41 and classes.count("cap held") == 2
    assert "CAP_SYS_PTRACE" in h.text


def test_mm_svg_is_well_formed_and_complete() -> None:
    """The strip is XML: one group per VMA (file vs anon by class), a tooltip each, gaps, a legend."""
    k, app = world()
    svg = app.mm._repr_svg_()
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    groups = root.findall(f"{SVG}g")
    vmas = [g for g in groups if g.get("class", "").startswith("vma")]
    gaps = [g for g in groups if g.get("class") == "gap"]
    assert len(vmas) == len(app.mm) == 6
    assert [g.get("class") for g in vmas] == ["vma file", "vma file", "vma anon", "vma anon", "vma file",
                                              "vma file shmem"]
    titles = [g.find(f"{SVG}title").text for g in vmas]  # type: ignore[union-attr]
    assert titles[0] == "00400000-00408000 r-xp 32 KiB /tmp/lib.so"
    assert titles[3] == "01021000-01022000 ---p 4 KiB"
    assert len(gaps) == 3
    assert all(g.find(f"{SVG}title").text.startswith("gap of ") for g in gaps)  # type: ignore[union-attr]
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "400000" in texts and "file, private" in texts


def test_mm_layout_to_scale_within_runs() -> None:
    """Adjacent VMAs keep their size ratio; gaps are log-compressed; everything fits the width."""
    k, app = world()
    parts = _layout(app.mm, 900.0)
    total = sum(w for _k, _o, _x, w in parts)
    assert abs(total - 900.0) < 1e-6
    v = {o.vm_start: w for kind, o, _x, w in parts if kind == "vma"}
    assert abs(v[0x400000] / v[0x408000] - 8.0) < 1e-6            # 32 KiB : 4 KiB, same run
    gap_w = [w for kind, _o, _x, w in parts if kind == "gap"]
    gap_b = [o for kind, o, _x, _w in parts if kind == "gap"]
    assert max(gap_b) / min(gap_b) > 1e6 and max(gap_w) / min(gap_w) < 10


def test_proportional_minimum_width() -> None:
    """Tiny parts get the minimum, the rest share what is left in proportion; no room: equal parts."""
    w = _proportional([1, 1000, 1000], 100.0, 5.0)
    assert w[0] == 5.0 and abs(sum(w) - 100.0) < 1e-9 and abs(w[1] - w[2]) < 1e-9
    assert _proportional([1, 2], 4.0, 5.0) == [2.0, 2.0]


def test_mm_svg_empty() -> None:
    """An address space without VMAs still renders."""
    k = simkernel.Kernel()
    root = ET.fromstring(display.mm_svg(k.init.mm))
    assert "empty address space" in [t.text for t in root.iter(f"{SVG}text")]


def test_maps_table_matches_proc_maps() -> None:
    """The maps table has the same cells as /proc/<pid>/maps read through the kernel."""
    k, app = world()
    h = Html(app.mm._repr_html_())
    assert h.tags.count("svg") == 1 and h.tags.count("table") == 1
    rows = [line.split(None, 5) for line in cat(k.init, f"/proc/{app.pid}/maps").splitlines()]
    cells = Html(display.maps_html(app.mm))
    flat = cells.text[6:]   # after the header
    expect = [c for r in rows for c in r]
    assert flat == expect


def test_vma_html_one_row() -> None:
    """A VMA renders as a one-row maps table; anonymous ones with zero device and inode."""
    k, app = world()
    v = list(app.mm)
    h = Html(v[0]._repr_html_())
    assert h.text[6:] == ["00400000-00408000", "r-xp", "00000000", "00:20",
                          str(v[0].vm_file.f_inode.i_ino), "/tmp/lib.so"]
    assert Html(v[2]._repr_html_()).text[6:] == ["01000000-01021000", "rw-p", "00000000", "00:00", "0"]
    assert display.vma_name(v[-2]) == "/tmp/data"
    assert display.vma_name(v[-1]) == "/dev/zero (deleted)"


def test_ls_matches_userspace_ls_l() -> None:
    """Listing's text is exactly simkernel.userspace.ls_l's output on an identical machine."""
    k1, app1 = world()
    k2, app2 = world()
    listing = ls(k1.init, f"/proc/{app1.pid}/map_files")
    assert str(listing).splitlines() == ls_l(k2.init, f"/proc/{app2.pid}/map_files")
    assert len(listing) == 4
    assert repr(listing) == "<Listing /proc/2/map_files as pid 1: 4 entries>"
    h = Html(listing._repr_html_())
    assert h.tags.count("tr") == 5 and "-> /tmp/lib.so" in h.text


def test_ls_records_errors_with_explanations() -> None:
    """A refused listing and refused readlinks are shown with the errno and the kernel's explanation."""
    k, app = world()
    other = k.spawn("other", uid=1001, gid=1001)
    denied = ls(other, f"/proc/{app.pid}/map_files")
    assert str(denied) == "ls: cannot open directory '/proc/2/map_files': EACCES (Permission denied)"
    assert denied.explain and "generic_permission" in denied.explain
    h = Html(denied._repr_html_())
    assert any("generic_permission" in t for t in h.text)
    piddir = ls(other, f"/proc/{app.pid}")
    cwd = [r for r in piddir.rows if r["name"] == "cwd"][0]
    assert cwd["error"] == "EACCES (Permission denied)" and cwd["explain"]
    assert "cwd -> ?  [readlink: EACCES (Permission denied)]" in str(piddir)
    h = Html(piddir._repr_html_())
    assert any(a.get("title") == cwd["explain"] for a in h.attrs)


def test_listing_lstat_failure_rows() -> None:
    """A row whose lstat failed prints as ls does, with question marks."""
    lst = Listing("/d", 1)
    lst.rows.append({"name": "x", "mode": None, "nlink": None, "owner": None, "group": None, "size": None,
                     "mtime": None, "target": None, "error": "ENOENT (No such file or directory)",
                     "explain": "gone"})
    assert str(lst) == "?????????? ? ?    ?     ?            ? x  [lstat: ENOENT (No such file or directory)]"
    h = Html(lst._repr_html_())
    assert "lstat: ENOENT (No such file or directory)" in h.text


def test_dcache_tree_shows_cached_entries_and_stale_ones() -> None:
    """After a listing every entry is cached; after munmap the entry is marked stale until revalidated."""
    k, app = world()
    assert str(dcache(app)) == "/proc/2/map_files: not in the dcache (never looked up)"
    assert "not in the dcache" in dcache(app)._repr_html_()
    app.sys.listdir(f"/proc/{app.pid}/map_files")
    app.sys.munmap(0x408000, 0x1000)
    lines = str(dcache(app)).splitlines()
    assert lines[0].startswith("/proc/2/map_files  inode ") and lines[0].endswith(" dr-x------ 1000:1000")
    assert lines[1].startswith("├── 400000-408000 inode ") and lines[1].endswith(" vma present")
    assert "lr-------- 1000:1000 hashed DCACHE_DONTMOUNT" in lines[1]
    assert lines[2].endswith("stale: no such file mapping now") and lines[2].startswith("├── 408000-409000")
    assert lines[-2].startswith("├── 7f0000000000-7f0000002000")
    assert lines[-1].startswith("└── 7ffff7ffb000-7ffff7fff000")
    h = Html(dcache(app)._repr_html_())
    assert h.tags.count("li") == 4 and h.tags.count("details") == 1
    assert repr(dcache(app)) == "<DcacheTree /proc/2/map_files: 4 children>"


def test_dcache_of_any_dentry_and_negative() -> None:
    """dcache() of a dentry lists its cached children; negative dentries show as such."""
    from simkernel.fs.dcache import d_alloc
    k, app = world()
    root = k.init.fs.root.dentry
    tree = dcache(root)
    assert tree.title == "/" and any(r["name"] == "tmp" for r in tree.rows())
    neg = d_alloc(root, "ghost")
    root.d_subdirs["ghost"] = neg
    rows = {r["name"]: r for r in DcacheTree("/", root).rows()}
    assert rows["ghost"]["ino"] is None
    assert "ghost negative unhashed" in str(DcacheTree("/", root))
    empty = DcacheTree("/x", neg)
    assert str(empty) == "/x  negative"
    Html(empty._repr_html_())


def test_dcache_without_proc_mount() -> None:
    """A task whose mount namespace has no procfs has no map_files dentries to show."""
    k, app = world()
    ns = app.nsproxy.mnt_ns
    saved = list(ns.mounts)
    ns.mounts[:] = [m for m in ns.mounts if m.mnt_sb.s_type.name != "proc"]
    try:
        assert dcache(app).dentry is None
    finally:
        ns.mounts[:] = saved


def test_trace_and_strace_html_parse() -> None:
    """The tracer's and strace's HTML parse as balanced trees."""
    k, app = world()
    other = k.spawn("other", uid=1001, gid=1001)
    with k.trace() as tr, k.strace() as st:
        app.sys.readlink(f"/proc/{app.pid}/map_files/400000-408000")
        with pytest.raises(PermissionError):
            other.sys.readlink(f"/proc/{app.pid}/map_files/400000-408000")
    h = Html(tr._repr_html_())
    assert h.tags.count("details") == h.tags.count("summary") > 10
    s = Html(st._repr_html_())
    assert s.tags[0] == "pre" and any(t.startswith("# generic_permission") for t in s.text)


def test_human_sizes() -> None:
    """Sizes for tooltips and gap labels."""
    assert display._human(512) == "512 B" and display._human(4096) == "4 KiB"
    assert display._human(3 << 40) == "3 TiB" and display._human(1 << 60) == "1.05e+06 TiB"
