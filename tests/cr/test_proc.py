"""Reading /proc as the dumper does (simkernel/cr/proc.py)."""

from __future__ import annotations

from simkernel.cr.proc import cred_from_status, parse_status, read_text, task_tree
from simkernel.uapi import PROT_READ, MAP_PRIVATE, MAP_ANONYMOUS
from tests.cr.scenarios import FIXED, at


def test_parse_status_and_creds(k):
    """The status lines become a CredImage (groups, split ids, capability masks, no_new_privs)."""
    t = k.spawn("app", uid=1000, gid=1000, groups=(5, 6))
    st = parse_status(read_text(t.sys, "/proc/self/status"))
    cred = cred_from_status(st)
    assert st["Name"] == "app" and cred.uid == (1000,) * 4 and cred.groups == (5, 6)
    assert cred.cap_effective == 0 and cred.cap_bset == (1 << 41) - 1 and not cred.no_new_privs
    assert cred_from_status({**st, "Groups": ""}).groups == ()


def test_task_tree_pre_order_by_scan(k):
    """Without /proc/<pid>/task/<tid>/children the tree is found from PPid lines, parents first."""
    root = k.spawn("root")
    a = root.sys.fork()
    b = root.sys.fork()
    a1 = a.sys.fork()
    k.spawn("unrelated")
    statuses: dict[int, dict[str, str]] = {}
    assert task_tree(root.sys, root.pid, statuses) == [root.pid, a.pid, a1.pid, b.pid]
    assert statuses[a1.pid]["PPid"] == str(a.pid)


def test_maps_read_returns_at_most_a_page_of_whole_lines(k):
    """One read of a big maps text returns <= 4096 bytes of whole lines (host: 3979, 4003, 4057, ... bytes per
    1 MiB read), so re-reading maps costs ~size/4096 read(2) calls per lookup.  Was a simulation bug (whole text
    in one read) reported from here; fixed in 75e8ee1.  Linux: fs/seq_file.c:seq_read_iter()"""
    t = k.spawn("app")
    for i in range(200):
        t.sys.mmap(at(i), 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | FIXED)
    fd = t.sys.open("/proc/self/maps", 0)
    first = t.sys.read(fd, 1 << 20)
    assert len(first) <= 4096 and first.endswith(b"\n")
