"""The path walk: from a string to a (mount, dentry).

Per component the walk checks search permission on the directory (`may_lookup`), then finds the child in
the dcache (asking `->d_revalidate` when the dentry has one) or asks the directory's `->lookup`, crosses
mounts, and follows symbolic links (at most 40 in one walk, else ELOOP).  A link's `->get_link` either
returns a path string to walk or jumps straight to an object with `nd_jump_link()` (procfs "magic links":
/proc/<pid>/fd/N, /proc/<pid>/map_files/<range>, exe, cwd, root).

The shape follows fs/namei.c: `link_path_walk()` walks every component but the last (symlinks met there are
walked in place, their own last component included), records the last component, its type and whether a
slash followed it; the caller decides what to do with it (`lookup_last()` for lookups, `open_last_lookups()`
in open.py, `filename_parentat()` for the calls that create or remove).  A trailing slash makes the last
component follow links and require a directory.

Example: with /tmp/l -> "d/", `filename_lookup(t, AT_FDCWD, "/tmp/l/x", 0)` walks "tmp", then "l" (not last:
followed, its body "d/" walked in place), then looks up "x" in /tmp/d without following a final link.

Simplification: there is no RCU-walk; every step is the ref-walk (so -ECHILD retries never happen).

Linux: fs/namei.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.dcache import DCACHE_MOUNTED, Dentry, d_alloc, d_invalidate, d_lookup
from simkernel.fs.inode import MAY_EXEC, S_DEAD, inode_permission
from simkernel.fs.mount import MNT_NOSYMFOLLOW, lookup_mnt
from simkernel.fs.path import Path
from simkernel.lib.fault_inject import should_fail
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.kernel.task import Task

__all__ = ["NameiData", "LOOKUP_FOLLOW", "LOOKUP_DIRECTORY", "LOOKUP_EMPTY", "LOOKUP_NO_SYMLINKS",
           "LOOKUP_NO_MAGICLINKS", "LOOKUP_NO_XDEV", "LOOKUP_BENEATH", "LOOKUP_IN_ROOT", "LOOKUP_OPEN",
           "LOOKUP_CREATE", "LOOKUP_EXCL", "LOOKUP_REVAL", "LOOKUP_PARENT", "MAXSYMLINKS", "NAME_MAX", "PATH_MAX",
           "LAST_NORM", "LAST_ROOT", "LAST_DOT", "LAST_DOTDOT", "LAST_BIND", "WALK_TRAILING", "WALK_MORE",
           "WALK_NOFOLLOW", "getname", "path_init", "link_path_walk", "walk_component", "lookup_one",
           "lookup_dcache", "lookup_slow", "step_into", "handle_dots", "lookup_last", "path_lookupat",
           "filename_lookup", "filename_parentat", "nd_jump_link", "nd_jump_root", "may_lookup", "follow_dotdot",
           "user_path_at", "d_can_lookup", "IS_DEADDIR"]

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
LOOKUP_IS_SCOPED = LOOKUP_BENEATH | LOOKUP_IN_ROOT

LAST_NORM, LAST_ROOT, LAST_DOT, LAST_DOTDOT, LAST_BIND = range(5)

# walk_component()/step_into() flags
WALK_TRAILING = 1
WALK_MORE = 2
WALK_NOFOLLOW = 4

MAXSYMLINKS = 40
NAME_MAX = 255
PATH_MAX = 4096


@define(eq=False)
class NameiData:
    """struct nameidata: the state of one walk (fs/namei.c).

    `last`, `last_type` and `last_slash` describe the final component once `link_path_walk()` returns:
    `last_slash` is the kernel's test `nd->last.name[nd->last.len]` (a slash follows the name).
    `dir_mode`/`dir_uid` are the mode and owner of the directory holding it (for the sticky checks).
    """

    current: Task = field(repr=False)
    path: Path = field(repr=False)
    root: Path = field(repr=False)
    flags: int = 0
    last: str = ""
    last_type: int = LAST_ROOT
    last_slash: bool = False
    total_link_count: int = 0
    depth: int = 0
    jumped: bool = False
    dir_mode: int = 0
    dir_uid: int = -1

    @property
    def inode(self) -> Any:
        return self.path.dentry.d_inode


def IS_DEADDIR(inode: Any) -> bool:
    """IS_DEADDIR(): a removed directory (S_DEAD). Linux: include/linux/fs.h"""
    return bool(inode.i_flags & S_DEAD)


def d_can_lookup(dentry: Dentry) -> bool:
    """d_can_lookup(): a directory one can walk into (positive, S_IFDIR). Linux: include/linux/dcache.h"""
    inode = dentry.d_inode
    return inode is not None and (inode.i_mode & S.S_IFMT) == S.S_IFDIR


def getname(name: Any, flags: int = 0) -> str:
    """getname_flags(): copy the path from userspace.

    Raises:
        KernelError(EFAULT): not a string (a bad user pointer).
        KernelError(ENAMETOOLONG): PATH_MAX (4096) bytes or more with the NUL.
        KernelError(ENOENT): empty, unless LOOKUP_EMPTY.

    Linux: fs/namei.c:getname_flags()
    """
    if name.__class__ is str and 0 < len(name) < PATH_MAX // 4 and "\0" not in name:
        return name     # the common case: < 1024 characters are < 4096 bytes in UTF-8 (surrogateescape: 1 each)
    if isinstance(name, (bytes, bytearray)):
        name = bytes(name).decode("utf-8", "surrogateescape")
    if not isinstance(name, str):
        raise KernelError(E.EFAULT, "getname: the path is not a string (a bad user pointer)")
    if "\0" in name:  # the C string ends at the NUL
        name = name[: name.index("\0")]
    if len(name.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise KernelError(E.ENAMETOOLONG, "getname: the path is PATH_MAX (4096) bytes or longer")
    if not name and not flags & LOOKUP_EMPTY:
        raise KernelError(E.ENOENT, "getname: the path is empty")
    return name


def path_init(current: Task, dfd: int, name: str, flags: int) -> NameiData:
    """path_init(): where the walk starts (root, cwd, or a directory fd, O_PATH ones included).

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
        f = current.files.fget(dfd) if current.files is not None else None   # fdget_raw()
        if f is None:
            raise KernelError(E.EBADF, f"path_init: dirfd {dfd} is not an open descriptor")
        if name and not d_can_lookup(f.f_path.dentry):
            raise KernelError(E.ENOTDIR, f"path_init: dirfd {dfd} is not a directory")
        start = f.f_path
    return NameiData(current, start, root, flags)   # by position (faster than keywords: every path walk)


def may_lookup(nd: NameiData) -> None:
    """may_lookup(): search (exec) permission on the directory being walked. Linux: fs/namei.c"""
    inode_permission(nd.current, nd.path.dentry.d_inode, MAY_EXEC)


def nd_jump_root(nd: NameiData) -> None:
    """nd_jump_root(): an absolute symlink restarts at the walk's root.

    Raises:
        KernelError(EXDEV): LOOKUP_BENEATH, or LOOKUP_NO_XDEV leaving the current mount.

    Linux: fs/namei.c:nd_jump_root()
    """
    if nd.flags & LOOKUP_BENEATH:
        raise KernelError(E.EXDEV, "an absolute path under RESOLVE_BENEATH")
    if nd.flags & LOOKUP_NO_XDEV and nd.path.mnt is not nd.root.mnt:
        raise KernelError(E.EXDEV, "jumping to the root crosses a mount under RESOLVE_NO_XDEV")
    nd.path = nd.root
    nd.jumped = True


def nd_jump_link(nd: NameiData, path: Path) -> None:
    """nd_jump_link(): a magic link moves the walk straight to `path`.

    Raises:
        KernelError(ELOOP): LOOKUP_NO_MAGICLINKS (openat2 RESOLVE_NO_MAGICLINKS).
        KernelError(EXDEV): LOOKUP_NO_XDEV across mounts, or a scoped lookup (RESOLVE_BENEATH/IN_ROOT).

    Linux: fs/namei.c:nd_jump_link()
    """
    if nd.flags & LOOKUP_NO_MAGICLINKS:
        raise KernelError(E.ELOOP, "a /proc magic link under RESOLVE_NO_MAGICLINKS")
    if nd.flags & LOOKUP_NO_XDEV and nd.path.mnt is not path.mnt:
        raise KernelError(E.EXDEV, "a magic link crosses a mount under RESOLVE_NO_XDEV")
    if nd.flags & LOOKUP_IS_SCOPED:
        raise KernelError(E.EXDEV, "a magic link in a scoped lookup (RESOLVE_BENEATH/RESOLVE_IN_ROOT)")
    nd.path = path
    nd.jumped = True
    nd.last_type = LAST_BIND


def _choose_mountpoint(nd: NameiData, mnt: Any) -> Path | None:
    """choose_mountpoint(): the mountpoint to step up to from the root of `mnt`, or None at the walk's root.

    Linux: fs/namei.c:choose_mountpoint_rcu()
    """
    m = mnt
    while m.mnt_parent is not None and m.mnt_parent is not m:
        mountpoint = m.mnt_mountpoint
        m = m.mnt_parent
        if nd.root.dentry is mountpoint and nd.root.mnt is m:
            return None
        if mountpoint is not m.mnt_root:
            return Path(m, mountpoint)
    return None


def follow_dotdot(nd: NameiData) -> Dentry:
    """follow_dotdot(): the dentry ".." names; nd.path may first climb out of mounts.

    ".." of the walk's root is the root itself; ".." of a mount's root is ".." of its mountpoint.

    Raises:
        KernelError(EXDEV): LOOKUP_NO_XDEV when climbing out of a mount, LOOKUP_BENEATH at the root.

    Linux: fs/namei.c:follow_dotdot()
    """
    if nd.path == nd.root:
        if nd.flags & LOOKUP_BENEATH:
            raise KernelError(E.EXDEV, "'..' above the starting point under RESOLVE_BENEATH")
        return nd.path.dentry
    if nd.path.dentry is nd.path.mnt.mnt_root:
        up = _choose_mountpoint(nd, nd.path.mnt)
        if up is None:
            if nd.flags & LOOKUP_BENEATH:
                raise KernelError(E.EXDEV, "'..' out of the starting mount under RESOLVE_BENEATH")
            return nd.path.dentry
        nd.path = up
        if nd.flags & LOOKUP_NO_XDEV:
            raise KernelError(E.EXDEV, "'..' crosses a mount under RESOLVE_NO_XDEV")
    return nd.path.dentry.d_parent


def _traverse_mounts(nd: NameiData, path: Path) -> Path:
    """traverse_mounts(): step onto whatever is mounted on `path` (the top of the pile).

    Raises:
        KernelError(ENOENT): the dentry is negative.   KernelError(EXDEV): LOOKUP_NO_XDEV and a mount.

    Linux: fs/namei.c:traverse_mounts(), handle_mounts()
    """
    jumped = False
    while path.dentry.d_flags & DCACHE_MOUNTED:
        ns = nd.current.nsproxy.mnt_ns if nd.current.nsproxy is not None else None
        child = lookup_mnt(ns, path.mnt, path.dentry) if ns is not None else None
        if child is None:
            break
        path = _mnt_path(child, child.mnt_root)
        jumped = True
    if path.dentry.d_inode is None:
        raise KernelError(E.ENOENT, f"no entry named {path.dentry.d_name!r} in the directory")
    if jumped:
        if nd.flags & LOOKUP_NO_XDEV:
            raise KernelError(E.EXDEV, "the walk crosses a mount under RESOLVE_NO_XDEV")
        nd.jumped = True
    return path


def _mnt_path(mnt: Any, dentry: Dentry) -> Path:
    """Path(mnt, dentry), reusing the one the walk last built for this dentry (Dentry.d_mnt_path)."""
    path = dentry.d_mnt_path
    if path is None or path.mnt is not mnt:
        path = dentry.d_mnt_path = Path(mnt, dentry)
    return path


def lookup_dcache(current: Task, name: str, parent: Dentry, flags: int) -> Dentry | None:
    """lookup_dcache()/lookup_fast(): the cached child, revalidated; None on a miss or after invalidation.

    Raises:
        KernelError: whatever `->d_revalidate` raises.

    Linux: fs/namei.c:lookup_dcache(), lookup_fast(), d_revalidate()
    """
    dentry = d_lookup(parent, name)
    if dentry is None:
        return None
    op = dentry.d_op
    if op is None or op.d_revalidate is None or op.d_revalidate(current, dentry, flags):
        return dentry
    d_invalidate(dentry)
    return None


def lookup_slow(current: Task, name: str, parent: Dentry, flags: int) -> Dentry:
    """__lookup_slow(): a new dentry handed to the directory's `->lookup` (possibly left negative).

    Raises:
        KernelError(ENOENT): the directory was removed (IS_DEADDIR).   Whatever `->lookup` raises.

    Linux: fs/namei.c:__lookup_slow()
    """
    dir_inode = parent.d_inode
    assert dir_inode is not None
    if IS_DEADDIR(dir_inode):
        raise KernelError(E.ENOENT, "the directory was removed")
    lookup = dir_inode.i_op.lookup
    if lookup is None:
        raise KernelError(E.ENOTDIR, "a path component is not a directory (no ->lookup)")
    if current.fail_nth and should_fail(current, "dentry", "d_alloc_parallel"):
        raise KernelError(E.ENOMEM, "d_alloc_parallel(): no memory for the dentry (fail-nth)")
    ld = current.kernel.lockdep   # lookup_slow(): inode_lock_shared(dir), modelled for the validator only
    sem = ld.i_rwsem(dir_inode) if ld is not None else None
    if sem is not None:
        sem.down_read(current)
    try:
        new = d_alloc(parent, name)
        result = lookup(current, dir_inode, new, flags)
    finally:
        if sem is not None:
            sem.up_read(current)
    return result if result is not None else new


def lookup_one(current: Task, name: str, parent: Dentry, flags: int) -> Dentry:
    """lookup_fast() then lookup_slow() (lookup_one_qstr_excl() for the callers that create or remove):
    the child dentry, possibly negative.  Linux: fs/namei.c
    """
    dentry = lookup_dcache(current, name, parent, flags)
    return dentry if dentry is not None else lookup_slow(current, name, parent, flags)


def _may_follow_link(nd: NameiData, inode: Any) -> None:
    """may_follow_link(): fs.protected_symlinks forbids following another user's link in a sticky,
    world-writable directory unless the directory's owner owns the link.

    Raises:
        KernelError(EACCES).

    Linux: fs/namei.c:may_follow_link()
    """
    if not nd.current.kernel.sysctl["fs.protected_symlinks"]:
        return
    if inode.i_uid == nd.current.cred.fsuid:
        return
    if nd.dir_mode & (S.S_ISVTX | S.S_IWOTH) != (S.S_ISVTX | S.S_IWOTH):
        return
    if nd.dir_uid == inode.i_uid:
        return
    raise KernelError(E.EACCES, "fs.protected_symlinks: another user's link in a sticky world-writable directory")


def _pick_link(nd: NameiData, link: Path, inode: Any, flags: int) -> str | None:
    """pick_link(): count the link (ELOOP past 40), then ->get_link; None when nothing is left to walk
    (a magic link jumped, or the body was only slashes).

    Linux: fs/namei.c:pick_link(), reserve_stack()
    """
    if nd.total_link_count >= MAXSYMLINKS:
        raise KernelError(E.ELOOP, "more than 40 symbolic links in one path walk")
    nd.total_link_count += 1
    if flags & WALK_TRAILING:
        _may_follow_link(nd, inode)
    if nd.flags & LOOKUP_NO_SYMLINKS or link.mnt.mnt_flags & MNT_NOSYMFOLLOW:
        raise KernelError(E.ELOOP, "a symlink under RESOLVE_NO_SYMLINKS or on a nosymfollow mount")
    if inode.i_link is not None:
        body: str | None = inode.i_link
    else:
        get_link = inode.i_op.get_link
        assert get_link is not None, "symlink inode without get_link"
        body = get_link(nd.current, link.dentry, inode, nd)
    if body is None:
        return None
    if body.startswith("/"):
        nd_jump_root(nd)
        body = body.lstrip("/")
    return body or None


def step_into(nd: NameiData, flags: int, dentry: Dentry) -> str | None:
    """step_into(): cross mounts, then move onto the dentry, or return the body of a link to follow.

    A link is followed unless it is the trailing component without LOOKUP_FOLLOW (WALK_TRAILING) or the
    caller said WALK_NOFOLLOW.

    Raises:
        KernelError(ENOENT): a negative dentry.   ELOOP/EXDEV from following.

    Linux: fs/namei.c:step_into()
    """
    mnt = nd.path.mnt
    if dentry.d_flags & DCACHE_MOUNTED:
        path = _traverse_mounts(nd, _mnt_path(mnt, dentry))
        inode = path.dentry.d_inode
    else:   # _traverse_mounts() with nothing mounted, written out (every component of every walk)
        inode = dentry.d_inode
        if inode is None:
            raise KernelError(E.ENOENT, f"no entry named {dentry.d_name!r} in the directory")
        path = dentry.d_mnt_path    # _mnt_path(), inline
        if path is None or path.mnt is not mnt:
            path = dentry.d_mnt_path = Path(mnt, dentry)
    if ((inode.i_mode & S.S_IFMT) != S.S_IFLNK or (flags & WALK_TRAILING and not nd.flags & LOOKUP_FOLLOW)
            or flags & WALK_NOFOLLOW):
        nd.path = path
        return None
    # nd.path stays on the directory holding the link: a relative body is walked from there
    return _pick_link(nd, path, inode, flags)


def handle_dots(nd: NameiData, last_type: int) -> None:
    """handle_dots(): "." stays; ".." climbs (never above the walk's root) and steps onto any mount there.

    Linux: fs/namei.c:handle_dots()
    """
    if last_type == LAST_DOTDOT:
        parent = follow_dotdot(nd)
        step_into(nd, WALK_NOFOLLOW, parent)


def walk_component(nd: NameiData, flags: int | bool = 0, *, name: str | None = None) -> str | None:
    """walk_component(): one step from nd.path by nd.last; returns a symlink body to walk next, or None.

    Raises:
        KernelError(ENOENT): the name does not exist.   The lookup's and step_into()'s errors.

    Linux: fs/namei.c:walk_component()
    """
    if name is not None:  # convenience for callers holding a bare name
        nd.last, nd.last_type = name, _last_type(name)
    if nd.last_type != LAST_NORM:
        handle_dots(nd, nd.last_type)
        return None
    # lookup_fast(), then lookup_slow() on a miss (fs/namei.c calls these two directly, not lookup_one())
    current, last, parent, lflags = nd.current, nd.last, nd.path.dentry, nd.flags
    dentry = lookup_dcache(current, last, parent, lflags)
    if dentry is None:
        dentry = lookup_slow(current, last, parent, lflags)
    return step_into(nd, flags if flags.__class__ is int else int(flags), dentry)


def _last_type(comp: str) -> int:
    return LAST_DOT if comp == "." else LAST_DOTDOT if comp == ".." else LAST_NORM


def link_path_walk(nd: NameiData, name: str) -> str:
    """link_path_walk(): walk every component but the last; record the last in nd.last/last_type/last_slash.

    Search permission is checked on every directory, the one holding the last component included.
    Symlinks met on the way are walked in place, their own last component too (it is in the middle of
    the path), and each step must end on a directory (ENOTDIR).  Returns nd.last ("" for "/").

    Example: "a//b/" has components "a" and "b"; "b" is the last, with last_slash set.

    Linux: fs/namei.c:link_path_walk()
    """
    nd.last_type = LAST_ROOT
    nd.flags |= LOOKUP_PARENT
    comps = list(filter(None, name.split("/")))
    if not comps:
        nd.last, nd.last_slash, nd.dir_mode = "", False, 0
        return ""
    left = len(comps)
    current = nd.current
    for comp in comps:
        inode_permission(current, nd.path.dentry.d_inode, MAY_EXEC)     # may_lookup(nd): a static inline
        nd.last = comp
        nd.last_type = LAST_NORM if comp[0] != "." else _last_type(comp)
        left -= 1
        if not left:
            nd.last_slash = name[-1] == "/"
            inode = nd.path.dentry.d_inode
            nd.dir_mode, nd.dir_uid = inode.i_mode, inode.i_uid
            nd.flags &= ~LOOKUP_PARENT
            return comp
        body = walk_component(nd, WALK_MORE)
        if body is not None:
            _walk_nested_link(nd, body)
        inode = nd.path.dentry.d_inode      # d_can_lookup(): a static inline
        if inode is None or (inode.i_mode & S.S_IFMT) != S.S_IFDIR:
            raise KernelError(E.ENOTDIR, "a path component is not a directory")
    raise AssertionError("unreachable")  # pragma: no cover


def _walk_nested_link(nd: NameiData, body: str) -> None:
    """A link in the middle of a path: walk its whole body, its last component followed too.

    Linux: fs/namei.c:link_path_walk() (the nd->stack part), walk_component(nd, 0)
    """
    saved = (nd.last, nd.last_type, nd.last_slash, nd.dir_mode, nd.dir_uid, nd.flags & LOOKUP_PARENT)
    nd.depth += 1
    link_path_walk(nd, body)
    if nd.last_type != LAST_ROOT:
        more = walk_component(nd, 0)
        if more is not None:
            _walk_nested_link(nd, more)
    nd.depth -= 1
    nd.last, nd.last_type, nd.last_slash, nd.dir_mode, nd.dir_uid, parent = saved
    nd.flags |= parent


def lookup_last(nd: NameiData) -> str | None:
    """lookup_last(): the final component; a trailing slash forces LOOKUP_FOLLOW|LOOKUP_DIRECTORY.

    Linux: fs/namei.c:lookup_last()
    """
    if nd.last_type == LAST_NORM and nd.last_slash:
        nd.flags |= LOOKUP_FOLLOW | LOOKUP_DIRECTORY
    return walk_component(nd, WALK_TRAILING)


def path_lookupat(nd: NameiData, name: str) -> Path:
    """path_lookupat(): link_path_walk + lookup_last until no link is left, then the directory check.

    Raises:
        KernelError(ENOTDIR): LOOKUP_DIRECTORY (or a trailing slash) on a non-directory.

    Linux: fs/namei.c:path_lookupat()
    """
    s: str | None = name
    while s is not None:
        link_path_walk(nd, s)
        s = lookup_last(nd)
    if nd.flags & LOOKUP_DIRECTORY and not d_can_lookup(nd.path.dentry):
        raise KernelError(E.ENOTDIR, "O_DIRECTORY/trailing slash: the last component is not a directory")
    return nd.path


def filename_lookup(current: Task, dfd: int, name: Any, flags: int) -> Path:
    """filename_lookup(): resolve a whole path.

    Example: `filename_lookup(t, AT_FDCWD, "/proc/self/map_files", LOOKUP_FOLLOW)`.

    Raises:
        KernelError: ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG, EBADF, ... as the walk decides.

    Linux: fs/namei.c:filename_lookup(), path_lookupat()
    """
    if current.fail_nth and should_fail(current, "alloc", "getname"):   # __getname() before the copy
        raise KernelError(E.ENOMEM, "getname(): no memory for the path name (fail-nth)")
    name = getname(name, flags)
    nd = path_init(current, dfd, name, flags & ~LOOKUP_EMPTY)
    return path_lookupat(nd, name)


def filename_parentat_nd(current: Task, dfd: int, name: Any, flags: int = 0) -> NameiData:
    """path_parentat(): the walk state after link_path_walk (parent in nd.path, last in nd.last...)."""
    if current.fail_nth and should_fail(current, "alloc", "getname"):
        raise KernelError(E.ENOMEM, "getname(): no memory for the path name (fail-nth)")
    name = getname(name, flags)
    nd = path_init(current, dfd, name, flags)
    link_path_walk(nd, name)
    return nd


def filename_parentat(current: Task, dfd: int, name: Any, flags: int = 0) -> tuple[Path, str, int]:
    """filename_parentat(): the parent directory, the last name and its type (LAST_NORM, LAST_DOT, ...).

    Linux: fs/namei.c:filename_parentat()
    """
    nd = filename_parentat_nd(current, dfd, name, flags)
    return nd.path, nd.last, nd.last_type


def user_path_at(current: Task, dfd: int, name: Any, flags: int) -> Path:
    """user_path_at(): filename_lookup() on a user string. Linux: include/linux/namei.h"""
    return filename_lookup(current, dfd, name, flags)
