"""fs/d_path.py: d_path, prepend_path, getcwd."""

from __future__ import annotations

import pytest

from simkernel.fs import d_path as DP
from simkernel.fs.dcache import Dentry, DentryOperations
from simkernel.fs.file_table import d_alloc_pseudo
from simkernel.fs.namei import filename_lookup
from simkernel.fs.path import Path
from simkernel.uapi import AT_FDCWD, CAP_SYS_CHROOT, O_RDONLY
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises, raises_errno


@pytest.fixture
def k():
    k = boot()
    mkdir(k, "/tmp/d")
    mkdir(k, "/tmp/d/sub")
    mkfile(k, "/tmp/d/sub/f")
    return k


def P(k, path):
    return filename_lookup(k.init, AT_FDCWD, path, 0)


def test_d_path_from_root(k):
    """A path is named from the reader's root, through mounts."""
    assert DP.d_path(P(k, "/tmp/d/sub/f"), k.init.fs.root) == "/tmp/d/sub/f"
    assert DP.d_path(P(k, "/"), k.init.fs.root) == "/"
    assert DP.d_path(P(k, f"/proc/{k.init.pid}"), k.init.fs.root) == f"/proc/{k.init.pid}"


def test_d_path_relative_to_chroot(k):
    """A reader chrooted to /tmp/d sees /sub/f; a path outside its root is named from the namespace root."""
    assert DP.d_path(P(k, "/tmp/d/sub/f"), P(k, "/tmp/d")) == "/sub/f"
    assert DP.d_path(P(k, "/etc/passwd"), P(k, "/tmp/d")) == "/etc/passwd"
    k.init.sys.mkdir("/tmp/d/proc")
    k.init.sys.mount("proc", "/tmp/d/proc", "proc")
    t = k.spawn("t", caps=[CAP_SYS_CHROOT])
    fd = t.sys.open("/tmp/d/sub/f", O_RDONLY)
    out = t.sys.open("/etc/hostname", O_RDONLY)
    t.sys.chroot("/tmp/d")
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == "/sub/f"
    assert t.sys.readlink(f"/proc/{t.pid}/fd/{out}") == "/etc/hostname"
    assert k.init.sys.readlink(f"/proc/{t.pid}/fd/{fd}") == "/tmp/d/sub/f"


def test_d_path_deleted_suffix(k):
    """An unlinked dentry is named with " (deleted)"."""
    path = P(k, "/tmp/d/sub/f")
    k.init.sys.unlink("/tmp/d/sub/f")
    assert DP.d_path(path, k.init.fs.root) == "/tmp/d/sub/f (deleted)"
    assert DP.d_unlinked(path.dentry)


def test_d_path_d_dname_pseudo(k):
    """A pseudo dentry names itself through ->d_dname ("/NAME (deleted)" for shmem-style files)."""
    sb = P(k, "/tmp").mnt.mnt_sb
    d = d_alloc_pseudo(sb, "memfd:x")
    assert DP.d_path(Path(P(k, "/tmp").mnt, d), k.init.fs.root) == "/memfd:x (deleted)"


def test_prepend_path_codes(k):
    """Code 0 reaches the root; 1 the namespace root without meeting it; 2 an unattached mount or orphan."""
    assert DP.prepend_path(P(k, "/tmp/d"), P(k, "/tmp/d/sub")) == ("/tmp/d", 1)
    assert DP.prepend_path(P(k, "/tmp/d/sub"), k.init.fs.root) == ("/tmp/d/sub", 0)
    shm = k.shm_mnt
    assert DP.prepend_path(Path(shm, shm.mnt_root), k.init.fs.root)[1] == 2
    orphan = Dentry(d_name="x", d_sb=P(k, "/tmp").mnt.mnt_sb)
    orphan.d_parent = orphan
    assert DP.prepend_path(Path(P(k, "/tmp").mnt, orphan), k.init.fs.root)[1] == 2


def test_d_path_too_long_is_enametoolong(k):
    """A name longer than PATH_MAX is ENAMETOOLONG."""
    d = P(k, "/tmp/d").dentry
    d.d_op = DentryOperations(d_dname=lambda dentry: "/" + "x" * 5000)
    leaf = Dentry(d_name="y", d_sb=d.d_sb, d_parent=d, d_op=d.d_op)
    with kraises(E.ENAMETOOLONG):
        DP.d_path(Path(P(k, "/tmp/d").mnt, leaf), k.init.fs.root)


def test_sys_getcwd_paths(k):
    """getcwd: the cwd from the caller's root; ENOENT once it is removed or outside the root."""
    t = k.spawn("t")
    t.sys.chdir("/tmp/d/sub")
    assert t.sys.getcwd() == "/tmp/d/sub"
    t.sys.chdir("..")
    assert t.sys.getcwd() == "/tmp/d"
    assert DP.sys_getcwd(t) == "/tmp/d"
    t.sys.chroot("/tmp/d/sub")
    assert DP.sys_getcwd(t) == "(unreachable)/tmp/d"
    with raises_errno(E.ENOENT):
        t.sys.getcwd()
    u = k.spawn("u")
    u.sys.chdir("/tmp/d/sub")
    k.init.sys.unlink("/tmp/d/sub/f")
    k.init.sys.rmdir("/tmp/d/sub")
    with raises_errno(E.ENOENT, FileNotFoundError):
        u.sys.getcwd()


def test_sys_getcwd_across_mount(k):
    """getcwd crosses mounts back to the root."""
    k.init.sys.mount("tmpfs", "/tmp/d/sub", "tmpfs")
    k.init.sys.mkdir("/tmp/d/sub/in")
    t = k.spawn("t")
    t.sys.chdir("/tmp/d/sub/in")
    assert t.sys.getcwd() == "/tmp/d/sub/in"
