"""The VFS and the task lifecycle against the real kernel: the same file syscalls, compared call by call.

Each scenario is written once against the public API (`k.spawn`, `k.init`, `task.sys.*`) and runs on the host
(`HostKernel`) and on a fresh `simkernel.Kernel()`.  The scratch directory `d` has the same absolute path on both
(the host's `tmpdir()`, created as root 0755 in the simulation), so paths and readlink texts compare literally.

Observations are values, never raw inode numbers, pids or fd numbers: a successful call records a normalised
result ("fd" for a new descriptor, selected stat fields, names), a failure its errno name ("!EACCES").  The host
scratch directory lives on whatever /tmp is (ext4 here); scenarios that need tmpfs semantics (readdir order,
two mounts for EXDEV) mount a tmpfs below `d` on both machines.  Directory sizes and d_off values are
filesystem-specific and never compared (the simulation models tmpfs).
"""

from __future__ import annotations

import errno as _errno
import os
from typing import Any, Callable

import pytest

import simkernel
from simkernel.uapi import (
    CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_SETGID, CAP_SETUID, CLONE_FILES,
    CLONE_FS,
    CLONE_NEWNS, CLONE_NEWUSER, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL,
    O_NOFOLLOW, O_PATH, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, SEEK_CUR, SEEK_END, SEEK_SET, WNOHANG,
)

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


# -- observation helpers -----------------------------------------------------------------------------
def errname(err: OSError) -> str:
    return "!" + _errno.errorcode.get(err.errno or 0, str(err.errno))


def kind(mode: int) -> str:
    return {0o040000: "dir", 0o100000: "reg", 0o120000: "lnk", 0o020000: "chr"}.get(mode & 0o170000, "?")


def stat_view(st: os.stat_result) -> tuple[Any, ...]:
    """Type, permission bits, owner, link count; the size of regular files only (directory sizes are fs-specific)."""
    size = st.st_size if kind(st.st_mode) in ("reg", "lnk") else None
    return (kind(st.st_mode), oct(st.st_mode & 0o7777), st.st_uid, st.st_gid, st.st_nlink, size)


class Obs:
    """An ordered list of (label, value) observations made through `do`."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def add(self, label: str, value: Any) -> Any:
        self.items.append((label, value))
        return value

    def do(self, label: str, fn: Callable[..., Any], *args: Any, view: Callable[[Any], Any] | None = None,
           **kwargs: Any) -> Any:
        """Call fn; record view(result) (or the result) or the errno name; return the raw result or None."""
        try:
            result = fn(*args, **kwargs)
        except OSError as err:
            self.add(label, errname(err))
            return None
        self.add(label, view(result) if view is not None else result)
        return result

    def open(self, label: str, t: Any, path: str, flags: int, mode: int = 0o644, close: bool = True) -> Any:
        """open(); records "fd" and the fstat view of what was opened; closes it unless close=False."""
        try:
            fd = t.sys.open(path, flags, mode)
        except OSError as err:
            self.add(label, errname(err))
            return None
        self.add(label, ("fd", stat_view(t.sys.fstat(fd))))
        if close:
            t.sys.close(fd)
            return None
        return fd


def prepare_sim_dir(k: simkernel.Kernel, d: str) -> None:
    """Create `d` in the simulation as root, mode 0755, like HostKernel.tmpdir()."""
    path = ""
    for part in [p for p in d.split("/") if p]:
        path += "/" + part
        try:
            k.init.sys.mkdir(path, 0o755)
        except FileExistsError:
            continue
        k.init.sys.chmod(path, 0o755)


def run_both(host: Any, compared: Any, scenario: Callable[..., Obs], *args: Any) -> list[tuple[str, Any]]:
    """Run `scenario(k, d, *args)` on the host and on a fresh simulation and compare every observation."""
    d = host.tmpdir()
    h = scenario(host, d, *args).items
    k = simkernel.Kernel()
    prepare_sim_dir(k, d)
    s = scenario(k, d, *args).items
    assert [lb for lb, _ in s] == [lb for lb, _ in h], "the scenario made different observations"
    bad = []
    for (label, sv), (_, hv) in zip(s, h):
        compared.add(1)
        if sv != hv:
            bad.append(f"  {label}:\n    sim:  {sv!r}\n    host: {hv!r}")
    if bad:
        raise AssertionError(f"{len(bad)} of {len(h)} observations differ (host is right):\n" + "\n".join(bad))
    return h


def make_file(k: Any, path: str, mode: int = 0o644, uid: int = 0, gid: int = 0, data: bytes = b"data") -> None:
    s = k.init.sys
    fd = s.open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)
    s.write(fd, data)
    s.close(fd)
    s.chown(path, uid, gid)   # chown first: it clears set-id bits
    s.chmod(path, mode)


def make_dir(k: Any, path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
    s = k.init.sys
    s.mkdir(path, mode)
    s.chown(path, uid, gid)
    s.chmod(path, mode)


def mount_tmpfs(k: Any, path: str) -> None:
    k.init.sys.mkdir(path, 0o755)
    k.init.sys.mount("tmpfs", path, "tmpfs", 0, "mode=755")


# -- permission walks ------------------------------------------------------------------------------------
DIR_MODES = (0o700, 0o711, 0o755, 0o750, 0o705, 0o000)


def _observers(k: Any) -> list[tuple[str, Any]]:
    fsuid = k.spawn("fsuid", uid=1000, gid=1000, caps=[CAP_SETUID, CAP_SETGID])
    fsuid.sys.setfsuid(2000)       # only the fs ids decide file access
    fsgid = k.spawn("fsgid", uid=1000, gid=1000, caps=[CAP_SETUID, CAP_SETGID])
    fsgid.sys.setfsgid(2000)
    return [
        ("root", k.spawn("root")),
        ("owner", k.spawn("owner", uid=2000, gid=2000)),
        ("group", k.spawn("group", uid=1001, gid=1001, groups=[2000])),
        ("other", k.spawn("other", uid=1000, gid=1000)),
        ("other+drs", k.spawn("drs", uid=1000, gid=1000, caps=[CAP_DAC_READ_SEARCH])),
        ("other+dac", k.spawn("dac", uid=1000, gid=1000, caps=[CAP_DAC_OVERRIDE])),
        ("root-nocaps", k.spawn("root0", caps=[])),
        ("fsuid=owner", fsuid),
        ("fsgid=group", fsgid),
    ]


def scenario_permission_walk(k: Any, d: str) -> Obs:
    o = Obs()
    for mode in DIR_MODES:
        p = f"{d}/d{mode:03o}"
        make_dir(k, p, mode, 2000, 2000)
        make_file(k, f"{p}/f", 0o644, 2000, 2000)
        make_file(k, f"{p}/x", 0o700, 2000, 2000)
        make_file(k, f"{p}/n", 0o000, 2000, 2000)
        make_dir(k, f"{p}/s", 0o755, 2000, 2000)
        make_file(k, f"{p}/s/g", 0o640, 2000, 2000)
        k.init.sys.symlink("s/g", f"{p}/l")
    for who, t in _observers(k):
        for mode in DIR_MODES:
            p = f"{d}/d{mode:03o}"
            tag = f"{who} d{mode:03o}"
            o.do(f"{tag} stat f", t.sys.stat, f"{p}/f", view=stat_view)
            o.do(f"{tag} lstat l", t.sys.lstat, f"{p}/l", view=stat_view)
            o.do(f"{tag} readlink l", t.sys.readlink, f"{p}/l")
            o.open(f"{tag} open f r", t, f"{p}/f", O_RDONLY)
            o.open(f"{tag} open f w", t, f"{p}/f", O_WRONLY)
            o.open(f"{tag} open x r", t, f"{p}/x", O_RDONLY)
            o.open(f"{tag} open n r", t, f"{p}/n", O_RDONLY)
            o.open(f"{tag} open n w", t, f"{p}/n", O_WRONLY)
            o.open(f"{tag} open l r", t, f"{p}/l", O_RDONLY)
            o.open(f"{tag} open s/g r", t, f"{p}/s/g", O_RDONLY)
            o.open(f"{tag} open dir", t, p, O_RDONLY | O_DIRECTORY)
            o.open(f"{tag} open O_PATH f", t, f"{p}/f", O_PATH)
            o.do(f"{tag} listdir", lambda path: sorted(t.sys.listdir(path)), p)
            o.do(f"{tag} stat missing", t.sys.stat, f"{p}/missing", view=stat_view)
            o.do(f"{tag} mkdir", t.sys.mkdir, f"{p}/new-{who}", 0o755)
            o.do(f"{tag} unlink missing", t.sys.unlink, f"{p}/missing")
    return o


def test_permission_walk_matches_host(host: Any, compared: Any) -> None:
    """Search/read/write on 0700/0711/0755/0750/0705/0000 directories by owner, group, other, CAP_DAC_* holders."""
    run_both(host, compared, scenario_permission_walk)


def scenario_chdir_rules(k: Any, d: str) -> Obs:
    o = Obs()
    make_dir(k, f"{d}/search", 0o711, 2000, 2000)
    make_dir(k, f"{d}/read", 0o744, 2000, 2000)
    make_file(k, f"{d}/noexec", 0o644)
    make_file(k, f"{d}/oneexec", 0o654)
    for who, t in _observers(k):
        o.do(f"{who} chdir search", t.sys.chdir, f"{d}/search")
        o.do(f"{who} getcwd", t.sys.getcwd)
        o.do(f"{who} chdir read", t.sys.chdir, f"{d}/read")
        o.do(f"{who} chdir file", t.sys.chdir, f"{d}/noexec")
        o.do(f"{who} chdir /", t.sys.chdir, "/")
        o.do(f"{who} fchdir file", lambda: t.sys.fchdir(t.sys.open(f"{d}/noexec", O_PATH)))
        o.do(f"{who} fchdir search dir", lambda: t.sys.fchdir(t.sys.open(f"{d}/search", O_PATH)))
        o.do(f"{who} getcwd after fchdir", t.sys.getcwd)
        o.do(f"{who} fchdir bad fd", t.sys.fchdir, 9999)
        t.sys.chdir("/")
    return o


def test_chdir_fchdir_match_host(host: Any, compared: Any) -> None:
    """chdir/fchdir need a directory the caller may search (CAP_DAC_READ_SEARCH or CAP_DAC_OVERRIDE suffice)."""
    run_both(host, compared, scenario_chdir_rules)


# -- open flag combinations ------------------------------------------------------------------------------
OPEN_FLAGS = {
    "RDONLY": O_RDONLY, "WRONLY": O_WRONLY, "RDWR": O_RDWR, "CREAT": O_CREAT | O_RDWR,
    "CREAT|EXCL": O_CREAT | O_EXCL | O_RDWR, "RDONLY|TRUNC": O_RDONLY | O_TRUNC, "DIRECTORY": O_DIRECTORY,
    "NOFOLLOW": O_NOFOLLOW, "PATH": O_PATH, "PATH|NOFOLLOW": O_PATH | O_NOFOLLOW,
    "CREAT|DIRECTORY": O_CREAT | O_DIRECTORY, "PATH|CREAT|DIRECTORY": O_PATH | O_CREAT | O_DIRECTORY,
    "DIRECTORY|NOFOLLOW": O_DIRECTORY | O_NOFOLLOW, "WRONLY|APPEND": O_WRONLY | O_APPEND,
    "CREAT|NOFOLLOW": O_CREAT | O_NOFOLLOW | O_WRONLY, "PATH|DIRECTORY": O_PATH | O_DIRECTORY,
    "CREAT|EXCL|NOFOLLOW": O_CREAT | O_EXCL | O_NOFOLLOW | O_WRONLY, "WRONLY|TRUNC": O_WRONLY | O_TRUNC,
}
TARGETS = ("f", "D", "lf", "ld", "dl", "n", "f/", "D/", "lf/", "ld/", "dl/", "n/", "D/.", "D/..", "f/.",
           "ro", "lro", "loop")


def scenario_open_flags(k: Any, d: str, who: str) -> Obs:
    o = Obs()
    t = k.spawn("opener") if who == "root" else k.spawn("opener", uid=1000, gid=1000)
    for i, (fname, flags) in enumerate(OPEN_FLAGS.items()):
        c = f"{d}/c{i}"
        make_dir(k, c, 0o777 if who != "root" else 0o755)
        make_file(k, f"{c}/f", 0o666 if who != "root" else 0o644)
        make_file(k, f"{c}/ro", 0o444)
        make_dir(k, f"{c}/D", 0o777 if who != "root" else 0o755)
        k.init.sys.symlink("f", f"{c}/lf")
        k.init.sys.symlink("D", f"{c}/ld")
        k.init.sys.symlink("missing", f"{c}/dl")
        k.init.sys.symlink("ro", f"{c}/lro")
        k.init.sys.symlink("loop", f"{c}/loop")
        for target in TARGETS:
            o.open(f"{who} {fname} {target}", t, f"{c}/{target}", flags)
        o.do(f"{who} {fname} listing", lambda path: sorted(t.sys.listdir(path)), c)
        o.do(f"{who} {fname} stat f", t.sys.stat, f"{c}/f", view=stat_view)
        o.do(f"{who} {fname} stat missing", t.sys.stat, f"{c}/missing", view=stat_view)
    return o


@pytest.mark.parametrize("who", ["root", "user"])
def test_open_flag_combinations_match_host(host: Any, compared: Any, who: str) -> None:
    """Every open flag combination on files, directories, symlinks (good, dangling, looping), with slashes."""
    run_both(host, compared, scenario_open_flags, who)


def scenario_open_data(k: Any, d: str) -> Obs:
    o = Obs()
    t = k.spawn("rw", uid=1000, gid=1000)
    make_dir(k, f"{d}/w", 0o777)
    p = f"{d}/w/file"
    fd = t.sys.open(p, O_CREAT | O_RDWR, 0o640)
    o.do("write", t.sys.write, fd, b"hello world")
    o.do("lseek cur", t.sys.lseek, fd, 0, SEEK_CUR)
    o.do("lseek set", t.sys.lseek, fd, 6, SEEK_SET)
    o.do("read", t.sys.read, fd, 100)
    o.do("read eof", t.sys.read, fd, 100)
    o.do("lseek end", t.sys.lseek, fd, -5, SEEK_END)
    o.do("lseek negative", t.sys.lseek, fd, -100, SEEK_SET)
    o.do("lseek bad whence", t.sys.lseek, fd, 0, 7)
    o.do("lseek past end", t.sys.lseek, fd, 100, SEEK_SET)
    o.do("write past end", t.sys.write, fd, b"!")
    o.do("pread hole", t.sys.pread, fd, 20, 8)
    o.do("pread negative", t.sys.pread, fd, 1, -1)
    o.do("fstat", t.sys.fstat, fd, view=stat_view)
    o.do("ftruncate", t.sys.ftruncate, fd, 3)
    o.do("ftruncate negative", t.sys.ftruncate, fd, -1)
    o.do("pread after truncate", t.sys.pread, fd, 100, 0)
    t.sys.close(fd)
    o.do("close again", t.sys.close, fd)
    o.do("read closed", t.sys.read, fd, 1)
    o.do("fstat closed", t.sys.fstat, fd, view=stat_view)
    fd = t.sys.open(p, O_WRONLY | O_APPEND)
    o.do("lseek append start", t.sys.lseek, fd, 0, SEEK_SET)
    o.do("append write", t.sys.write, fd, b"++")
    o.do("pos after append", t.sys.lseek, fd, 0, SEEK_CUR)
    o.do("read wronly", t.sys.read, fd, 1)
    o.do("ftruncate append", t.sys.ftruncate, fd, 0)
    t.sys.close(fd)
    fd = t.sys.open(p, O_RDONLY)
    o.do("write rdonly", t.sys.write, fd, b"x")
    o.do("ftruncate rdonly", t.sys.ftruncate, fd, 0)
    o.do("read all", t.sys.read, fd, 100)
    t.sys.close(fd)
    fd = t.sys.open(p, O_PATH)
    o.do("read O_PATH", t.sys.read, fd, 1)
    o.do("fstat O_PATH", t.sys.fstat, fd, view=stat_view)
    o.do("getdents O_PATH", t.sys.getdents, fd, 4096)
    o.do("lseek O_PATH", t.sys.lseek, fd, 0, SEEK_SET)
    t.sys.close(fd)
    fd = t.sys.open(f"{d}/w", O_RDONLY | O_DIRECTORY)
    o.do("read dir", t.sys.read, fd, 10)
    o.do("getdents dir count", lambda: len(t.sys.getdents(fd, 4096)))
    t.sys.close(fd)
    fd = t.sys.open(p, O_RDONLY)
    o.do("getdents file", t.sys.getdents, fd, 4096)
    t.sys.close(fd)
    o.open("O_TRUNC on existing", t, p, O_WRONLY | O_TRUNC)
    o.do("size after O_TRUNC", lambda: t.sys.stat(p).st_size)
    o.do("umask applied", lambda: oct(t.sys.stat(p).st_mode & 0o777))
    return o


def test_read_write_lseek_truncate_match_host(host: Any, compared: Any) -> None:
    """read/write/pread/lseek/ftruncate results and errnos on regular files, O_APPEND, O_PATH, directories."""
    run_both(host, compared, scenario_open_data)


def scenario_memfd_data(k: Any, d: str) -> Obs:
    """A memfd is a tmpfs file on the internal mount: pages exist where written, SEEK_DATA/SEEK_HOLE find
    them, st_blocks counts them, truncation frees them (mm/shmem.c: shmem_file_llseek, shmem_setattr)."""
    o = Obs()
    t = k.spawn("memfd", uid=1000, gid=1000)
    fd = t.sys.memfd_create("data")
    o.do("write", t.sys.write, fd, b"abc")
    o.do("ftruncate grow", t.sys.ftruncate, fd, 3 * 4096)
    o.do("pwrite last page", lambda: (t.sys.lseek(fd, 2 * 4096 + 10, SEEK_SET), t.sys.write(fd, b"z"))[1])
    for off in (0, 5, 4096, 5000, 2 * 4096, 3 * 4096, 4 * 4096, -1):
        o.do(f"SEEK_DATA {off}", t.sys.lseek, fd, off, 3)
        o.do(f"SEEK_HOLE {off}", t.sys.lseek, fd, off, 4)
    o.do("fstat", lambda: (t.sys.fstat(fd).st_size, t.sys.fstat(fd).st_blocks))
    o.do("pread across the hole", t.sys.pread, fd, 12, 4096 - 4)
    o.do("ftruncate shrink", t.sys.ftruncate, fd, 2)
    o.do("fstat after shrink", lambda: (t.sys.fstat(fd).st_size, t.sys.fstat(fd).st_blocks))
    o.do("ftruncate grow again", t.sys.ftruncate, fd, 4096)
    o.do("pread after regrow", t.sys.pread, fd, 5, 0)
    o.do("SEEK_HOLE after regrow", t.sys.lseek, fd, 0, 4)
    t.sys.close(fd)
    return o


def test_memfd_data_matches_host(host: Any, compared: Any) -> None:
    """memfd data, holes, SEEK_DATA/SEEK_HOLE, st_blocks and truncation as on the host's tmpfs."""
    run_both(host, compared, scenario_memfd_data)


# -- names: trailing slashes, dots, lengths, symlink loops -------------------------------------------------
def scenario_names(k: Any, d: str) -> Obs:
    o = Obs()
    s = k.init.sys
    make_file(k, f"{d}/f")
    make_dir(k, f"{d}/D")
    make_dir(k, f"{d}/D/sub")
    s.symlink("f", f"{d}/lf")
    s.symlink("D", f"{d}/ld")
    s.symlink("nowhere", f"{d}/dl")
    for path in ("f/", "f/.", "f/..", "D/", "D/.", "D/..", "D//sub//", "lf/", "ld/", "dl", "dl/", "missing/",
                 "D/sub/../../f", "ld/../f", ".", "D/sub/..", "D/sub/../"):
        o.do(f"stat {path}", s.stat, f"{d}/{path}", view=stat_view)
        o.do(f"lstat {path}", s.lstat, f"{d}/{path}", view=stat_view)
    o.do("stat / and /.. same", lambda: s.stat("/").st_ino == s.stat("/..").st_ino)
    o.do("stat //", s.stat, "//", view=lambda st: kind(st.st_mode))
    o.do("stat empty", s.stat, "")
    o.do("mkdir n/", s.mkdir, f"{d}/n/")
    o.do("mkdir f/", s.mkdir, f"{d}/f/")
    o.do("mkdir D", s.mkdir, f"{d}/D")
    o.do("mkdir D/.", s.mkdir, f"{d}/D/.")
    o.do("mkdir /", s.mkdir, "/")
    o.do("mkdir dl", s.mkdir, f"{d}/dl")
    o.do("mkdir under file", s.mkdir, f"{d}/f/x")
    o.do("mkdir missing parent", s.mkdir, f"{d}/nope/x")
    o.do("rmdir D/.", s.rmdir, f"{d}/D/.")
    o.do("rmdir D/..", s.rmdir, f"{d}/D/..")
    o.do("rmdir /", s.rmdir, "/")
    o.do("rmdir f", s.rmdir, f"{d}/f")
    o.do("rmdir f/", s.rmdir, f"{d}/f/")
    o.do("rmdir D (not empty)", s.rmdir, f"{d}/D")
    o.do("rmdir ld/", s.rmdir, f"{d}/ld/")
    o.do("rmdir missing", s.rmdir, f"{d}/missing")
    o.do("unlink D/.", s.unlink, f"{d}/D/.")
    o.do("unlink f/", s.unlink, f"{d}/f/")
    o.do("unlink D/", s.unlink, f"{d}/D/")
    o.do("unlink D", s.unlink, f"{d}/D")
    o.do("unlink lf/", s.unlink, f"{d}/lf/")
    o.do("unlink ld/", s.unlink, f"{d}/ld/")
    o.do("unlink missing/", s.unlink, f"{d}/missing/")
    o.do("symlink to n2/", s.symlink, "x", f"{d}/n2/")
    o.do("symlink over f", s.symlink, "x", f"{d}/f")
    o.do("symlink empty target", s.symlink, "", f"{d}/empty")
    o.do("mknod n3/", s.mknod, f"{d}/n3/", 0o100644)
    o.do("mknod dir type", s.mknod, f"{d}/n4", 0o040755)
    o.do("mknod bad type", s.mknod, f"{d}/n5", 0o170644)
    o.do("mknod fifo over f", s.mknod, f"{d}/f", 0o010644)
    o.do("link f n6/", s.link, f"{d}/f", f"{d}/n6/")
    o.do("open n7/ O_CREAT", s.open, f"{d}/n7/", O_CREAT | O_WRONLY, 0o644)
    o.do("open f/ O_CREAT", s.open, f"{d}/f/", O_CREAT | O_WRONLY, 0o644)
    o.do("open D O_CREAT", s.open, f"{d}/D", O_CREAT | O_RDONLY, 0o644)
    long = "a" * 255
    o.do("create 255", lambda: s.close(s.open(f"{d}/{long}", O_CREAT | O_WRONLY, 0o644)))
    o.do("stat 255", s.stat, f"{d}/{long}", view=stat_view)
    o.do("stat 256", s.stat, f"{d}/{long}a", view=stat_view)
    o.do("open 256 O_CREAT", s.open, f"{d}/{long}a", O_CREAT | O_WRONLY, 0o644)
    o.do("mkdir 256", s.mkdir, f"{d}/{long}a")
    o.do("stat 256 then more", s.stat, f"{d}/{long}a/x", view=stat_view)
    pad = "/" * (4096 - len(d) - 2)
    o.do("stat path 4095", s.stat, f"{d}{pad}f", view=stat_view)
    o.do("stat path 4096", s.stat, f"{d}{pad}/f", view=stat_view)
    o.do("stat path 5000", s.stat, "/" * 5000, view=stat_view)
    o.do("mkdir path 4096", s.mkdir, f"{d}{pad}/g")
    s.symlink("self", f"{d}/self")
    o.do("stat self-loop", s.stat, f"{d}/self", view=stat_view)
    o.do("lstat self-loop", s.lstat, f"{d}/self", view=stat_view)
    o.do("stat self-loop/x", s.stat, f"{d}/self/x", view=stat_view)
    make_dir(k, f"{d}/chain")
    make_file(k, f"{d}/chain/end")
    s.symlink("end", f"{d}/chain/l40")
    for i in range(39, -1, -1):
        s.symlink(f"l{i + 1}", f"{d}/chain/l{i}")
    s.symlink("l0", f"{d}/chain/m")
    for name in ("l40", "l1", "l0", "m"):
        o.do(f"stat chain {name}", s.stat, f"{d}/chain/{name}", view=stat_view)
        o.open(f"open chain {name}", k.init, f"{d}/chain/{name}", O_RDONLY)
    make_dir(k, f"{d}/chain/dir")
    s.symlink("dir", f"{d}/chain/k40")
    for i in range(39, -1, -1):
        s.symlink(f"k{i + 1}", f"{d}/chain/k{i}")
    o.do("stat via 40 dir links", s.stat, f"{d}/chain/k1/.", view=stat_view)
    o.do("stat via 41 dir links", s.stat, f"{d}/chain/k0/.", view=stat_view)
    o.do("stat 20+20 links in one walk", s.stat, f"{d}/chain/k20/../k20/.", view=stat_view)
    o.do("stat 21+20 links in one walk", s.stat, f"{d}/chain/k19/../k20/.", view=stat_view)
    s.symlink(f"{d}/D", f"{d}/abs")
    o.do("stat absolute link/sub", s.stat, f"{d}/abs/sub", view=stat_view)
    o.do("readlink abs", s.readlink, f"{d}/abs")
    return o


def test_names_slashes_dots_lengths_loops_match_host(host: Any, compared: Any) -> None:
    """Trailing slashes, "." and "..", NAME_MAX/PATH_MAX, ELOOP at the 41st link, absolute links."""
    run_both(host, compared, scenario_names)


# -- sticky directories, chmod, chown -------------------------------------------------------------------------
def scenario_sticky(k: Any, d: str) -> Obs:
    o = Obs()
    u1, u2 = k.spawn("u1", uid=1000, gid=1000), k.spawn("u2", uid=2000, gid=2000)
    downer = k.spawn("downer", uid=3000, gid=3000)
    fowner = k.spawn("fowner", uid=4000, gid=4000, caps=[CAP_FOWNER])
    root = k.spawn("root")
    for name, mode in (("sticky", 0o1777), ("plain", 0o777)):
        p = f"{d}/{name}"
        make_dir(k, p, mode, 3000, 3000)
        for who, t in (("u1", u1), ("u2", u2)):
            for i in range(6):
                fd = t.sys.open(f"{p}/{who}-{i}", O_CREAT | O_WRONLY, 0o666)
                t.sys.close(fd)
            t.sys.mkdir(f"{p}/{who}-dir", 0o777)
        o.do(f"{name} u2 unlink u1's", u2.sys.unlink, f"{p}/u1-0")
        o.do(f"{name} u1 unlink own", u1.sys.unlink, f"{p}/u1-1")
        o.do(f"{name} dir owner unlink u1's", downer.sys.unlink, f"{p}/u1-2")
        o.do(f"{name} CAP_FOWNER unlink u1's", fowner.sys.unlink, f"{p}/u1-3")
        o.do(f"{name} root unlink u2's", root.sys.unlink, f"{p}/u2-0")
        o.do(f"{name} u2 rename u1's", u2.sys.rename, f"{p}/u1-4", f"{p}/stolen")
        o.do(f"{name} u2 rename over u1's", u2.sys.rename, f"{p}/u2-1", f"{p}/u1-5")
        o.do(f"{name} u2 rmdir u1's dir", u2.sys.rmdir, f"{p}/u1-dir")
        o.do(f"{name} u1 rmdir own dir", u1.sys.rmdir, f"{p}/u1-dir")
        o.do(f"{name} u2 unlink missing", u2.sys.unlink, f"{p}/missing")
        o.do(f"{name} u2 open u1's O_CREAT", u2.sys.open, f"{p}/u2-2", O_CREAT | O_WRONLY, 0o644,
             view=lambda fd: "fd")
        o.do(f"{name} listing", lambda path: sorted(root.sys.listdir(path)), p)
    return o


def test_sticky_directory_removal_matches_host(host: Any, compared: Any) -> None:
    """In a 1777 directory only the file's owner, the directory's owner or CAP_FOWNER may unlink/rename/rmdir."""
    run_both(host, compared, scenario_sticky)


def scenario_chmod_chown(k: Any, d: str) -> Obs:
    o = Obs()
    owner = k.spawn("owner", uid=1000, gid=1000, groups=[1000, 1500])
    other = k.spawn("other", uid=2000, gid=2000)
    root = k.spawn("root")
    fsetid = k.spawn("fsetid", uid=1000, gid=1000, caps=[CAP_FSETID])
    chowner = k.spawn("chowner", uid=2000, gid=2000, caps=[CAP_CHOWN])
    make_dir(k, f"{d}/w", 0o777)
    st = lambda path: (lambda: stat_view(root.sys.stat(path)))  # noqa: E731
    p = f"{d}/w/f"
    make_file(k, p, 0o644, 1000, 1000)
    o.do("owner chmod 600", owner.sys.chmod, p, 0o600)
    o.do("other chmod 777", other.sys.chmod, p, 0o777)
    o.do("root chmod 4755", root.sys.chmod, p, 0o4755)
    o.do("mode", st(p))
    o.do("owner chmod 2755 own group", owner.sys.chmod, p, 0o2755)
    o.do("mode after sgid own group", st(p))
    root.sys.chown(p, 1000, 3000)
    o.do("owner chmod 2755 foreign group", owner.sys.chmod, p, 0o2755)
    o.do("mode after sgid foreign group", st(p))
    o.do("fsetid chmod 2755 foreign group (not owner)", fsetid.sys.chmod, p, 0o2755)
    o.do("owner chmod 7777", owner.sys.chmod, p, 0o7777)
    o.do("mode 7777 foreign group", st(p))
    root.sys.chown(p, 1000, 1000)
    o.do("owner chown to self", owner.sys.chown, p, 1000, -1)
    o.do("owner chown to other", owner.sys.chown, p, 2000, -1)
    o.do("owner chgrp to member group", owner.sys.chown, p, -1, 1500)
    o.do("mode after chgrp by owner", st(p))
    o.do("owner chgrp to foreign group", owner.sys.chown, p, -1, 3000)
    o.do("owner chgrp to same group", owner.sys.chown, p, -1, 1500)
    o.do("other chown -1 -1", other.sys.chown, p, -1, -1)
    o.do("other chown to owner's uid", other.sys.chown, p, 1000, -1)
    o.do("other chgrp to same group", other.sys.chown, p, -1, 1500)
    o.do("other chown to self", other.sys.chown, p, 2000, 2000)
    o.do("CAP_CHOWN chown", chowner.sys.chown, p, 2000, 2000)
    o.do("after CAP_CHOWN", st(p))
    o.do("root chown back", root.sys.chown, p, 1000, 1000)
    o.do("after root chown", st(p))
    o.do("chown invalid uid", owner.sys.chown, p, 2**32 - 2, -1)
    o.do("chown missing", owner.sys.chown, f"{d}/w/missing", 1000, 1000)
    o.do("chmod missing", owner.sys.chmod, f"{d}/w/missing", 0o644)
    # set-id bits and chown
    for label, mode in (("suid", 0o4755), ("sgid+gx", 0o2755), ("sgid-gx", 0o2745), ("suid+sgid", 0o6755)):
        q = f"{d}/w/{label}"
        make_file(k, q, mode, 1000, 1000)
        o.do(f"{label} other chown -1 -1", other.sys.chown, q, -1, -1)
        o.do(f"{label} after other", st(q))
        o.do(f"{label} owner chown -1 -1", owner.sys.chown, q, -1, -1)
        o.do(f"{label} after owner", st(q))
        root.sys.chmod(q, mode)
        o.do(f"{label} owner chgrp member", owner.sys.chown, q, -1, 1500)
        o.do(f"{label} after owner chgrp", st(q))
        root.sys.chmod(q, mode)
        o.do(f"{label} root chown", root.sys.chown, q, 1000, 1000)
        o.do(f"{label} after root", st(q))
    dd = f"{d}/w/sgiddir"
    make_dir(k, dd, 0o2775, 1000, 1500)
    o.do("mkdir in sgid dir", owner.sys.mkdir, f"{dd}/sub", 0o755)
    o.do("sub inherits", st(f"{dd}/sub"))
    o.do("create in sgid dir", lambda: owner.sys.close(owner.sys.open(f"{dd}/file", O_CREAT | O_WRONLY, 0o2755)))
    o.do("file group from dir", st(f"{dd}/file"))
    o.do("other create sgid file in sgid dir", lambda: other.sys.close(
        other.sys.open(f"{d}/w/o-sgid", O_CREAT | O_WRONLY, 0o2755)))
    o.do("o-sgid", st(f"{d}/w/o-sgid"))
    o.do("root chown dir", root.sys.chown, dd, 2000, -1)
    o.do("dir keeps sgid", st(dd))
    return o


def test_chmod_chown_rules_match_host(host: Any, compared: Any) -> None:
    """chmod/chown by owner, non-owner, CAP_CHOWN/CAP_FSETID; set-id bit clearing; set-gid directories."""
    run_both(host, compared, scenario_chmod_chown)


# -- rename and link -----------------------------------------------------------------------------------------
def scenario_rename_link(k: Any, d: str) -> Obs:
    o = Obs()
    s = k.init.sys
    make_dir(k, f"{d}/a")
    make_dir(k, f"{d}/a/b")
    make_dir(k, f"{d}/a/b/c")
    make_file(k, f"{d}/f")
    make_file(k, f"{d}/g")
    make_dir(k, f"{d}/e")
    make_dir(k, f"{d}/full")
    make_file(k, f"{d}/full/x")
    s.symlink("f", f"{d}/lf")
    mount_tmpfs(k, f"{d}/mnt")
    make_file(k, f"{d}/mnt/m")
    make_dir(k, f"{d}/mnt/md")
    o.do("rename dir into itself", s.rename, f"{d}/a", f"{d}/a/b/x")
    o.do("rename dir onto itself child", s.rename, f"{d}/a", f"{d}/a/b")
    o.do("rename onto ancestor", s.rename, f"{d}/a/b/c", f"{d}/a")
    o.do("rename file onto ancestor dir", s.rename, f"{d}/f", f"{d}/a")
    o.do("rename file onto dir", s.rename, f"{d}/f", f"{d}/e")
    o.do("rename dir onto file", s.rename, f"{d}/e", f"{d}/f")
    o.do("rename dir onto non-empty", s.rename, f"{d}/e", f"{d}/full")
    o.do("rename f f/", s.rename, f"{d}/f", f"{d}/f/")
    o.do("rename f/ g", s.rename, f"{d}/f/", f"{d}/g")
    o.do("rename f h/", s.rename, f"{d}/f", f"{d}/h/")
    o.do("rename e/ e2/", s.rename, f"{d}/e/", f"{d}/e2/")
    o.do("rename e2 e", s.rename, f"{d}/e2", f"{d}/e")
    o.do("rename . x", s.rename, f"{d}/.", f"{d}/x")
    o.do("rename x ..", s.rename, f"{d}/f", f"{d}/a/..")
    o.do("rename missing", s.rename, f"{d}/missing", f"{d}/x")
    o.do("rename same", s.rename, f"{d}/f", f"{d}/f")
    o.do("rename hardlinks of same inode", lambda: (s.link(f"{d}/g", f"{d}/g2"), s.rename(f"{d}/g", f"{d}/g2")))
    o.do("both names remain", lambda: sorted(n for n in s.listdir(d) if n.startswith("g")))
    o.do("rename across mounts", s.rename, f"{d}/f", f"{d}/mnt/f")
    o.do("rename mountpoint", s.rename, f"{d}/mnt", f"{d}/mnt2")
    o.do("rmdir mountpoint", s.rmdir, f"{d}/mnt")
    o.do("rename onto mountpoint", s.rename, f"{d}/e", f"{d}/mnt")
    o.do("link across mounts", s.link, f"{d}/mnt/m", f"{d}/m")
    o.do("link dir", s.link, f"{d}/a", f"{d}/a2")
    o.do("link onto existing", s.link, f"{d}/f", f"{d}/g")
    o.do("link missing", s.link, f"{d}/missing", f"{d}/x")
    o.do("link symlink (not followed)", s.link, f"{d}/lf", f"{d}/lf2")
    o.do("lstat lf2", s.lstat, f"{d}/lf2", view=stat_view)
    o.do("link ok", s.link, f"{d}/f", f"{d}/f2")
    o.do("nlink", s.stat, f"{d}/f", view=stat_view)
    o.do("rename file ok", s.rename, f"{d}/f2", f"{d}/a/b/f3")
    o.do("rename dir ok", s.rename, f"{d}/a/b/c", f"{d}/c")
    o.do("rename dir over empty dir", s.rename, f"{d}/c", f"{d}/e")
    o.do("nlink of a after moves", s.stat, f"{d}/a", view=stat_view)
    o.do("listing", lambda: sorted(s.listdir(d)))
    # permissions
    u = k.spawn("u", uid=1000, gid=1000)
    make_dir(k, f"{d}/pub", 0o777)
    make_file(k, f"{d}/pub/rootfile", 0o600)
    make_file(k, f"{d}/pub/readable", 0o644)
    make_file(k, f"{d}/pub/rw", 0o666)
    make_file(k, f"{d}/pub/suid", 0o4777)
    make_file(k, f"{d}/pub/own", 0o600, 1000, 1000)
    make_dir(k, f"{d}/pub/rootdir", 0o755)
    make_dir(k, f"{d}/ro", 0o755)
    make_file(k, f"{d}/ro/f")
    for name in ("rootfile", "readable", "rw", "suid", "own"):
        o.do(f"user link {name}", u.sys.link, f"{d}/pub/{name}", f"{d}/pub/{name}.l")
    o.do("user rename root dir (cross-dir needs write on it)", u.sys.rename, f"{d}/pub/rootdir", f"{d}/pub/x/..")
    make_dir(k, f"{d}/pub/x", 0o777)
    o.do("user move root dir to other dir", u.sys.rename, f"{d}/pub/rootdir", f"{d}/pub/x/rootdir")
    o.do("user rename root dir in place", u.sys.rename, f"{d}/pub/rootdir", f"{d}/pub/rootdir2")
    o.do("user rename out of ro", u.sys.rename, f"{d}/ro/f", f"{d}/pub/f")
    o.do("user link into ro", u.sys.link, f"{d}/pub/own", f"{d}/ro/own")
    o.do("user link ro/f", u.sys.link, f"{d}/ro/f", f"{d}/pub/rof")
    return o


def test_rename_link_rules_match_host(host: Any, compared: Any) -> None:
    """rename/link errors: EXDEV, EINVAL/ENOTEMPTY traps, EISDIR/ENOTDIR, EBUSY, EPERM, protected_hardlinks."""
    run_both(host, compared, scenario_rename_link)


# -- getdents ----------------------------------------------------------------------------------------------
NAMES = ("a", "bb", "ccc", "dddd", "e", "ff", "g", "hhh", "i", "jj")


def _getdents_calls(t: Any, fd: int, count: int) -> Any:
    calls = []
    for _ in range(50):
        batch = t.sys.getdents(fd, count)
        if not batch:
            break
        calls.append([n for n, _ino, _t, _off in batch])
    return calls


def scenario_getdents(k: Any, d: str, tmpfs: bool) -> Obs:
    o = Obs()
    base = f"{d}/t" if tmpfs else d
    if tmpfs:
        mount_tmpfs(k, base)
    s = k.init.sys
    make_dir(k, f"{base}/dir")
    for n in NAMES:
        make_file(k, f"{base}/dir/{n}")
    s.mkdir(f"{base}/dir/sub")
    s.symlink("a", f"{base}/dir/lnk")
    s.unlink(f"{base}/dir/e")
    s.rename(f"{base}/dir/bb", f"{base}/dir/zz")
    make_file(k, f"{base}/dir/e")
    make_dir(k, f"{base}/empty")
    for count in (23, 24, 47, 48, 64, 100, 1024, 32768):
        fd = s.open(f"{base}/dir", O_RDONLY | O_DIRECTORY)
        try:
            calls = _getdents_calls(k.init, fd, count)
        except OSError as err:
            o.add(f"getdents {count}", errname(err))
        else:
            o.add(f"getdents {count} counts", [len(c) for c in calls])
            names = [n for c in calls for n in c]
            o.add(f"getdents {count} names", names if tmpfs else sorted(names))
            if tmpfs:
                o.add(f"getdents {count} per call", calls)
        s.close(fd)
    fd = s.open(f"{base}/dir", O_RDONLY | O_DIRECTORY)
    first = s.getdents(fd, 48)
    o.add("d_types", sorted((n, ty) for n, _i, ty, _o in s.getdents(fd, 4096) + first))
    o.do("getdents at end", s.getdents, fd, 4096)
    o.do("getdents at end, tiny buffer", s.getdents, fd, 1)
    if tmpfs:
        o.do("lseek 0 then count", lambda: (s.lseek(fd, 0, SEEK_SET), len(s.getdents(fd, 4096)))[1])
        o.do("lseek dir SEEK_END", s.lseek, fd, 0, SEEK_END)
        o.do("lseek dir negative", s.lseek, fd, -1, SEEK_SET)
        o.do("dots inode", lambda: [(n, ty) for n, _i, ty, _o in (s.lseek(fd, 0, SEEK_SET), s.getdents(fd, 48))[1]])
    s.close(fd)
    fd = s.open(f"{base}/empty", O_RDONLY | O_DIRECTORY)
    o.do("empty dir", lambda: [n for n, *_ in s.getdents(fd, 4096)])
    s.rmdir(f"{base}/empty")
    o.do("removed dir", s.getdents, fd, 4096)
    s.close(fd)
    o.do("getdents closed fd", s.getdents, fd, 4096)
    o.do("getdents bad fd", s.getdents, 12345, 4096)
    o.do("listdir", lambda: sorted(s.listdir(f"{base}/dir")))
    o.do("listdir file", s.listdir, f"{base}/dir/a")
    o.do("listdir missing", s.listdir, f"{base}/nope")
    return o


@pytest.mark.parametrize("tmpfs", [False, True], ids=["scratch-fs", "tmpfs"])
def test_getdents_small_buffers_match_host(host: Any, compared: Any, tmpfs: bool) -> None:
    """Entries per getdents64 call for small buffers, EINVAL when nothing fits; readdir order on a fresh tmpfs.

    On the scratch filesystem (ext4 on this host) only counts and the set of names compare (its order is a
    hash order); on a tmpfs mounted below the scratch directory the order compares too (d_off never does).
    """
    if not tmpfs and os.statvfs("/tmp").f_bsize == 0:  # pragma: no cover - defensive
        pytest.skip("no scratch filesystem")
    run_both(host, compared, scenario_getdents, tmpfs)


# -- readlink ----------------------------------------------------------------------------------------------
def scenario_readlink(k: Any, d: str) -> Obs:
    o = Obs()
    s = k.init.sys
    s.symlink("abcdefghij", f"{d}/l")
    s.symlink("/" + "x" * 300, f"{d}/long")
    make_file(k, f"{d}/f")
    for n in (1, 2, 5, 9, 10, 11, 100, 4096):
        o.do(f"readlink bufsiz {n}", s.readlink, f"{d}/l", bufsiz=n)
    o.do("readlink bufsiz 0", s.readlink, f"{d}/l", bufsiz=0)
    o.do("readlink bufsiz -1", s.readlink, f"{d}/l", bufsiz=-1)
    o.do("readlink long 256", s.readlink, f"{d}/long", bufsiz=256)
    o.do("readlink file", s.readlink, f"{d}/f")
    o.do("readlink dir", s.readlink, d)
    o.do("readlink missing", s.readlink, f"{d}/missing")
    o.do("readlink l/", s.readlink, f"{d}/l/")
    fd = s.open(f"{d}/l", O_PATH | O_NOFOLLOW)
    o.do("readlink empty on O_PATH link fd", s.readlink, "", dir_fd=fd)
    s.close(fd)
    fd = s.open(f"{d}/f", O_RDONLY)
    o.do("readlink empty on file fd", s.readlink, "", dir_fd=fd)
    o.do("readlink relative to file fd", s.readlink, "x", dir_fd=fd)
    s.close(fd)
    fd = s.open(d, O_RDONLY | O_DIRECTORY)
    o.do("readlink relative to dir fd", s.readlink, "l", dir_fd=fd)
    s.close(fd)
    o.do("readlink bad dir fd", s.readlink, "l", dir_fd=9999)
    # an open file after unlink: its /proc/<pid>/fd link says " (deleted)"
    t = k.spawn("holder")
    fd = t.sys.open(f"{d}/f", O_RDONLY)
    o.do("fd link", lambda: t.sys.readlink(f"/proc/{t.pid}/fd/{fd}"))
    s.unlink(f"{d}/f")
    o.do("fd link after unlink", lambda: t.sys.readlink(f"/proc/{t.pid}/fd/{fd}"))
    o.do("fstat after unlink", t.sys.fstat, fd, view=stat_view)
    make_dir(k, f"{d}/gone")
    t.sys.chdir(f"{d}/gone")
    s.rmdir(f"{d}/gone")
    o.do("cwd link after rmdir", lambda: t.sys.readlink(f"/proc/{t.pid}/cwd"))
    o.do("getcwd after rmdir", t.sys.getcwd)
    o.do("stat . after rmdir", t.sys.stat, ".", view=stat_view)
    o.do("create in removed cwd", t.sys.open, "x", O_CREAT | O_WRONLY, 0o644)
    o.do("mkdir in removed cwd", t.sys.mkdir, "x")
    o.do("listdir removed cwd", t.sys.listdir, ".")
    o.do("chdir ..", t.sys.chdir, "..")
    o.do("getcwd after ..", t.sys.getcwd)
    return o


def test_readlink_truncation_and_deleted_match_host(host: Any, compared: Any) -> None:
    """readlink cuts to bufsiz without a NUL, EINVAL for bufsiz <= 0 or a non-link; " (deleted)" after unlink."""
    run_both(host, compared, scenario_readlink)


# -- chroot and getcwd ---------------------------------------------------------------------------------------
def scenario_chroot(k: Any, d: str) -> Obs:
    o = Obs()
    make_dir(k, f"{d}/jail")
    make_dir(k, f"{d}/jail/in")
    make_file(k, f"{d}/jail/in/f")
    make_file(k, f"{d}/outside")
    t = k.spawn("jailer")
    u = k.spawn("user", uid=1000, gid=1000)
    o.do("user chroot", u.sys.chroot, f"{d}/jail")
    o.do("chroot file", t.sys.chroot, f"{d}/outside")
    o.do("chroot missing", t.sys.chroot, f"{d}/missing")
    fd = t.sys.open(f"{d}/outside", O_RDONLY)
    t.sys.chdir(f"{d}/jail/in")
    o.do("chroot", t.sys.chroot, f"{d}/jail")
    o.do("getcwd inside", t.sys.getcwd)
    o.do("stat /in/f", t.sys.stat, "/in/f", view=stat_view)
    o.do("stat /../../..", t.sys.stat, "/../../..", view=stat_view)
    o.do("listdir /..", lambda: sorted(t.sys.listdir("/..")))
    o.do("fd link outside root", lambda: t.sys.readlink(f"/proc/{t.pid}/fd/{fd}"))
    o.do("chdir /", t.sys.chdir, "/")
    o.do("getcwd /", t.sys.getcwd)
    t.sys.close(fd)
    c = k.spawn("escaper")
    c.sys.chdir(d)
    c.sys.chroot(f"{d}/jail")
    o.do("getcwd outside new root", c.sys.getcwd)
    o.do("relative .. from outside", lambda: sorted(c.sys.listdir("..")) != [])
    return o


def test_chroot_getcwd_match_host(host: Any, compared: Any) -> None:
    """chroot needs CAP_SYS_CHROOT; ".." stops at the new root; getcwd outside the root fails like glibc."""
    run_both(host, compared, scenario_chroot)


# -- processes ----------------------------------------------------------------------------------------------
def scenario_fork_wait(k: Any, d: str) -> Obs:
    o = Obs()
    p = k.spawn("parent")
    o.do("waitpid no children", p.sys.waitpid, -1, 0)
    o.do("waitpid WNOHANG no children", p.sys.waitpid, -1, WNOHANG)
    c1 = p.sys.fork()
    c2 = p.sys.fork()
    name = {c1.pid: "c1", c2.pid: "c2", 0: 0}
    view = lambda r: (name.get(r[0], "other"), r[1])  # noqa: E731
    o.do("WNOHANG running", p.sys.waitpid, -1, WNOHANG, view=view)
    o.do("WNOHANG c1 running", p.sys.waitpid, c1.pid, WNOHANG, view=view)
    o.do("waitpid init (not a child)", p.sys.waitpid, 1, WNOHANG, view=view)
    o.do("bad options", p.sys.waitpid, -1, 0x100000, view=view)
    c1.sys.exit(3)
    o.do("reap c1", p.sys.waitpid, c1.pid, 0, view=view)
    o.do("reap c1 again", p.sys.waitpid, c1.pid, 0, view=view)
    c2.sys.exit(256 + 7)
    o.do("reap any", p.sys.waitpid, -1, 0, view=view)
    o.do("nothing left", p.sys.waitpid, -1, WNOHANG, view=view)
    th = p.sys.clone(THREAD)
    o.do("thread tid is no child", p.sys.waitpid, th.pid, WNOHANG, view=view)
    o.do("thread getpid", lambda: th.sys.getpid() == p.sys.getpid())
    o.do("thread gettid differs", lambda: th.sys.gettid() != p.sys.gettid())
    o.do("thread waitpid sibling's children", th.sys.waitpid, -1, WNOHANG, view=view)
    c3 = th.sys.fork()
    name[c3.pid] = "c3"
    o.do("parent waits thread's child", p.sys.waitpid, c3.pid, WNOHANG, view=view)
    c3.sys.exit(0)
    o.do("parent reaps thread's child", p.sys.waitpid, -1, 0, view=view)
    g = p.sys.fork()
    gc = g.sys.fork()
    name[g.pid], name[gc.pid] = "g", "gc"
    o.do("grandchild is not a child", p.sys.waitpid, gc.pid, WNOHANG, view=view)
    o.do("child sees its child", g.sys.waitpid, gc.pid, WNOHANG, view=view)
    o.do("getppid", lambda: gc.sys.getppid() == g.pid)
    gc.sys.exit(9)
    o.do("child reaps", g.sys.waitpid, -1, 0, view=view)
    g.sys.exit(0)
    o.do("reap g", p.sys.waitpid, g.pid, 0, view=view)
    # a leader that calls exit(2) while a thread runs is a zombie nobody may reap yet
    z = p.sys.fork()
    name[z.pid] = "z"
    zt = z.sys.clone(THREAD)
    z.sys.exit(4)
    o.do("leader exited, thread runs", p.sys.waitpid, z.pid, WNOHANG, view=view)
    zt.sys.exit(6)
    o.do("reap after the last thread", p.sys.waitpid, z.pid, 0, view=view)
    # file descriptors are copied by fork and shared by CLONE_FILES
    make_dir(k, f"{d}/fd")
    fd = p.sys.open(f"{d}/fd/f", O_CREAT | O_RDWR, 0o644)
    f = p.sys.fork()
    o.do("child writes inherited fd", f.sys.write, fd, b"abc")
    o.do("offset shared with parent", p.sys.lseek, fd, 0, SEEK_CUR)
    o.do("child closes", f.sys.close, fd)
    o.do("parent fd still open", p.sys.fstat, fd, view=stat_view)
    fd2 = p.sys.open(f"{d}/fd/f", O_RDONLY)
    th2 = p.sys.clone(THREAD)
    o.do("thread closes shared table", th2.sys.close, fd2)
    o.do("parent sees it closed", p.sys.fstat, fd2, view=stat_view)
    o.do("thread chdir", th2.sys.chdir, f"{d}/fd")
    o.do("parent cwd follows (CLONE_FS)", p.sys.getcwd)
    o.do("forked child cwd kept", f.sys.getcwd)
    f.sys.exit(0)
    p.sys.waitpid(f.pid, 0)
    return o


def test_fork_exit_waitpid_match_host(host: Any, compared: Any) -> None:
    """waitpid statuses, ECHILD, WNOHANG, EINVAL; threads are no children; fork copies, CLONE_FILES/FS share."""
    run_both(host, compared, scenario_fork_wait)


def scenario_unshare(k: Any, d: str) -> Obs:
    o = Obs()
    u = k.spawn("u", uid=1000, gid=1000)
    r = k.spawn("r")
    o.do("user unshare NEWNS", u.sys.unshare, CLONE_NEWNS)
    o.do("user unshare bad flag", u.sys.unshare, 0x80)
    o.do("user unshare FS", u.sys.unshare, CLONE_FS)
    o.do("root unshare NEWNS", r.sys.unshare, CLONE_NEWNS)
    th = r.sys.clone(THREAD)
    o.do("unshare NEWUSER multi-threaded", th.sys.unshare, CLONE_NEWUSER)
    o.do("unshare VM multi-threaded", th.sys.unshare, CLONE_VM)
    o.do("unshare FILES multi-threaded", th.sys.unshare, CLONE_FILES)
    return o


def test_unshare_flags_match_host(host: Any, compared: Any) -> None:
    """unshare: EPERM without CAP_SYS_ADMIN, EINVAL for unknown flags and for a shared VM/fs when threaded."""
    run_both(host, compared, scenario_unshare)


# -- tmpfs specifics: sizes, blocks, set-id clearing, O_TMPFILE, SEEK_DATA -----------------------------------------
def full_view(st: os.stat_result) -> tuple[Any, ...]:
    """Everything but times, inode and device numbers: valid to compare on tmpfs, which the simulation models."""
    return (oct(st.st_mode), st.st_uid, st.st_gid, st.st_nlink, st.st_size, st.st_blocks, st.st_blksize)


def scenario_tmpfs_attrs(k: Any, d: str) -> Obs:
    o = Obs()
    s = k.init.sys
    t = f"{d}/t"
    k.init.sys.mkdir(t, 0o755)
    s.mount("tmpfs", t, "tmpfs", 0, "")
    o.do("fresh tmpfs root", s.stat, t, view=full_view)
    s.mkdir(f"{t}/dir", 0o755)
    o.do("empty dir", s.stat, f"{t}/dir", view=full_view)
    for name in ("a", "b", "c"):
        s.close(s.open(f"{t}/dir/{name}", O_CREAT | O_WRONLY, 0o644))
    s.mkdir(f"{t}/dir/sub", 0o700)
    s.symlink("x" * 127, f"{t}/dir/short")
    s.symlink("y" * 128, f"{t}/dir/long")
    o.do("dir with entries", s.stat, f"{t}/dir", view=full_view)
    o.do("short link", s.lstat, f"{t}/dir/short", view=full_view)
    o.do("long link", s.lstat, f"{t}/dir/long", view=full_view)
    s.unlink(f"{t}/dir/a")
    s.rename(f"{t}/dir/b", f"{t}/dir/c")
    o.do("after unlink and rename-over", s.stat, f"{t}/dir", view=full_view)
    s.link(f"{t}/dir/c", f"{t}/dir/c2")
    s.rename(f"{t}/dir/c2", f"{t}/c3")
    o.do("after link and cross-dir rename", lambda: (full_view(s.stat(f"{t}/dir")), full_view(s.stat(t))))
    s.rename(f"{t}/dir/sub", f"{t}/sub")
    o.do("nlink after dir move", lambda: (full_view(s.stat(f"{t}/dir")), full_view(s.stat(t))))
    fd = s.open(f"{t}/f", O_CREAT | O_RDWR, 0o644)
    o.do("write 5", s.write, fd, b"hello")
    o.do("blocks after write", s.fstat, fd, view=full_view)
    o.do("sparse ftruncate", s.ftruncate, fd, 3 * 4096)
    o.do("blocks after sparse grow", s.fstat, fd, view=full_view)
    o.do("pwrite page 2", lambda: (s.lseek(fd, 2 * 4096 + 10, SEEK_SET), s.write(fd, b"x"))[1])
    o.do("blocks two pages", s.fstat, fd, view=full_view)
    for off in (0, 5, 4096, 8192, 8202, 3 * 4096, 99999):
        o.do(f"SEEK_DATA {off}", s.lseek, fd, off, 3)
        o.do(f"SEEK_HOLE {off}", s.lseek, fd, off, 4)
    o.do("ftruncate 1 TiB", s.ftruncate, fd, 1 << 40)
    o.do("blocks of 1 TiB sparse", s.fstat, fd, view=full_view)
    o.do("write near 1 TiB", lambda: (s.lseek(fd, (1 << 40) - 2, SEEK_SET), s.write(fd, b"xyz"))[1])
    o.do("blocks after write near 1 TiB", s.fstat, fd, view=full_view)
    o.do("read across 1 TiB", s.pread, fd, 5, (1 << 40) - 3)
    o.do("write at LLONG_MAX", lambda: (s.lseek(fd, 2**63 - 1, SEEK_SET), s.write(fd, b"a"))[1])
    o.do("read at LLONG_MAX", s.read, fd, 1)
    o.do("pread passing LLONG_MAX", s.pread, fd, 10, 2**63 - 5)
    o.do("write ending at LLONG_MAX", lambda: (s.lseek(fd, 2**63 - 4, SEEK_SET), s.write(fd, b"abc"))[1])
    o.do("shrink to 100", s.ftruncate, fd, 100)
    o.do("blocks after shrink", s.fstat, fd, view=full_view)
    o.do("read after shrink", lambda: s.pread(fd, 200, 0))
    s.close(fd)
    o.do("mknod fifo", s.mknod, f"{t}/fifo", 0o010640)
    o.do("fifo", s.lstat, f"{t}/fifo", view=full_view)
    o.do("mknod chr", s.mknod, f"{t}/null", 0o020666, (1 << 8) | 3)
    o.do("chr", s.lstat, f"{t}/null", view=lambda st: full_view(st) + (st.st_rdev,))
    # a write or truncate by a task without CAP_FSETID clears the set-id bits
    u = k.spawn("writer", uid=1000, gid=1000)
    for label, mode in (("suid", 0o4777), ("sgid+gx", 0o2777), ("sgid-gx", 0o2767)):
        p = f"{t}/{label}"
        s.close(s.open(p, O_CREAT | O_WRONLY, 0o644))
        s.chmod(p, mode)
        fd = u.sys.open(p, O_WRONLY)
        o.do(f"{label} user write", u.sys.write, fd, b"z")
        o.do(f"{label} mode after user write", s.stat, p, view=full_view)
        s.chmod(p, mode)
        o.do(f"{label} user ftruncate", u.sys.ftruncate, fd, 0)
        o.do(f"{label} mode after user truncate", s.stat, p, view=full_view)
        u.sys.close(fd)
        s.chmod(p, mode)
        fd = s.open(p, O_WRONLY)
        o.do(f"{label} root write", s.write, fd, b"z")
        o.do(f"{label} mode after root write", s.stat, p, view=full_view)
        s.close(fd)
        o.open(f"{label} user O_TRUNC", u, p, O_WRONLY | O_TRUNC)
        o.do(f"{label} mode after user O_TRUNC", s.stat, p, view=full_view)
    # O_TMPFILE: an unnamed file in the directory
    fd = k.init.sys.open(t, os.O_TMPFILE | O_RDWR, 0o600)
    o.do("O_TMPFILE fstat", s.fstat, fd, view=full_view)
    o.do("O_TMPFILE fd link", lambda: k.init.sys.readlink(f"/proc/{k.init.pid}/fd/{fd}").split("#")[0])
    o.do("O_TMPFILE fd link suffix", lambda: k.init.sys.readlink(f"/proc/{k.init.pid}/fd/{fd}").endswith(" (deleted)"))
    o.do("O_TMPFILE not listed", lambda: sorted(s.listdir(t)))
    s.close(fd)
    o.do("O_TMPFILE read-only", s.open, t, os.O_TMPFILE | O_RDONLY, 0o600)
    o.do("O_TMPFILE on a file", s.open, f"{t}/f", os.O_TMPFILE | O_RDWR, 0o600)
    o.do("O_TMPFILE by a user", u.sys.open, t, os.O_TMPFILE | O_RDWR, 0o600, view=lambda fd: "fd")
    o.do("O_TMPFILE without permission", u.sys.open, f"{t}/sub", os.O_TMPFILE | O_RDWR, 0o600)
    o.do("O_RDWR|O_WRONLY root", lambda: k.init.sys.close(k.init.sys.open(f"{t}/f", 3)))
    o.do("O_NOATIME non-owner", u.sys.open, f"{t}/c3", os.O_NOATIME, view=lambda fd: "fd")
    o.do("O_NOATIME owner root", k.init.sys.open, f"{t}/c3", os.O_NOATIME, view=lambda fd: "fd")
    o.do("mount tmpfs mode=0710,uid=5", s.mount, "tmpfs", f"{t}/sub", "tmpfs", 0, "mode=0710,uid=5,gid=6")
    o.do("tmpfs options", s.stat, f"{t}/sub", view=full_view)
    o.do("mount tmpfs bad option", s.mount, "tmpfs", f"{t}/dir", "tmpfs", 0, "bogus=1")
    o.do("mount tmpfs bad mode", s.mount, "tmpfs", f"{t}/dir", "tmpfs", 0, "mode=abc")
    o.do("mount on a file", s.mount, "tmpfs", f"{t}/c3", "tmpfs", 0, "")
    o.do("mount unknown type", s.mount, "none", f"{t}/dir", "nosuchfs", 0, "")
    o.do("user mount", u.sys.mount, "tmpfs", f"{t}/dir", "tmpfs", 0, "")
    o.do("user mount on missing", u.sys.mount, "tmpfs", f"{t}/missing", "tmpfs", 0, "")
    o.do("user mount unknown type", u.sys.mount, "tmpfs", f"{t}/dir", "nosuchfs", 0, "")
    o.do("remount not a mount root", s.mount, "none", f"{t}/dir", "none", 32, "")
    o.do("remount tmpfs read-only", s.mount, "none", t, "none", 32 | 1, "")
    o.do("mkdir on read-only tmpfs", s.mkdir, f"{t}/rofs")
    o.do("remount tmpfs read-write", s.mount, "none", t, "none", 32, "")
    o.do("mkdir after rw remount", s.mkdir, f"{t}/rofs")
    return o


def test_tmpfs_sizes_blocks_setid_tmpfile_match_host(host: Any, compared: Any) -> None:
    """On tmpfs: directory sizes (40 + 20 per entry), page-counted blocks, SEEK_DATA/HOLE, set-id clearing
    on write/truncate without CAP_FSETID, O_TMPFILE, mount options."""
    run_both(host, compared, scenario_tmpfs_attrs)


def scenario_unshare_threads(k: Any, d: str) -> Obs:
    o = Obs()
    p = k.spawn("p")
    th = p.sys.clone(THREAD)
    make_dir(k, f"{d}/x")
    o.do("thread unshare FS", th.sys.unshare, CLONE_FS)
    o.do("thread chdir after", th.sys.chdir, f"{d}/x")
    o.do("thread cwd", th.sys.getcwd)
    o.do("process cwd unchanged", p.sys.getcwd)
    fd = p.sys.open(f"{d}/x", O_RDONLY | O_DIRECTORY)
    o.do("thread unshare FILES", th.sys.unshare, CLONE_FILES)
    o.do("thread closes its copy", th.sys.close, fd)
    o.do("process fd still open", p.sys.fstat, fd, view=stat_view)
    o.do("thread fd gone", th.sys.fstat, fd, view=stat_view)
    o.do("thread unshare NEWNS", th.sys.unshare, CLONE_NEWNS)
    o.do("thread unshare SIGHAND", th.sys.unshare, CLONE_SIGHAND)
    o.do("thread unshare THREAD", th.sys.unshare, CLONE_THREAD)
    o.do("process unshare FILES|FS", p.sys.unshare, CLONE_FILES | CLONE_FS)
    return o


def test_unshare_in_threads_matches_host(host: Any, compared: Any) -> None:
    """A thread may unshare its fs_struct, fd table and mount namespace, not its thread group or VM."""
    run_both(host, compared, scenario_unshare_threads)


# -- mounts: bind mounts, "..", EXDEV between mounts of one filesystem, EBUSY --------------------------------------
def scenario_mounts(k: Any, d: str) -> Obs:
    o = Obs()
    s = k.init.sys
    t = f"{d}/t"
    s.mkdir(t, 0o755)
    s.mount("tmpfs", t, "tmpfs", 0, "mode=755")
    make_dir(k, f"{t}/src")
    make_dir(k, f"{t}/src/in")
    make_file(k, f"{t}/src/f")
    make_dir(k, f"{t}/dst")
    make_file(k, f"{t}/file-target")
    o.do("bind dir", s.mount, f"{t}/src", f"{t}/dst", "none", 4096)
    o.do("listing through bind", lambda: sorted(s.listdir(f"{t}/dst")))
    o.do("same inode through bind", lambda: s.stat(f"{t}/dst/f").st_ino == s.stat(f"{t}/src/f").st_ino)
    o.do(".. from bind root", lambda: sorted(s.listdir(f"{t}/dst/..")))
    o.do(".. from inside bind", lambda: s.stat(f"{t}/dst/in/..").st_ino == s.stat(f"{t}/src").st_ino)
    o.do("rename across bind (same fs)", s.rename, f"{t}/src/f", f"{t}/dst/g")
    o.do("link across bind (same fs)", s.link, f"{t}/src/f", f"{t}/dst/g")
    o.do("rename inside bind", s.rename, f"{t}/dst/f", f"{t}/dst/f2")
    o.do("visible at source", lambda: sorted(s.listdir(f"{t}/src")))
    o.do("rmdir bind mountpoint", s.rmdir, f"{t}/dst")
    o.do("rename bind mountpoint", s.rename, f"{t}/dst", f"{t}/dst2")
    o.do("rename onto bind mountpoint", s.rename, f"{t}/src/in", f"{t}/dst")
    o.do("bind file on dir", s.mount, f"{t}/file-target", f"{t}/src/in", "none", 4096)
    make_file(k, f"{t}/over")
    o.do("bind file on file", s.mount, f"{t}/file-target", f"{t}/over", "none", 4096)
    o.do("unlink bound file", s.unlink, f"{t}/over")
    o.do("rename over bound file", s.rename, f"{t}/src/f2", f"{t}/over")
    o.do("stat bound file", s.stat, f"{t}/over", view=stat_view)
    o.do("mount on missing", s.mount, "tmpfs", f"{t}/missing", "tmpfs", 0, "")
    o.do("stack tmpfs on dst", s.mount, "tmpfs", f"{t}/dst", "tmpfs", 0, "")
    o.do("top of the stack", lambda: sorted(s.listdir(f"{t}/dst")))
    o.do("cwd inside stacked", lambda: (s.chdir(f"{t}/dst"), s.getcwd())[1])
    o.do("getcwd after chdir ..", lambda: (s.chdir(".."), s.getcwd())[1])
    s.chdir("/")
    return o


def test_mounts_bind_dotdot_exdev_ebusy_match_host(host: Any, compared: Any) -> None:
    """Bind mounts: ".." leaves through the mountpoint, rename/link between mounts of one fs is EXDEV,
    mountpoints are EBUSY, stacked mounts show the top one."""
    run_both(host, compared, scenario_mounts)


# -- which error wins: existence, permission, read-only mounts, name length ------------------------------------
def scenario_precedence(k: Any, d: str) -> Obs:
    o = Obs()
    s = k.init.sys
    make_dir(k, f"{d}/ro-dir", 0o755)
    make_file(k, f"{d}/ro-dir/f", 0o666)
    make_dir(k, f"{d}/ro-dir/sub", 0o777)
    u = k.spawn("u", uid=1000, gid=1000)
    long = "n" * 256
    p = f"{d}/ro-dir"
    for label, fn, args in (
            ("mkdir existing", u.sys.mkdir, (f"{p}/f",)), ("mkdir new", u.sys.mkdir, (f"{p}/x",)),
            ("mkdir too long", u.sys.mkdir, (f"{p}/{long}",)), ("unlink missing", u.sys.unlink, (f"{p}/x",)),
            ("unlink existing", u.sys.unlink, (f"{p}/f",)), ("rmdir missing", u.sys.rmdir, (f"{p}/x",)),
            ("rmdir existing", u.sys.rmdir, (f"{p}/sub",)), ("rename missing", u.sys.rename, (f"{p}/x", f"{p}/y")),
            ("rename existing", u.sys.rename, (f"{p}/f", f"{p}/y")),
            ("link onto existing", u.sys.link, (f"{p}/f", f"{p}/sub")),
            ("link new", u.sys.link, (f"{p}/f", f"{p}/y")), ("symlink over existing", u.sys.symlink, ("t", f"{p}/f")),
            ("symlink too long", u.sys.symlink, ("t", f"{p}/{long}")),
            ("mknod too long", u.sys.mknod, (f"{p}/{long}", 0o100644)),
            ("open creat excl existing", u.sys.open, (f"{p}/f", O_CREAT | O_EXCL | O_WRONLY, 0o644)),
            ("open creat new", u.sys.open, (f"{p}/x", O_CREAT | O_WRONLY, 0o644)),
            ("open creat too long", u.sys.open, (f"{p}/{long}", O_CREAT | O_WRONLY, 0o644)),
            ("open creat existing", u.sys.open, (f"{p}/f", O_CREAT | O_WRONLY, 0o644)),
    ):
        o.do(f"user {label}", fn, *args, view=lambda r: "ok")
    r = f"{d}/ro"
    s.mkdir(r, 0o755)
    s.mount("tmpfs", r, "tmpfs", 0, "mode=755")
    make_file(k, f"{r}/f", 0o666)
    make_dir(k, f"{r}/sub", 0o777)
    ro = k.spawn("ro-maker")
    ro.sys.unshare(CLONE_NEWNS)
    o.do("bind with MS_RDONLY", ro.sys.mount, r, r, "none", 4096 | 1)   # the flag is ignored for a bind
    o.do("still writable", lambda: ro.sys.close(ro.sys.open(f"{r}/w0", O_CREAT | O_WRONLY, 0o644)))
    o.do("remount bind ro elsewhere", ro.sys.mount, "none", f"{r}/sub", "none", 4096 | 32 | 1)
    o.do("remount bind ro", ro.sys.mount, "none", r, "none", 4096 | 32 | 1)   # only in this namespace
    for label, fn, args in (
            ("mkdir existing", ro.sys.mkdir, (f"{r}/f",)), ("mkdir new", ro.sys.mkdir, (f"{r}/x",)),
            ("unlink missing", ro.sys.unlink, (f"{r}/x",)), ("unlink existing", ro.sys.unlink, (f"{r}/f",)),
            ("rmdir missing", ro.sys.rmdir, (f"{r}/x",)), ("rename missing", ro.sys.rename, (f"{r}/x", f"{r}/y")),
            ("link onto existing", ro.sys.link, (f"{r}/f", f"{r}/sub")), ("link new", ro.sys.link, (f"{r}/f", f"{r}/y")),
            ("symlink new", ro.sys.symlink, ("t", f"{r}/y")), ("mknod existing", ro.sys.mknod, (f"{r}/f", 0o100644)),
            ("open creat excl existing", ro.sys.open, (f"{r}/f", O_CREAT | O_EXCL | O_WRONLY, 0o644)),
            ("open creat new", ro.sys.open, (f"{r}/x", O_CREAT | O_WRONLY, 0o644)),
            ("open creat existing rdonly", ro.sys.open, (f"{r}/f", O_CREAT | O_RDONLY, 0o644)),
            ("open wronly", ro.sys.open, (f"{r}/f", O_WRONLY)), ("open trunc", ro.sys.open, (f"{r}/f", O_RDONLY | O_TRUNC)),
            ("chmod", ro.sys.chmod, (f"{r}/f", 0o600)), ("chown", ro.sys.chown, (f"{r}/f", 1, 1)),
            ("open dir rdonly", ro.sys.open, (r, O_RDONLY | O_DIRECTORY)),
    ):
        o.do(f"ro-mount {label}", fn, *args, view=lambda res: "ok")
    o.do("other namespace still writable", lambda: s.close(s.open(f"{r}/w", O_CREAT | O_WRONLY, 0o644)))
    return o


def test_error_precedence_matches_host(host: Any, compared: Any) -> None:
    """Which errno wins: EEXIST before EACCES, ENOENT before EACCES, ENAMETOOLONG before EACCES; on a read-only
    mount EROFS before ENOENT for unlink/rmdir/rename but after EEXIST for creations."""
    run_both(host, compared, scenario_precedence)


# -- user namespaces: ids as seen from inside, capabilities only over mapped inodes ----------------------------
def scenario_userns(k: Any, d: str) -> Obs:
    o = Obs()
    make_dir(k, f"{d}/mine", 0o755, 1000, 1000)
    make_file(k, f"{d}/mine/f", 0o644, 1000, 1000)
    make_dir(k, f"{d}/rootonly", 0o700)
    make_file(k, f"{d}/rootfile", 0o600)
    make_file(k, f"{d}/readable", 0o644)
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    o.do("stat own file before maps", u.sys.stat, f"{d}/mine/f", view=stat_view)
    for path, text in ((f"/proc/{u.pid}/setgroups", b"deny"), (f"/proc/{u.pid}/uid_map", b"0 1000 1"),
                       (f"/proc/{u.pid}/gid_map", b"0 1000 1")):
        fd = u.sys.open(path, O_WRONLY)
        o.do(f"write {path.rsplit('/', 1)[1]}", u.sys.write, fd, text)
        u.sys.close(fd)
    o.do("ids inside", lambda: (u.sys.getuid(), u.sys.getgid()))
    o.do("stat own file", u.sys.stat, f"{d}/mine/f", view=stat_view)
    o.do("stat root file", u.sys.stat, f"{d}/rootfile", view=stat_view)
    o.do("read root 0600 file", u.sys.open, f"{d}/rootfile", O_RDONLY, view=lambda fd: "fd")
    o.do("read root 0644 file", u.sys.open, f"{d}/readable", O_RDONLY, view=lambda fd: "fd")
    o.do("list root 0700 dir", u.sys.listdir, f"{d}/rootonly")
    o.do("write root 0644 file", u.sys.open, f"{d}/readable", O_WRONLY, view=lambda fd: "fd")
    o.do("mkdir in own dir", u.sys.mkdir, f"{d}/mine/new")
    o.do("new dir owner", u.sys.stat, f"{d}/mine/new", view=stat_view)
    o.do("chown own file to ns root", u.sys.chown, f"{d}/mine/f", 0, 0)
    o.do("chown to unmapped uid", u.sys.chown, f"{d}/mine/f", 5, -1)
    o.do("chown root file", u.sys.chown, f"{d}/readable", 0, -1)
    o.do("chmod own file", u.sys.chmod, f"{d}/mine/f", 0o600)
    o.do("chmod root file", u.sys.chmod, f"{d}/readable", 0o600)
    o.do("unlink in root dir", u.sys.unlink, f"{d}/readable")
    o.do("stat as root sees", k.init.sys.stat, f"{d}/mine/new", view=stat_view)
    return o


def test_user_namespace_file_access_matches_host(host: Any, compared: Any) -> None:
    """Inside a user namespace: ids map, unmapped owners read as 65534, capabilities do not reach inodes whose
    owner is unmapped, chown to an unmapped id is EINVAL."""
    run_both(host, compared, scenario_userns)
