"""The shell (simkernel/shell.py): driven through stdin or a script, checked by the text on the screen.

Most tests run the shell in-process (`Shell.run` with StringIO streams); a few run `python -m simkernel shell`
as a subprocess with the script on stdin, as a user would pipe it.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from simkernel import Kernel
from simkernel.shell import (COMMANDS, Shell, Usage, cap_names, parse_addr, parse_caps, parse_prot, parse_range,
                             parse_size, prot_string, run_shell)
from simkernel.uapi import CAP_FULL_SET, CAP_SYS_PTRACE, PROT_EXEC, PROT_READ, PROT_WRITE

ROOT = Path(__file__).resolve().parent.parent

# A uid-1000 process "app" (pid 2) that maps two pages of /tmp/f; used by many tests.
SETUP = """\
touch /tmp/f 8192
chmod 644 /tmp/f
spawn app --uid 1000
as $PID
mmap /tmp/f --at 7e0000000000
su
"""


def sh(script: str, **kw: Any) -> tuple[int, str, str]:
    """Run `script` in a fresh shell; (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err, **kw)
    status = shell.run(script.splitlines())
    return status, out.getvalue(), err.getvalue()


def run_cli(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "simkernel", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


# -- listing map_files -----------------------------------------------------------------------------------

def test_ls_l_map_files_as_root_lists_links() -> None:
    """root sees each mapping as an `lr--------` link to the file, like coreutils ls -l."""
    status, out, err = sh(SETUP + "ls -l /proc/2/map_files\n")
    assert (status, err) == (0, "")
    assert out.splitlines()[-2:] == [
        "total 0",
        "lr-------- 1 user user 64 Jan 10 23:00 7e0000000000-7e0000002000 -> /tmp/f",
    ]


def test_ls_map_files_as_another_uid_prints_coreutils_error() -> None:
    """Another uid cannot open the directory: ls says so in coreutils' words and the status is 1."""
    status, out, err = sh(SETUP + "spawn other --uid 1001\nas $PID\nls -l /proc/2/map_files\n")
    assert status == 1
    assert err == "ls: cannot open directory '/proc/2/map_files': Permission denied\n"
    assert out == "2\n0x7e0000000000\n3\n"


def test_ls_same_uid_lists_and_readlinks() -> None:
    """The owner (same uid, no capabilities) may list and readlink its own map_files."""
    status, out, _ = sh(SETUP + "as 2\nls /proc/2/map_files\nreadlink /proc/2/map_files/7e0000000000-7e0000002000\n")
    assert status == 0
    assert out.splitlines()[-2:] == ["7e0000000000-7e0000002000", "/tmp/f"]


def test_ls_unreadable_entries_and_links_are_reported() -> None:
    """An entry that cannot be lstat'ed shows as ?s, a link that cannot be read has no arrow; status 1."""
    status, out, err = sh("spawn app --uid 1000\nls -l /proc/2\n")
    assert status == 1
    assert "ls: cannot read symbolic link '/proc/2/exe': No such file or directory\n" in err
    assert any(line.endswith(" exe") and "->" not in line for line in out.splitlines())


def test_ls_arguments_files_dirs_missing_and_flags() -> None:
    """Files are listed before directories, each directory under a header; -a adds . and ..; -d lists the
    directory itself; a missing path is `cannot access`."""
    status, out, err = sh("mkdir /srv/d\ntouch /srv/d/.hidden\ntouch /srv/d/x\ncd /srv\n"
                          "ls d /etc/hostname\nls -a d\nls -ld /srv/d\nls /nope\nls\n")
    assert status == 0      # the last command (ls of the cwd) succeeded
    assert err == "ls: cannot access '/nope': No such file or directory\n"
    assert out.splitlines()[:8] == ["/etc/hostname", "", "d:", "x", ".", "..", ".hidden", "x"]
    assert out.splitlines()[8].startswith("drwxr-xr-x 2 root root") and out.splitlines()[8].endswith(" /srv/d")
    assert out.splitlines()[9:] == ["d"]


def test_ls_two_directories_get_headers_and_dev_files_show_major_minor() -> None:
    """Several directories are each introduced by `PATH:`; a character device shows `major, minor`."""
    status, out, _ = sh("mkdir /srv/a\nls /srv /srv/a\nls -l /dev\n")
    assert status == 0
    assert out.splitlines()[:4] == ["/srv:", "a", "", "/srv/a:"]
    assert any(line.startswith("crw-rw-rw- 1 root root 1, 5 ") and line.endswith(" zero")
               for line in out.splitlines())


def test_ls_follows_a_symlink_argument_unless_long() -> None:
    """`ls LINK` lists the directory a link points to; `ls -l LINK` shows the link itself."""
    status, out, _ = sh(SETUP + "ls /proc/2/cwd\nls -l /proc/2/cwd\n")
    assert status == 0
    assert "tmp" in out.splitlines()
    assert out.splitlines()[-1].endswith(" /proc/2/cwd -> /")


# -- coreutils error lines --------------------------------------------------------------------------------

def test_readlink_missing_entry_is_enoent_for_root() -> None:
    """readlink of a name that matches no VMA: `readlink: PATH: No such file or directory` (as readlink -v)."""
    status, _, err = sh(SETUP + "readlink /proc/2/map_files/1-2\n")
    assert status == 1
    assert err == "readlink: /proc/2/map_files/1-2: No such file or directory\n"


def test_cat_maps_of_another_user_is_denied() -> None:
    """cat of another user's maps fails at open with EACCES: `cat: PATH: Permission denied`."""
    status, _, err = sh(SETUP + "spawn other --uid 1001\nas $PID\ncat /proc/2/maps\n")
    assert status == 1
    assert err == "cat: /proc/2/maps: Permission denied\n"


def test_cat_maps_as_root_prints_the_kernel_text() -> None:
    """cat prints /proc/<pid>/maps exactly as the model renders it."""
    import re
    status, out, _ = sh(SETUP + "cat /proc/2/maps /etc/hostname\n")
    assert status == 0
    maps, hostname = out.splitlines()[-2:]
    assert re.fullmatch(r"7e0000000000-7e0000002000 r--p 00000000 00:\d\d \d+ +/tmp/f", maps), maps
    assert maps.index("/tmp/f") == 73 and hostname == "simkernel"


@pytest.mark.parametrize("line, message", [
    ("stat /nope", "stat: cannot statx '/nope': No such file or directory"),
    ("cd /nope", "cd: /nope: No such file or directory"),
    ("touch /root/x", "touch: cannot touch '/root/x': Permission denied"),
    ("rm /etc/passwd", "rm: cannot remove '/etc/passwd': Permission denied"),
    ("mkdir /root/x", "mkdir: cannot create directory '/root/x': Permission denied"),
    ("chmod 600 /etc/passwd", "chmod: changing permissions of '/etc/passwd': Operation not permitted"),
    ("chmod 600 /nope", "chmod: cannot access '/nope': No such file or directory"),
    ("echo hi > /root/x", "sh: /root/x: Permission denied"),
    ("cat /nope /etc", "cat: /nope: No such file or directory\ncat: /etc: Is a directory"),
    ("mmap /nope", "mmap: /nope: No such file or directory"),
    ("mmap /etc/hostname --at 0 --len 4096",
     "mmap: mmap(0x0, 0x1000, PROT_READ, MAP_PRIVATE|MAP_FIXED, 0, 0x0): Operation not permitted"),
    ("mmap /etc/hostname --shared --prot rw", "mmap: /etc/hostname: Permission denied"),
    ("munmap 1001 4096", "munmap: munmap(0x1001, 0x1000): Invalid argument"),
    ("mprotect 7e0000000000 4096 rw", "mprotect: mprotect(0x7e0000000000, 0x1000, PROT_READ|PROT_WRITE): "
                                      "Cannot allocate memory"),
    ("prctl dumpable 5", "prctl: Invalid argument"),
    ("as 99", "as: no such process: 99"),
    ("su\nexit-task", "exit-task: pid 1 is init: the kernel would panic; `as PID` another task first"),
])
def test_errors_are_coreutils_lines(line: str, message: str) -> None:
    """Each failing command prints one coreutils-style line per failure (no traceback) and has status 1."""
    status, _, err = sh("spawn u --uid 1000\nas $PID\n" + line)
    assert (status, err) == (1, message + "\n")


def test_exit_task_leaves_a_zombie_until_reaped() -> None:
    """exit-task ends the acting process; the shell acts as its parent; a zombie cannot act; init reaps its
    own children at once, so those are gone."""
    status, out, err = sh("spawn p\nspawn c --uid 1000 --parent $PID\nas $PID\nexit-task 3\nas 3\n"
                          "spawn d --uid 1000\nas $PID\nexit-task\nas 4\n")
    assert status == 1
    assert out.splitlines() == ["2", "3", "process 3 exited (zombie); acting as pid 2", "4",
                                "process 4 exited (dead); acting as pid 1"]
    assert err == "as: process 3 has exited (zombie)\nas: no such process: 4\n"


# -- why and trace -------------------------------------------------------------------------------------------

def test_why_explains_the_last_error() -> None:
    """`why` repeats the last error line and names the deciding check from OSError.explain."""
    status, out, _ = sh(SETUP + "spawn other --uid 1001\nas $PID\nls /proc/2/map_files\nwhy\n")
    assert status == 0
    assert out.splitlines()[-2:] == [
        "ls: cannot open directory '/proc/2/map_files': Permission denied",
        "  EACCES: generic_permission: mode 0500 owner 1000:1000 does not grant 'r' to fsuid 1001 fsgid 1001, "
        "and the caller lacks CAP_DAC_OVERRIDE/CAP_DAC_READ_SEARCH",
    ]


def test_why_before_any_error_and_without_explanation() -> None:
    """Nothing failed yet: `why` says so; an error without explanation says how to get one."""
    status, out, _ = sh("why\ncat /nope\nwhy\n")
    assert status == 0
    assert out.splitlines()[0] == "why: no command has failed yet"
    assert out.splitlines()[-1].startswith("  ENOENT: ")


class FakeTrace:
    """Stands in for simkernel.trace.Trace: records one call per command."""

    made: list[FakeTrace] = []

    def __init__(self, max_depth: int | None = None) -> None:
        self.max_depth = max_depth
        self.calls = ["readlink"]
        self.entered = self.exited = False
        FakeTrace.made.append(self)

    def __enter__(self) -> FakeTrace:
        self.entered = True
        return self

    def __exit__(self, *exc: Any) -> None:
        self.exited = True

    def __str__(self) -> str:
        return "[pid 2] readlink(...) = -1 EACCES"

    def failures(self) -> list[str]:
        return ["readlink"]

    def why(self) -> str:
        return "EACCES from proc_map_files_lookup: because"


def test_trace_on_prints_the_trace_of_each_command_and_why_uses_it() -> None:
    """With `trace on N` every command runs inside a tracer of depth N whose text follows the output; `why`
    asks the tracer; `trace off` stops it."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err)
    shell.tracer_factory = FakeTrace
    FakeTrace.made.clear()
    status = shell.run(["trace", "trace on 2", "trace", "echo hi", "why", "trace off", "echo bye", "trace"])
    assert status == 0
    # the probe in `trace on` and the traced `echo hi`
    assert [t.max_depth for t in FakeTrace.made] == [None, 2]
    assert FakeTrace.made[1].entered and FakeTrace.made[1].exited
    assert out.getvalue().splitlines() == [
        "trace is off", "trace is on 2", "hi", "--- trace of `echo` (1 system calls) ---",
        "[pid 2] readlink(...) = -1 EACCES", "EACCES from proc_map_files_lookup: because", "bye", "trace is off"]


def test_trace_not_available_says_so() -> None:
    """Without a tracer (the kernel has none, or it fails), `trace on` reports it and fails."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err)
    shell.tracer_factory = None
    assert shell.run(["trace on"]) == 1

    def broken(**kw: Any) -> Any:
        raise ImportError("no module simkernel.trace")
    shell.tracer_factory = broken
    assert shell.run(["trace on"]) == 1
    assert err.getvalue().splitlines() == [
        "trace: not available yet (simkernel.trace is not available in this build)",
        "trace: not available yet (ImportError: no module simkernel.trace)"]


def test_trace_with_the_real_tracer_shows_the_failing_syscall() -> None:
    """With simkernel.trace present, the trace of a denied readlink shows the syscall and `why` its check."""
    pytest.importorskip("simkernel.trace")
    status, out, _ = sh(SETUP + "spawn other --uid 1001\nas $PID\ntrace on 1\n"
                                "readlink /proc/2/map_files/7e0000000000-7e0000002000\nwhy\n")
    assert status == 0
    assert "--- trace of `readlink` (1 system calls) ---" in out
    assert 'readlink("/proc/2/map_files/7e0000000000-7e0000002000"' in out
    assert "EACCES" in out.splitlines()[-2] or "EACCES" in out


# -- processes, credentials, memory --------------------------------------------------------------------------

def test_spawn_with_groups_and_caps_and_id() -> None:
    """spawn sets uid, gid, groups and exactly the given capabilities; id and whoami show them."""
    status, out, _ = sh("spawn t --uid 1000 --gid 1001 --groups 5,1002 --caps CAP_SYS_PTRACE,dac_read_search\n"
                        "as $PID\nid\nwhoami\nprctl dumpable\nprctl name\nprctl name renamed\nprctl name\n")
    assert status == 0
    assert out.splitlines() == [
        "2",
        "uid=1000(user) gid=1001 groups=1001,5,1002",
        "suid=1000 fsuid=1000 sgid=1001 fsgid=1001",
        "CapEff: cap_dac_read_search,cap_sys_ptrace",
        "CapPrm: cap_dac_read_search,cap_sys_ptrace",
        "CapInh: none",
        "CapBnd: all",
        "CapAmb: none",
        "dumpable: 1",
        "user",
        "1",
        "t",
        "renamed",
    ]


def test_id_shows_effective_ids_when_they_differ() -> None:
    """id prints euid=/egid= when the effective ids differ from the real ones."""
    k = Kernel()
    t = k.spawn("x", uid=0)
    t.sys.setresgid(0, 1000, 0)
    t.sys.setresuid(0, 1000, 0)
    out = io.StringIO()
    shell = Shell(k, out=out, err=io.StringIO())
    shell.task = t
    assert shell.run(["id", "whoami"]) == 0
    assert out.getvalue().splitlines()[0] == "uid=0(root) gid=0(root) euid=1000(user) egid=1000(user) groups=1000(user)"
    assert out.getvalue().splitlines()[-1] == "user"
    assert shell.prompt() == "uid1000@simkernel:pid 2:/$ "


def test_spawn_parent_and_no_dumpable() -> None:
    """--parent forks from another process; --no-dumpable keeps what the uid change left (0)."""
    status, out, err = sh("spawn p\nspawn c --uid 1000 --parent $PID --no-dumpable\nas $PID\n"
                          "prctl dumpable\nps\nspawn x --parent 99\n")
    assert status == 1
    assert err == "spawn: no such process: 99\n"
    assert out.splitlines()[:3] == ["2", "3", "0"]


def test_non_dumpable_target_hides_map_files_from_its_own_uid() -> None:
    """After `prctl dumpable 0` the process's /proc files belong to root: its own uid can no longer list."""
    status, _, err = sh(SETUP + "as 2\nprctl dumpable 0\nspawn peer --uid 1000\nas $PID\nls /proc/2/map_files\n")
    assert status == 1
    assert err == "ls: cannot open directory '/proc/2/map_files': Permission denied\n"


def test_mmap_munmap_mprotect_split_and_vanish() -> None:
    """mprotect splits a mapping into two map_files entries; munmap of a START-END name removes one."""
    status, out, _ = sh(SETUP + "as 2\nmprotect 7e0000000000-7e0000001000 rw\nls /proc/2/map_files\n"
                        "munmap 7e0000001000-7e0000002000\nls /proc/2/map_files\n"
                        "mmap-anon 8k --at 7e0000010000\nmmap-anon --len 4096 --shared\n"
                        "mmap /tmp/f --prot rx --offset 4096 --at 7e0000020000\n"
                        "ls /proc/2/map_files\nmprotect $ADDR 4096 none\nmunmap $ADDR 4096\n"
                        "mmap /tmp/f --len 4096\nreadlink /proc/2/map_files/$ADDR-$END\n")
    assert status == 0
    lines = out.splitlines()[2:]
    assert lines[:3] == ["7e0000000000-7e0000001000", "7e0000001000-7e0000002000", "7e0000000000-7e0000001000"]
    assert lines[3:5] == ["0x7e0000010000", "0x7ffff7ffe000"]
    assert lines[5:9] == ["0x7e0000020000", "7e0000000000-7e0000001000", "7e0000020000-7e0000021000",
                          "7ffff7ffe000-7ffff7fff000"]
    assert lines[-2:] == ["0x7ffff7ffd000", "/tmp/f"]


def test_mmap_of_an_empty_file_needs_len() -> None:
    """Mapping an empty file without --len is a usage error (status 2)."""
    status, _, err = sh("touch /tmp/e\nmmap /tmp/e\n")
    assert status == 2
    assert err.splitlines() == ["mmap: /tmp/e has no bytes at offset 0: give --len",
                                "usage: " + COMMANDS["mmap"][0]]


def test_cd_pwd_prompt_and_relative_paths() -> None:
    """cd changes the acting task's cwd (its own fs_struct); the prompt and pwd show it."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err)
    assert shell.prompt() == "uid0@simkernel:pid 1:/# "
    assert shell.run(["cd /tmp", "touch rel", "ls", "pwd", "spawn a --uid 1000", "as 2"]) == 0
    assert shell.prompt() == "uid1000@simkernel:pid 2:/tmp$ "     # fork copied init's cwd
    assert shell.run(["su", "cd", "pwd"]) == 0
    assert out.getvalue().splitlines() == ["rel", "/tmp", "2", "/"]


def test_prompt_of_a_removed_cwd_says_deleted() -> None:
    """A cwd that was removed shows ` (deleted)` in the prompt and pwd fails as getcwd does (ENOENT)."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err)
    shell.run(["mkdir /srv/gone", "cd /srv/gone"])
    shell.k.init.sys.rmdir("/srv/gone")
    assert shell.prompt() == "uid0@simkernel:pid 1:/srv/gone (deleted)# "
    assert shell.run(["pwd"]) == 1
    assert err.getvalue() == "pwd: error retrieving current directory: getcwd: No such file or directory\n"


def test_files_echo_redirect_append_touch_size_mkdir_p_rm() -> None:
    """echo > and >> write through the acting task; touch SIZE sets the size; mkdir -p makes parents."""
    status, out, _ = sh("echo hello > /tmp/x\necho -n again >>/tmp/x\ncat /tmp/x\necho\ntouch /tmp/s 3k\n"
                        "stat /tmp/s\nmkdir -p /srv/a/b/c\nmkdir -p /srv/a\nls /srv/a/b\nrm /tmp/x\ncat /tmp/x\n")
    assert status == 1
    lines = out.splitlines()
    assert lines[:2] == ["hello", "again"]
    assert lines[2] == "  File: /tmp/s"
    assert lines[3].startswith("  Size: 3072      \tBlocks: ") and lines[3].endswith("regular file")
    assert lines[5] == "Access: (0644/-rw-r--r--)  Uid: (    0/    root)   Gid: (    0/    root)"
    assert lines[-1] == "c"


def test_stat_of_a_map_files_link_and_a_device() -> None:
    """stat shows the link target on the File line and the device type of a character device."""
    status, out, _ = sh(SETUP + "stat /proc/2/map_files/7e0000000000-7e0000002000 /dev/zero\nstat -L /proc/2/cwd\n")
    assert status == 0
    lines = out.splitlines()
    assert lines[2] == "  File: /proc/2/map_files/7e0000000000-7e0000002000 -> /tmp/f"
    assert lines[3].startswith("  Size: 64        \tBlocks: 0          IO Block: ")
    assert lines[3].endswith(" symbolic link")
    assert lines[5] == "Access: (0400/lr--------)  Uid: ( 1000/    user)   Gid: ( 1000/    user)"
    assert lines[6].startswith("Access: 2012-01-10 23:00:00.") and lines[6].endswith(" +0000")
    assert lines[9] == " Birth: -"
    assert "Links: 1     Device type: 1,5" in lines[12]
    assert lines[13].startswith("Access: (0666/crw-rw-rw-)")
    assert lines[18] == "  File: /proc/2/cwd" and lines[19].endswith(" directory")


# -- the language: usage, variables, quoting, statuses ---------------------------------------------------

@pytest.mark.parametrize("line", [
    "ls --bogus", "ls -z", "cat", "readlink", "stat", "cd a b", "pwd x", "touch", "touch a b c", "rm", "mkdir",
    "chmod 600", "chmod u+x /tmp", "ps -e", "spawn", "spawn a --uid x", "spawn a --uid", "spawn a --caps cap_nope",
    "as", "as x", "su 1 2", "whoami x", "id x", "prctl", "prctl bogus", "prctl dumpable x", "exit-task x",
    "mmap", "mmap /tmp/f --prot q", "mmap /tmp/f --len -1", "mmap-anon 1 2", "mmap-anon --at zz",
    "munmap", "munmap 1000", "mprotect 1000", "trace bogus", "trace on x", "why x", "quit x", "echo $NOPE",
    "echo a > b c", "quit 1 2", "spawn a --no-dumpable=1",
])
def test_bad_usage_prints_usage_and_status_2(line: str) -> None:
    """A wrongly typed command prints a usage line (never a traceback) and has status 2."""
    status, _, err = sh("touch /tmp/f\n" + line)
    assert status == 2, err
    assert err.splitlines()[-1].startswith("usage: ")
    assert "Traceback" not in err


def test_unknown_command_and_syntax_error_are_usage_errors() -> None:
    """An unknown command and an unclosed quote are reported in one line each, status 2."""
    assert sh("frobnicate")[0] == 2
    assert sh("frobnicate")[2] == "sh: frobnicate: command not found (try help)\n"
    assert sh("echo 'open")[2] == "sh: syntax error: No closing quotation\n"


def test_help_lists_every_command_and_one_usage() -> None:
    """help lists all commands; help CMD (or an alias) prints its usage; an unknown one fails."""
    status, out, err = sh("help\nhelp exit\nhelp nope\n")
    assert status == 1
    for name in COMMANDS:
        assert f"  {name:<10} " in out
    assert "usage: quit [STATUS]" in out
    assert err == "help: no such command: nope\n"


def test_comments_blank_lines_variables_and_status() -> None:
    """# comments and blank lines do nothing; $? is the last status; ${SELF} the acting pid."""
    status, out, _ = sh("# a comment\n\ncat /nope\necho $? ${SELF} '$PID'\n")
    assert status == 0
    assert out == "1 1 \n"


def test_quit_status_and_end_of_input_status() -> None:
    """quit N exits with N (later lines are not run); without N, with the last status; EOF likewise."""
    assert sh("quit 3\necho never")[:2] == (3, "")
    assert sh("cat /nope\nexit")[0] == 1
    assert sh("cat /nope")[0] == 1
    assert sh("cat /nope\necho ok")[0] == 0


def test_exit_on_error_stops_at_the_first_failure() -> None:
    """With exit_on_error the first failing command ends the run with status 1."""
    status, out, err = sh("echo one\ncat /nope\necho two\n", exit_on_error=True)
    assert (status, out) == (1, "one\n")
    assert sh("echo one\nls --bad\necho two\n", exit_on_error=True)[:2] == (1, "one\n")


def test_simulator_errors_become_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug inside the model (not an OSError) is one line naming the exception, never a traceback."""
    def boom(self: Shell, args: list[str]) -> int:
        raise RuntimeError("kernel oops")
    monkeypatch.setattr(Shell, "do_pwd", boom)
    status, _, err = sh("pwd\n")
    assert (status, err) == (1, "pwd: simulator error: RuntimeError: kernel oops\n")


def test_unexpected_oserror_in_a_command_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OSError a command did not catch itself is printed as `NAME: strerror` and kept for `why`."""
    def denied(self: Shell, args: list[str]) -> int:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(Shell, "do_whoami", denied)
    status, out, err = sh("whoami\nwhy\n")
    assert err == "whoami: Permission denied\n"
    assert out.startswith("whoami: Permission denied\n  EACCES: ")


def test_ps_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """ps reports an unreadable /proc like procps does."""
    import simkernel.shell_proc as shell_proc

    def no_proc(task: Any) -> list[str]:
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(shell_proc, "ps", no_proc)
    assert sh("ps")[2] == "ps: /proc: Permission denied\n"


# -- parsers ---------------------------------------------------------------------------------------------

def test_parsers() -> None:
    """Sizes take suffixes, addresses are hex, protections are letters, capabilities are names or numbers."""
    assert [parse_size(x) for x in ("8k", "0x2000", "2M", "1g", "12")] == [8192, 8192, 2 << 20, 1 << 30, 12]
    assert parse_addr("0x7E00") == parse_addr("7e00") == 0x7E00
    assert parse_range("1000-3000", None) == (0x1000, 0x2000)
    assert parse_range("1000", "4k") == (0x1000, 4096)
    assert [parse_prot(x) for x in ("r", "rw", "r-x", "rwx", "none", "0x3", "5")] == [
        PROT_READ, PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, 7, 0, 3, 5]
    assert prot_string(0) == "PROT_NONE" and prot_string(5) == "PROT_READ|PROT_EXEC"
    assert parse_caps("none") == [] and len(parse_caps("all")) == 41
    assert parse_caps("CAP_SYS_PTRACE, 2") == [CAP_SYS_PTRACE, 2]
    assert cap_names(CAP_FULL_SET) == "all" and cap_names(0) == "none"
    for bad in (lambda: parse_size("x"), lambda: parse_addr("zz"), lambda: parse_range("1000", None),
                lambda: parse_caps("99")):
        with pytest.raises(Usage):
            bad()


# -- run_shell: scripts, stdin, the interactive loop -----------------------------------------------------------

def test_run_shell_script_file_and_missing_script(tmp_path: Path) -> None:
    """A SCRIPT file runs without a prompt; a missing one is status 1 with a message."""
    script = tmp_path / "s.sk"
    script.write_text("spawn a --uid 1000\nas $PID\nwhoami\n")
    out, err = io.StringIO(), io.StringIO()
    assert run_shell(str(script), out=out, err=err) == 0
    assert out.getvalue() == "2\nuser\n"
    assert run_shell(str(tmp_path / "nope"), out=out, err=err) == 1
    assert err.getvalue().endswith("nope: No such file or directory\n")


def test_run_shell_stdin_with_banner_and_variables() -> None:
    """Lines on stdin run without a prompt; a banner goes to stderr; preset variables expand."""
    out, err = io.StringIO(), io.StringIO()
    status = run_shell("-", stdin=io.StringIO("echo $PID\n"), out=out, err=err, banner="hello\n",
                       variables={"PID": "42"})
    assert (status, out.getvalue(), err.getvalue()) == (0, "42\n", "hello\n")


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_interactive_loop_prompts_and_handles_interrupts(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal: a banner, a prompt per line (input()), ^C continues, EOF ends with the last status."""
    import builtins
    prompts: list[str] = []
    feed: list[Any] = ["spawn a --uid 1000", "as 2", KeyboardInterrupt(), "cat /nope", EOFError()]

    def fake_input(prompt: str) -> str:
        prompts.append(prompt)
        item = feed.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item
    monkeypatch.setattr(builtins, "input", fake_input)
    monkeypatch.setattr("simkernel.shell._setup_readline", lambda: None)
    out, err = io.StringIO(), io.StringIO()
    assert run_shell(None, stdin=TTY(), out=out, err=err, banner="B\n") == 1
    assert prompts == ["uid0@simkernel:pid 1:/# ", "uid0@simkernel:pid 1:/# ", "uid1000@simkernel:pid 2:/$ ",
                       "uid1000@simkernel:pid 2:/$ ", "uid1000@simkernel:pid 2:/$ "]
    assert out.getvalue().startswith("simkernel ") and "B\n2\n^C\n" in out.getvalue()
    assert err.getvalue() == "cat: /nope: No such file or directory\n"


def test_interactive_quit_and_exit_on_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """quit N leaves the interactive loop with N; with exit_on_error a failure leaves it with 1."""
    import builtins
    monkeypatch.setattr("simkernel.shell._setup_readline", lambda: None)
    monkeypatch.setattr(builtins, "input", lambda prompt: "quit 4")
    assert Shell(out=io.StringIO(), err=io.StringIO()).interact() == 4
    monkeypatch.setattr(builtins, "input", lambda prompt: "cat /nope")
    assert Shell(out=io.StringIO(), err=io.StringIO(), exit_on_error=True).interact() == 1


def test_setup_readline_loads_and_saves_history(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """History lives in ~/.simkernel_history; completion offers command names."""
    import atexit

    import simkernel.shell as shell_mod
    readline = pytest.importorskip("readline")
    monkeypatch.setenv("HOME", str(tmp_path))
    saved: list[Any] = []
    monkeypatch.setattr(atexit, "register", lambda fn, *a: saved.append((fn, a)))
    shell_mod._setup_readline()
    completer = readline.get_completer()
    assert completer("mm", 0) == "mmap" and completer("mm", 1) == "mmap-anon" and completer("mm", 2) is None
    fn, args = saved[0]
    fn(*args)
    assert (tmp_path / ".simkernel_history").exists()
    shell_mod._save_history(readline, str(tmp_path / "no" / "such" / "dir"))   # an unwritable path is ignored


# -- as a subprocess ---------------------------------------------------------------------------------------

def test_subprocess_shell_on_stdin_screen_text() -> None:
    """`python -m simkernel shell` with the script on stdin: the screen shows outputs and errors only."""
    r = run_cli(["shell"], SETUP + "ls -l /proc/2/map_files\nspawn o --uid 1001\nas $PID\nls /proc/2/map_files\n")
    assert r.returncode == 1
    assert r.stdout.splitlines() == ["2", "0x7e0000000000", "total 0",
                                     "lr-------- 1 user user 64 Jan 10 23:00 7e0000000000-7e0000002000 -> /tmp/f",
                                     "3"]
    assert r.stderr == "ls: cannot open directory '/proc/2/map_files': Permission denied\n"


def test_subprocess_shell_script_exit_on_error(tmp_path: Path) -> None:
    """A script run with --exit-on-error stops at its first failure with status 1."""
    script = tmp_path / "s.sk"
    script.write_text("echo start\nreadlink /proc/1/map_files/1-2\necho never\n")
    r = run_cli(["shell", "--exit-on-error", str(script)])
    assert (r.returncode, r.stdout) == (1, "start\n")
    assert r.stderr == "readlink: /proc/1/map_files/1-2: No such file or directory\n"


# -- corners -------------------------------------------------------------------------------------------------

def test_ls_l_of_a_directory_without_search_permission() -> None:
    """A readable but not searchable directory lists its names, but each lstat fails: ? fields and one
    `cannot access` line per entry, as coreutils prints them."""
    status, out, err = sh("mkdir /tmp/d\ntouch /tmp/d/x\nchmod 644 /tmp/d\nspawn u --uid 1000\nas $PID\n"
                          "ls -l /tmp/d\ntouch /tmp/d/x\nmkdir /tmp/d\nmkdir -p /tmp/d\nspawn v --uid 1001 --parent $SELF\n")
    assert status == 1
    assert out.splitlines()[1:3] == ["total 0", "?????????? ? ? ? ?            ? x"]
    assert err.splitlines() == [
        "ls: cannot access '/tmp/d/x': Permission denied",
        "touch: cannot touch '/tmp/d/x': Permission denied",
        "mkdir: cannot create directory '/tmp/d': File exists",
        "spawn: Operation not permitted"]


def test_touch_of_an_existing_file_changes_nothing_and_double_dash_ends_options() -> None:
    """touch of an existing file succeeds without opening it; `--` lets a name start with a dash."""
    status, out, _ = sh("touch /etc/passwd\ncd /tmp\ntouch -- -x\nls -- -x\n")
    assert (status, out) == (0, "-x\n")


def test_file_types_and_ls_dates() -> None:
    """stat names each file type; ls shows the year instead of the time for old or future dates."""
    import os as _os
    import stat as _stat

    from simkernel.shell import _file_type, _ls_time
    out = io.StringIO()
    shell = Shell(out=out, err=io.StringIO())
    shell.k.init.sys.mknod("/tmp/p", _stat.S_IFIFO | 0o644)
    assert shell.run(["stat /tmp/p"]) == 0
    assert out.getvalue().splitlines()[1].endswith(" fifo")
    assert _file_type(_os.stat_result((0,) * 10)) == "weird file"
    assert _file_type(_os.stat_result((_stat.S_IFSOCK,) + (0,) * 9)) == "socket"
    assert _ls_time(0, 1326236400) == "Jan  1  1970"
    assert _ls_time(1326236400 + 10, 1326236400) == "Jan 10  2012"
    assert _ls_time(1326236400, 1326236400) == "Jan 10 23:00"


def test_a_tracer_that_fails_turns_tracing_off() -> None:
    """If the tracer breaks when a command starts, the command still runs and tracing goes off."""
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(out=out, err=err)
    calls: list[int] = []

    def flaky(**kw: Any) -> Any:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("tracer broke")
        return FakeTrace(**kw)
    shell.tracer_factory = flaky
    assert shell.run(["trace on", "echo still here", "trace"]) == 0
    assert out.getvalue() == "still here\ntrace is off\n"
    assert err.getvalue() == "trace: RuntimeError: tracer broke; tracing is off\n"


def test_quit_with_a_redirect_still_closes_the_file() -> None:
    """`quit > FILE` leaves the shell after the redirect is written and closed."""
    k = Kernel()
    shell = Shell(k, out=io.StringIO(), err=io.StringIO())
    assert shell.run(["echo x > /tmp/o", "quit 7 > /tmp/o"]) == 7
    assert k.init.sys.stat("/tmp/o").st_size == 0
    assert k.init.sys.open("/tmp/o", 0) == 0       # the redirect's descriptor was closed


# -- simulation bugs found through the shell ---------------------------------------------------------------

def test_stat_proc_links_count_the_processes() -> None:
    """`stat /proc` counts one link per process (init and two spawned ones: 2 + 3)."""
    status, out, _ = sh("spawn a\nspawn b\nstat /proc\n")
    assert status == 0
    assert "Links: 5" in out.splitlines()[4]


# -- dmesg and fail-nth (simkernel/shell_debug.py) -------------------------------------------------------------

ENTRY = "/proc/2/map_files/7e0000000000-7e0000002000"


def test_fail_nth_injects_into_the_next_command_and_reports() -> None:
    """`fail-nth 1` before readlink: getname's allocation fails (ENOMEM), as /proc/thread-self/fail-nth would."""
    status, out, err = sh(SETUP + f"fail-nth 1\nreadlink {ENTRY}\nfail-nth\nreadlink {ENTRY}\n")
    assert status == 0
    assert err == f"readlink: {ENTRY}: Cannot allocate memory\n"
    assert "fail-nth: readlink(): injected alloc@getname" in out and "-> ENOMEM" in out
    assert out.splitlines()[-1] == "/tmp/f"          # disarmed after one system call


def test_fail_nth_beyond_the_last_point_and_before_any() -> None:
    status, out, _err = sh(SETUP + f"fail-nth\nfail-nth 500\nreadlink {ENTRY}\nfail-nth\n")
    assert status == 0
    lines = out.splitlines()
    assert "fail-nth: nothing armed has run yet" in lines
    assert lines[-2] == "/tmp/f"
    assert lines[-1].startswith("fail-nth: readlink() has fewer fault points: nothing injected (")


def test_fail_nth_usage() -> None:
    status, _out, err = sh("fail-nth x\n")
    assert status != 0 and "usage: fail-nth [N]" in err


def test_dmesg_prints_and_clears_validator_reports() -> None:
    """A kernel with a lock-validator splat (the one-pass readdir patch): dmesg prints it, dmesg -c clears it."""
    from simkernel.patch_examples import one_pass_readdir
    k = Kernel(lockdep=True, ref_tracker=True)
    out, err = io.StringIO(), io.StringIO()
    shell = Shell(kernel=k, out=out, err=err)
    assert shell.run(SETUP.splitlines()) == 0
    k.patch("fs/proc/base.c:proc_map_files_readdir", one_pass_readdir)
    assert shell.run(["as 2", "ls /proc/2/map_files", "dmesg -c", "dmesg"]) == 0
    text = out.getvalue()
    assert "WARNING: possible recursive locking detected" in text
    assert text.count("WARNING:") == 1                  # the second dmesg has nothing left
    assert k.lockdep.reports == []


def test_default_shell_kernel_has_the_debugging_facilities() -> None:
    shell = Shell(out=io.StringIO(), err=io.StringIO())
    assert shell.k.lockdep is not None and shell.k.ref_tracker is not None
    assert shell.run(SETUP.splitlines() + ["ls -l /proc/2/map_files", "dmesg"]) == 0
    assert shell.k.lockdep.reports == [] and shell.k.ref_tracker.reports == []


def test_dmesg_usage() -> None:
    status, _out, err = sh("dmesg -x\n")
    assert status != 0 and "usage: dmesg [-c]" in err


def test_dmesg_on_a_kernel_without_validator_or_ledger() -> None:
    """A plain Kernel() (no lockdep, no ref_tracker): dmesg prints only the oopses, and -c clears them."""
    k = Kernel()
    out = io.StringIO()
    shell = Shell(kernel=k, out=out, err=io.StringIO())
    assert shell.run(["dmesg", "dmesg -c"]) == 0
    assert out.getvalue() == "" and k.oopses == []
