"""fs/exec.c and fs/binfmt_elf.c: execve on the simplified ELF format."""

from __future__ import annotations

import pytest

import simkernel
from simkernel.fs import binfmt_elf as B
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import prctl as PR
from simkernel.uapi.capability import CAP_FULL_SET, CAP_KILL
from tests.helpers import kraises, raises_errno

PIE = (b"\x7fELF\n# a PIE\ntype dyn\ninterp /lib64/ld.so\nentry 0x1040\nload 0x0 0x1000 0x1000 0x0 r\n"
       b"load 0x1000 0x2000 0x2000 0x1000 rx\nload 0x3000 0x800 0x3000 0x3000 rw\n")
LD = (b"\x7fELF\ntype dyn\nload 0 0x1000 0x1000 0 r\nload 0x1000 0x1000 0x1000 0x1000 rx\n"
      b"load 0x2000 0x100 0x2000 0x2000 rw\n")
STATIC = b"\x7fELF\ntype exec\nload 0x400000 0x1000 0x1000 0 rx\nload 0x401000 0x10 0x10 0x1000 rw\n"


def put(task, path, data, mode=0o755):
    fd = task.sys.open(path, F.O_CREAT | F.O_WRONLY | F.O_TRUNC, mode)
    task.sys.write(fd, data)
    task.sys.close(fd)
    task.sys.chmod(path, mode)


@pytest.fixture
def k():
    k = simkernel.Kernel()
    put(k.init, "/usr/bin/prog", PIE)
    put(k.init, "/lib64/ld.so", LD)
    put(k.init, "/usr/bin/static", STATIC)
    return k


def maps(t):
    return [(v.vm_start, v.vm_end, v.vm_file.f_path.dentry.d_name if v.vm_file else v.anon_name) for v in t.mm]


def test_do_execve_pie_layout(k):
    """A PIE goes to 0x555555554000, its interpreter top-down below mmap_base, the stack below STACK_TOP."""
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/usr/bin/prog", ["prog"])
    m = maps(t)
    assert m[0] == (0x555555554000, 0x555555555000, "prog")
    assert m[2] == (0x555555557000, 0x555555558000, "prog")
    assert m[3] == (0x555555558000, 0x55555555a000, None)                   # bss beyond the file page
    assert [x[2] for x in m[4:7]] == ["ld.so"] * 3 and m[6][1] == 0x7ffff7ffe000
    assert m[-1] == (0x7ffffffde000, 0x7ffffffff000, "[stack]")
    assert t.mm.start_brk == t.mm.brk == 0x55555555a000
    assert t.comm == "prog"
    assert t.sys.readlink(f"/proc/{t.pid}/exe") == "/usr/bin/prog"


def test_do_execve_static_exec_at_fixed_address(k):
    """ET_EXEC segments go where they say."""
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/usr/bin/static")
    assert maps(t)[:2] == [(0x400000, 0x401000, "static"), (0x401000, 0x402000, "static")]


def test_do_execve_replaces_old_mm_and_closes_cloexec(k):
    """The old mappings are gone; O_CLOEXEC descriptors are closed, others stay."""
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.mmap(0, 4096, 3, 0x22)
    keep = t.sys.open("/etc/passwd", F.O_RDONLY)
    gone = t.sys.open("/etc/passwd", F.O_RDONLY | F.O_CLOEXEC)
    old = t.mm
    t.sys.execve("/usr/bin/static")
    assert t.mm is not old and keep in t.files.fdt and gone not in t.files.fdt


def test_do_execve_comm_is_basename_15(k):
    """comm = the last path component of the name passed, cut to 15 bytes."""
    put(k.init, "/usr/bin/a-very-long-program-name", STATIC)
    t = k.spawn("app")
    t.sys.execve("/usr/bin/a-very-long-program-name")
    assert t.comm == "a-very-long-pro"


@pytest.mark.parametrize("path,errno", [("/nonexistent", E.ENOENT), ("/usr/bin", E.EACCES),
                                        ("/dev/zero", E.EACCES), ("/etc/passwd", E.EACCES),
                                        ("/etc/passwd/x", E.ENOTDIR)])
def test_do_execve_open_errors(k, path, errno):
    """Missing, directory, device, no exec bit, file as directory."""
    t = k.spawn("app", uid=1000, gid=1000)
    with raises_errno(errno):
        t.sys.execve(path)


def test_do_execve_root_needs_some_x_bit(k):
    """CAP_DAC_OVERRIDE does not make a file without any x bit executable."""
    put(k.init, "/tmp/noexec", STATIC, 0o644)
    with raises_errno(E.EACCES):
        k.spawn("r").sys.execve("/tmp/noexec")
    put(k.init, "/tmp/ownerx", STATIC, 0o744)
    k.spawn("r").sys.execve("/tmp/ownerx")


def test_do_execve_noexec_mount(k):
    """A file on a noexec mount: EACCES."""
    k.init.sys.mkdir("/mnt", 0o755)
    k.init.sys.mount("tmpfs", "/mnt", "tmpfs", 8, "")   # MS_NOEXEC
    put(k.init, "/mnt/prog", STATIC)
    with raises_errno(E.EACCES):
        k.spawn("app").sys.execve("/mnt/prog")


@pytest.mark.parametrize("data", [b"#!/bin/sh\n", b"", b"\x7fEL", b"\x7fELF\nbogus line\n", b"\x7fELF\n",
                                  b"\x7fELF\nload 0 1 1\n", b"\x7fELF\nload 0x10 1 1 0 r\n",
                                  b"\x7fELF\nload 0 2 1 0 r\n", b"\x7fELF\nload 0 1 1 0 q\n",
                                  b"\x7fELF\nload zz 1 1 0 r\n", b"\x7fELF\xff\xfe"])
def test_do_execve_bad_image_enoexec(k, data):
    """Not ELF, or an ELF description that does not parse: ENOEXEC, and the caller keeps running."""
    put(k.init, "/tmp/bad", data)
    t = k.spawn("app", uid=1000, gid=1000)
    old = t.mm
    with raises_errno(E.ENOEXEC):
        t.sys.execve("/tmp/bad")
    assert t.mm is old and t.state == "running"


def test_do_execve_interpreter_errors(k):
    """A missing interpreter is ENOENT; one that is not ELF is ELIBBAD; a bad ELF one ELIBBAD too."""
    put(k.init, "/tmp/p1", b"\x7fELF\ninterp /nope\nload 0x400000 1 1 0 r\n")
    put(k.init, "/tmp/notelf", b"hello")
    put(k.init, "/tmp/badelf", b"\x7fELF\nwhat\n")
    put(k.init, "/tmp/p2", b"\x7fELF\ninterp /tmp/notelf\nload 0x400000 1 1 0 r\n")
    put(k.init, "/tmp/p3", b"\x7fELF\ninterp /tmp/badelf\nload 0x400000 1 1 0 r\n")
    t = k.spawn("app", uid=1000, gid=1000)
    with raises_errno(E.ENOENT):
        t.sys.execve("/tmp/p1")
    with raises_errno(B.ELIBBAD):
        t.sys.execve("/tmp/p2")
    with raises_errno(B.ELIBBAD):
        t.sys.execve("/tmp/p3")


def test_do_execve_e2big(k):
    """Arguments beyond the 2 MiB limit or a single string of 128 KiB: E2BIG."""
    t = k.spawn("app", uid=1000, gid=1000)
    with raises_errno(E.E2BIG):
        t.sys.execve("/usr/bin/static", ["x" * (128 << 10)])
    with raises_errno(E.E2BIG):
        t.sys.execve("/usr/bin/static", ["x" * 1000] * 3000)


def test_do_execve_setuid_root(k):
    """A set-uid-root program run by a user: euid/suid/fsuid 0, full caps, non-dumpable."""
    put(k.init, "/usr/bin/su", STATIC, 0o4755)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/usr/bin/su")
    c = t.cred
    assert (c.uid, c.euid, c.suid, c.fsuid) == (1000, 0, 0, 0)
    assert c.cap_permitted == c.cap_effective == CAP_FULL_SET
    assert t.sys.prctl(PR.PR_GET_DUMPABLE) == 0


def test_do_execve_setuid_dumpable_follows_sysctl(k):
    """fs.suid_dumpable = 2 makes a set-uid exec dumpable 2."""
    k.sysctl["fs.suid_dumpable"] = 2
    put(k.init, "/usr/bin/su", STATIC, 0o4755)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/usr/bin/su")
    assert t.mm.get_dumpable() == 2


def test_do_execve_setgid_needs_group_x(k):
    """S_ISGID with group execute sets egid; without group execute (mandatory locking) it does not."""
    put(k.init, "/usr/bin/sg", STATIC, 0o2755)
    k.init.sys.chown("/usr/bin/sg", 0, 50)                # chown clears S_ISGID: set it again
    k.init.sys.chmod("/usr/bin/sg", 0o2755)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/usr/bin/sg")
    assert (t.cred.gid, t.cred.egid, t.cred.sgid) == (1000, 50, 50)
    put(k.init, "/usr/bin/sg2", STATIC, 0o2745)
    k.init.sys.chown("/usr/bin/sg2", 0, 50)
    k.init.sys.chmod("/usr/bin/sg2", 0o2745)
    u = k.spawn("app", uid=1000, gid=1000)
    u.sys.execve("/usr/bin/sg2")
    assert u.cred.egid == 1000


def test_do_execve_no_new_privs_ignores_setuid(k):
    """Under no_new_privs the set-uid bit does nothing."""
    put(k.init, "/usr/bin/su", STATIC, 0o4755)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.prctl(PR.PR_SET_NO_NEW_PRIVS, 1)
    t.sys.execve("/usr/bin/su")
    assert t.cred.euid == 1000 and t.cred.cap_permitted == 0


def test_do_execve_nosuid_mount_ignores_setuid(k):
    """On a nosuid mount the set-uid bit does nothing."""
    k.init.sys.mkdir("/mnt", 0o755)
    k.init.sys.mount("tmpfs", "/mnt", "tmpfs", 2, "")   # MS_NOSUID
    put(k.init, "/mnt/su", STATIC, 0o4755)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/mnt/su")
    assert t.cred.euid == 1000


def test_do_execve_unreadable_program_not_dumpable(k):
    """An execute-only program (0711) makes the process non-dumpable (would_dump)."""
    put(k.init, "/usr/bin/xonly", STATIC, 0o711)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/usr/bin/xonly")
    assert t.mm.get_dumpable() == 0


def test_do_execve_unreadable_in_userns_lifts_mm_user_ns(k):
    """In a user namespace, an unreadable program owned by an unmapped uid moves mm->user_ns up."""
    from simkernel.uapi.sched import CLONE_NEWUSER
    put(k.init, "/usr/bin/xonly", STATIC, 0o711)
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.unshare(CLONE_NEWUSER)
    t.sys.execve("/usr/bin/xonly")
    assert t.mm.user_ns is k.init_user_ns
    u = k.spawn("app", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    u.sys.execve("/usr/bin/static")
    assert u.mm.user_ns is u.cred.user_ns


def test_do_execve_dumpable_after_seteuid(k):
    """Old euid != uid at exec time: dumpable = suid_dumpable; a plain user exec is dumpable 1."""
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.prctl(PR.PR_SET_DUMPABLE, 0)
    t.sys.execve("/usr/bin/static")
    assert t.mm.get_dumpable() == 1
    r = k.spawn("r")
    r.sys.setresuid(-1, 1000, -1)
    r.sys.execve("/usr/bin/static")
    assert r.mm.get_dumpable() == 0


def test_do_execve_root_caps(k):
    """Root keeps/gets full permitted and effective; a user keeps only ambient caps."""
    r = k.spawn("r")
    r.sys.capset(0, CAP_FULL_SET, 0)
    r.sys.execve("/usr/bin/static")
    assert r.cred.cap_effective == CAP_FULL_SET
    u = k.spawn("u", uid=1000, gid=1000, caps=[CAP_KILL])
    u.sys.capset(1 << CAP_KILL, 1 << CAP_KILL, 1 << CAP_KILL)
    u.sys.prctl(PR.PR_CAP_AMBIENT, PR.PR_CAP_AMBIENT_RAISE, CAP_KILL)
    u.sys.execve("/usr/bin/static")
    assert u.sys.capget() == (1 << CAP_KILL, 1 << CAP_KILL, 1 << CAP_KILL)
    v = k.spawn("v", uid=1000, gid=1000, caps=[CAP_KILL])
    v.sys.execve("/usr/bin/static")
    assert v.sys.capget() == (0, 0, 0)


def test_do_execve_failure_after_point_of_no_return_kills(k):
    """An ET_EXEC segment below vm.mmap_min_addr fails after the point of no return: SIGSEGV."""
    put(k.init, "/tmp/low", b"\x7fELF\nload 0 0x10 0x10 0 r\n")
    t = k.spawn("app", uid=1000, gid=1000)
    t.sys.execve("/tmp/low")
    assert t.state != "running" and t.exit_code == 11


def test_do_execve_from_thread_takes_over(k):
    """exec in a non-leader thread: the other threads go and the caller takes the process id."""
    from simkernel.uapi.sched import CLONE_FILES, CLONE_FS, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM
    t = k.spawn("app", uid=1000, gid=1000)
    th = t.sys.clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
    th2 = t.sys.clone(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
    pid = t.pid
    th.sys.execve("/usr/bin/static")
    assert th.pid == pid and th.sys.getpid() == pid and th.sys.gettid() == pid
    assert th.group_leader is th and th.threads == [th]
    assert k.find_task(pid) is th and th2.state != "running"


def test_do_execve_fd_table_unshared(k):
    """A CLONE_FILES sharer keeps the old table; the exec'ing process gets its own copy."""
    from simkernel.uapi.sched import CLONE_FILES
    t = k.spawn("app", uid=1000, gid=1000)
    c = t.sys.clone(CLONE_FILES)
    fd = t.sys.open("/etc/passwd", F.O_RDONLY | F.O_CLOEXEC)
    c.sys.execve("/usr/bin/static")
    assert c.files is not t.files and fd in t.files.fdt and fd not in c.files.fdt


def test_parse_elf_directives():
    """Numbers in hex or decimal, PROT letters, interpreter and entry."""
    img = B.parse_elf(PIE)
    assert img.dyn and img.interp == "/lib64/ld.so" and img.entry == 0x1040
    assert img.segments[1] == B.ElfSegment(0x1000, 0x2000, 0x2000, 0x1000, 5)
    assert not B.parse_elf(STATIC).dyn


def test_load_elf_binary_unknown_format(k):
    """parse_elf without magic: ENOEXEC."""
    with kraises(E.ENOEXEC):
        B.parse_elf(b"MZ")
