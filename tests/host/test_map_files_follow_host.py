"""Following map_files links (reference §9.3, §5.2, §8.5): open/stat/chdir through an entry, O_NOFOLLOW,
O_DIRECTORY, O_PATH descriptors, the capability rule, and what the entries refuse (unlink, rename, ...).

The target maps a file that sits in a root-only (0700) directory and then becomes uid 65534 ("nobody"): a
second nobody process can read the link text, cannot open the file by its path (EACCES from the directory),
cannot follow the link (EPERM) unless it holds CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN, and even then only
for the accesses the file's own mode allows (O_RDWR: EACCES).
"""

from __future__ import annotations

from typing import Any


from simkernel.uapi import (
    CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN, MAP_PRIVATE, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH,
    O_RDONLY, O_RDWR, O_WRONLY, PR_SET_DUMPABLE, PROT_READ,
)
from tests.host.scenarios_procfs import (
    BASE, ERRNAME, FIXED, PAGE, Obs, attempt, lstat_view, make_file, mf, open_close, rng, run_compare, same_file,
    spawn, stat_view,
)

AT_EMPTY_PATH = 0x1000
R = (BASE, BASE + PAGE)


def _open_and_describe(w: Any, path: str, flags: int, ref: Any) -> Any:
    """open(path, flags): ("ok", same inode as ref?, file size) or the errno name."""
    try:
        fd = w.sys.open(path, flags)
    except OSError as err:
        return ERRNAME(err)
    try:
        st = w.sys.fstat(fd)
        return ("ok", same_file(st, ref), st.st_size)
    finally:
        w.sys.close(fd)


def scenario_follow(k: Any, d: str) -> list[tuple[str, Any]]:
    """Who may follow an entry, with which open flags, and what it reaches."""
    o = Obs()
    k.init.sys.mkdir(f"{d}/secret", 0o700)
    k.init.sys.chmod(f"{d}/secret", 0o700)
    make_file(k, f"{d}/secret/f.txt", 2 * PAGE, 0o644)
    t = spawn(k, "target")
    fd = t.sys.open(f"{d}/secret/f.txt", O_RDONLY)
    t.sys.mmap(R[0], R[1] - R[0], PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    t.sys.setresgid(65534, 65534, 65534)
    t.sys.setresuid(65534, 65534, 65534)
    t.sys.prctl(PR_SET_DUMPABLE, 1)   # as after an exec
    ref = k.init.sys.stat(f"{d}/secret/f.txt")
    entry = mf(t, rng(*R))
    observers = [
        ("root", spawn(k, "root")),
        ("nobody", spawn(k, "nobody", uid=65534)),
        ("nobody+checkpoint-restore", spawn(k, "nobody-cr", uid=65534, caps=[CAP_CHECKPOINT_RESTORE])),
        ("nobody+sys-admin", spawn(k, "nobody-adm", uid=65534, caps=[CAP_SYS_ADMIN])),
        ("self", t),
    ]
    for who, w in observers:
        o.add(f"{who} open by path", open_close(w, f"{d}/secret/f.txt", O_RDONLY))
        o.do(f"{who} readlink", w.sys.readlink, entry)
        o.do(f"{who} lstat", lambda: lstat_view(w.sys.lstat(entry)))
        o.add(f"{who} open O_RDONLY", _open_and_describe(w, entry, O_RDONLY, ref))
        o.add(f"{who} open O_RDWR", _open_and_describe(w, entry, O_RDWR, ref))
        o.add(f"{who} open O_WRONLY", _open_and_describe(w, entry, O_WRONLY, ref))
        o.add(f"{who} open O_NOFOLLOW", _open_and_describe(w, entry, O_RDONLY | O_NOFOLLOW, ref))
        o.add(f"{who} open O_DIRECTORY", _open_and_describe(w, entry, O_RDONLY | O_DIRECTORY, ref))
        o.add(f"{who} open O_CREAT", _open_and_describe(w, entry, O_RDONLY | O_CREAT, ref))
        o.add(f"{who} open O_CREAT|O_EXCL", _open_and_describe(w, entry, O_RDWR | O_CREAT | O_EXCL, ref))
        o.add(f"{who} open O_PATH", _open_and_describe(w, entry, O_PATH, ref))
        o.do(f"{who} stat", lambda: (same_file(w.sys.stat(entry), ref), stat_view(w.sys.stat(entry))))
        o.do(f"{who} chdir", w.sys.chdir, entry)
        o.do(f"{who} stat trailing slash", w.sys.stat, entry + "/")
        o.do(f"{who} readlink trailing slash", w.sys.readlink, entry + "/")
        o.do(f"{who} stat entry/.", w.sys.stat, entry + "/.")
    # O_PATH|O_NOFOLLOW opens the symlink itself: no capability needed
    nb = observers[1][1]
    pfd = attempt(nb.sys.open, entry, O_PATH | O_NOFOLLOW)
    o.add("nobody O_PATH|O_NOFOLLOW", "ok" if isinstance(pfd, int) else pfd)
    root = observers[0][1]
    rfd = root.sys.open(entry, O_PATH | O_NOFOLLOW)
    o.do("root O_PATH|O_NOFOLLOW fstat", lambda: lstat_view(root.sys.fstat(rfd)))
    o.do("root readlinkat(fd, '')", root.sys.readlink, "", dir_fd=rfd)
    o.do("root fstatat(fd, '', AT_EMPTY_PATH)", lambda: lstat_view(root.sys.fstatat(rfd, "", AT_EMPTY_PATH)))
    o.do("root fstatat(fd, '', 0)", root.sys.fstatat, rfd, "", 0)
    o.do("root read on O_PATH fd", root.sys.read, rfd, 10)
    o.do("root getdents on O_PATH fd", root.sys.getdents, rfd, 4096)
    if isinstance(pfd, int):
        o.do("nobody readlinkat(fd, '')", nb.sys.readlink, "", dir_fd=pfd)
    t.sys.munmap(R[0], R[1] - R[0])
    o.do("after munmap: readlinkat(fd, '')", root.sys.readlink, "", dir_fd=rfd)
    o.do("after munmap: fstatat AT_EMPTY_PATH", lambda: lstat_view(root.sys.fstatat(rfd, "", AT_EMPTY_PATH)))
    o.do("after munmap: readlink by name", root.sys.readlink, entry)
    root.sys.close(rfd)
    if isinstance(pfd, int):
        nb.sys.close(pfd)
    return o.items


def scenario_entry_refuses(k: Any, d: str) -> list[tuple[str, Any]]:
    """What the directory and its entries refuse: unlink, rmdir, mkdir, symlink, rename, link, chdir."""
    o = Obs()
    make_file(k, f"{d}/f", 2 * PAGE)
    t = spawn(k, "target")
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    t.sys.mmap(R[0], R[1] - R[0], PROT_READ, MAP_PRIVATE | FIXED, fd, 0)
    m = mf(t)
    e = mf(t, rng(*R))
    w = spawn(k, "root")
    o.do("lstat entry (instantiate)", lambda: lstat_view(w.sys.lstat(e)))
    o.do("unlink entry", w.sys.unlink, e)
    o.do("rmdir entry", w.sys.rmdir, e)
    o.do("mkdir new name", w.sys.mkdir, m + "/x")
    o.do("mkdir over entry", w.sys.mkdir, e)
    o.do("symlink new name", w.sys.symlink, "/x", m + "/x")
    o.do("symlink over entry", w.sys.symlink, "/x", e)
    o.do("mknod new name", w.sys.mknod, m + "/n")
    o.do("rename entry", w.sys.rename, e, m + "/y")
    o.do("link entry elsewhere", w.sys.link, e, f"{d}/hl")
    o.do("open O_CREAT new name", w.sys.open, m + "/new", O_CREAT | O_RDWR, 0o644)
    o.do("chown map_files", w.sys.chown, m, 1000, 1000)
    o.do("lstat map_files after chown (revalidated)", lambda: lstat_view(w.sys.lstat(m)))
    o.do("chdir map_files", lambda: (w.sys.chdir(m), w.sys.getcwd())[1] == m)
    o.do("listdir '.' there", lambda: [n for n in w.sys.listdir(".") if n == rng(*R)])
    o.do("readlink relative", w.sys.readlink, rng(*R))
    o.do("chdir '..'", lambda: (w.sys.chdir(".."), w.sys.getcwd())[1] == f"/proc/{t.pid}")
    o.do("chdir entry", w.sys.chdir, e)
    o.do("rmdir map_files", w.sys.rmdir, m)
    o.do("lstat entry after all", lambda: lstat_view(w.sys.lstat(e)))
    # the same as an unprivileged user on its own process
    u = spawn(k, "user", uid=1000)
    ufd = u.sys.open(f"{d}/f", O_RDONLY)
    u.sys.mmap(R[0], R[1] - R[0], PROT_READ, MAP_PRIVATE | FIXED, ufd, 0)
    um, ue = mf(u), mf(u, rng(*R))
    for label, fn, args in (("unlink entry", u.sys.unlink, (ue,)), ("rmdir map_files", u.sys.rmdir, (um,)),
                            ("unlink maps", u.sys.unlink, (f"/proc/{u.pid}/maps",)),
                            ("unlink missing in pid dir", u.sys.unlink, (f"/proc/{u.pid}/nonexistent",)),
                            ("mkdir in map_files", u.sys.mkdir, (um + "/x",)),
                            ("mkdir in pid dir", u.sys.mkdir, (f"/proc/{u.pid}/x",)),
                            ("rename entry", u.sys.rename, (ue, um + "/y")),
                            ("unlink /proc/self", u.sys.unlink, ("/proc/self",))):
        o.do(f"user: {label}", fn, *args)
    return o.items


def test_follow_capability_and_open_flags(host: Any, compared: Any) -> None:
    """Following needs CAP_SYS_ADMIN/CAP_CHECKPOINT_RESTORE; O_NOFOLLOW ELOOP, O_DIRECTORY ENOTDIR, O_PATH."""
    run_compare(host, compared, scenario_follow)


def test_entries_refuse_changes(host: Any, compared: Any) -> None:
    """unlink/rmdir/mkdir/symlink/rename/link/chmod on map_files and its entries, as root."""
    run_compare(host, compared, scenario_entry_refuses)


def scenario_chmod_proc(k: Any, d: str) -> list[tuple[str, Any]]:
    """chmod of /proc/<pid>/map_files and /proc/<pid> as root: proc_setattr refuses ATTR_MODE."""
    t = spawn(k, "target")
    w = spawn(k, "root")
    return [("chmod map_files", attempt(w.sys.chmod, mf(t), 0o700)),
            ("chmod /proc/pid", attempt(w.sys.chmod, f"/proc/{t.pid}", 0o700))]


def test_chmod_proc_is_eperm(host: Any, compared: Any) -> None:
    """chmod on procfs pid inodes is EPERM even for root."""
    run_compare(host, compared, scenario_chmod_proc)
