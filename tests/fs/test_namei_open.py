"""fs/namei_open.py: may_open, vfs_prepare_mode, mode_strip_sgid, do_filp_open's pieces."""

from __future__ import annotations

import pytest

from simkernel.fs import namei_open as NOP
from simkernel.fs.inode import MAY_EXEC, MAY_READ, MAY_WRITE
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD, CAP_FSETID, O_NOATIME, O_RDONLY
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/g", 0o2777, 0, 3000)
    mkfile(k, "/tmp/f", 0o640, 1000, 1000)
    k.init.sys.symlink("f", "/tmp/l")
    return k


def P(k, path):
    return filename_lookup(k.init, AT_FDCWD, path, 0)


def test_may_open_file_types(k):
    """A link is ELOOP; a directory for write EISDIR, for exec EACCES; a device for exec EACCES."""
    with kraises(E.ELOOP):
        NOP.may_open(k.init, P(k, "/tmp/l"), MAY_READ, 0)
    with kraises(E.EISDIR):
        NOP.may_open(k.init, P(k, "/tmp"), MAY_WRITE, 0)
    with kraises(E.EACCES):
        NOP.may_open(k.init, P(k, "/tmp"), MAY_EXEC, 0)
    with kraises(E.EACCES):
        NOP.may_open(k.init, P(k, "/dev/zero"), MAY_EXEC, 0)
    NOP.may_open(k.init, P(k, "/dev/zero"), MAY_READ | MAY_WRITE, 0)


def test_may_open_permission_and_noatime(k):
    """inode_permission(MAY_OPEN | access), then O_NOATIME needs ownership or CAP_FOWNER."""
    other = k.spawn("o", uid=2000, gid=2000)
    with kraises(E.EACCES):
        NOP.may_open(other, P(k, "/tmp/f"), MAY_READ, 0)
    with kraises(E.EPERM):
        NOP.may_open(k.spawn("g", uid=2000, gid=1000), P(k, "/tmp/f"), MAY_READ, O_NOATIME)
    NOP.may_open(k.spawn("own", uid=1000, gid=1000), P(k, "/tmp/f"), MAY_READ, O_NOATIME)


def test_vfs_prepare_mode(k):
    """umask first removes bits, then the allowed mask, then the type is set."""
    g = P(k, "/tmp/g").dentry.d_inode
    member = k.spawn("m", uid=5, gid=5, groups=[3000])
    assert NOP.vfs_prepare_mode(member, g, 0o2777, 0o7777, 0o100000) == 0o102755
    assert NOP.vfs_prepare_mode(member, g, 0o7777, 0o1777, 0) == 0o1755


@pytest.mark.parametrize("mode,who,out", [
    (0o2775, "outsider", 0o775), (0o2775, "member", 0o2775), (0o2775, "fsetid", 0o2775),
    (0o2765, "outsider", 0o2765), (0o42775, "outsider", 0o42775),
])
def test_mode_strip_sgid(k, mode, who, out):
    """Only a group-executable set-gid non-directory in a set-gid directory by an outsider loses S_ISGID."""
    g = P(k, "/tmp/g").dentry.d_inode
    t = {"outsider": k.spawn("o", uid=5, gid=5), "member": k.spawn("m", uid=5, gid=5, groups=[3000]),
         "fsetid": k.spawn("c", uid=5, gid=5, caps=[CAP_FSETID])}[who]
    assert NOP.mode_strip_sgid(t, g, mode) == out
    assert NOP.mode_strip_sgid(t, P(k, "/tmp").dentry.d_inode, mode) == mode


def test_do_filp_open_returns_file(k):
    """do_filp_open returns a struct file on the resolved path (the final link followed)."""
    f = NOP.do_filp_open(k.init, AT_FDCWD, "/tmp/l", O_RDONLY, 0)
    assert f.f_path.dentry.d_name == "f" and f.f_count == 1
