"""Bad arguments from simulated userspace get a Linux errno and leave the state unchanged.

Hypothesis throws random integers (negative, huge, unaligned) and odd paths at every syscall of the
contract; each call must either succeed or raise OSError — never another exception from inside the
simulator — and a failed call must leave the caller's VMAs, descriptors and credentials as they were.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simkernel
from simkernel.uapi import MAP_PRIVATE, O_CREAT, O_RDWR, PROT_READ

INTS = st.one_of(st.integers(-(2**63), 2**64 - 1), st.integers(-5, 70000),
                 st.sampled_from([0, 1, 4095, 4096, 8192, -1, 2**47, 2**63 - 1, 2**64 - 1]))
PATHS = st.one_of(st.sampled_from(["/tmp/f", "/tmp", "/", "", ".", "..", "/proc/self/map_files", "/nonexistent",
                                   "/tmp/f/", "/dev/zero", "/proc/1/map_files/0-1000", "x" * 300,
                                   "/" + "a/" * 2100]),
                  st.text(max_size=40))

# (method, argument strategies)
CALLS: list[tuple[str, tuple[Any, ...]]] = [
    ("close", (INTS,)), ("read", (INTS, st.integers(-10, 100))), ("write", (INTS, st.binary(max_size=8))),
    ("pread", (INTS, st.integers(-10, 100), INTS)), ("lseek", (INTS, INTS, st.integers(-1, 5))),
    ("ftruncate", (INTS, INTS)), ("fstat", (INTS,)), ("getdents", (INTS, INTS)),
    ("open", (PATHS, INTS, st.integers(0, 0o7777))), ("stat", (PATHS,)), ("lstat", (PATHS,)),
    ("readlink", (PATHS,)), ("listdir", (PATHS,)), ("mkdir", (PATHS,)), ("rmdir", (PATHS,)),
    ("unlink", (PATHS,)), ("rename", (PATHS, PATHS)), ("link", (PATHS, PATHS)), ("symlink", (PATHS, PATHS)),
    ("chmod", (PATHS, st.integers(0, 0o7777))), ("chown", (PATHS, st.integers(-1, 70000), st.integers(-1, 70000))),
    ("mmap", (INTS, INTS, st.integers(-1, 16), st.integers(-1, 0x200000), st.integers(-1, 5), INTS)),
    ("munmap", (INTS, INTS)), ("mprotect", (INTS, INTS, st.integers(-1, 16))),
    ("mremap", (INTS, INTS, INTS, st.integers(0, 8), INTS)), ("memfd_create", (st.text(max_size=300), INTS)),
    ("setuid", (INTS,)), ("setgid", (INTS,)), ("setresuid", (INTS, INTS, INTS)),
    ("setresgid", (INTS, INTS, INTS)), ("setfsuid", (INTS,)), ("setfsgid", (INTS,)),
    ("setgroups", (st.lists(st.integers(-2, 70000), max_size=4),)), ("capset", (INTS, INTS, INTS)),
    ("prctl", (st.integers(-1, 60), INTS, INTS)), ("unshare", (INTS,)), ("waitpid", (INTS, INTS)),
    ("clone", (INTS,)), ("chdir", (PATHS,)), ("chroot", (PATHS,)),
]


def _snapshot(t: simkernel.Task) -> tuple[Any, ...]:
    vmas = tuple((v.vm_start, v.vm_end, v.vm_flags, v.vm_pgoff, id(v.vm_file)) for v in t.mm) if t.mm else ()
    fds = tuple(sorted((fd, id(f), f.f_pos) for fd, f in t.files.fdt.items())) if t.files else ()
    return vmas, fds, t.cred, t.state, t.fs.pwd if t.fs else None, t.fs.root if t.fs else None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_syscalls_bad_arguments_only_oserror(data: st.DataObject) -> None:
    """Every syscall with random arguments either succeeds or raises OSError; failures change nothing."""
    k = simkernel.Kernel()
    t = k.spawn("fuzz", uid=data.draw(st.sampled_from([0, 1000])), gid=1000)
    fd = t.sys.open("/tmp/f", O_CREAT | O_RDWR, 0o644)
    t.sys.ftruncate(fd, 8192)
    t.sys.mmap(0, 8192, PROT_READ, MAP_PRIVATE, fd, 0)
    for _ in range(3):
        name, strategies = data.draw(st.sampled_from(CALLS))
        args = [data.draw(s) for s in strategies]
        before = _snapshot(t)
        try:
            getattr(t.sys, name)(*args)
        except OSError as err:
            assert isinstance(err.errno, int) and 0 < err.errno < 512, (name, args, err)
            assert _snapshot(t) == before, f"{name}{tuple(args)} failed with {err!r} but changed state"
        if t.state != "running":
            break
