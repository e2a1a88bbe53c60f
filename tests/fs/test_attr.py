"""fs/attr.py: notify_change() and setattr_prepare()'s rules, set-id bit dropping."""

from __future__ import annotations

import pytest

from simkernel.fs import attr as AT
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD, CAP_CHOWN, CAP_FOWNER, CAP_FSETID
from simkernel.uapi import errno as E
from tests.fs.vfskit import boot, mkfile
from tests.helpers import kraises


@pytest.fixture
def k():
    k = boot()
    mkfile(k, "/tmp/f", 0o2745, 1000, 3000)
    return k


def dentry(k):
    return filename_lookup(k.init, AT_FDCWD, "/tmp/f", 0).dentry


def test_in_group_or_capable(k):
    """A member of the group, or CAP_FSETID over the inode."""
    ino = dentry(k).d_inode
    assert AT.in_group_or_capable(k.spawn("m", uid=5, gid=5, groups=[3000]), ino, 3000)
    assert not AT.in_group_or_capable(k.spawn("o", uid=5, gid=5), ino, 3000)
    assert AT.in_group_or_capable(k.spawn("c", uid=5, gid=5, caps=[CAP_FSETID]), ino, 3000)


def test_setattr_should_drop_sgid(k):
    """S_ISGID drops when group-executable, or when the caller is neither member nor CAP_FSETID."""
    ino = dentry(k).d_inode
    assert AT.setattr_should_drop_sgid(k.spawn("o", uid=5, gid=5), ino)
    assert not AT.setattr_should_drop_sgid(k.spawn("m", uid=5, gid=5, groups=[3000]), ino)
    ino.i_mode = 0o102755
    assert AT.setattr_should_drop_sgid(k.spawn("m", uid=5, gid=5, groups=[3000]), ino)
    ino.i_mode = 0o100755
    assert not AT.setattr_should_drop_sgid(k.init, ino)


def test_notify_change_chown_rules(k):
    """chown_ok/chgrp_ok: the owner keeps its uid, picks its groups; CAP_CHOWN anything; ATTR_FORCE skips."""
    d = dentry(k)
    owner = k.spawn("o", uid=1000, gid=1000, groups=[1500])
    AT.notify_change(owner, d, AT.ATTR_UID | AT.ATTR_GID, uid=1000, gid=1500)
    with kraises(E.EPERM):
        AT.notify_change(owner, d, AT.ATTR_UID, uid=7)
    with kraises(E.EPERM):
        AT.notify_change(owner, d, AT.ATTR_GID, gid=7)
    AT.notify_change(k.spawn("c", uid=9, gid=9, caps=[CAP_CHOWN]), d, AT.ATTR_UID | AT.ATTR_GID, uid=7, gid=7)
    AT.notify_change(k.spawn("x", uid=9, gid=9), d, AT.ATTR_UID | AT.ATTR_FORCE, uid=8)
    assert (d.d_inode.i_uid, d.d_inode.i_gid) == (8, 7)


def test_notify_change_mode_rules(k):
    """A mode change needs ownership or CAP_FOWNER; S_ISGID survives only for members (of the new group)."""
    d = dentry(k)
    with kraises(E.EPERM):
        AT.notify_change(k.spawn("x", uid=9, gid=9), d, AT.ATTR_MODE, mode=0o100600)
    AT.notify_change(k.spawn("f", uid=9, gid=9, caps=[CAP_FOWNER]), d, AT.ATTR_MODE, mode=0o102700)
    assert oct(d.d_inode.i_mode) == "0o100700"
    AT.notify_change(k.spawn("o", uid=1000, gid=1000, groups=[3000]), d, AT.ATTR_MODE, mode=0o102700)
    assert oct(d.d_inode.i_mode) == "0o102700"


def test_notify_change_kill_bits_need_chmod_right(k):
    """The kill bits become a mode change: a caller who may not chmod gets EPERM."""
    d = dentry(k)
    with kraises(E.EPERM):
        AT.notify_change(k.spawn("x", uid=9, gid=9), d, AT.ATTR_KILL_SGID | AT.ATTR_CTIME)
    AT.notify_change(k.init, d, AT.ATTR_KILL_SGID | AT.ATTR_KILL_SUID | AT.ATTR_CTIME)
    assert oct(d.d_inode.i_mode) == "0o100745"
