"""map_files and user namespaces (reference §10.14, §7.2): unshare(CLONE_NEWUSER) and uid_map writes.

* a namespace root made by uid 1000 ("0 1000 1"): reads its own map_files, cannot follow (capabilities in a
  child namespace never count), and cannot read a same-uid process of the initial namespace (commoncap wants
  the same namespace for its subset rule, CAP_SYS_PTRACE in the target's otherwise);
* a namespace root made by real root ("0 0 1", `unshare -Ur`): passes the DAC check of a root process's
  map_files directory but fails the ptrace check;
* a non-dumpable process inside a namespace made by uid 65534: its map_files belong to the namespace's root,
  i.e. kuid 65534 ("nobody"), seen from the initial namespace.
"""

from __future__ import annotations

from typing import Any

from simkernel.uapi import (
    CLONE_NEWUSER, MAP_PRIVATE, O_RDONLY, O_WRONLY, PR_SET_DUMPABLE, PROT_READ,
)
from tests.host.scenarios_procfs import (
    BASE, FIXED, PAGE, Obs, attempt, listing, lstat_view, make_file, mf, open_close, read_all, rng,
    run_compare, spawn, status_view,
)

R = (BASE, BASE + PAGE)


def _write(t: Any, path: str, text: str) -> Any:
    """open(O_WRONLY) + one write + close, as `t`: the byte count or the errno name."""
    def go() -> int:
        fd = t.sys.open(path, O_WRONLY)
        try:
            return t.sys.write(fd, text.encode())
        finally:
            t.sys.close(fd)
    return attempt(go)


def _enter_userns(o: Obs, t: Any, who: str, outer_uid: int, outer_gid: int) -> None:
    """unshare(CLONE_NEWUSER), setgroups deny, then map ns root to (outer_uid, outer_gid)."""
    o.do(f"{who} unshare", t.sys.unshare, CLONE_NEWUSER)
    o.add(f"{who} setgroups deny", _write(t, f"/proc/{t.pid}/setgroups", "deny"))
    o.add(f"{who} uid_map", _write(t, f"/proc/{t.pid}/uid_map", f"0 {outer_uid} 1"))
    o.add(f"{who} gid_map", _write(t, f"/proc/{t.pid}/gid_map", f"0 {outer_gid} 1"))
    o.do(f"{who} ids", lambda: (t.sys.getresuid(), t.sys.getresgid()))
    o.add(f"{who} uid_map text", read_all(t, f"/proc/{t.pid}/uid_map"))


def _map(t: Any, d: str) -> None:
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(R[0], R[1] - R[0], PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    t.sys.close(fd)


def _look(o: Obs, who: str, w: Any, t: Any, path_of_self: bool = False) -> None:
    base = "/proc/self/map_files" if path_of_self else mf(t)
    name = f"{base}/{rng(*R)}"
    o.do(f"{who} lstat dir", lambda: lstat_view(w.sys.lstat(base)))
    o.add(f"{who} listdir", listing(w, base))
    o.do(f"{who} lstat entry", lambda: lstat_view(w.sys.lstat(name)))
    o.do(f"{who} readlink", w.sys.readlink, name)
    o.do(f"{who} readlink malformed", w.sys.readlink, f"{base}/0{rng(*R)}")
    o.add(f"{who} open through link", open_close(w, name, O_RDONLY))
    o.do(f"{who} stat through link", lambda: w.sys.stat(name).st_size)


def scenario_userns_from_user(k: Any, d: str) -> list[tuple[str, Any]]:
    """uid 1000 becomes root of a new user namespace; compare its view of itself and of a uid-1000 target."""
    o = Obs()
    make_file(k, f"{d}/f", PAGE)
    t = spawn(k, "target", uid=1000)
    _map(t, d)
    u = spawn(k, "nsroot", uid=1000)
    _map(u, d)
    _enter_userns(o, u, "nsroot", 1000, 1000)
    o.add("nsroot status", status_view(read_all(u, f"/proc/{u.pid}/status")))
    o.add("root reads nsroot status", status_view(read_all(k.init, f"/proc/{u.pid}/status")))
    _look(o, "nsroot self", u, u, path_of_self=True)
    _look(o, "nsroot on uid1000", u, t)
    _look(o, "uid1000 on nsroot", t, u)
    root = spawn(k, "root")
    _look(o, "root on nsroot", root, u)
    # non-dumpable inside the namespace: owner becomes the namespace's root (kuid 1000), not global root
    u.sys.prctl(PR_SET_DUMPABLE, 0)
    _look(o, "root on nondumpable nsroot", root, u)
    _look(o, "uid1000 on nondumpable nsroot", t, u)
    _look(o, "nsroot self nondumpable", u, u, path_of_self=True)
    return o.items


def scenario_userns_from_root(k: Any, d: str) -> list[tuple[str, Any]]:
    """Real root in `unshare -Ur` (uid 0 maps to kuid 0) looking at a root process of the initial namespace."""
    o = Obs()
    make_file(k, f"{d}/f", PAGE)
    t = spawn(k, "target")
    _map(t, d)
    u = spawn(k, "nsroot0")
    _enter_userns(o, u, "nsroot0", 0, 0)
    _look(o, "nsroot0 on root", u, t)
    _map(u, d)
    _look(o, "nsroot0 self", u, u)
    _look(o, "root on nsroot0", spawn(k, "root"), u)
    return o.items


def scenario_userns_nobody_nondumpable(k: Any, d: str) -> list[tuple[str, Any]]:
    """A non-dumpable process in a namespace created by uid 65534: map_files owned by kuid 65534."""
    o = Obs()
    make_file(k, f"{d}/f", PAGE)
    u = spawn(k, "nobodyns", uid=65534)
    _enter_userns(o, u, "nobody", 65534, 65534)
    _map(u, d)
    u.sys.prctl(PR_SET_DUMPABLE, 0)
    root = spawn(k, "root")
    _look(o, "root on nobody-ns", root, u)
    other = spawn(k, "nobody2", uid=65534)
    _look(o, "nobody on nobody-ns", other, u)
    return o.items


def test_userns_root_from_uid1000(host: Any, compared: Any) -> None:
    """A user-namespace root made by uid 1000: its own entries readable, not followable; others' refused."""
    run_compare(host, compared, scenario_userns_from_user)


def test_userns_root_from_real_root(host: Any, compared: Any) -> None:
    """`unshare -Ur` as real root: DAC passes on a root process's map_files, the ptrace check does not."""
    run_compare(host, compared, scenario_userns_from_root)


def test_userns_nondumpable_owner_is_namespace_root(host: Any, compared: Any) -> None:
    """task_dump_owner(): a non-dumpable task's map_files belong to the root of its mm's namespace."""
    run_compare(host, compared, scenario_userns_nobody_nondumpable)
