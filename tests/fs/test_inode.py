"""fs/inode.py: permission checks (acl_permission_check, generic_permission, inode_permission), owners, kstat."""

from __future__ import annotations

import pytest

from simkernel.fs import inode as I
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkdir, mkfile
from tests.helpers import kraises

R, W, X = I.MAY_READ, I.MAY_WRITE, I.MAY_EXEC


@pytest.fixture
def k():
    k = boot()
    mkfile(k, "/tmp/f", 0o640, 1000, 2000)
    mkdir(k, "/tmp/d", 0o750, 1000, 2000)
    return k


def ino(k, path):
    return filename_lookup(k.init, AT_FDCWD, path, 0).dentry.d_inode


@pytest.mark.parametrize("who,mask,ok", [
    ("owner", R | W, True), ("owner", X, False), ("member", R, True), ("member", W, False),
    ("other", R, False), ("owner-in-group", R | W, True),
])
def test_acl_permission_check_classes(k, who, mask, ok):
    """The owner class wins even when the group class would allow more; members use the group bits."""
    t = {"owner": k.spawn("o", uid=1000, gid=1000, caps=[]),
         "member": k.spawn("m", uid=1001, gid=1001, groups=[2000], caps=[]),
         "other": k.spawn("x", uid=1002, gid=1002, caps=[]),
         "owner-in-group": k.spawn("og", uid=1000, gid=2000, caps=[])}[who]
    assert I.acl_permission_check(t, ino(k, "/tmp/f"), mask) is ok


def test_acl_permission_check_owner_bits_only():
    """An owner with fewer bits than the group class is still limited to the owner bits (0o070)."""
    k = boot()
    mkfile(k, "/tmp/g", 0o070, 1000, 1000)
    t = k.spawn("o", uid=1000, gid=1000, caps=[])
    assert not I.acl_permission_check(t, ino(k, "/tmp/g"), R)


def test_generic_permission_dac_read_search_on_files(k):
    """CAP_DAC_READ_SEARCH overrides read on files, not write or exec."""
    t = k.spawn("r", uid=3000, gid=3000, caps=[CAP_DAC_READ_SEARCH])
    I.generic_permission(t, ino(k, "/tmp/f"), R)
    with kraises(E.EACCES):
        I.generic_permission(t, ino(k, "/tmp/f"), W)
    with kraises(E.EACCES):
        I.generic_permission(t, ino(k, "/tmp/f"), R | W)


def test_generic_permission_dac_read_search_on_directories(k):
    """On directories CAP_DAC_READ_SEARCH overrides read and search, not write."""
    t = k.spawn("r", uid=3000, gid=3000, caps=[CAP_DAC_READ_SEARCH])
    I.generic_permission(t, ino(k, "/tmp/d"), R | X)
    with kraises(E.EACCES):
        I.generic_permission(t, ino(k, "/tmp/d"), W | X)


def test_generic_permission_dac_override_exec_bit_rule(k):
    """CAP_DAC_OVERRIDE grants exec on a file only if some x bit is set; directories always."""
    t = k.spawn("o", uid=3000, gid=3000, caps=[CAP_DAC_OVERRIDE])
    with kraises(E.EACCES):
        I.generic_permission(t, ino(k, "/tmp/f"), X)            # 0640: no x anywhere
    I.generic_permission(t, ino(k, "/tmp/f"), R | W)
    k.init.sys.chmod("/tmp/f", 0o601)
    I.generic_permission(t, ino(k, "/tmp/f"), X)                # other x: enough
    k.init.sys.chmod("/tmp/d", 0o000)
    I.generic_permission(t, ino(k, "/tmp/d"), R | W | X)


def test_generic_permission_explains(k):
    """The EACCES names the mode, the owner and the caller."""
    t = k.spawn("x", uid=3000, gid=3000, caps=[])
    with kraises(E.EACCES) as info:
        I.generic_permission(t, ino(k, "/tmp/f"), R)
    assert "0640" in info.value.explain and "fsuid 3000" in info.value.explain


def test_inode_permission_readonly_superblock_and_immutable(k):
    """Writes to a read-only superblock are EROFS (files, dirs, links); to an immutable inode EPERM."""
    f = ino(k, "/tmp/f")
    f.i_sb.s_flags |= I.SB_RDONLY
    with kraises(E.EROFS):
        I.inode_permission(k.init, f, W)
    I.inode_permission(k.init, f, R)
    f.i_sb.s_flags &= ~I.SB_RDONLY
    f.i_flags |= I.S_IMMUTABLE
    with kraises(E.EPERM):
        I.inode_permission(k.init, f, W)


def test_inode_permission_uses_permission_op(k):
    """A filesystem's ->permission replaces generic_permission."""
    import attrs
    f = ino(k, "/tmp/f")
    seen = []
    f.i_op = attrs.evolve(f.i_op, permission=lambda cur, inode, mask: seen.append(mask))
    I.inode_permission(k.init, f, R)
    assert seen == [R]


def test_inode_owner_or_capable(k):
    """The owner, or CAP_FOWNER, may act as owner."""
    f = ino(k, "/tmp/f")
    assert I.inode_owner_or_capable(k.spawn("o", uid=1000, gid=1000), f)
    assert not I.inode_owner_or_capable(k.spawn("x", uid=3000, gid=3000), f)
    assert I.inode_owner_or_capable(k.spawn("c", uid=3000, gid=3000, caps=[CAP_FOWNER]), f)


def test_inode_init_owner_setgid_directory(k):
    """Under a set-gid directory a new inode takes the directory's group, and a new directory keeps S_ISGID."""
    d = ino(k, "/tmp/d")
    d.i_mode |= 0o2000
    new = I.Inode(i_ino=99, i_mode=0, i_sb=d.i_sb)
    I.inode_init_owner(k.spawn("u", uid=5, gid=5), new, d, 0o040755)
    assert (new.i_uid, new.i_gid, oct(new.i_mode)) == (5, 2000, "0o42755")
    I.inode_init_owner(k.spawn("u", uid=5, gid=5), new, None, 0o100644)
    assert new.i_gid == 5


def test_new_inode_and_fillattr(k):
    """new_inode numbers pseudo inodes with get_next_ino; generic_fillattr derives blocks without i_blocks."""
    sb = ino(k, "/tmp/f").i_sb
    a, b = I.new_inode(sb), I.new_inode(sb)
    assert b.i_ino == a.i_ino + 1 and a.i_atime == k.current_time()
    a.i_mode, a.i_size = 0o100644, 1000
    st = I.Kstat()
    I.generic_fillattr(a, st)
    assert (st.blocks, st.blksize, st.is_dir()) == (2, 4096, False)
    assert repr(a).startswith(f"<inode {a.i_ino} mode=100644")
