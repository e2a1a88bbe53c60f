"""One test per profile difference, named after the commit it reproduces (or, where the commit is not
identified, the release and what changed).  Each runs the same steps on the release before and the release
that introduced the change, and asserts both answers.  `SWITCH_TESTS` maps every switch to its tests; a test
checks that no switch that changes between profiles is left without one.
"""

from __future__ import annotations

import errno as E
from typing import Any

import pytest

import simkernel
from simkernel.errors import KernelBug
from simkernel.scenarios.fast import map_file_pages
from simkernel.uapi import (CAP_CHECKPOINT_RESTORE, CAP_DAC_READ_SEARCH, CAP_PERFMON, CAP_SETGID, CAP_SETUID,
                            CAP_SYS_ADMIN, CLONE_FILES, CLONE_FS, CLONE_NEWUSER, CLONE_SIGHAND, CLONE_THREAD,
                            CLONE_VM, MAP_FIXED, MAP_PRIVATE, O_CREAT, O_DIRECTORY, O_NOFOLLOW, O_PATH, O_RDONLY,
                            O_WRONLY, PR_SET_DUMPABLE, PROT_READ)
from simkernel.versions import VERSIONS
from tests.fs.proc.prockit import BASE, PAGE, dentry_of, mf, rng, setup

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


def errno_of(fn: Any, *args: Any) -> Any:
    """fn(*args), or the errno name it failed with, or "OOPS"."""
    try:
        return fn(*args)
    except OSError as err:
        return E.errorcode[err.errno or 0]
    except KernelBug:
        return "OOPS"


def both(before: str, after: str, fn: Any) -> tuple[Any, Any]:
    """fn(setup) on a fresh setup of each release."""
    return fn(setup(version=before)), fn(setup(version=after))


def with_parent(version: str) -> tuple[Any, Any, Any, str]:
    """(kernel, parent, target, entry name): a uid-1000 target whose parent keeps it a zombie when it exits."""
    k = simkernel.Kernel(version=version)
    k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
    p = k.spawn("parent")
    t = k.spawn("target", uid=1000, gid=1000, parent=p)
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, t.sys.open("/tmp/f", O_RDONLY), 0)
    return k, p, t, rng(BASE, BASE + PAGE)


# -- v3.3 ----------------------------------------------------------------------------------------------------

def test_commit_640708a2cff7_map_files_needs_cap_sys_admin_eacces() -> None:
    """3.3: lookup, readdir (and d_revalidate) refuse a caller without CAP_SYS_ADMIN with EACCES -- even the
    task itself; root passes."""
    s = setup(version="3.3")
    assert errno_of(s.t.sys.listdir, mf(s.t)) == "EACCES"
    assert errno_of(s.t.sys.readlink, mf(s.t, s.ro)) == "EACCES"
    assert s.root.sys.readlink(mf(s.t, s.ro)) == "/srv/mf/ro"
    s.root.sys.lstat(mf(s.t, s.ro))                     # cached now: d_revalidate is the gate
    assert errno_of(s.t.sys.lstat, mf(s.t, s.ro)) == "EACCES"


def test_commit_640708a2cff7_sscanf_name_grammar() -> None:
    """3.3-4.15 parse names with sscanf("%lx-%lx"): whitespace, 0x, junk, wrap-around resolve."""
    s = setup(version="3.3")
    a, b = BASE, BASE + 2 * PAGE
    for name in (f" {a:x}-{b:x}", f"{a:x}- {b:x}", f"0x{a:x}-{b:x}", f"{a:x}-{b:x}junk", f"0{a:x}-{b:x}",
                 "1" + "0" * 16 + f"{a:x}-{b:x}"):
        assert s.root.sys.readlink(mf(s.t, name)) == "/srv/mf/ro", name
    for name in (f"{a:x} -{b:x}", f"+{a:x}-{b:x}", f"{a:x}-", f"-{b:x}"):
        assert errno_of(s.root.sys.readlink, mf(s.t, name)) == "ENOENT", name


def test_commit_640708a2cff7_lock_trace_turns_eintr_into_eacces() -> None:
    """3.3's lock_trace() takes cred_guard_mutex killably; map_files maps its EINTR to EACCES (3.4: no mutex)."""
    def run(s: Any) -> Any:
        s.root.fatal_signal_pending = True
        return errno_of(lambda: len(s.root.sys.listdir(mf(s.t))))
    assert both("3.3", "3.4", run) == ("EACCES", 2)


# -- v3.4 ----------------------------------------------------------------------------------------------------

def test_commit_eb94cd96e05d_lookup_uses_ptrace_read_not_attach() -> None:
    """3.3 checked PTRACE_MODE_ATTACH (lock_trace), where Yama acts; 3.4 checks READ, which Yama ignores."""
    def run(version: str) -> Any:
        k = simkernel.Kernel(version=version, yama=True)
        k.sysctl["kernel.yama.ptrace_scope"] = 1
        k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
        t = k.spawn("target", uid=1000, gid=1000)
        t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, t.sys.open("/tmp/f", O_RDONLY), 0)
        w = k.spawn("other", uid=1000, gid=1000, caps=[CAP_SYS_ADMIN])     # no CAP_SYS_PTRACE, no ancestor
        return errno_of(w.sys.readlink, mf(t, rng(BASE, BASE + PAGE)))
    assert (run("3.3"), run("3.4")) == ("EACCES", "/tmp/f")


# -- v3.5 ----------------------------------------------------------------------------------------------------

def test_v3_5_revalidate_uses_mm_access() -> None:
    """3.5's d_revalidate asks mm_access(), whose "same mm" shortcut keeps a cached entry valid for a CLONE_VM
    sibling of a non-dumpable task; 3.4 asked ptrace_may_access(), which refuses it (EACCES on re-lookup)."""
    def run(s: Any) -> Any:
        t = s.k.spawn("t", uid=1000, gid=1000, caps=[CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH])
        t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, t.sys.open("/srv/mf/ro", O_RDONLY), 0)
        sib = t.sys.clone(CLONE_VM | CLONE_SIGHAND)           # shares the mm, another process
        name = mf(t, rng(BASE, BASE + PAGE))
        s.root.sys.lstat(name)                                # instantiate the entry
        t.sys.prctl(PR_SET_DUMPABLE, 0)
        return errno_of(lambda: oct(sib.sys.lstat(name).st_mode))
    assert both("3.4", "3.5", run) == ("EACCES", "0o120400")


# -- v3.7 ----------------------------------------------------------------------------------------------------

def test_commit_7b540d0646ce_readdir_holds_no_file_references() -> None:
    """Until 3.6 readdir pinned each mapped file with get_file() between its passes; 3.7 keeps f_mode only.
    (A patch of proc_fill_cache reads the file's reference count while entries are emitted.)"""
    def run(version: str) -> tuple[int, int]:
        s = setup(version=version)
        f = s.t.mm.mm_rb[0].vm_file
        seen: list[int] = []

        def spy(orig: Any, *args: Any) -> Any:
            seen.append(f.f_count)
            return orig(*args)
        s.k.patch("proc_fill_cache", spy)
        before = f.f_count
        s.root.sys.listdir(mf(s.t))
        assert f.f_count == before          # every reference dropped again
        return before, max(seen)
    b5, during5 = run("3.5")
    b7, during7 = run("3.7")
    assert during5 == b5 + 1 and during7 == b7


# -- v3.9 ----------------------------------------------------------------------------------------------------

def test_v3_9_cap_sys_admin_failure_is_eperm() -> None:
    """The CAP_SYS_ADMIN gate answers EACCES in 3.3-3.8 and EPERM in 3.9-4.2 (lookup, readdir, revalidate)."""
    def run(s: Any) -> tuple[Any, Any, Any]:
        w = s.k.spawn("same", uid=1000, gid=1000)
        s.root.sys.lstat(mf(s.t, s.ro))
        return (errno_of(w.sys.listdir, mf(s.t)), errno_of(w.sys.lstat, mf(s.t, s.ro)),
                errno_of(w.sys.readlink, mf(s.t, "1-2")))
    assert both("3.7", "3.9", run) == (("EACCES",) * 3, ("EPERM",) * 3)


# -- v3.12 ---------------------------------------------------------------------------------------------------

def _threads(version: str, caps: tuple[int, ...] = (CAP_SYS_ADMIN,)) -> tuple[Any, Any, str]:
    """A non-dumpable process (its map_files root-owned) with a leader and one more thread."""
    k = simkernel.Kernel(version=version)
    k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
    t = k.spawn("leader", uid=1000, gid=1000, caps=list(caps))
    t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, t.sys.open("/tmp/f", O_RDONLY), 0)
    th = t.sys.clone(THREAD)
    t.sys.prctl(PR_SET_DUMPABLE, 0)
    return t, th, rng(BASE, BASE + PAGE)


def test_commit_73af963f9f30_ptrace_does_not_deny_sub_threads() -> None:
    """__ptrace_may_access(): `task == current` (3.3-3.11) vs same_thread_group() (3.12+).  A thread reads
    its non-dumpable process's entries (CAP_DAC_READ_SEARCH passes the directory): the full check of 3.9
    refuses the non-dumpable target, 3.12 lets its own threads through."""
    def run(version: str) -> Any:
        t, th, name = _threads(version, (CAP_SYS_ADMIN, CAP_DAC_READ_SEARCH))
        return errno_of(th.sys.readlink, f"/proc/{t.pid}/map_files/{name}")
    assert (run("3.9"), run("3.12")) == ("EACCES", "/tmp/f")


def test_commit_96d0df79f264_proc_fd_permission_compares_tgid() -> None:
    """A thread opens its process's map_files (/proc/<tgid>): the directory's fallback compared the caller's
    pid until 3.11 (EACCES for a non-leader), its tgid from 3.12."""
    def run(version: str) -> Any:
        t, th, name = _threads(version)
        return errno_of(th.sys.readlink, f"/proc/{t.pid}/map_files/{name}")
    assert (run("3.9"), run("3.12")) == ("EACCES", "/tmp/f")


def test_commit_54708d2858e7_proc_fd_permission_same_thread_group() -> None:
    """The leader opens its thread's /proc/<tid>/map_files: tgid != tid until 4.3 (EACCES); any thread of
    the group from 4.4."""
    def run(version: str) -> Any:
        t, th, name = _threads(version)
        return errno_of(lambda: len(t.sys.listdir(f"/proc/{th.pid}/map_files")))
    assert (run("4.3"), run("4.4")) == ("EACCES", 1)


# -- v3.13 ---------------------------------------------------------------------------------------------------

def test_commit_d049f74f2dbe_suid_dump_root_is_not_dumpable() -> None:
    """A SUID_DUMP_ROOT target passed `!dumpable` until 3.12; from 3.13 only SUID_DUMP_USER is dumpable."""
    def run(version: str) -> Any:
        k = simkernel.Kernel(version=version)
        k.sysctl["fs.suid_dumpable"] = 2
        k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
        t = k.spawn("target", uid=1000, gid=1000, dumpable=False)
        assert t.mm.get_dumpable() == 2
        t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, t.sys.open("/tmp/f", O_RDONLY), 0)
        w = k.spawn("w", uid=1000, gid=1000, caps=[CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN])
        return errno_of(w.sys.readlink, mf(t, rng(BASE, BASE + PAGE)))
    assert (run("3.12"), run("3.13")) == ("/tmp/f", "EACCES")


# -- v3.14 ---------------------------------------------------------------------------------------------------

def _race(version: str) -> tuple[Any, Any]:
    s = setup(version=version)
    s.root.sys.lstat(mf(s.t, s.ro))

    def racer(orig: Any, current: Any, dentry: Any, task: Any) -> Any:
        s.t.sys.munmap(BASE, 2 * PAGE)
        return orig(current, dentry, task)
    with s.k.patched("map_files_get_link", racer):
        got = errno_of(s.root.sys.readlink, mf(s.t, s.ro))
    return got, s.k.oopses


def test_v3_14_fix_gpf_in_map_files_get_link() -> None:
    """A VMA unmapped between d_revalidate and get_link: through 3.13 get_link returned success without a
    path (a GPF, reported as KernelBug in kernel.oopses); 3.14 ("fs/proc/base.c: fix GPF in
    /proc/$PID/map_files") answers ENOENT."""
    got13, oopses13 = _race("3.13")
    got14, oopses14 = _race("3.14")
    assert (got13, got14) == ("OOPS", "ENOENT")
    assert len(oopses13) == 1 and oopses13[0].function == "map_files_get_link" and "d_path" in oopses13[0].report
    assert "3.14" in str(oopses13[0]) and oopses14 == []


def test_kernel_bug_leaves_no_lock_held() -> None:
    """After the oops the mmap lock and the mm reference are released: the task still maps and unmaps."""
    s = setup(version="3.13")
    s.root.sys.lstat(mf(s.t, s.ro))
    with s.k.patched("map_files_get_link", lambda orig, c, d, t: (s.t.sys.munmap(BASE, 2 * PAGE), orig(c, d, t))[1]):
        with pytest.raises(KernelBug):
            s.root.sys.readlink(mf(s.t, s.ro))
    assert s.t.mm.mmap_lock.readers == 0
    s.t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, s.t.sys.open("/srv/mf/ro", O_RDONLY), 0)


# -- v4.3 ----------------------------------------------------------------------------------------------------

def test_commit_bdb4d100afe9_readlink_without_cap_sys_admin() -> None:
    """4.3 "always expose /proc/<pid>/map_files/ and make it readable": list and readlink need no capability."""
    def run(s: Any) -> tuple[Any, Any]:
        w = s.k.spawn("same", uid=1000, gid=1000)
        return errno_of(lambda: len(w.sys.listdir(mf(s.t)))), errno_of(w.sys.readlink, mf(s.t, s.ro))
    assert both("3.14", "4.3", run) == (("EPERM", "EPERM"), (2, "/srv/mf/ro"))


def test_commit_bdb4d100afe9_follow_needs_cap_sys_admin() -> None:
    """...but following the link does (EPERM), through map_files' own inode_operations; before 4.3 the
    generic /proc link operations followed for anyone who got that far."""
    def run(s: Any) -> tuple[Any, Any]:
        w = s.k.spawn("same", uid=1000, gid=1000, caps=[CAP_SYS_ADMIN])
        u = s.k.spawn("user", uid=1000, gid=1000)
        from simkernel.fs.proc.base import PROC_PID_LINK_INODE_OPERATIONS
        ops = dentry_of(s.root, mf(s.t, s.ro)).d_inode.i_op
        return (ops is PROC_PID_LINK_INODE_OPERATIONS, errno_of(u.sys.open, mf(s.t, s.ro), O_RDONLY),
                isinstance(w.sys.open(mf(s.t, s.ro), O_RDONLY), int))
    before, after = both("3.14", "4.3", run)
    assert before == (True, "EPERM", True)          # 3.14: EPERM from the CAP_SYS_ADMIN gate of lookup
    assert after == (False, "EPERM", True)          # 4.3: EPERM from ->get_link


# -- v4.5 ----------------------------------------------------------------------------------------------------

def test_commit_caaee6234d05_ptrace_uses_fscreds() -> None:
    """Before 4.5 the real uid decided (REALCREDS), since 4.5 the fsuid (FSCREDS)."""
    def run(s: Any) -> tuple[Any, Any]:
        fs = s.k.spawn("fs", uid=1001, gid=1001, caps=[CAP_SETUID, CAP_SETGID])
        fs.sys.setfsgid(1000)
        fs.sys.setfsuid(1000)
        real = s.k.spawn("real", uid=1000, gid=1000, caps=[CAP_SETUID, CAP_SETGID, CAP_DAC_READ_SEARCH])
        real.sys.setresgid(1000, 1001, 1000)
        real.sys.setresuid(1000, 1001, 1000)
        return errno_of(fs.sys.readlink, mf(s.t, s.ro)), errno_of(real.sys.readlink, mf(s.t, s.ro))
    assert both("4.4", "4.5", run) == (("EACCES", "/srv/mf/ro"), ("/srv/mf/ro", "EACCES"))


def test_commit_caaee6234d05_commoncap_effective_set() -> None:
    """commoncap compared the target's permitted set with the caller's permitted set (REALCREDS), since 4.5
    with its effective set: root with an empty effective set loses access to a root process."""
    def run(version: str) -> Any:
        k = simkernel.Kernel(version=version)
        t = k.spawn("t")
        w = k.spawn("w")
        w.sys.capset(0, w.sys.capget()[1], 0)
        return errno_of(lambda: len(w.sys.listdir(f"/proc/{t.pid}/map_files")))
    assert (run("4.4"), run("4.5")) == (0, "EACCES")


# -- v4.10 ---------------------------------------------------------------------------------------------------

def test_commit_bfedb589252c_task_without_mm_is_no_longer_undumpable() -> None:
    """Until 4.9 a task without mm (a zombie) counted as dumpable 0: a same-uid reader needed CAP_SYS_PTRACE.
    Since 4.10 the dumpable test is skipped without an mm."""
    def run(version: str) -> Any:
        k, _p, t, _name = with_parent(version)
        w = k.spawn("same", uid=1000, gid=1000, caps=[CAP_DAC_READ_SEARCH])
        t.sys.exit(0)
        return errno_of(lambda: len(w.sys.listdir(mf(t))))
    assert (run("4.5"), run("4.10")) == ("EACCES", 0)


def test_commit_bfedb589252c_dumpable_capability_over_mm_user_ns() -> None:
    """A non-dumpable task that moved into its own user namespace after creating its mm: its owner holds
    CAP_SYS_PTRACE over the new namespace, which was enough before 4.10; mm->user_ns (the parent) decides
    since."""
    def run(version: str) -> Any:
        k = simkernel.Kernel(version=version)
        k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
        t = k.spawn("t", uid=1000, gid=1000)
        t.sys.mmap(BASE, PAGE, PROT_READ, MAP_PRIVATE | MAP_FIXED, t.sys.open("/tmp/f", O_RDONLY), 0)
        t.sys.unshare(CLONE_NEWUSER)
        t.sys.prctl(PR_SET_DUMPABLE, 0)
        w = k.spawn("w", uid=1000, gid=1000, caps=[CAP_DAC_READ_SEARCH])
        return errno_of(w.sys.readlink, mf(t, rng(BASE, BASE + PAGE)))
    assert (run("4.5"), run("4.10")) == ("/tmp/f", "EACCES")


# -- v4.11 ---------------------------------------------------------------------------------------------------

STATIC = b"\x7fELF\ntype exec\nload 0x400000 0x1000 0x1000 0 rx\nload 0x401000 0x10 0x10 0x1000 rw\n"


def test_commit_68eb94f16227_task_dump_owner_is_the_user_namespace_root() -> None:
    """A non-dumpable task whose mm belongs to a user namespace where root is uid 1000: its map_files
    directory belongs to uid 1000 since 4.11, to global root before."""
    def run(version: str) -> int:
        k = simkernel.Kernel(version=version)
        fd = k.init.sys.open("/usr/bin/static", O_CREAT | O_WRONLY, 0o755)
        k.init.sys.write(fd, STATIC)
        k.init.sys.close(fd)
        t = k.spawn("t", uid=1000, gid=1000)
        t.sys.unshare(CLONE_NEWUSER)
        fd = t.sys.open(f"/proc/{t.pid}/uid_map", O_WRONLY)
        t.sys.write(fd, b"0 1000 1\n")
        t.sys.close(fd)
        t.sys.execve("/usr/bin/static")                   # the new mm belongs to the child namespace
        t.sys.prctl(PR_SET_DUMPABLE, 0)
        return int(k.init.sys.lstat(f"/proc/{t.pid}/map_files").st_uid)
    assert (run("4.10"), run("4.11")) == (0, 1000)


# -- v4.16 / v4.17 -------------------------------------------------------------------------------------------

def test_commit_ac7f1061c2c1_strict_parser() -> None:
    """4.16 replaces sscanf by a strict parser: whitespace, 0x, junk and overflow are refused..."""
    def run(s: Any) -> list[Any]:
        a, b = BASE, BASE + 2 * PAGE
        return [errno_of(s.root.sys.readlink, mf(s.t, n)) for n in (f" {a:x}-{b:x}", f"0x{a:x}-{b:x}",
                                                                     f"{a:x}-{b:x} ", "1" + "0" * 16 + f"{a:x}-{b:x}")]
    before, after = both("4.11", "4.16", run)
    assert before == ["/srv/mf/ro"] * 4 and after == ["ENOENT"] * 4


def test_v4_17_leading_zeros_refused() -> None:
    """...but leading zeros resolve until 4.17 refuses them (a lone "0" stays valid)."""
    def run(s: Any) -> list[Any]:
        return [errno_of(s.root.sys.readlink, mf(s.t, "0" + s.ro)),
                errno_of(s.root.sys.readlink, mf(s.t, s.ro.replace("-", "-0")))]
    assert both("4.16", "4.17", run) == (["/srv/mf/ro"] * 2, ["ENOENT"] * 2)


# -- flex_array limits and v5.1 ------------------------------------------------------------------------------

@pytest.mark.parametrize("version,limit", [("3.3", 37230), ("4.10", 47430), ("4.16", 86700)])
def test_flex_array_limit_counts_entries_beyond_f_pos(version: str, limit: int) -> None:
    """readdir fails with ENOMEM when more than `limit` file-backed VMAs lie beyond f_pos (after the dots of
    the first call); exactly `limit` is fine."""
    from simkernel.fs.proc.map_files_history import _flex_array_check
    from simkernel.errors import KernelError
    k = simkernel.Kernel(version=version)
    k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
    t = k.spawn("t")
    map_file_pages(t, "/tmp/f", 1000, BASE)
    _flex_array_check(t.mm, 2, 1000)
    _flex_array_check(t.mm, 3, 999)
    with pytest.raises(KernelError) as info:
        _flex_array_check(t.mm, 2, 999)
    assert info.value.errno == E.ENOMEM
    assert k.version.map_files_readdir_limit == limit


def test_v5_1_genradix_has_no_limit() -> None:
    """40,000 file VMAs: 4.10 (limit 47,430) and 5.1 list them, 3.3 (37,230) fails the second getdents."""
    def run(version: str) -> Any:
        k = simkernel.Kernel(version=version)
        k.init.sys.close(k.init.sys.open("/tmp/f", O_CREAT | O_WRONLY, 0o644))
        t = k.spawn("t")
        map_file_pages(t, "/tmp/f", 40_000, BASE)
        dfd = t.sys.open(mf(t), O_RDONLY | O_DIRECTORY)
        first = [n for n, *_ in t.sys.getdents(dfd, 48)]
        return first, errno_of(lambda: len(t.sys.getdents(dfd, 48)))
    assert run("3.3") == ([".", ".."], "ENOMEM")
    assert run("5.1") == ([".", ".."], 1)


# -- v5.3 ----------------------------------------------------------------------------------------------------

def test_commit_cd9e2bb8271c_killable_mmap_lock() -> None:
    """With a fatal signal pending: 5.1 reads map_files (down_read), 5.3 fails with EINTR."""
    def run(s: Any) -> tuple[Any, Any]:
        s.root.fatal_signal_pending = True
        return errno_of(lambda: len(s.root.sys.listdir(mf(s.t)))), errno_of(s.root.sys.lstat, mf(s.t, s.ro))
    before, after = both("5.1", "5.3", run)
    assert before[0] == 2 and after == ("EINTR", "EINTR")


# -- v5.6 ----------------------------------------------------------------------------------------------------

def test_commit_6b3ad6649a4c_ptrace_has_cap_uses_subjective_creds() -> None:
    """Under override_creds() (cred != real_cred): CAP_SYS_PTRACE came from the objective cred until 5.5,
    from the subjective one since."""
    import attrs
    from simkernel.kernel.ptrace import PTRACE_MODE_READ_FSCREDS, ptrace_has_cap
    def run(version: str) -> tuple[bool, bool]:
        k = simkernel.Kernel(version=version)
        w = k.spawn("w")
        w.cred = attrs.evolve(w.cred, cap_effective=0)           # override_creds() with no capabilities
        ns = k.init_user_ns
        return ptrace_has_cap(w, ns, PTRACE_MODE_READ_FSCREDS), ptrace_has_cap(w, ns, PTRACE_MODE_READ_FSCREDS | 4)
    assert run("5.3") == (True, True)
    assert run("5.6") == (False, False)


# -- v5.9 ----------------------------------------------------------------------------------------------------

def test_commit_12886f8ab10c_follow_with_checkpoint_restore() -> None:
    """Following with CAP_CHECKPOINT_RESTORE alone: EPERM until 5.6, allowed from 5.9."""
    def run(s: Any) -> Any:
        w = s.k.spawn("cr", uid=1000, gid=1000, caps=[CAP_CHECKPOINT_RESTORE])
        return errno_of(lambda: isinstance(w.sys.open(mf(s.t, s.ro), O_RDONLY), int))
    assert both("5.6", "5.9", run) == ("EPERM", True)


# -- v6.12, 6.13, 6.15 ---------------------------------------------------------------------------------------

def test_commit_3836b31c3e71_entries_are_dont_mount() -> None:
    """6.12 marks the entry dentries dont_mount()."""
    from simkernel.fs.dcache import cant_mount
    def run(s: Any) -> bool:
        return cant_mount(dentry_of(s.root, mf(s.t, s.ro)))
    assert both("5.9", "6.12", run) == (False, True)


def test_v6_13_mm_access_returns_esrch() -> None:
    """mm_access() of a zombie: NULL in 6.12, ERR_PTR(-ESRCH) in 6.13."""
    from simkernel.errors import KernelError
    from simkernel.kernel.fork import mm_access
    def run(s: Any) -> Any:
        s.t.sys.exit(0)
        try:
            return mm_access(s.root, s.t, 0x9)
        except KernelError as err:
            return E.errorcode[err.errno]
    assert both("6.12", "6.13", run) == (None, "ESRCH")


def test_v6_15_may_access_mm_perfmon() -> None:
    """A CAP_PERFMON reader that fails the ptrace check: mm_access() (d_revalidate) refuses it in 6.13,
    accepts it in 6.15 -- a cached entry stays valid for lstat."""
    def run(s: Any) -> Any:
        w = s.k.spawn("pm", uid=1001, gid=1001, caps=[CAP_PERFMON, CAP_DAC_READ_SEARCH])
        s.root.sys.lstat(mf(s.t, s.ro))
        return errno_of(lambda: oct(w.sys.lstat(mf(s.t, s.ro)).st_mode))
    assert both("6.13", "6.15", run) == ("EACCES", "0o120400")


def test_commit_eea9673250db_exec_holds_exec_update_lock() -> None:
    """exec holds exec_update_lock for write from exec_mmap() to setup_new_exec() since v5.7 (5.9 profile),
    and mm_access() takes it for read; before, cred_guard_mutex alone, and mm_access() took that.  Seen at
    the preemption points (kernel/sched)."""
    from simkernel.kernel.sched import Scheduler

    def run(version: str) -> tuple[bool, bool]:
        k = simkernel.Kernel(version=version)
        fd = k.init.sys.open("/usr/bin/static", O_CREAT | O_WRONLY, 0o755)
        k.init.sys.write(fd, b"\x7fELF\ntype exec\nload 0x400000 0x1000 0x1000 0 rx\n")
        k.init.sys.close(fd)
        t = k.spawn("app", uid=1000, gid=1000)
        held: list[tuple[bool, bool]] = []

        def choose(step: int, runnable: Any, prev: Any) -> Any:
            held.append((t.signal.exec_update_lock.writer is not None, t.signal.cred_guard_mutex.owner is not None))
            return runnable[0]
        Scheduler(k, {"B": lambda s: t.sys.execve("/usr/bin/static")}, None).run(choose)
        assert t.comm == "static"
        return any(h[0] for h in held), any(h[1] for h in held)
    assert (run("5.6"), run("5.9")) == ((False, True), (True, True))

    def reader_lock(version: str) -> str:
        """The lock mm_access() (a cached entry's d_revalidate) waits for."""
        from simkernel.kernel.fork import mm_access
        k = simkernel.Kernel(version=version)
        t, root = k.spawn("t"), k.spawn("root")
        steps = Scheduler(k, {"A": lambda s: mm_access(root, t, 0x11)}, None).run(lambda i, r, p: r[0])
        return steps[0][1]
    assert (reader_lock("5.6"), reader_lock("5.9")) == ("lock &sig->cred_guard_mutex (write)",
                                                        "lock &sig->exec_update_lock (read)")


# -- the 2026 back-ports (6.18 -> 6.18.44) -------------------------------------------------------------------

def test_commit_6650527444da_lookup_parses_the_name_first() -> None:
    """Without permission: a malformed name was EACCES (ptrace first) and is ENOENT in 6.18.44; a zombie's
    names were ENOENT and are ESRCH (mm_access); its listing stays "." and ".." only."""
    def run(version: str) -> tuple[Any, Any, Any]:
        k, _p, t, name = with_parent(version)
        w = k.spawn("other", uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH])
        root = k.spawn("root")
        bad = errno_of(w.sys.lstat, mf(t, "0" + name))
        t.sys.exit(0)
        return bad, errno_of(root.sys.lstat, mf(t, name)), errno_of(lambda: len(root.sys.listdir(mf(t))))
    assert (run("6.18"), run("6.18.44")) == (("EACCES", "ENOENT", 0), ("ENOENT", "ESRCH", 0))


def test_cve_2026_64375_readlink_of_a_reaped_task() -> None:
    """The FD-links back-port: readlink through an O_PATH fd of an entry whose task was reaped was EACCES
    (proc_fd_access_allowed() failed), is ENOENT."""
    def run(version: str) -> Any:
        k, p, t, name = with_parent(version)
        root = k.spawn("root")
        fd = root.sys.open(mf(t, name), O_PATH | O_NOFOLLOW)
        t.sys.exit(0)
        p.sys.waitpid(t.pid, 0)
        return errno_of(lambda: root.sys.readlink("", dir_fd=fd))
    assert (run("6.18"), run("6.18.44")) == ("EACCES", "ENOENT")


# -- every switch has a test ---------------------------------------------------------------------------------

SWITCH_TESTS = {
    "map_files_name_parser": ["test_commit_640708a2cff7_sscanf_name_grammar", "test_commit_ac7f1061c2c1_strict_parser",
                              "test_v4_17_leading_zeros_refused"],
    "map_files_admin_errno": ["test_commit_640708a2cff7_map_files_needs_cap_sys_admin_eacces",
                              "test_v3_9_cap_sys_admin_failure_is_eperm",
                              "test_commit_bdb4d100afe9_readlink_without_cap_sys_admin"],
    "map_files_lock_trace": ["test_commit_eb94cd96e05d_lookup_uses_ptrace_read_not_attach",
                             "test_commit_640708a2cff7_lock_trace_turns_eintr_into_eacces"],
    "map_files_revalidate_mm_access": ["test_v3_5_revalidate_uses_mm_access"],
    "map_files_readdir_fmode": ["test_commit_7b540d0646ce_readdir_holds_no_file_references"],
    "map_files_get_link_rc_fix": ["test_v3_14_fix_gpf_in_map_files_get_link"],
    "map_files_follow_needs_cap": ["test_commit_bdb4d100afe9_follow_needs_cap_sys_admin"],
    "checkpoint_restore_cap": ["test_commit_12886f8ab10c_follow_with_checkpoint_restore"],
    "map_files_readdir_limit": ["test_flex_array_limit_counts_entries_beyond_f_pos", "test_v5_1_genradix_has_no_limit"],
    "map_files_mmap_lock_killable": ["test_commit_cd9e2bb8271c_killable_mmap_lock"],
    "map_files_dont_mount": ["test_commit_3836b31c3e71_entries_are_dont_mount"],
    "map_files_exec_update_lock": ["test_commit_6650527444da_lookup_parses_the_name_first"],
    "proc_link_exec_update_lock": ["test_cve_2026_64375_readlink_of_a_reaped_task"],
    "proc_fd_permission_rule": ["test_commit_96d0df79f264_proc_fd_permission_compares_tgid",
                                "test_commit_54708d2858e7_proc_fd_permission_same_thread_group"],
    "task_dump_owner_user_ns": ["test_commit_68eb94f16227_task_dump_owner_is_the_user_namespace_root"],
    "ptrace_same_thread_group": ["test_commit_73af963f9f30_ptrace_does_not_deny_sub_threads"],
    "ptrace_dumpable_user_only": ["test_commit_d049f74f2dbe_suid_dump_root_is_not_dumpable"],
    "ptrace_dumpable_mm_user_ns": ["test_commit_bfedb589252c_task_without_mm_is_no_longer_undumpable",
                                   "test_commit_bfedb589252c_dumpable_capability_over_mm_user_ns"],
    "ptrace_fscreds": ["test_commit_caaee6234d05_ptrace_uses_fscreds",
                       "test_commit_caaee6234d05_commoncap_effective_set"],
    "ptrace_has_cap_subjective": ["test_commit_6b3ad6649a4c_ptrace_has_cap_uses_subjective_creds"],
    "mm_access_esrch": ["test_v6_13_mm_access_returns_esrch"],
    "mm_access_perfmon": ["test_v6_15_may_access_mm_perfmon"],
    "exec_update_lock": ["test_commit_eea9673250db_exec_holds_exec_update_lock"],
}


def test_every_switch_that_changes_between_profiles_has_a_test() -> None:
    """Each switch some profile changes is listed in SWITCH_TESTS, and every listed test exists here."""
    changed = set()
    prev = None
    for p in VERSIONS.values():
        if prev is not None:
            changed |= set(p.changes_from(prev))
        prev = p
    assert changed == set(SWITCH_TESTS)
    for names in SWITCH_TESTS.values():
        for n in names:
            assert callable(globals().get(n)), n
