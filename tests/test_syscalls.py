"""simkernel/syscalls.py: the `task.sys` boundary (os-shaped signatures, errno -> OSError, glibc habits)."""

from __future__ import annotations

import errno as host_errno
import os

import pytest

import simkernel
from simkernel.errors import KernelError
from simkernel.uapi import (
    CAP_SETGID, CAP_SETUID, O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, PR_GET_DUMPABLE, PR_SET_DUMPABLE, WNOHANG,
)
from simkernel.uapi import errno as E
from tests.helpers import raises_errno


@pytest.fixture
def k():
    return simkernel.Kernel()


def test_call_ticks_clock_once_per_syscall(k):
    """Every system call advances the kernel clock by one step, failed ones too."""
    t0 = k.current_time()
    k.init.sys.getpid()
    with raises_errno(E.ENOENT):
        k.init.sys.stat("/missing")
    assert k.current_time() == t0 + 2 * 1_000_000


@pytest.mark.parametrize("errno_,cls", [
    (E.ENOENT, FileNotFoundError), (E.EACCES, PermissionError), (E.EPERM, PermissionError),
    (E.EEXIST, FileExistsError), (E.ENOTDIR, NotADirectoryError), (E.EISDIR, IsADirectoryError),
    (E.ECHILD, ChildProcessError), (E.ESRCH, ProcessLookupError), (E.EINVAL, OSError), (E.ELOOP, OSError),
])
def test_call_translates_errno_to_os_class(k, errno_, cls):
    """A KernelError leaves as the OSError subclass os raises on Linux, with errno and filename."""
    def boom(current, path):
        raise KernelError(errno_, "why")
    with raises_errno(errno_, cls) as info:
        k.init.sys._call("x", boom, "/p", filename="/p")
    assert info.value.filename == "/p" and info.value.explain == "why"
    assert info.value.strerror == os.strerror(errno_) or errno_ not in host_errno.errorcode


def test_call_internal_errno_is_a_bug(k):
    """An errno >= 512 (kernel-internal, e.g. ERESTARTSYS) escaping a syscall is a simulator error."""
    def restart(current):
        raise KernelError(512)
    with pytest.raises(RuntimeError):
        k.init.sys._call("x", restart)


def test_call_hook_sees_every_syscall(k):
    """k.hooks["syscall"] wraps every call: name, kernel function, task and arguments."""
    seen = []

    def hook(name, fn, current, *args):
        seen.append((name, current.pid))
        return fn(current, *args)
    k.hooks["syscall"] = hook
    k.init.sys.getpid()
    k.init.sys.listdir("/tmp")
    assert [n for n, _p in seen] == ["getpid", "openat", "getdents64", "getdents64", "close"]


def test_rename_and_link_errors_carry_both_filenames(k):
    """As os.rename/os.link: filename and filename2."""
    with raises_errno(E.ENOENT) as info:
        k.init.sys.rename("/tmp/a", "/tmp/b")
    assert (info.value.filename, info.value.filename2) == ("/tmp/a", "/tmp/b")
    with raises_errno(E.ENOENT) as info:
        k.init.sys.link("/tmp/a", "/tmp/b")
    assert info.value.filename2 == "/tmp/b"


def test_stat_accepts_fd_and_follow_symlinks(k):
    """stat(fd) is fstat; follow_symlinks=False is lstat; lstat(dir_fd=) is relative."""
    s = k.init.sys
    s.symlink("/tmp", "/tmp/l")
    fd = s.open("/tmp", O_RDONLY | O_DIRECTORY)
    assert s.stat(fd).st_ino == s.stat("/tmp").st_ino
    assert oct(s.stat("/tmp/l", follow_symlinks=False).st_mode) == "0o120777"
    assert oct(s.lstat("l", dir_fd=fd).st_mode) == "0o120777"
    assert s.stat("l", dir_fd=fd).st_ino == s.stat("/tmp").st_ino


def test_open_with_dir_fd(k):
    """open(dir_fd=) resolves relative to the descriptor."""
    s = k.init.sys
    fd = s.open("/tmp", O_RDONLY | O_DIRECTORY)
    s.close(s.open("x", O_CREAT | O_RDWR, 0o600, dir_fd=fd))
    assert s.stat("/tmp/x").st_mode & 0o777 == 0o600


def test_listdir_default_cwd_and_removed_directory(k):
    """listdir() lists the cwd; a cwd removed meanwhile lists as empty (glibc's readdir hides ENOENT)."""
    t = k.spawn("t")
    t.sys.mkdir("/tmp/gone")
    t.sys.chdir("/tmp/gone")
    assert t.sys.listdir() == []
    t.sys.rmdir("/tmp/gone")
    assert t.sys.listdir() == [] and t.sys.listdir(".") == []


def test_getcwd_unreachable_is_enoent(k):
    """A cwd outside the root: the kernel says "(unreachable)/...", os.getcwd raises ENOENT."""
    t = k.spawn("t")
    t.sys.chroot("/tmp")
    with raises_errno(E.ENOENT, FileNotFoundError):
        t.sys.getcwd()


def test_remove_is_unlink(k):
    """sys.remove is sys.unlink, as os.remove."""
    k.init.sys.close(k.init.sys.open("/tmp/r", O_CREAT | O_RDWR, 0o600))
    k.init.sys.remove("/tmp/r")
    with raises_errno(E.ENOENT):
        k.init.sys.stat("/tmp/r")


def test_process_calls(k):
    """fork/exit/waitpid/getpid/gettid/getppid through the boundary."""
    p = k.spawn("p")
    c = p.sys.fork()
    assert (c.sys.getpid(), c.sys.gettid(), c.sys.getppid()) == (c.pid, c.pid, p.pid)
    assert p.sys.waitpid(c.pid, WNOHANG) == (0, 0)
    c.sys.exit(1)
    assert p.sys.waitpid(-1, 0) == (c.pid, 256)


def test_id_and_credential_calls(k):
    """The id calls reach kernel/sys.c and kernel/groups.c."""
    t = k.spawn("t", uid=1000, gid=1000, groups=(5,), caps=[CAP_SETUID, CAP_SETGID])
    assert (t.sys.getuid(), t.sys.geteuid(), t.sys.getgid(), t.sys.getegid()) == (1000, 1000, 1000, 1000)
    assert t.sys.getgroups() == [5]
    t.sys.setresgid(2, 2, 2)
    t.sys.setregid(3, 3)
    t.sys.setgid(4)
    t.sys.setfsgid(5)
    t.sys.setgroups([7])
    t.sys.setreuid(2000, 2000)
    assert t.sys.getresgid()[1] == 4 and t.sys.getresuid() == (2000, 2000, 2000)
    t.sys.setfsuid(2000)
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(E.EPERM):
        u.sys.setuid(0)
    k.spawn("r").sys.setuid(0)
    k.spawn("r2").sys.setresuid(0, 0, 0)
    eff, perm, inh = k.init.sys.capget()
    k.init.sys.capset(eff, perm, inh)
    assert t.sys.prctl(PR_GET_DUMPABLE) in (0, 1)
    t.sys.prctl(PR_SET_DUMPABLE, 1)


def test_mmap_family_through_boundary(k):
    """mmap/mprotect/munmap/mremap/memfd_create are reachable from task.sys."""
    from simkernel.uapi import MAP_PRIVATE, MAP_ANONYMOUS, PROT_READ, PROT_WRITE
    t = k.spawn("t")
    addr = t.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS)
    t.sys.mprotect(addr, 4096, PROT_READ | PROT_WRITE)
    new = t.sys.mremap(addr, 8192, 4096)
    t.sys.munmap(new, 4096)
    fd = t.sys.memfd_create("x")
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == "/memfd:x (deleted)"


def test_mknod_fchdir_chroot_mount_through_boundary(k):
    """The remaining file calls of the contract are reachable."""
    s = k.spawn("t").sys
    s.mkdir("/tmp/m")
    s.mount("tmpfs", "/tmp/m", "tmpfs")
    s.mknod("/tmp/m/n", 0o100600)
    s.fchdir(s.open("/tmp/m", O_RDONLY | O_DIRECTORY))
    assert s.getcwd() == "/tmp/m"
    s.chroot("/tmp/m")
    assert s.listdir("/") == ["n"]
    s.unshare(0)


def test_uapi_star_import_exports_only_constants() -> None:
    """`from simkernel.uapi import *` (what the notebooks do) must not overwrite the importer's __name__,
    __doc__ or __file__: only the upper-case constants are exported (__WALL included)."""
    import simkernel.uapi as uapi
    ns: dict[str, object] = {"__name__": "nb"}
    exec("from simkernel.uapi import *", ns)
    assert ns["__name__"] == "nb"
    assert all(n.isupper() for n in uapi.__all__ if n.startswith("_")), [n for n in uapi.__all__ if n.startswith("__")]
    assert ns["__WALL"] == 0x40000000 and ns["O_RDONLY"] == 0
