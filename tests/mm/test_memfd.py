"""memfd_create(2): names, flags and the file it returns (checked on Linux 6.18.44)."""

from __future__ import annotations

from typing import Any

from simkernel.fs.shmem import F_SEAL_EXEC, F_SEAL_SEAL
from simkernel.mm.memfd import MFD_NAME_MAX_LEN
from simkernel.uapi import errno as E
from simkernel.uapi.fcntl import O_LARGEFILE, O_RDWR
from simkernel.uapi.mman import (MAP_FIXED, MAP_SHARED, MFD_ALLOW_SEALING, MFD_CLOEXEC, MFD_EXEC, MFD_HUGETLB,
                                 MFD_NOEXEC_SEAL, PROT_READ, PROT_WRITE)
from tests.helpers import raises_errno
from tests.mm.mmkit import BASE, PAGE, layout


def test_sys_memfd_create_names_the_file(t: Any) -> None:
    """The fd reads back as "/memfd:NAME (deleted)"; an empty name or one with "/" is fine."""
    for name in ("hello", "", "a/b"):
        fd = t.sys.memfd_create(name)
        assert t.sys.readlink(f"/proc/self/fd/{fd}") == f"/memfd:{name} (deleted)"


def test_sys_memfd_create_name_length(t: Any) -> None:
    """249 bytes is the longest name; 250 is EINVAL; the name stops at a NUL."""
    assert MFD_NAME_MAX_LEN == 249
    t.sys.memfd_create("a" * 249)
    with raises_errno(E.EINVAL):
        t.sys.memfd_create("a" * 250)
    fd = t.sys.memfd_create("ab\0" + "c" * 300)
    assert t.sys.readlink(f"/proc/self/fd/{fd}") == "/memfd:ab (deleted)"


def test_sys_memfd_create_bad_flags_einval(t: Any) -> None:
    """Unknown flags, huge page bits without MFD_HUGETLB, and MFD_EXEC|MFD_NOEXEC_SEAL are EINVAL."""
    for flags in (0x20, 21 << 26, MFD_EXEC | MFD_NOEXEC_SEAL):
        with raises_errno(E.EINVAL):
            t.sys.memfd_create("x", flags)


def test_sys_memfd_create_hugetlb_sizes(t: Any) -> None:
    """MFD_HUGETLB works with the default, 2 MiB or 1 GiB sizes; another size is ENODEV (no hstate)."""
    t.sys.memfd_create("h", MFD_HUGETLB)
    t.sys.memfd_create("h", MFD_HUGETLB | (21 << 26))
    with raises_errno(E.ENODEV):
        t.sys.memfd_create("h", MFD_HUGETLB | (22 << 26))


def test_sys_memfd_create_inode(user: Any) -> None:
    """S_IFREG|0777 owned by the caller, no links, empty, on the internal tmpfs (device 0:1)."""
    fd = user.sys.memfd_create("m")
    st = user.sys.fstat(fd)
    assert (oct(st.st_mode), st.st_nlink, st.st_uid, st.st_gid, st.st_size) == ("0o100777", 0, 1000, 1000, 0)
    assert st.st_dev == 1


def test_sys_memfd_create_file_flags(t: Any) -> None:
    """The file is O_RDWR|O_LARGEFILE; MFD_CLOEXEC sets close-on-exec on the descriptor."""
    fd = t.sys.memfd_create("m")
    f = t.files.fget(fd)
    assert f.f_flags == O_RDWR | O_LARGEFILE and fd not in t.files.close_on_exec
    fd2 = t.sys.memfd_create("m", MFD_CLOEXEC)
    assert fd2 in t.files.close_on_exec


def test_sys_memfd_create_noexec_seal(t: Any) -> None:
    """MFD_NOEXEC_SEAL drops the exec bits (0666) and seals exec; MFD_ALLOW_SEALING lifts F_SEAL_SEAL."""
    fd = t.sys.memfd_create("n", MFD_NOEXEC_SEAL)
    inode = t.files.fget(fd).f_inode
    assert oct(t.sys.fstat(fd).st_mode) == "0o100666"
    assert inode.i_private.seals == F_SEAL_EXEC
    assert t.files.fget(t.sys.memfd_create("s", MFD_ALLOW_SEALING)).f_inode.i_private.seals == 0
    assert t.files.fget(t.sys.memfd_create("d")).f_inode.i_private.seals == F_SEAL_SEAL


def test_sys_memfd_create_sysctl_noexec(k: Any, t: Any) -> None:
    """vm.memfd_noexec 1 makes NOEXEC_SEAL the default; 2 refuses MFD_EXEC with EACCES."""
    k.sysctl.values["vm.memfd_noexec"] = 1
    assert oct(t.sys.fstat(t.sys.memfd_create("a")).st_mode) == "0o100666"
    k.sysctl.values["vm.memfd_noexec"] = 2
    with raises_errno(E.EACCES):
        t.sys.memfd_create("b", MFD_EXEC)


def test_sys_memfd_create_emfile(t: Any) -> None:
    """With no free descriptor the call is EMFILE and the file is released."""
    t.files.rlimit_nofile = len(t.files.fdt)
    with raises_errno(E.EMFILE):
        t.sys.memfd_create("x")


def test_sys_memfd_create_mapping(t: Any) -> None:
    """A shared mapping of a memfd is named like the fd and reads back what was written."""
    fd = t.sys.memfd_create("map")
    t.sys.write(fd, b"hello")
    t.sys.mmap(BASE, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0)
    assert layout(t.mm, BASE, BASE + PAGE) == [(BASE, BASE + PAGE, "rw-s", 0, "/memfd:map (deleted)")]
    assert t.sys.pread(fd, 10, 0) == b"hello"
