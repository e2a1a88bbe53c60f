"""The command line (simkernel/cli.py): every subcommand run as `python -m simkernel ...`, checked by its output
and exit status (0 ok, 1 failure, 2 usage); the snapshot subcommand also in-process on hand-written host
processes (simkernel/host/snapshot.py), so its rebuild rules are checked on any machine.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

import simkernel
from simkernel import cli
from simkernel.host import snapshot as snapmod
from simkernel.host.snapshot import (HostFile, HostProcess, MapsEntry, build, compare, normalise_maps_line,
                                     run_snapshot)
from simkernel.uapi import CAP_CHECKPOINT_RESTORE, CAP_NET_RAW, CAP_SYS_PTRACE

ROOT = Path(__file__).resolve().parent.parent
LINUX = sys.platform.startswith("linux")


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simkernel", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


@pytest.fixture
def sleeper() -> Iterator[int]:
    """A real process of this machine (sleep), killed after the test."""
    p = subprocess.Popen(["sleep", "60"])
    try:
        for _ in range(200):      # wait until it has exec'd sleep (its maps name /usr/bin/sleep or similar)
            with open(f"/proc/{p.pid}/maps") as f:
                if "sleep" in f.read():
                    break
            import time
            time.sleep(0.01)
        yield p.pid
    finally:
        p.kill()
        p.wait()


# -- subprocesses: help, usage, demo, versions -------------------------------------------------------------

def test_help_lists_every_subcommand() -> None:
    """`simkernel --help` names demo, versions, shell and snapshot and exits 0."""
    r = run_cli("--help")
    assert r.returncode == 0
    for name in ("demo", "versions", "shell", "snapshot"):
        assert name in r.stdout


@pytest.mark.parametrize("sub, words", [
    ("demo", ["--kernel", "observers"]),
    ("versions", ["release profiles"]),
    ("shell", ["SCRIPT", "--exit-on-error", "--from-pid", "--kernel"]),
    ("snapshot", ["PID", "--compare", "needs root", "exit status"]),
])
def test_subcommand_help(sub: str, words: list[str]) -> None:
    """Each subcommand has a --help text naming its arguments; it exits 0."""
    r = run_cli(sub, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith(f"usage: simkernel {sub}")
    for w in words:
        assert w in r.stdout


def test_bench_help_is_the_benchmark_runner() -> None:
    """`simkernel bench --help` is benchmarks/run.py's own help (its options), exit 0."""
    r = run_cli("bench", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: simkernel bench")
    for w in ("--quick", "--json", "--plot", "--repeats", "--no-host"):
        assert w in r.stdout


@pytest.mark.parametrize("args", [
    (), ("bogus",), ("demo", "--kernel", "1.0"), ("snapshot",), ("snapshot", "notapid"), ("snapshot", "0"),
    ("shell", "--kernel", "nope"), ("versions", "extra"), ("--nope",),
])
def test_bad_arguments_exit_2(args: tuple[str, ...]) -> None:
    """Missing, unknown or invalid arguments: a usage message on stderr and status 2."""
    r = run_cli(*args)
    assert r.returncode == 2
    assert "usage: simkernel" in r.stderr
    assert "Traceback" not in r.stderr


def test_version_flag() -> None:
    r = run_cli("--version")
    assert (r.returncode, r.stdout) == (0, f"simkernel {simkernel.__version__}\n")


def test_versions_lists_profiles_with_the_default_marked() -> None:
    """`versions` prints one line per release profile; the default is marked."""
    r = run_cli("versions")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == len(simkernel.VERSIONS)
    assert any(line.startswith(simkernel.DEFAULT_VERSION) and line.endswith("(default)") for line in lines)


def test_demo_prints_maps_map_files_and_who_may_look() -> None:
    """`demo` shows the seed's ls -l map_files listing and the permission story; exit 0."""
    r = run_cli("demo")
    assert r.returncode == 0
    assert "lr-------- 1 user user   64 Jan 10 23:00 400000-41a000 -> /bin/ls" in r.stdout
    assert "== Who may look at process 2 (ls, uid 1000)? ==" in r.stdout
    assert r.stderr == ""


def test_demo_with_another_kernel() -> None:
    """`demo --kernel V` models release V."""
    other = next(v for v in simkernel.VERSIONS if v != simkernel.DEFAULT_VERSION)
    r = run_cli("demo", "--kernel", other)
    assert r.returncode == 0
    assert f"a model of Linux {other} procfs" in r.stdout


def test_shell_subcommand_on_stdin() -> None:
    """`shell` reads commands on stdin (no prompt) and exits with the last status."""
    r = run_cli("shell", stdin="spawn app --uid 1000\nas $PID\nid\ncat /proc/1/maps\n")
    assert r.returncode == 1
    assert r.stdout.splitlines()[:2] == ["2", "uid=1000(user) gid=1000(user) groups=1000(user)"]
    assert r.stderr == "cat: /proc/1/maps: Permission denied\n"


# -- snapshot of a real process ------------------------------------------------------------------------------

@pytest.mark.skipif(not LINUX, reason="needs Linux /proc")
def test_snapshot_subprocess_of_a_real_process_compares_equal(sleeper: int) -> None:
    """`snapshot PID --compare` of a running `sleep`: the simulated maps and map_files equal the host's."""
    r = run_cli("snapshot", str(sleeper), "--compare")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith(f"host process {sleeper} (sleep) is simulated pid 2")
    assert "== cat /proc/2/maps (simulated, as root) ==" in r.stdout
    assert r.stdout.rstrip().endswith("identical")


def test_snapshot_of_a_missing_process_exits_1() -> None:
    """A pid that does not exist: one error line, status 1."""
    r = run_cli("snapshot", "999999999")
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "snapshot: no such process: 999999999\n"


@pytest.mark.skipif(not LINUX, reason="needs Linux /proc")
def test_shell_from_pid_acts_on_the_imported_process(sleeper: int) -> None:
    """`shell --from-pid PID` imports the process first; $PID is its simulated pid."""
    r = run_cli("shell", "--from-pid", str(sleeper), stdin="cat /proc/$PID/maps\n")
    assert r.returncode == 0
    assert r.stderr.startswith(f"host process {sleeper} (sleep) is simulated pid 2 ($PID)\n")
    assert "[stack]" in r.stdout


def test_shell_from_a_missing_pid_exits_1() -> None:
    r = run_cli("shell", "--from-pid", "999999999")
    assert (r.returncode, r.stderr) == (1, "simkernel shell: no such process: 999999999\n")


# -- in-process: main() dispatch -----------------------------------------------------------------------------

def test_main_dispatch_in_process(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """main() returns the statuses the subprocesses exit with."""
    assert cli.main(["versions"]) == 0
    assert cli.main(["demo"]) == 0
    assert cli.main([]) == 2
    monkeypatch.setattr(sys, "stdin", io.StringIO("echo hi\nquit 5\n"))
    assert cli.main(["shell"]) == 5
    assert capsys.readouterr().out.endswith("hi\n")
    with pytest.raises(SystemExit) as e:
        cli.main(["snapshot", "x"])
    assert e.value.code == 2


# -- in-process: snapshot rules on hand-written host processes ---------------------------------------------

def _line(start: int, end: int, perms: str, name: str | None = None, offset: int = 0, inode: int = 1) -> MapsEntry:
    return MapsEntry(start, end, perms, offset, "fe:00" if name else "00:00", inode if name else 0, name)


def _clean_host() -> HostProcess:
    """A process whose every mapping the model can rebuild exactly."""
    b = 0x7E0000000000
    maps = [
        _line(0x555500000000, 0x555500002000, "r--p", "/opt/app/bin/app"),
        _line(0x555500002000, 0x555500004000, "r-xp", "/opt/app/bin/app", 0x2000),
        _line(0x555500004000, 0x555500005000, "rw-p", "/opt/app/bin/app", 0x4000),
        _line(0x555600000000, 0x555600021000, "rw-p", "[heap]"),
        _line(b, b + 0x1000, "rw-p"), _line(b + 0x1000, b + 0x2000, "rw-p"),           # kept apart on the host
        _line(b + 0x2000, b + 0x3000, "r--s", "/etc/hostname"),                       # exists in the model
        _line(b + 0x10000, b + 0x12000, "rw-s", "/tmp/old (deleted)", 0, 7),
        _line(b + 0x20000, b + 0x21000, "rw-s", "/memfd:buf (deleted)", 0x1000, 8),
        _line(b + 0x28000, b + 0x29000, "r--p", "/memfd:buf (deleted)", 0, 8),        # a read-only reopen
        _line(b + 0x30000, b + 0x31000, "rw-s", "/dev/zero (deleted)", 0x2000, 9),
        _line(b + 0x40000, b + 0x41000, "rw-s", "/dev/zero (deleted)", 0, 10),
        _line(b + 0x50000, b + 0x51000, "r--p", "/tmp/line\\012break"),
        _line(0x7FFFF7FE0000, 0x7FFFF7FE2000, "r--p", "[vvar]"),
        _line(0x7FFFF7FE2000, 0x7FFFF7FE4000, "r-xp", "[vdso]"),
        _line(0x7FFFF7FF8000, 0x7FFFF7FF9000, "rw-s", "/dev/zero (deleted)", 0x20000, 11),  # scratch covers it
        _line(0x7FFFFFFDE000, 0x7FFFFFFFF000, "rw-p", "[stack]"),
        _line(0xFFFFFFFFFF600000, 0xFFFFFFFFFF601000, "--xp", "[vsyscall]"),
    ]
    files = [e for e in maps if e.name and e.name.startswith("/")]
    map_files = [(e.map_files_name, e.name.replace("\\012", "\n")) for e in files]  # type: ignore[union-attr]
    return HostProcess(
        pid=4242, comm="app", uids=(1000, 1000, 1000, 1000), gids=(100, 100, 100, 100), groups=(5, 100),
        cap_inh=1 << CAP_NET_RAW, cap_prm=(1 << CAP_NET_RAW) | (1 << CAP_SYS_PTRACE),
        cap_eff=1 << CAP_SYS_PTRACE, cap_bnd=((1 << 41) - 1) & ~(1 << CAP_CHECKPOINT_RESTORE),
        cap_amb=1 << CAP_NET_RAW, no_new_privs=True, dumpable=False, maps=maps, map_files=map_files,
        link_modes={e.map_files_name: 0o120600 if "w" in e.perms else 0o120400 for e in files},
        files={files[0].map_files_name: HostFile(0x5000, 0o755, 0, 0),
               files[4].map_files_name: HostFile(0x3000, 0o777, 1000, 100)},
        dirs={"/opt": HostFile(0, 0o755, 0, 0), "/opt/app": HostFile(0, 0o750, 0, 100)})


def test_build_rebuilds_every_kind_and_compares_equal() -> None:
    """Files (also existing and deleted ones), memfds, shared anonymous memory at an offset, named anonymous
    areas: the simulated maps and map_files equal the host's; the gate area is left out."""
    host = _clean_host()
    snap = build(host)
    c = compare(snap)
    assert c.differences == [], "\n".join(c.differences)
    assert c.same and len(c.maps_host) == 17
    assert snap.notes == [
        "[vsyscall]: the gate area above TASK_SIZE is not a VMA; left out",
        "1 pair(s) of adjacent VMAs the model would merge were kept apart as on the host (each given its own "
        "anon_vma)"]
    s = snap.kernel.init.sys
    assert oct(s.stat("/opt/app").st_mode & 0o7777) == "0o750" and s.stat("/opt/app").st_gid == 100
    assert s.stat("/opt/app/bin/app").st_size == 0x5000
    assert snap.task.mm.start_brk == 0x555600000000 and snap.task.mm.brk == 0x555600021000
    assert "/tmp/old" not in s.listdir("/tmp") and "line\nbreak" in s.listdir("/tmp")


def test_build_sets_the_host_credentials() -> None:
    """uids, gids, groups, every capability set, NO_NEW_PRIVS and dumpable follow the host's status."""
    host = _clean_host()
    snap = build(host)
    c = snap.task.cred
    assert (c.uid, c.euid, c.suid, c.fsuid, c.gid, c.fsgid, c.groups) == (1000, 1000, 1000, 1000, 100, 100, (5, 100))
    assert (c.cap_effective, c.cap_permitted, c.cap_inheritable, c.cap_bset, c.cap_ambient) == (
        host.cap_eff, host.cap_prm, host.cap_inh, host.cap_bnd, host.cap_amb)
    assert snap.task.no_new_privs and snap.task.comm == "app"
    assert snap.task.sys.prctl(3) == 0      # PR_GET_DUMPABLE


def test_build_notes_what_it_cannot_rebuild() -> None:
    """Names that are no path, paths the model refuses, mmap failures, a deleted file whose path exists,
    over-large files and credential steps that fail are skipped with a note each; compare then differs."""
    b = 0x7E0000000000
    host = HostProcess(pid=1, comm="odd", uids=(1000,) * 4, gids=(1000,) * 4, cap_prm=0, cap_eff=0,
                       cap_amb=1 << CAP_NET_RAW, maps=[
                           _line(b, b + 0x1000, "rw-p", "anon_inode:[perf_event]"),
                           _line(b + 0x10000, b + 0x11000, "r--p", "/proc/nope/x"),
                           _line(b + 0x18000, b + 0x19000, "r--p", "/proc/1/status"),
                           _line(b + 0x20000, b + 0x21000, "r--p", "/etc/passwd (deleted)"),
                           _line(b + 0x30000, b + 0x31000, "r--s", "/memfd:big (deleted)"),
                           _line(b + 0x40000, b + 0x41000, "rw-s", "/dev/zero (deleted)", 1 << 47),
                           _line(b + 0x50000, b + 0x51000, "r--p", "/etc"),
                       ], files={f"{b + 0x30000:x}-{b + 0x31000:x}": HostFile(1 << 30, 0o777, 0, 0)},
                       map_files=None, map_files_error="/proc/1/map_files: Permission denied")
    snap = build(host, max_file_size=1 << 20)
    notes = "\n".join(snap.notes)
    assert "anon_inode:[perf_event]: not rebuilt: not a path the model can create" in notes
    assert "/proc/nope/x: not rebuilt: /proc/nope/x: " in notes
    assert "/proc/1/status: not rebuilt: mmap: No such device" in notes
    assert "/etc/passwd (deleted): not rebuilt: /etc/passwd: File exists" in notes
    assert f"/memfd:big (deleted): {1 << 30} bytes on the host; the simulated file is cut to {1 << 20}" in notes
    assert "/dev/zero (deleted): not rebuilt: shared anonymous memory at offset 0x800000000000:" in notes
    assert "/etc: not rebuilt: mmap: No such device" in notes
    assert "credentials: prctl(PR_CAP_AMBIENT_RAISE) failed: Operation not permitted" in notes
    assert len(snap.skipped) == 6
    c = compare(snap)
    assert not c.same
    assert c.differences[-1] == "host map_files unreadable (/proc/1/map_files: Permission denied): not compared"


def test_build_reports_a_failed_memfd_and_open(monkeypatch: pytest.MonkeyPatch) -> None:
    """memfd_create and a per-mapping open that fail skip their mappings."""
    b = 0x7E0000000000
    host = HostProcess(pid=1, comm="x", maps=[_line(b, b + 0x1000, "r--s", "/memfd:" + "n" * 300 + " (deleted)"),
                                              _line(b + 0x2000, b + 0x3000, "rw-s", "/etc/hostname")])
    from simkernel.syscalls import Sys
    real_open = Sys.open

    def open_(self: Any, path: str, flags: int, mode: int = 0o777, **kw: Any) -> int:
        if path == "/etc/hostname" and flags & 3 == 2:      # O_RDWR
            raise PermissionError(13, "Permission denied", path)
        return real_open(self, path, flags, mode, **kw)
    monkeypatch.setattr(Sys, "open", open_)
    snap = build(host)
    assert any("memfd_create: Invalid argument" in n for n in snap.notes)
    assert any(n.endswith("/etc/hostname: not rebuilt: /etc/hostname: Permission denied") for n in snap.notes)


def test_run_snapshot_prints_and_compares(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_snapshot prints the copy; --compare says `identical` (0) or shows a diff (1)."""
    monkeypatch.setattr(snapmod, "read_host", lambda pid: _clean_host())
    out = io.StringIO()
    assert run_snapshot(4242, out=out, err=io.StringIO()) == 0
    text = out.getvalue()
    assert text.startswith("host process 4242 (app) is simulated pid 2 on a model of Linux ")
    assert "== ls -l /proc/2/map_files (simulated, as root) ==" in text and "compared" not in text
    out = io.StringIO()
    assert run_snapshot(4242, compare=True, out=out) == 0
    assert out.getvalue().endswith("map_files: 11 host entries, 11 simulated entries\nidentical\n")

    def different(pid: int) -> HostProcess:
        h = _clean_host()
        h.map_files = h.map_files[:-1] + [("1-2", "/nowhere")]  # type: ignore[index]
        return h
    monkeypatch.setattr(snapmod, "read_host", different)
    out = io.StringIO()
    assert run_snapshot(4242, compare=True, out=out) == 1
    assert "-1-2 -> /nowhere" in out.getvalue()
    assert out.getvalue().endswith("DIFFERENT (2 line(s) only on one side)\n")


def test_read_host_of_this_process_and_its_errors(tmp_path: Path) -> None:
    """read_host reads this very process (maps, status, map_files when allowed); a missing pid or an unreadable
    maps file is a SnapshotError."""
    if not LINUX:
        pytest.skip("needs Linux /proc")
    h = snapmod.read_host(os.getpid())
    assert h.comm and h.maps and any(e.name == "[stack]" for e in h.maps)
    assert h.uids[1] == os.geteuid()
    with pytest.raises(snapmod.SnapshotError, match="no such process: 999999999"):
        snapmod.read_host(999999999)
    fake = tmp_path / "7"
    fake.mkdir()
    (fake / "status").write_text("Name:\tfake\nUid:\t5\t5\t5\t5\nGid:\t6\t6\t6\t6\nGroups:\t\nCapEff:\t0\n"
                                 "NoNewPrivs:\t1\nState:\tS\n")
    (fake / "maps").write_text("7e0000000000-7e0000001000 r--p 00000000 fe:00 12   /nonexistent/file\n"
                               "7e0000001000-7e0000002000 r--p 00000000 fe:00 13   /gone (deleted)\n")
    h = snapmod.read_host(7, proc=str(tmp_path))
    assert (h.comm, h.uids, h.gids, h.no_new_privs) == ("fake", (5, 5, 5, 5), (6, 6, 6, 6), True)
    assert h.map_files is None and "map_files" in (h.map_files_error or "")
    assert h.files == {} and "/nonexistent" not in h.dirs
    (fake / "maps").chmod(0)
    if os.geteuid() != 0:
        with pytest.raises(snapmod.SnapshotError, match="cannot read"):
            snapmod.read_host(7, proc=str(tmp_path))
    (fake / "maps").write_text("garbage\n")
    (fake / "maps").chmod(0o644)
    with pytest.raises(ValueError, match="not a maps line"):
        snapmod.read_host(7, proc=str(tmp_path))


def test_read_host_permission_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A maps file the caller may not read: `cannot read PATH: Permission denied`."""
    import builtins
    real_open = builtins.open

    def deny(path: Any, *a: Any, **kw: Any) -> Any:
        if str(path).endswith("/maps"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **kw)
    monkeypatch.setattr(builtins, "open", deny)
    with pytest.raises(snapmod.SnapshotError, match=r"cannot read /proc/\d+/maps: Permission denied"):
        snapmod.read_host(os.getpid())


def test_normalise_maps_line() -> None:
    """Device, inode and padding go; the name keeps inner spaces."""
    assert normalise_maps_line("00400000-0041a000 r-xp 00000000 00:20 20        /bin/ls") == \
        "00400000-0041a000 r-xp 00000000 /bin/ls"
    assert normalise_maps_line("7e0000000000-7e0000001000 rw-s 00001000 00:01 5   /memfd:a b (deleted)") == \
        "7e0000000000-7e0000001000 rw-s 00001000 /memfd:a b (deleted)"
    assert normalise_maps_line("01e4f000-01e70000 rw-p 00000000 00:00 0 ") == "01e4f000-01e70000 rw-p 00000000"


def test_main_snapshot_and_shell_from_pid_in_process(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """main() runs `snapshot` and `shell --from-pid` (here on a hand-written host process)."""
    monkeypatch.setattr(snapmod, "read_host", lambda pid: _clean_host())
    assert cli.main(["snapshot", "4242", "--compare"]) == 0
    assert capsys.readouterr().out.endswith("identical\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("readlink /proc/$PID/map_files/555500000000-555500002000\n"))
    assert cli.main(["shell", "--from-pid", "4242"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "/opt/app/bin/app\n"
    assert captured.err.startswith("host process 4242 (app) is simulated pid 2 ($PID)\n  note: [vsyscall]")

    def missing(pid: int) -> HostProcess:
        raise snapmod.SnapshotError(f"no such process: {pid}")
    monkeypatch.setattr(snapmod, "read_host", missing)
    assert cli.main(["snapshot", "5"]) == 1
    assert cli.main(["shell", "--from-pid", "5"]) == 1
    assert capsys.readouterr().err == "snapshot: no such process: 5\nsimkernel shell: no such process: 5\n"
    for bad in ("x", "-3"):
        with pytest.raises(SystemExit) as e:
            cli.main(["snapshot", bad])
        assert e.value.code == 2


# -- races ---------------------------------------------------------------------------------------------------
def test_races_list_and_help() -> None:
    p = run_cli("races", "--list")
    assert p.returncode == 0
    assert "readdir-vs-munmap" in p.stdout and "readlink-vs-suid-exec" in p.stdout
    h = run_cli("races", "--help")
    assert h.returncode == 0 and "Always/Sometimes/Never" in h.stdout + run_cli("--help").stdout
    assert "exit status" in h.stdout


def test_races_verdicts_with_witness_and_progress() -> None:
    """The 2026 fix as the command line shows it: Sometimes on 6.18, Never on 6.18.44, exit 0 (as expected)."""
    p = run_cli("races", "--races", "readlink-vs-suid-exec", "--kernels", "6.18", "6.18.44", "--witness")
    assert p.returncode == 0, p.stderr
    row = next(line for line in p.stdout.splitlines() if line.startswith("readlink-vs-suid-exec "))
    assert row.split()[1:] == ["Sometimes", "Never"]
    assert "witness:" in p.stdout and "B: sys_execve" in p.stdout
    assert "[1/2] readlink-vs-suid-exec on 6.18 ..." in p.stderr and "[2/2]" in p.stderr


def test_races_bad_arguments_exit_2() -> None:
    p = run_cli("races", "--kernels", "9.9")
    assert p.returncode == 2 and "unknown kernel version" in p.stderr
    p = run_cli("races", "--races", "no-such-race")
    assert p.returncode == 2 and "unknown race 'no-such-race'" in p.stderr


def test_races_mismatch_exits_1(monkeypatch: Any, capsys: Any) -> None:
    """A verdict other than the expected one (here: an expectation turned upside down) is exit status 1."""
    import attrs
    from simkernel import cli
    from simkernel.races import RACES
    r = RACES["readlink-vs-suid-exec"]
    monkeypatch.setitem(RACES, r.name, attrs.evolve(r, expect=lambda prof: "Always"))
    assert cli.main(["races", "--races", r.name, "--kernels", "6.18.44"]) == 1
    assert "MISMATCH readlink-vs-suid-exec on 6.18.44: explored Never, expected Always" in capsys.readouterr().out
