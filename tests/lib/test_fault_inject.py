"""fail-nth: the countdown, Kernel.fail_nth() arming and disarming, the procfs file, and single fault sites."""

from __future__ import annotations

from typing import Any

import pytest

import simkernel
from simkernel.errors import KernelError
from simkernel.fs.proc.fail_nth import kstrtouint
from simkernel.lib.fault_inject import set_fail_nth, should_fail
from simkernel.uapi import MAP_PRIVATE, O_CREAT, O_RDONLY, O_RDWR, PROT_READ
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S
from tests.helpers import raises_errno


def _setup(**config: Any) -> tuple[simkernel.Kernel, Any, str]:
    k = simkernel.Kernel(**config)
    t = k.spawn("app", uid=1000, gid=1000)
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 8192)
    a = t.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0)
    return k, t, f"/proc/{t.pid}/map_files/{a:x}-{a + 8192:x}"


def _find_n(make: Any, pred: Any) -> int:
    """The countdown value whose fault satisfies pred(record), each try on a fresh kernel from `make()` ->
    (kernel, task, call): a sweep by hand."""
    for n in range(1, 100):
        k, t, call = make()
        k.fail_nth(t, n)
        try:
            call()
        except OSError:
            pass
        res = k.fail_nth_result(t)
        if res is None or res.injected is None:
            break
        if pred(res.injected):
            return n
    raise AssertionError("no such fault point")


def _readlink_twice() -> tuple[simkernel.Kernel, Any, Any]:
    """A warm readlink: the second of two (the first one fills the dcache)."""
    k, t, entry = _setup()
    t.sys.readlink(entry)
    return k, t, lambda: t.sys.readlink(entry)


def test_should_fail_counts_down_and_fails_once() -> None:
    """The call that brings the countdown to 0 fails; before and after, nothing fails."""
    k = simkernel.Kernel()
    t = k.init
    set_fail_nth(t, 3)
    got = []
    for _ in range(5):
        got.append(should_fail(t, "alloc"))
    assert got == [False, False, True, False, False]
    assert t.fail_nth == 0
    rec = k.fault_inject.log[-1]
    assert (rec.kind, rec.site, rec.tid) == ("alloc", "test_should_fail_counts_down_and_fails_once", t.pid)


def test_should_fail_disabled_is_free_of_side_effects() -> None:
    """With fail_nth 0 nothing is counted, logged or installed."""
    k = simkernel.Kernel()
    assert not should_fail(k.init, "lock") and not should_fail(None, "lock")
    assert k.fault_inject is None and k.syscall_work == []


def test_kernel_fail_nth_arms_only_the_next_syscall() -> None:
    """k.fail_nth(t, 1) fails the first fault point of t's next syscall, then the countdown is gone."""
    k, t, entry = _setup()
    k.fail_nth(t, 1)
    assert t.fail_nth == 0                      # armed at syscall entry
    k.init.sys.readlink(entry)                  # another task's syscall consumes nothing
    with raises_errno(E.ENOMEM):
        t.sys.readlink(entry)                   # getname's allocation
    res = k.fail_nth_result(t)
    assert (res.syscall, res.errno, res.injected.kind, res.injected.site, res.remaining) == \
        ("readlink", E.ENOMEM, "alloc", "getname", 0)
    assert t.sys.readlink(entry) == "/tmp/f"   # disarmed
    assert t.fail_nth == 0 and k.syscall_work == []


def test_kernel_fail_nth_beyond_the_last_point_injects_nothing() -> None:
    """A countdown longer than the syscall's fault points leaves the call alone and is disarmed after it."""
    k, t, entry = _setup()
    k.fail_nth(t, 1000)
    assert t.sys.readlink(entry) == "/tmp/f"
    res = k.fail_nth_result(t)
    assert res.injected is None and res.errno == 0 and 0 < res.remaining < 1000
    assert t.fail_nth == 0 and k.syscall_work == []


def test_kernel_fail_nth_zero_cancels() -> None:
    """k.fail_nth(t, 0) before the syscall cancels the arming."""
    k, t, entry = _setup()
    k.fail_nth(t, 1)
    k.fail_nth(t, 0)
    assert t.sys.readlink(entry) == "/tmp/f"
    assert k.fail_nth_result(t) is None


def test_killable_lock_fault_is_eintr_and_releases_nothing_held() -> None:
    """The killable exec_update_lock of the link path fails with EINTR; no lock stays taken (the one in
    d_revalidate is absorbed: the walk looks the name up again)."""
    n = _find_n(_readlink_twice, lambda r: r.kind == "lock" and "call_proc_get_link" in r.stack)
    k, t, call = _readlink_twice()
    k.fail_nth(t, n)
    with raises_errno(E.EINTR):
        call()
    assert t.signal.exec_update_lock.readers == 0 and t.mm.mmap_lock.readers == 0


def test_get_task_mm_fault_makes_get_link_enoent() -> None:
    """get_task_mm() NULL in map_files_get_link(): ENOENT, as for an exiting task; mm_users unchanged."""
    n = _find_n(_readlink_twice, lambda r: r.kind == "mm" and "map_files_get_link" in r.stack)
    k, t, call = _readlink_twice()
    users = t.mm.mm_users
    k.fail_nth(t, n)
    with raises_errno(E.ENOENT):
        call()
    assert t.mm.mm_users == users


def test_proc_pid_make_inode_fault_is_enoent_at_lookup() -> None:
    """new_inode() NULL under proc_map_files_lookup(): ENOENT (the instantiate's errno), nothing hashed."""
    def make() -> tuple[simkernel.Kernel, Any, Any]:
        k, t, entry = _setup()     # cold dcache: the lookup instantiates
        return k, t, lambda: t.sys.lstat(entry)
    n = _find_n(make, lambda r: r.site == "new_inode" and "proc_map_files_lookup" in r.stack)
    k, t, entry = _setup()
    k.fail_nth(t, n)
    with raises_errno(E.ENOENT):
        t.sys.lstat(entry)
    assert t.sys.readlink(entry) == "/tmp/f"


def test_proc_fill_cache_dentry_fault_emits_ino_1() -> None:
    """d_alloc_parallel() failing in proc_fill_cache(): the name is still listed, with ino 1 and DT_UNKNOWN."""
    def make() -> tuple[simkernel.Kernel, Any, Any]:
        k, t, entry = _setup()
        fd = t.sys.open(f"/proc/{t.pid}/map_files", O_RDONLY)
        out: list[Any] = []
        return k, t, lambda: out.append((entry.rsplit("/", 1)[1], t.sys.getdents(fd, 4096)))
    n = _find_n(make, lambda r: r.kind == "dentry" and "proc_fill_cache" in r.stack)
    k, t, entry = _setup()
    name = entry.rsplit("/", 1)[1]
    fd = t.sys.open(f"/proc/{t.pid}/map_files", O_RDONLY)
    k.fail_nth(t, n)
    ents = t.sys.getdents(fd, 4096)
    assert [(nm, ino, ty) for nm, ino, ty, _ in ents if nm == name] == [(name, 1, S.DT_UNKNOWN)]


def test_proc_fail_nth_file_arms_reads_and_disarms() -> None:
    """write "n" arms the countdown across syscalls, read shows what is left ("0" after the injection)."""
    k, t, entry = _setup(fault_injection=True)
    fd = t.sys.open(f"/proc/{t.pid}/task/{t.pid}/fail-nth", O_RDWR)
    assert t.sys.pread(fd, 16, 0) == b"0\n"
    t.sys.write(fd, b"1\n")
    assert t.fail_nth == 1
    with raises_errno(E.ENOMEM):
        t.sys.readlink(entry)
    assert t.sys.pread(fd, 16, 0) == b"0\n"
    t.sys.write(fd, b"0x40")
    assert t.sys.pread(fd, 16, 0) == b"64\n"
    t.sys.write(fd, b"0")
    assert t.sys.readlink(entry) == "/tmp/f" and k.syscall_work == []


def test_proc_fail_nth_file_rejects_garbage_and_strangers() -> None:
    """EINVAL/ERANGE from kstrtouint; mode 0644 owned by the task: another uid cannot open it for writing."""
    k, t, _entry = _setup(fault_injection=True)
    path = f"/proc/{t.pid}/fail-nth"
    assert t.sys.stat(path).st_mode & 0o7777 == 0o644
    fd = t.sys.open(path, O_RDWR)
    with raises_errno(E.EINVAL):
        t.sys.write(fd, b" 1")
    with raises_errno(E.ERANGE):
        t.sys.write(fd, b"4294967296")
    other = k.spawn("other", uid=1001, gid=1001)
    with raises_errno(E.EACCES):
        other.sys.open(path, O_RDWR)
    assert "fail-nth" in t.sys.listdir(f"/proc/{t.pid}")


def test_fail_nth_file_only_in_a_fault_injection_build() -> None:
    """This machine's kernel has no CONFIG_FAULT_INJECTION: a default Kernel() lists /proc/<pid> without
    fail-nth (ENOENT), as the host does; Kernel.fail_nth() still works."""
    k, t, entry = _setup()
    assert "fail-nth" not in t.sys.listdir(f"/proc/{t.pid}")
    assert "fail-nth" not in t.sys.listdir(f"/proc/{t.pid}/task/{t.pid}")
    with raises_errno(E.ENOENT):
        t.sys.stat(f"/proc/{t.pid}/fail-nth")
    k.fail_nth(t, 1)
    with raises_errno(E.ENOMEM):
        t.sys.readlink(entry)


@pytest.mark.parametrize("text,value", [(b"5\n", 5), (b"+7", 7), (b"010", 8), (b"0x1f", 31), (b"0", 0),
                                        (b"4294967295", 4294967295)])
def test_kstrtouint_accepts(text: bytes, value: int) -> None:
    """kstrtouint(): base 0 prefixes, one "+", one trailing newline."""
    assert kstrtouint(text) == value


@pytest.mark.parametrize("text,errno", [(b"", E.EINVAL), (b"-1", E.EINVAL), (b"5 ", E.EINVAL), (b"08", E.EINVAL),
                                        (b"5\n\n", E.EINVAL), (b"4294967296", E.ERANGE)])
def test_kstrtouint_rejects(text: bytes, errno: int) -> None:
    """kstrtouint(): anything else is EINVAL, above UINT_MAX ERANGE."""
    with pytest.raises(KernelError) as info:
        kstrtouint(text)
    assert info.value.errno == errno
