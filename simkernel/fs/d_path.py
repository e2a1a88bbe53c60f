"""Turning a (mount, dentry) back into a path string.

Linux: fs/d_path.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.errors import KernelError
from simkernel.fs.dcache import IS_ROOT
from simkernel.fs.path import Path
from simkernel.uapi import errno as E

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry

__all__ = ["d_path", "prepend_path", "d_unlinked", "sys_getcwd"]

PATH_MAX = 4096


def d_unlinked(dentry: Dentry) -> bool:
    """d_unlinked(): unhashed and not a root (include/linux/dcache.h)."""
    return not dentry.d_hashed and dentry.d_parent is not dentry    # d_unhashed() && !IS_ROOT(), inline


def prepend_path(path: Path, root: Path) -> tuple[str, int]:
    """prepend_path(): names from `path` up to `root`, crossing mounts.

    Returns the text and a code: 0 reached `root`; 1 reached the namespace root without meeting `root`
    (the reader is chrooted below it: the path is shown from the namespace root); 2 reached the root of a
    mount that is attached nowhere (an internal mount).

    Example: for /srv/mf/data.bin seen from root "/", returns ("/srv/mf/data.bin", 0).

    Linux: fs/d_path.c:prepend_path()
    """
    dentry, mnt = path.dentry, path.mnt
    root_dentry, root_mnt = root.dentry, root.mnt
    parts: list[str] = []
    code = 0
    while dentry is not root_dentry or mnt is not root_mnt:
        if dentry is mnt.mnt_root:
            parent = mnt.mnt_parent
            if parent is None or parent is mnt:
                code = 1 if mnt.mnt_ns is not None else 2
                break
            dentry, mnt = mnt.mnt_mountpoint, parent
            continue
        if dentry.d_parent is dentry:  # IS_ROOT(): a pseudo dentry that is no mount root: "escaped"
            code = 2
            break
        parts.append(dentry.d_name)
        dentry = dentry.d_parent
    return "/" + "/".join(reversed(parts)), code


def d_path(path: Path, root: Path) -> str:
    """d_path(): the name userspace sees, relative to the reader's root.

    Pseudo files name themselves through ->d_dname ("/dev/zero (deleted)", "anon_inode:[io_uring]");
    an unlinked file gets " (deleted)" appended.

    Raises:
        KernelError(ENAMETOOLONG): longer than PATH_MAX.

    Linux: fs/d_path.c:d_path()
    """
    dentry = path.dentry
    op = dentry.d_op
    if op is not None and op.d_dname is not None and (
            not IS_ROOT(dentry) or dentry is not path.mnt.mnt_root):
        text = op.d_dname(dentry)
    else:
        text, _code = prepend_path(path, root)
        if not dentry.d_hashed and dentry.d_parent is not dentry:    # d_unlinked(), a static inline
            text += " (deleted)"
    if len(text) >= PATH_MAX // 4 and len(text.encode()) + 1 > PATH_MAX:   # < 1024 characters: < 4096 bytes
        raise KernelError(E.ENAMETOOLONG)
    return text


def sys_getcwd(current: Any) -> str:
    """getcwd(2): the cwd relative to the caller's root; "(unreachable)" prefix outside it.

    Raises:
        KernelError(ENOENT): the cwd was removed.

    Linux: fs/d_path.c:SYSCALL_DEFINE2(getcwd)
    """
    fs = current.fs
    pwd, root = fs.pwd, fs.root
    if d_unlinked(pwd.dentry):
        raise KernelError(E.ENOENT)
    text, code = prepend_path(pwd, root)
    if code:
        text = "(unreachable)" + text
    return text
