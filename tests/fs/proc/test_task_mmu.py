"""Unit tests of simkernel/fs/proc/task_mmu.py: /proc/<pid>/maps (Linux: fs/proc/task_mmu.c)."""

from __future__ import annotations

from simkernel.fs.proc.task_mmu import proc_maps_open_check, render_maps, show_map_vma, show_maps
from simkernel.uapi import EACCES, ESRCH, MAP_ANONYMOUS, MAP_FIXED_NOREPLACE, MAP_PRIVATE, O_RDONLY
from simkernel.uapi import PR_SET_DUMPABLE, PROT_EXEC, PROT_READ
from tests.fs.proc.prockit import BASE, PAGE, setup
from tests.helpers import kraises, raises_errno


def _maps(t, pid):
    fd = t.sys.open(f"/proc/{pid}/maps", O_RDONLY)
    try:
        return t.sys.read(fd, 1 << 20).decode()
    finally:
        t.sys.close(fd)


def _window(text):
    return [ln for ln in text.splitlines() if ln.startswith("7e00000")]


def test_show_map_vma_file_line_format() -> None:
    """File lines: perms rwxp/s, 8-digit offset, dev, inode, name at column 73."""
    s = setup()
    lines = _window(_maps(s.root, s.t.pid))
    first = lines[0]
    assert first.startswith(f"{BASE:08x}-{BASE + 2 * PAGE:08x} r--p 00000000 ")
    assert first.index("/srv/mf/ro") == 73
    assert lines[1].split()[1] == "rw-s"


def test_show_map_vma_anonymous_line_ends_with_space() -> None:
    """An anonymous VMA without a name: "... 00:00 0 " (one trailing space)."""
    s = setup()
    anon = _window(_maps(s.root, s.t.pid))[2]
    assert anon.endswith(" 00:00 0 ")


def test_show_map_vma_offset_and_exec() -> None:
    """A non-zero file offset is printed in bytes; PROT_EXEC gives x."""
    s = setup()
    fd = s.t.sys.open("/srv/mf/ro", O_RDONLY)
    s.t.sys.mmap(BASE + 16 * PAGE, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED_NOREPLACE, fd, 3 * PAGE)
    line = [ln for ln in _window(_maps(s.root, s.t.pid)) if ln.startswith(f"{BASE + 16 * PAGE:x}")][0]
    assert line.split()[1:3] == ["r-xp", "00003000"]


def test_show_map_vma_newline_in_name_escaped() -> None:
    """A newline in the file name is printed as \\012."""
    s = setup()
    s.root.sys.rename("/srv/mf/ro", "/srv/mf/r\no")
    assert _window(_maps(s.root, s.t.pid))[0].endswith("/srv/mf/r\\012o")


def test_show_map_vma_anon_name() -> None:
    """An anonymous VMA with anon_name prints it."""
    s = setup()
    vma = next(v for v in s.t.mm if v.vm_start == BASE + 8 * PAGE)
    vma.anon_name = "[anon:test]"
    assert show_map_vma(vma, s.root.fs.root).rstrip("\n").endswith(" [anon:test]")


def test_render_maps_none_is_empty() -> None:
    """No mm: no lines."""
    assert render_maps(None, None) == ""


def test_maps_denied_is_eacces_at_open() -> None:
    """proc_maps_open(): mm_access() refuses an unrelated user at open time."""
    s = setup()
    other = s.k.spawn("other", uid=1001, gid=1001)
    with raises_errno(EACCES):
        other.sys.open(f"/proc/{s.t.pid}/maps", O_RDONLY)
    s.t.sys.prctl(PR_SET_DUMPABLE, 0)
    same = s.k.spawn("same", uid=1000, gid=1000)
    with raises_errno(EACCES):
        same.sys.open(f"/proc/{s.t.pid}/maps", O_RDONLY)


def test_maps_open_before_exit_reads_empty_after() -> None:
    """The mm is pinned at open (mmgrab); once the task exited, reads are empty."""
    s = setup()
    p = s.k.spawn("parent")
    t = s.k.spawn("child", parent=p)
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE)
    fd = s.root.sys.open(f"/proc/{t.pid}/maps", O_RDONLY)
    t.sys.exit(0)
    assert s.root.sys.read(fd, 4096) == b""
    assert _maps(s.root, t.pid) == ""


def test_proc_maps_open_check_no_mm_is_none() -> None:
    """ESRCH from mm_access (no mm) makes an empty file, not an error."""
    s = setup()
    s.t.mm, mm = None, s.t.mm
    try:
        assert proc_maps_open_check(s.root, s.t) is None
    finally:
        s.t.mm = mm


def test_proc_maps_open_check_other_errors_propagate() -> None:
    """EACCES from mm_access propagates."""
    s = setup()
    other = s.k.spawn("other", uid=1001, gid=1001)
    with kraises(EACCES):
        proc_maps_open_check(other, s.t)
    assert ESRCH != EACCES


def test_show_maps_without_private_data_is_empty() -> None:
    """show_maps() of a file opened while the task had no mm renders nothing."""
    class F:
        private_data = None
    s = setup()
    assert show_maps(s.root, s.t, F()) == ""


def test_maps_open_pins_the_mm_struct_until_release() -> None:
    """proc_maps_open() mmgrab()s the mm (mm_count) for the file's lifetime; proc_map_release() mmdrop()s it:
    three open/read/close cycles leave mm_count where it was, an open file holds one."""
    import simkernel
    from simkernel.uapi import O_RDONLY
    k = simkernel.Kernel()
    t = k.spawn("a")
    before = t.mm.mm_count
    for _ in range(3):
        fd = t.sys.open(f"/proc/{t.pid}/maps", O_RDONLY)
        assert t.mm.mm_count == before + 1
        t.sys.read(fd, 4096)
        t.sys.close(fd)
    assert t.mm.mm_count == before
