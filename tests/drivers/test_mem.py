"""/dev/zero and /dev/null (drivers/char/mem.c)."""

from __future__ import annotations

from typing import Any

import pytest

from simkernel.drivers.char import mem
from simkernel.fs.super import MKDEV
from simkernel.mm.vma import vma_is_anonymous, vma_lookup
from simkernel.uapi.fcntl import O_RDWR
from simkernel.uapi.mman import MAP_FIXED, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from tests.mm.mmkit import BASE, PAGE, layout

RW = PROT_READ | PROT_WRITE


@pytest.fixture
def k() -> Any:
    from tests.mm.mmkit import boot
    return boot()


@pytest.fixture
def t(k: Any) -> Any:
    return k.spawn("dev")


def test_chr_dev_register_table(k: Any) -> None:
    """Boot registers /dev/null (1, 3) and /dev/zero (1, 5)."""
    assert k.devices[MKDEV(1, 5)] is mem.zero_fops and k.devices[MKDEV(1, 3)] is mem.null_fops


def test_read_zero_write_null_lseek(t: Any) -> None:
    """read_zero gives zeros, writes are swallowed, the position stays 0."""
    fd = t.sys.open("/dev/zero", O_RDWR)
    f = t.files.fget(fd)
    assert mem.read_zero(t, f, 5, 0) == bytes(5) and mem.read_zero(t, f, -1, 0) == b""
    assert mem.read_null(t, f, 5, 0) == b""
    assert mem.write_null(t, f, b"abc", 0) == 3
    f.f_pos = 9
    assert mem.null_lseek(t, f, 100, 0) == 0 and f.f_pos == 0


def test_mmap_zero_private_is_anonymous_with_file(t: Any) -> None:
    """A private /dev/zero mapping is anonymous (no vm_ops) but keeps /dev/zero as vm_file and its offset;
    contiguous ones of the same open file merge."""
    fd = t.sys.open("/dev/zero", O_RDWR)
    f = t.files.fget(fd)
    t.sys.mmap(BASE, PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0x5000)
    t.sys.mmap(BASE + PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0x6000)
    t.sys.mmap(BASE + 2 * PAGE, PAGE, RW, MAP_PRIVATE | MAP_FIXED, fd, 0x9000)
    assert layout(t.mm, BASE, BASE + 3 * PAGE) == [(BASE, BASE + 2 * PAGE, "rw-p", 0x5000, "/dev/zero"),
                                                   (BASE + 2 * PAGE, BASE + 3 * PAGE, "rw-p", 0x9000, "/dev/zero")]
    vma = vma_lookup(t.mm, BASE)
    assert vma_is_anonymous(vma) and vma.vm_file is f


def test_mmap_zero_shared_becomes_shmem(t: Any) -> None:
    """A shared /dev/zero mapping is replaced by a "dev/zero" shmem file; the /dev/zero file is released."""
    fd = t.sys.open("/dev/zero", O_RDWR)
    f = t.files.fget(fd)
    count = f.f_count
    t.sys.mmap(BASE, 2 * PAGE, RW, MAP_SHARED | MAP_FIXED, fd, 0x5000)
    assert layout(t.mm, BASE, BASE + 2 * PAGE) == [(BASE, BASE + 2 * PAGE, "rw-s", 0x5000, "/dev/zero (deleted)")]
    assert f.f_count == count


def test_get_unmapped_area_zero(t: Any) -> None:
    """Private /dev/zero mappings of 2 MiB are THP-aligned (leaving the padding above free); shared ones use
    the plain allocator and land in that gap."""
    fd = t.sys.open("/dev/zero", O_RDWR)
    a = t.sys.mmap(0, 2 << 20, RW, MAP_PRIVATE, fd, 0)
    assert a % (2 << 20) == 0
    s = t.sys.mmap(0, 3 * PAGE, RW, MAP_SHARED, fd, 0)
    assert s + 3 * PAGE == t.mm.mmap_base and a + (2 << 20) < s
