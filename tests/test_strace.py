"""The strace log (simkernel/strace.py): strace's line format, flag decoding, per-task logs, hook hygiene."""

from __future__ import annotations

import os
from html.parser import HTMLParser

import pytest

import simkernel
from simkernel.errors import KernelError
from simkernel.strace import (USER_BUF, Strace, caps_text, flags, format_syscall, mmap_flags, open_flags, prot,
                              quote, stat_struct, strace_name, wait_status)
from simkernel.uapi import (CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN, MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE,
                            MAP_SHARED, O_CREAT, O_RDONLY, O_RDWR, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE)
from simkernel.uapi import errno as E
from simkernel.uapi import prctl as P


@pytest.fixture
def k() -> simkernel.Kernel:
    return simkernel.Kernel()


def test_strace_file_and_mmap_lines_exact(k: simkernel.Kernel) -> None:
    """open/write/mmap/mprotect/readlink/munmap/close print as strace prints them, addresses included."""
    t = k.spawn("app", uid=1000, gid=1000)
    with k.strace() as st:
        fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
        t.sys.write(fd, b"\x7fELF\x02\x01\x01\x00" + b"0123456789" * 4)
        t.sys.ftruncate(fd, 8192)
        a = t.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0)
        t.sys.mprotect(a, 4096, PROT_READ | PROT_WRITE)
        t.sys.readlink(f"/proc/{t.pid}/map_files/{a:x}-{a + 4096:x}")
        t.sys.munmap(a, 8192)
        t.sys.close(fd)
    assert st.lines() == [
        'openat(AT_FDCWD, "/tmp/f", O_RDWR|O_CREAT, 0644) = 0',
        'write(0, "\\177ELF\\2\\1\\1\\000012345678901234567890123"..., 48) = 48',
        "ftruncate(0, 8192) = 0",
        "mmap(NULL, 8192, PROT_READ, MAP_PRIVATE, 0, 0) = 0x7ffff7ffd000",
        "mprotect(0x7ffff7ffd000, 4096, PROT_READ|PROT_WRITE) = 0",
        'readlink("/proc/2/map_files/7ffff7ffd000-7ffff7ffe000", "/tmp/f", 4096) = 6',
        "munmap(0x7ffff7ffd000, 8192) = 0",
        "close(0) = 0",
    ]


def test_strace_map_files_denials_exact(k: simkernel.Kernel) -> None:
    """Following a map_files link without the capability is EPERM; another user's readlink is EACCES."""
    t = k.spawn("app", uid=1000, gid=1000)
    other = k.spawn("other", uid=1001, gid=1001)
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 4096)
    a = t.sys.mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0)
    path = f"/proc/{t.pid}/map_files/{a:x}-{a + 4096:x}"
    with k.strace() as st:
        with pytest.raises(PermissionError):
            t.sys.open(path, O_RDONLY)
        with pytest.raises(PermissionError):
            other.sys.readlink(path)
    assert st.lines() == [
        '[pid     2] openat(AT_FDCWD, "/proc/2/map_files/7ffff7ffe000-7ffff7fff000", O_RDONLY) '
        '= -1 EPERM (Operation not permitted)',
        f'[pid     3] readlink("/proc/2/map_files/7ffff7ffe000-7ffff7fff000", {USER_BUF}, 4096) '
        '= -1 EACCES (Permission denied)',
    ]
    assert st.lines(t) == ['openat(AT_FDCWD, "/proc/2/map_files/7ffff7ffe000-7ffff7fff000", O_RDONLY) '
                           '= -1 EPERM (Operation not permitted)']
    assert [e.errno for e in st.failures()] == [E.EPERM, E.EACCES]
    assert all(e.explain for e in st.failures())
    assert "CAP_CHECKPOINT_RESTORE" in st.failures()[0].explain


def test_strace_listdir_is_openat_getdents64_close(k: simkernel.Kernel) -> None:
    """os.listdir is openat(O_DIRECTORY...) + getdents64 until empty + close, with entry counts and bytes."""
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.mmap(0x10000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    with k.strace(task=t) as st:
        t.sys.listdir(f"/proc/{t.pid}/map_files")
    assert str(st) == "\n".join([
        'openat(AT_FDCWD, "/proc/2/map_files", O_RDONLY|O_NONBLOCK|O_LARGEFILE|O_CLOEXEC|O_DIRECTORY) = 0',
        f"getdents64(0, {USER_BUF} /* 2 entries */, 32768) = 48",
        f"getdents64(0, {USER_BUF} /* 0 entries */, 32768) = 0",
        "close(0) = 0",
    ])


def test_strace_process_lifecycle_and_ids(k: simkernel.Kernel) -> None:
    """fork, exit (with strace's +++ line), wait4 status, prctl, capget, id calls."""
    t = k.spawn("app", uid=1000, gid=1000)
    with k.strace() as st:
        c = t.sys.fork()
        c.sys.exit(3)
        t.sys.waitpid(c.pid, 0)
        t.sys.prctl(P.PR_GET_DUMPABLE)
        t.sys.capget()
        t.sys.getresuid()
        t.sys.getpid()
        t.sys.getgroups()
        t.sys.setfsuid(1000)
    assert st.lines() == [
        "[pid     2] fork() = 3",
        "[pid     3] exit(3) = ?",
        "[pid     3] +++ exited with 3 +++",
        "[pid     2] wait4(3, [{WIFEXITED(s) && WEXITSTATUS(s) == 3}], 0, NULL) = 3",
        "[pid     2] prctl(PR_GET_DUMPABLE) = 1 (SUID_DUMP_USER)",
        "[pid     2] capget({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=0, permitted=0, "
        "inheritable=0}) = 0",
        "[pid     2] getresuid([1000], [1000], [1000]) = 0",
        "[pid     2] getpid() = 2",
        "[pid     2] getgroups(65536, []) = 0",
        "[pid     2] setfsuid(1000) = 1000",
    ]


def test_strace_spawn_shows_the_credential_switch(k: simkernel.Kernel) -> None:
    """k.spawn is made of real syscalls: the log shows fork, PR_SET_NAME, setgroups, setres[ug]id, capset."""
    with k.strace() as st:
        k.spawn("cr", uid=1000, gid=1000, caps=[CAP_CHECKPOINT_RESTORE])
    lines = st.lines(2)
    assert lines[0] == 'prctl(PR_SET_NAME, "cr") = 0'
    assert "setgroups(0, []) = 0" in lines
    assert "prctl(PR_SET_KEEPCAPS, 1) = 0" in lines
    assert "capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_CHECKPOINT_RESTORE, " \
           "permitted=1<<CAP_CHECKPOINT_RESTORE, inheritable=0}) = 0" in lines
    assert lines[-1] == "prctl(PR_SET_DUMPABLE, SUID_DUMP_USER) = 0"
    assert st.lines(1) == ["fork() = 2"]


def test_strace_paths_and_misc_calls(k: simkernel.Kernel) -> None:
    """mkdir/rmdir/symlink/rename/unlink/chdir/getcwd/stat/lstat/fstat/memfd/mremap/read/pread/lseek."""
    s = k.init.sys
    with k.strace() as st:
        s.mkdir("/tmp/d", 0o755)
        s.rmdir("/tmp/d")
        fd = s.open("/tmp/f", O_CREAT | O_RDWR, 0o600)
        s.write(fd, b"hello\n")
        s.lseek(fd, 0, 0)
        s.read(fd, 100)
        s.pread(fd, 2, 1)
        s.fstat(fd)
        s.symlink("/tmp/f", "/tmp/l")
        s.lstat("/tmp/l")
        s.stat("/dev/zero")
        s.rename("/tmp/l", "/tmp/l2")
        s.unlink("/tmp/l2")
        s.chdir("/tmp")
        s.getcwd()
        s.memfd_create("mem", 1)
        b = s.mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS)
        s.mremap(b, 4096, 8192, 1)
        s.chmod("/tmp/f", 0o644)
        s.chown("/tmp/f", 1000, 1000)
        with pytest.raises(FileNotFoundError):
            s.stat("/nope")
    assert st.lines()[:12] == [
        'mkdir("/tmp/d", 0755) = 0',
        'rmdir("/tmp/d") = 0',
        'openat(AT_FDCWD, "/tmp/f", O_RDWR|O_CREAT, 0600) = 0',
        'write(0, "hello\\n", 6) = 6',
        "lseek(0, 0, SEEK_SET) = 0",
        'read(0, "hello\\n", 100) = 6',
        'pread64(0, "el", 2, 1) = 2',
        "fstat(0, {st_mode=S_IFREG|0600, st_size=6, ...}) = 0",
        'symlink("/tmp/f", "/tmp/l") = 0',
        'newfstatat(AT_FDCWD, "/tmp/l", {st_mode=S_IFLNK|0777, st_size=6, ...}, AT_SYMLINK_NOFOLLOW) = 0',
        'newfstatat(AT_FDCWD, "/dev/zero", {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x5), ...}, 0) = 0',
        'rename("/tmp/l", "/tmp/l2") = 0',
    ]
    assert st.lines()[12:] == [
        'unlink("/tmp/l2") = 0',
        'chdir("/tmp") = 0',
        'getcwd("/tmp", 4096) = 5',
        'memfd_create("mem", MFD_CLOEXEC) = 1',
        "mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffe000",
        "mremap(0x7ffff7ffe000, 4096, 8192, MREMAP_MAYMOVE) = 0x7ffff7ffe000",
        'chmod("/tmp/f", 0644) = 0',
        'chown("/tmp/f", 1000, 1000) = 0',
        f'newfstatat(AT_FDCWD, "/nope", {USER_BUF}, 0) = -1 ENOENT (No such file or directory)',
    ]


def test_strace_hook_removed_after_block(k: simkernel.Kernel) -> None:
    """Outside the block no hook is installed; calls after it are not logged."""
    assert "syscall" not in k.hooks
    with k.strace() as st:
        assert "syscall" in k.hooks
        k.init.sys.getpid()
    assert "syscall" not in k.hooks
    k.init.sys.getpid()
    assert len(st) == 1
    assert repr(st) == "<Strace closed: 1 calls>"


def test_strace_keeps_a_foreign_hook(k: simkernel.Kernel) -> None:
    """A hook someone installed before keeps running inside the block and is put back after it."""
    seen: list[str] = []

    def foreign(name, fn, current, *args):  # type: ignore[no-untyped-def]
        seen.append(name)
        return fn(current, *args)
    k.hooks["syscall"] = foreign
    with k.strace() as st, k.trace() as tr:
        k.init.sys.getpid()
    assert k.hooks["syscall"] is foreign
    assert seen == ["getpid"] and len(st) == 1 and len(tr.calls) == 1
    k.init.sys.getuid()
    assert seen == ["getpid", "getuid"]


def test_strace_task_filter_and_reentry(k: simkernel.Kernel) -> None:
    """strace(task=t) logs only t (strace -p); entering an active log twice is a bug."""
    t = k.spawn("app")
    st = Strace(k, task=t)
    with st:
        k.init.sys.getpid()
        t.sys.getpid()
        with pytest.raises(RuntimeError):
            st.__enter__()
    assert str(st) == "getpid() = 2"
    assert repr(st.entries[0]) == "<StraceEntry [pid 2] getpid() = 2>"


# -- the formatter, unit by unit --------------------------------------------------------------------------

def test_quote_escapes_like_strace() -> None:
    """Octal escapes are short unless a digit follows; quotes, backslashes and controls are escaped."""
    assert quote(b"\x7fELF\x02\x01") == '"\\177ELF\\2\\1"'
    assert quote(b"\x001") == '"\\0001"'
    assert quote('a"b\\c\t\r\x0b\x0c') == '"a\\"b\\\\c\\t\\r\\v\\f"'
    assert quote("x" * 40) == '"' + "x" * 32 + '"...'
    assert quote("x" * 40, None) == '"' + "x" * 40 + '"'


def test_flag_decoders() -> None:
    """Flags by name in strace's order, unknown bits in hex, zero as strace prints it."""
    assert open_flags(O_RDONLY) == "O_RDONLY"
    assert open_flags(3 | 0o100) == "0x3|O_CREAT" or open_flags(3 | 0o100) == "O_CREAT|0x3"
    assert open_flags(0o20200002) == "O_RDWR|O_TMPFILE"
    assert prot(0) == "PROT_NONE" and prot(PROT_READ | PROT_EXEC) == "PROT_READ|PROT_EXEC"
    assert mmap_flags(MAP_SHARED | MAP_FIXED) == "MAP_SHARED|MAP_FIXED"
    assert mmap_flags(MAP_ANONYMOUS) == "MAP_ANONYMOUS"
    assert mmap_flags(0) == "0"
    assert mmap_flags(MAP_PRIVATE) == "MAP_PRIVATE"
    assert flags(0x22, (("MAP_ANONYMOUS", 0x20),)) == "MAP_ANONYMOUS|0x2"
    assert caps_text(0) == "0"
    assert caps_text((1 << CAP_SYS_ADMIN) | (1 << 63)) == "1<<CAP_SYS_ADMIN|1<<63"
    assert wait_status(0x0300) == "[{WIFEXITED(s) && WEXITSTATUS(s) == 3}]"
    assert wait_status(9) == "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL}]"
    assert wait_status(0x86) == "[{WIFSIGNALED(s) && WTERMSIG(s) == SIGABRT && WCOREDUMP(s)}]"
    assert wait_status(0x137f) == "[0x137f]"


def test_stat_struct_other_types() -> None:
    """An unknown file type prints its octal bits."""
    st = os.stat_result((0o170644, 1, 0, 1, 0, 0, 7, 0, 0, 0))
    assert stat_struct(st) == "{st_mode=0170000|0644, st_size=7, ...}"


def _err(errno: int) -> KernelError:
    return KernelError(errno)


@pytest.mark.parametrize("name,args,result,error,line", [
    ("open", (3, "x", O_RDONLY, 0), 4, None, 'openat(3, "x", O_RDONLY) = 4'),
    ("open", (-100, "x", 0o20200002, 0o600), 4, None, 'openat(AT_FDCWD, "x", O_RDWR|O_TMPFILE, 0600) = 4'),
    ("read", (3, 10), None, _err(E.EISDIR), f"read(3, {USER_BUF}, 10) = -1 EISDIR (Is a directory)"),
    ("pread", (3, 10, 0), None, _err(E.EBADF), f"pread64(3, {USER_BUF}, 10, 0) = -1 EBADF (Bad file descriptor)"),
    ("lseek", (3, 0, 9), 0, None, "lseek(3, 0, 9) = 0"),
    ("fstat", (9,), None, _err(E.EBADF), f"fstat(9, {USER_BUF}) = -1 EBADF (Bad file descriptor)"),
    ("fstatat", (3, "", 0x1000), os.stat_result((0o100644, 1, 0, 1, 0, 0, 7, 0, 0, 0)), None,
     'newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=7, ...}, AT_EMPTY_PATH) = 0'),
    ("readlink", (3, "l", 2), b"abc"[:2], None, 'readlinkat(3, "l", "ab", 2) = 2'),
    ("readlink", (3, "l", 2), None, _err(E.EINVAL),
     f'readlinkat(3, "l", {USER_BUF}, 2) = -1 EINVAL (Invalid argument)'),
    ("getdents64", (3, 10), None, _err(E.EINVAL), f"getdents64(3, {USER_BUF}, 10) = -1 EINVAL (Invalid argument)"),
    ("getdents64", (3, 100), [(".", 1, 4, 1)], None, f"getdents64(3, {USER_BUF} /* 1 entry */, 100) = 24"),
    ("mkdir", (3, "d", 0), None, None, 'mkdirat(3, "d", 000) = 0'),
    ("link", (-100, "a", -100, "b", 0), None, None, 'link("a", "b") = 0'),
    ("chroot", ("/x",), None, _err(E.EPERM), 'chroot("/x") = -1 EPERM (Operation not permitted)'),
    ("fchdir", (3,), None, None, "fchdir(3) = 0"),
    ("close", (3,), None, _err(E.EBADF), "close(3) = -1 EBADF (Bad file descriptor)"),
    ("mknod", (-100, "/dev/x", 0o20600, (1 << 8) | 3), None, None,
     'mknod("/dev/x", S_IFCHR|0600, makedev(0x1, 0x3)) = 0'),
    ("mknod", (-100, "/p", 0o600, 0), None, None, 'mknod("/p", 0600) = 0'),
    ("getcwd", (), None, _err(E.ENOENT), f"getcwd({USER_BUF}, 4096) = -1 ENOENT (No such file or directory)"),
    ("mount", ("proc", "/p", "proc", 0x6, "hidepid=2"), None, None,
     'mount("proc", "/p", "proc", MS_NOSUID|MS_NODEV, "hidepid=2") = 0'),
    ("mount", ("none", "/p", "tmpfs", 0, ""), None, None, 'mount("none", "/p", "tmpfs", 0, NULL) = 0'),
    ("mmap", (0x10000, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS, -1, 0x1000), None,
     _err(E.EPERM), "mmap(0x10000, 4096, PROT_READ, MAP_PRIVATE|MAP_FIXED|MAP_ANONYMOUS, -1, 0x1000) "
     "= -1 EPERM (Operation not permitted)"),
    ("mremap", (0x1000, 4096, 8192, 3, 0x5000), 0x5000, None,
     "mremap(0x1000, 4096, 8192, MREMAP_MAYMOVE|MREMAP_FIXED, 0x5000) = 0x5000"),
    ("memfd_create", ("m", 0), 3, None, 'memfd_create("m", 0) = 3'),
    ("clone", (0x10F00 | 17,), type("T", (), {"pid": 9})(), None,
     "clone(child_stack=NULL, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|SIGCHLD) = 9"),
    ("clone", (0,), None, _err(E.EINVAL), "clone(child_stack=NULL, flags=0) = -1 EINVAL (Invalid argument)"),
    ("fork", (), None, _err(E.EAGAIN), "fork() = -1 EAGAIN (Resource temporarily unavailable)"),
    ("execve", ("/bin/ls", ("ls", "-l"), ("A=1",)), None, None,
     f'execve("/bin/ls", ["ls", "-l"], {USER_BUF} /* 1 var */) = 0'),
    ("waitpid", (-1, 1), (0, 0), None, f"wait4(-1, {USER_BUF}, WNOHANG, NULL) = 0"),
    ("unshare", (0x10000000,), None, None, "unshare(CLONE_NEWUSER) = 0"),
    ("getresgid", (), None, _err(E.EFAULT), f"getresgid({USER_BUF}, {USER_BUF}, {USER_BUF}) = -1 EFAULT (Bad address)"),
    ("getgroups", (), None, _err(E.EINVAL), f"getgroups(65536, {USER_BUF}) = -1 EINVAL (Invalid argument)"),
    ("setgroups", ((10, 20),), None, None, "setgroups(2, [10, 20]) = 0"),
    ("setresuid", (1, 2, 3), None, _err(E.EPERM), "setresuid(1, 2, 3) = -1 EPERM (Operation not permitted)"),
    ("capget", (7,), None, _err(E.ESRCH),
     f"capget({{version=_LINUX_CAPABILITY_VERSION_3, pid=7}}, {USER_BUF}) = -1 ESRCH (No such process)"),
    ("prctl", (P.PR_SET_KEEPCAPS, 1, 0, 0, 0), 0, None, "prctl(PR_SET_KEEPCAPS, 1) = 0"),
    ("prctl", (P.PR_SET_NAME, 5, 0, 0, 0), 0, None, "prctl(PR_SET_NAME, 5) = 0"),
    ("prctl", (P.PR_GET_NAME, 0, 0, 0, 0), 0, None, f"prctl(PR_GET_NAME, {USER_BUF}) = 0"),
    ("prctl", (P.PR_GET_DUMPABLE, 0, 0, 0, 0), 7, None, "prctl(PR_GET_DUMPABLE) = 7"),
    ("prctl", (P.PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0), 0, None, "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0"),
    ("prctl", (P.PR_CAPBSET_READ, 99, 0, 0, 0), None, _err(E.EINVAL),
     "prctl(PR_CAPBSET_READ, 99) = -1 EINVAL (Invalid argument)"),
    ("prctl", (P.PR_SET_SECUREBITS, 0x14, 0, 0, 0), 0, None,
     "prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP|SECBIT_KEEP_CAPS) = 0"),
    ("prctl", (P.PR_CAP_AMBIENT, P.PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0), 0, None,
     "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SYS_ADMIN, 0, 0) = 0"),
    ("prctl", (P.PR_CAP_AMBIENT, P.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), 0, None,
     "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) = 0"),
    ("prctl", (P.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0, None, "prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0"),
    ("prctl", (1234, 5, 0, 0, 0), None, _err(E.EINVAL), "prctl(1234, 5) = -1 EINVAL (Invalid argument)"),
    ("frobnicate", ("a", 3), True, None, 'frobnicate("a", 3) = 0'),
    ("frobnicate", (), 7, None, "frobnicate() = 7"),
    ("frobnicate", (), None, KernelError(999), "frobnicate() = -1 999 (Unknown error 999)"),
])
def test_format_syscall_table(name, args, result, error, line) -> None:  # type: ignore[no-untyped-def]
    """Every formatter, success and failure, against the exact text."""
    assert format_syscall(name, args, result, error) == line


def test_strace_name_maps_hook_names() -> None:
    """The hook's name becomes the syscall strace shows; unknown or malformed stay as they are."""
    assert strace_name("open", (-100, "x", 0, 0)) == "openat"
    assert strace_name("stat", (-100, "x", 0)) == "newfstatat"
    assert strace_name("getpid", ()) == "getpid"
    assert strace_name("open", ()) == "open"
    assert strace_name("nosuch", ()) == "nosuch"


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.titles: list[str] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append(tag)
        self.titles += [v for a, v in attrs if a == "title" and v]


def test_strace_html_marks_failures(k: simkernel.Kernel) -> None:
    """The HTML log is one <pre>; failed lines carry the explanation as a tooltip and a comment line."""
    t = k.spawn("app", uid=1000, gid=1000)
    with k.strace() as st:
        t.sys.getpid()
        with pytest.raises(PermissionError):
            t.sys.open("/proc/1/map_files", O_RDONLY)
    p = _Tags()
    p.feed(st._repr_html_())
    assert p.tags[0] == "pre" and p.tags.count("span") == 2
    assert len(p.titles) == 1 and "generic_permission" in p.titles[0]
