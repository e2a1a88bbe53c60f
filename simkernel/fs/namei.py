"""The path walk: from a string to a (mount, dentry).

Per component the walk checks search permission on the directory (`may_lookup`), then finds the child in
the dcache (asking `->d_revalidate` when the dentry has one) or asks the directory's `->lookup`, crosses
mounts, and follows symbolic links (at most 40 in one walk, else ELOOP).  A link's `->get_link` either
returns a path string to walk or jumps straight to an object with `nd_jump_link()` (procfs "magic links":
/proc/<pid>/fd/N, /proc/<pid>/map_files/<range>, exe, cwd, root).

Simplification: there is no RCU-walk; every step is the ref-walk (so -ECHILD retries never happen).

Linux: fs/namei.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.dcache import Dentry, d_alloc, d_invalidate, d_lookup, DCACHE_MOUNTED
from simkernel.fs.inode import MAY_EXEC, inode_permission
from simkernel.fs.mount import lookup_mnt
from simkernel.fs.path import Path
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["NameiData", "LOOKUP_FOLLOW", "LOOKUP_DIRECTORY", "LOOKUP_EMPTY", "LOOKUP_NO_SYMLINKS",
           "LOOKUP_NO_MAGICLINKS", "LOOKUP_NO_XDEV", "LOOKUP_BENEATH", "LOOKUP_IN_ROOT", "LOOKUP_OPEN",
           "LOOKUP_CREATE", "LOOKUP_EXCL", "LOOKUP_REVAL", "MAXSYMLINKS", "NAME_MAX", "PATH_MAX",
           "LAST_NORM", "LAST_ROOT", "LAST_DOT", "LAST_DOTDOT", "LAST_BIND", "getname", "path_init",
           "link_path_walk", "walk_component", "lookup_one", "filename_lookup", "filename_parentat",
           "nd_jump_link", "may_lookup", "follow_dotdot", "user_path_at"]

LOOKUP_FOLLOW = 0x0001
LOOKUP_DIRECTORY = 0x0002
LOOKUP_AUTOMOUNT = 0x0004
LOOKUP_EMPTY = 0x4000
LOOKUP_DOWN = 0x8000
LOOKUP_REVAL = 0x0020
LOOKUP_RCU = 0x0040
LOOKUP_OPEN = 0x0100
LOOKUP_CREATE = 0x0200
LOOKUP_EXCL = 0x0400
LOOKUP_RENAME_TARGET = 0x0800
LOOKUP_PARENT = 0x0010
LOOKUP_NO_SYMLINKS = 0x010000
LOOKUP_NO_MAGICLINKS = 0x020000
LOOKUP_NO_XDEV = 0x040000
LOOKUP_BENEATH = 0x080000
LOOKUP_IN_ROOT = 0x100000

LAST_NORM, LAST_ROOT, LAST_DOT, LAST_DOTDOT, LAST_BIND = range(5)

MAXSYMLINKS = 40
NAME_MAX = 255
PATH_MAX = 4096


@define(eq=False)
class NameiData:
    """struct nameidata: the state of one walk (fs/namei.c)."""

    current: Task = field(repr=False)
    path: Path = field(repr=False)
    root: Path = field(repr=False)
    flags: int = 0
    last: str = ""
    last_type: int = LAST_ROOT
    total_link_count: int = 0
    depth: int = 0
    jumped: bool = False

    @property
    def inode(self) -> Any:
        return self.path.dentry.d_inode


def getname(name: Any, flags: int = 0) -> str:
    """getname_flags(): copy the path from userspace.

    Raises:
        KernelError(EFAULT): not a string (a bad user pointer).
        KernelError(ENAMETOOLONG): PATH_MAX (4096) bytes or more with the NUL.
        KernelError(ENOENT): empty, unless LOOKUP_EMPTY.

    Linux: fs/namei.c:getname_flags()
    """
    if isinstance(name, bytes):
        try:
            name = name.decode()
        except UnicodeDecodeError:
            name = name.decode("utf-8", "surrogateescape")
    if not isinstance(name, str):
        raise KernelError(E.EFAULT)
    if "\0" in name:  # the C string ends at the NUL
        name = name[: name.index("\0")]
    if len(name.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise KernelError(E.ENAMETOOLONG)
    if not name and not flags & LOOKUP_EMPTY:
        raise KernelError(E.ENOENT)
    return name


def path_init(current: Task, dfd: int, name: str, flags: int) -> NameiData:
    """path_init(): where the walk starts (root, cwd, or a directory fd).

    Raises:
        KernelError(EBADF): dfd is not an open fd.
        KernelError(ENOTDIR): dfd is not a directory and the name is not empty.

    Linux: fs/namei.c:path_init()
    """
    fs = current.fs
    assert fs is not None, "a task without fs_struct cannot walk paths"
    root = fs.root
    if name.startswith("/"):
        start = root
    elif dfd == F.AT_FDCWD:
        start = fs.pwd
    else:
        f = current.files.fget(dfd) if current.files is not None else None
        if f is None:
            raise KernelError(E.EBADF)
        if name and not S.S_ISDIR(f.f_inode.i_mode):
            raise KernelError(E.ENOTDIR)
        start = f.f_path
    return NameiData(current=current, path=start, root=root, flags=flags)


def may_lookup(nd: NameiData) -> None:
    """may_lookup(): search (exec) permission on the directory being walked. Linux: fs/namei.c"""
    inode = nd.inode
    inode_permission(nd.current, inode, MAY_EXEC)


def follow_dotdot(nd: NameiData) -> None:
    """follow_dotdot(): ".." stays at the process root and climbs out of mounts. Linux: fs/namei.c"""
    path = nd.path
    while True:
        if path == nd.root:
            break
        if path.dentry is path.mnt.mnt_root:
            parent = path.mnt.mnt_parent
            if parent is None or parent is path.mnt:
                break
            if nd.flags & LOOKUP_NO_XDEV:
                raise KernelError(E.EXDEV)
            path = Path(parent, path.mnt.mnt_mountpoint)
            continue
        path = Path(path.mnt, path.dentry.d_parent)
        break
    nd.path = _traverse_mounts(nd, path)


def _traverse_mounts(nd: NameiData, path: Path) -> Path:
    """traverse_mounts(): step onto whatever is mounted on `path`. Linux: fs/namei.c"""
    while path.dentry.d_flags & DCACHE_MOUNTED:
        ns = nd.current.nsproxy.mnt_ns if nd.current.nsproxy is not None else None
        child = lookup_mnt(ns, path.mnt, path.dentry) if ns is not None else None
        if child is None:
            break
        if nd.flags & LOOKUP_NO_XDEV:
            raise KernelError(E.EXDEV)
        path = Path(child, child.mnt_root)
    return path


def lookup_one(current: Task, name: str, parent: Dentry, flags: int) -> Dentry:
    """lookup_fast() then lookup_slow(): the child dentry, possibly negative.

    A cached dentry with `->d_revalidate` is asked first; if it answers "invalid" it is dropped with its
    subtree and the directory's `->lookup` runs again.  An error from either aborts the walk.

    Linux: fs/namei.c:lookup_fast(), lookup_slow(), d_revalidate()
    """
    dentry = d_lookup(parent, name)
    if dentry is not None:
        op = dentry.d_op
        if op is None or op.d_revalidate is None:
            return dentry
        if op.d_revalidate(current, dentry, flags):
            return dentry
        d_invalidate(dentry)
    dir_inode = parent.d_inode
    assert dir_inode is not None
    new = d_alloc(parent, name)
    lookup = dir_inode.i_op.lookup
    if lookup is None:
        raise KernelError(E.ENOTDIR)
    result = lookup(current, dir_inode, new, flags)
    return result if result is not None else new


def nd_jump_link(nd: NameiData, path: Path) -> None:
    """nd_jump_link(): a magic link moves the walk straight to `path`.

    Raises:
        KernelError(ELOOP): LOOKUP_NO_MAGICLINKS (openat2 RESOLVE_NO_MAGICLINKS).
        KernelError(EXDEV): LOOKUP_NO_XDEV across mounts, or a scoped lookup (RESOLVE_BENEATH/IN_ROOT).

    Linux: fs/namei.c:nd_jump_link()
    """
    if nd.flags & LOOKUP_NO_MAGICLINKS:
        raise KernelError(E.ELOOP)
    if nd.flags & LOOKUP_NO_XDEV and nd.path.mnt is not path.mnt:
        raise KernelError(E.EXDEV)
    if nd.flags & (LOOKUP_BENEATH | LOOKUP_IN_ROOT):
        raise KernelError(E.EXDEV)
    nd.path = path
    nd.jumped = True
    nd.last_type = LAST_BIND


def _pick_link(nd: NameiData, link: Path) -> str | None:
    """pick_link(): count the link, then ask ->get_link; None means the link jumped (magic link).

    Linux: fs/namei.c:pick_link()
    """
    if nd.total_link_count >= MAXSYMLINKS:
        raise KernelError(E.ELOOP, "more than 40 symbolic links in one path walk")
    nd.total_link_count += 1
    if nd.flags & LOOKUP_NO_SYMLINKS:
        raise KernelError(E.ELOOP)
    inode = link.dentry.d_inode
    if inode.i_link is not None:
        body: str | None = inode.i_link
    else:
        get_link = inode.i_op.get_link
        assert get_link is not None, "symlink inode without get_link"
        body = get_link(nd.current, link.dentry, inode, nd)
    if body is None:
        return None
    if body.startswith("/"):
        nd.path = nd.root
    elif not body:
        raise KernelError(E.ENOENT)
    return body


def walk_component(nd: NameiData, name: str, follow: bool) -> str | None:
    """walk_component(): one step from nd.path; returns a symlink body to walk next, or None.

    Raises:
        KernelError(ENOENT): the name does not exist.
        KernelError(ENOTDIR): the current position is not a directory.

    Linux: fs/namei.c:walk_component(), step_into()
    """
    if name == ".":
        nd.last_type = LAST_DOT
        return None
    if name == "..":
        nd.last_type = LAST_DOTDOT
        follow_dotdot(nd)
        return None
    nd.last_type = LAST_NORM
    dentry = lookup_one(nd.current, name, nd.path.dentry, nd.flags)
    if dentry.d_inode is None:
        raise KernelError(E.ENOENT)
    path = _traverse_mounts(nd, Path(nd.path.mnt, dentry))
    inode = path.dentry.d_inode
    if S.S_ISLNK(inode.i_mode) and follow:
        # nd.path stays on the directory holding the link: a relative body is walked from there
        return _pick_link(nd, path)
    nd.path = path
    return None


def _split(name: str) -> list[str]:
    return [c for c in name.split("/") if c]


def link_path_walk(nd: NameiData, name: str) -> str:
    """link_path_walk(): walk every component but the last; returns the last (or "" for "/" or ".").

    Symlinks met on the way are walked in place (their last component, too, is walked: they are in the
    middle of the path).

    Linux: fs/namei.c:link_path_walk()
    """
    parts = _split(name)
    if not parts:
        nd.last_type = LAST_ROOT if name.startswith("/") else LAST_DOT
        nd.last = ""
        return ""
    for comp in parts[:-1]:
        may_lookup(nd)
        _walk_more(nd, comp)
    may_lookup(nd)
    nd.last = parts[-1]
    nd.last_type = LAST_DOT if nd.last == "." else LAST_DOTDOT if nd.last == ".." else LAST_NORM
    return parts[-1]


def _walk_more(nd: NameiData, comp: str) -> None:
    """A component followed by more: must end on a directory; symlinks are always followed."""
    body = walk_component(nd, comp, follow=True)
    if body is not None:
        last = link_path_walk(nd, body)
        if last:
            _walk_more(nd, last)
    if nd.inode is None or not S.S_ISDIR(nd.inode.i_mode):
        raise KernelError(E.ENOTDIR)


def _lookup_last(nd: NameiData, last: str, trailing_slash: bool) -> None:
    """lookup_last(): the final component, following a trailing symlink only with LOOKUP_FOLLOW.

    Linux: fs/namei.c:lookup_last(), path_lookupat()
    """
    while last:
        follow = bool(nd.flags & (LOOKUP_FOLLOW | LOOKUP_DIRECTORY)) or trailing_slash
        body = walk_component(nd, last, follow=follow)
        if body is None:
            break
        last = link_path_walk(nd, body)
        trailing_slash = trailing_slash or body.endswith("/")
    if nd.flags & LOOKUP_DIRECTORY or trailing_slash:
        if not S.S_ISDIR(nd.inode.i_mode):
            raise KernelError(E.ENOTDIR)


def filename_lookup(current: Task, dfd: int, name: Any, flags: int) -> Path:
    """filename_lookup(): resolve a whole path.

    Example: `filename_lookup(t, AT_FDCWD, "/proc/self/map_files", LOOKUP_FOLLOW)`.

    Raises:
        KernelError: ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG, ... as the walk decides.

    Linux: fs/namei.c:filename_lookup(), path_lookupat()
    """
    name = getname(name, flags)
    nd = path_init(current, dfd, name, flags)
    if not name:  # AT_EMPTY_PATH: the dfd itself
        return nd.path
    last = link_path_walk(nd, name)
    if nd.last_type == LAST_DOTDOT:
        follow_dotdot(nd)
    _lookup_last(nd, last if nd.last_type == LAST_NORM else "", name.endswith("/"))
    return nd.path


def filename_parentat(current: Task, dfd: int, name: Any, flags: int = 0) -> tuple[Path, str, int]:
    """filename_parentat(): the parent directory, the last name and its type (LAST_NORM, LAST_DOT, ...).

    Linux: fs/namei.c:filename_parentat()
    """
    name = getname(name, flags)
    nd = path_init(current, dfd, name, flags | LOOKUP_PARENT)
    last = link_path_walk(nd, name)
    return nd.path, last, nd.last_type


def user_path_at(current: Task, dfd: int, name: Any, flags: int) -> Path:
    """user_path_at(): filename_lookup() on a user string. Linux: include/linux/namei.h"""
    return filename_lookup(current, dfd, name, flags)


