"""Changing inode attributes: notify_change() and the permission rules of setattr_prepare().

Carved out of fs/open.py along the kernel's own split: chmod/chown/truncate (fs/open.c) build a request;
this module decides who may make it and what set-id bits fall off on the way.

Linux: fs/attr.c (notify_change, setattr_prepare, chown_ok, chgrp_ok, setattr_copy,
setattr_should_drop_sgid), fs/inode.c (in_group_or_capable)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.inode import Inode, inode_owner_or_capable
from simkernel.uapi import errno as E
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["in_group_or_capable", "setattr_should_drop_sgid", "notify_change", "ATTR_MODE", "ATTR_UID", "ATTR_GID",
           "ATTR_SIZE", "ATTR_CTIME", "ATTR_FORCE", "ATTR_KILL_SUID", "ATTR_KILL_SGID"]

# struct iattr ia_valid bits (include/linux/fs.h)
ATTR_MODE, ATTR_UID, ATTR_GID, ATTR_SIZE = 1, 2, 4, 8
ATTR_CTIME, ATTR_FORCE, ATTR_KILL_SUID, ATTR_KILL_SGID = 64, 512, 2048, 4096


def in_group_or_capable(current: Task, inode: Inode, gid: int) -> bool:
    """in_group_or_capable(): a member of `gid`, or CAP_FSETID over the inode. Linux: fs/inode.c"""
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.uapi.capability import CAP_FSETID
    return current.cred.in_group_p(gid) or capable_wrt_inode_uidgid(current, inode, CAP_FSETID)


def setattr_should_drop_sgid(current: Task, inode: Inode) -> bool:
    """setattr_should_drop_sgid(): S_ISGID goes on a chown when the file is group-executable, or when the
    caller is neither in the file's group nor has CAP_FSETID.  Linux: fs/attr.c (since v6.2)
    """
    mode = inode.i_mode
    if not mode & S.S_ISGID:
        return False
    if mode & S.S_IXGRP:
        return True
    return not in_group_or_capable(current, inode, inode.i_gid)


def notify_change(current: Task, dentry: Any, valid: int, mode: int = 0, uid: int = -1, gid: int = -1) -> None:
    """notify_change() + setattr_prepare() + setattr_copy(): change mode/owner with the kernel's checks.

    ATTR_KILL_SUID/ATTR_KILL_SGID become a mode change first, so a caller that may not chmod the file cannot
    make a chown that has to clear a set-id bit.

    Raises:
        KernelError(EPERM): chown_ok()/chgrp_ok() fail, or a mode change by a non-owner without CAP_FOWNER.

    Linux: fs/attr.c:notify_change(), setattr_prepare(), chown_ok(), chgrp_ok(), setattr_copy()
    """
    from simkernel.kernel.capability import capable_wrt_inode_uidgid
    from simkernel.uapi.capability import CAP_CHOWN
    inode = dentry.d_inode
    cur_mode = inode.i_mode
    if valid & ATTR_KILL_SUID and cur_mode & S.S_ISUID:
        valid |= ATTR_MODE
        mode = cur_mode & ~S.S_ISUID
    if valid & ATTR_KILL_SGID and cur_mode & S.S_ISGID:
        if not valid & ATTR_MODE:
            valid |= ATTR_MODE
            mode = cur_mode
        mode &= ~S.S_ISGID
    if not valid & ~(ATTR_KILL_SUID | ATTR_KILL_SGID):
        return
    fsuid = current.cred.fsuid
    if not valid & ATTR_FORCE:
        if valid & ATTR_UID and not ((fsuid == inode.i_uid and uid == inode.i_uid)
                                     or capable_wrt_inode_uidgid(current, inode, CAP_CHOWN)):
            raise KernelError(E.EPERM, "chown_ok(): changing the owner needs CAP_CHOWN")
        if valid & ATTR_GID and not ((fsuid == inode.i_uid and (gid == inode.i_gid or current.cred.in_group_p(gid)))
                                     or capable_wrt_inode_uidgid(current, inode, CAP_CHOWN)):
            raise KernelError(E.EPERM, "chgrp_ok(): the owner may pick only one of its groups; else CAP_CHOWN")
        if valid & ATTR_MODE:
            if not inode_owner_or_capable(current, inode):
                raise KernelError(E.EPERM, "setattr_prepare(): a mode change needs ownership or CAP_FOWNER")
            if not in_group_or_capable(current, inode, gid if valid & ATTR_GID else inode.i_gid):
                mode &= ~S.S_ISGID
    attrs: dict[str, int] = {}
    if valid & ATTR_UID:
        attrs["uid"] = uid
    if valid & ATTR_GID:
        attrs["gid"] = gid
    if valid & ATTR_MODE:
        if not in_group_or_capable(current, inode, gid if valid & ATTR_GID else inode.i_gid):   # setattr_copy_mode()
            mode &= ~S.S_ISGID
        attrs["mode"] = (inode.i_mode & S.S_IFMT) | (mode & ~S.S_IFMT)
    setattr_op = inode.i_op.setattr
    if setattr_op is not None:   # procfs refuses mode changes here (proc_setattr: EPERM)
        setattr_op(current, dentry, attrs)
    else:   # simple_setattr() -> setattr_copy()
        for key, value in attrs.items():
            setattr(inode, f"i_{key}", value)
    inode.i_ctime = inode.i_sb.kernel.current_time()
