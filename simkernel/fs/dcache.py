"""Dentries and the dentry cache.

Each dentry keeps its children in a dict (the dcache hash keyed by parent and name).  A negative dentry has
`d_inode is None`.  An unhashed dentry (`d_drop`, unlink) is no longer found by lookups and `d_path` reports
it with " (deleted)".

Linux: include/linux/dcache.h, fs/dcache.c
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from attrs import define, field, fields, frozen

if TYPE_CHECKING:
    from simkernel.fs.inode import Inode
    from simkernel.fs.path import Path
    from simkernel.fs.super import SuperBlock

__all__ = ["Dentry", "DentryOperations", "DCACHE_MOUNTED", "DCACHE_DONTMOUNT", "DCACHE_OP_REVALIDATE",
           "d_alloc", "d_alloc_name", "d_add", "d_instantiate", "d_lookup", "d_drop", "d_unhashed", "d_delete",
           "d_invalidate", "dget", "dput", "d_really_is_negative", "IS_ROOT", "d_make_root", "dont_mount",
           "cant_mount", "d_inode"]

DCACHE_OP_REVALIDATE = 0x4
DCACHE_DONTMOUNT = 0x100
DCACHE_MOUNTED = 0x10000
# d_subdirs of a dentry that never had a child: one shared read-only mapping, replaced by a dict when the first
# child is hashed (most dentries are leaves: a map_files listing of 60,000 entries makes 60,000 of them).
NO_CHILDREN: Mapping[str, Any] = MappingProxyType({})


@frozen
class DentryOperations:
    """struct dentry_operations.

      d_revalidate(current, dentry, flags) -> bool   (False: invalid, look up again; may raise KernelError)
      d_delete(dentry) -> bool                        (True: do not keep in cache after the last dput)
      d_dname(dentry) -> str                          (synthetic names: "anon_inode:[io_uring]")
    """

    d_revalidate: Callable[..., Any] | None = None
    d_delete: Callable[..., Any] | None = None
    d_dname: Callable[..., Any] | None = None


@define(eq=False)
class Dentry:
    """struct dentry (include/linux/dcache.h)."""

    d_name: str
    d_sb: SuperBlock = field(repr=False)
    d_parent: Dentry = field(default=None, repr=False)  # type: ignore[assignment]
    d_inode: Inode | None = field(default=None, repr=False)
    d_op: DentryOperations | None = field(default=None, repr=False)
    d_subdirs: dict[str, Dentry] = field(default=NO_CHILDREN, repr=False)  # type: ignore[assignment]
    d_flags: int = 0
    d_hashed: bool = field(default=False, repr=False)
    d_count: int = field(default=0, repr=False)
    d_fsdata: Any = field(default=None, repr=False)
    d_time: int = field(default=0, repr=False)
    # Model cache, not in struct dentry: the Path (mount, this dentry) the path walk last built for it, reused
    # while the walk meets the dentry in the same mount (a struct path is a two-pointer value in C; here each
    # Path costs an allocation).  Paths are immutable values, so sharing one is invisible.
    d_mnt_path: Path | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        ino = self.d_inode.i_ino if self.d_inode is not None else "-"
        return f"<dentry {self.d_name!r} ino={ino}{'' if self.d_hashed else ' unhashed'}>"

    def children(self) -> Iterator[Dentry]:
        return iter(self.d_subdirs.values())


assert tuple(a.name for a in fields(Dentry))[:5] == ("d_name", "d_sb", "d_parent", "d_inode", "d_op"), \
    "d_alloc() passes these fields by position"


def d_inode(dentry: Dentry) -> Inode | None:
    return dentry.d_inode


def d_really_is_negative(dentry: Dentry) -> bool:
    return dentry.d_inode is None


def IS_ROOT(dentry: Dentry) -> bool:
    return dentry.d_parent is dentry


def d_unhashed(dentry: Dentry) -> bool:
    """d_unhashed(): not findable by lookup (dropped or deleted); the root is never unhashed."""
    return not dentry.d_hashed and not IS_ROOT(dentry)


def d_alloc(parent: Dentry, name: str) -> Dentry:
    """d_alloc(): a new, unhashed, negative child of `parent`. Linux: fs/dcache.c"""
    sb = parent.d_sb
    return Dentry(name, sb, parent, None, sb.s_d_op)   # d_name, d_sb, d_parent, d_inode, d_op (by position: faster)


def d_alloc_name(parent: Dentry, name: str) -> Dentry:
    return d_alloc(parent, name)


def d_make_root(sb: SuperBlock, inode: Inode) -> Dentry:
    """d_make_root(): the root dentry "/" of a superblock. Linux: fs/dcache.c"""
    d = Dentry(d_name="/", d_sb=sb, d_inode=inode, d_op=sb.s_d_op)
    d.d_parent = d
    return d


def d_instantiate(dentry: Dentry, inode: Inode | None) -> None:
    """d_instantiate(): attach an inode to a negative dentry. Linux: fs/dcache.c"""
    dentry.d_inode = inode


def _d_rehash(dentry: Dentry) -> None:
    parent = dentry.d_parent
    subdirs = parent.d_subdirs
    if subdirs is NO_CHILDREN:
        subdirs = parent.d_subdirs = {}
    old = subdirs.get(dentry.d_name)
    if old is not None and old is not dentry:
        old.d_hashed = False
    subdirs[dentry.d_name] = dentry
    dentry.d_hashed = True


def d_add(dentry: Dentry, inode: Inode | None) -> None:
    """d_add(): instantiate (possibly negative) and hash into the dcache. Linux: include/linux/dcache.h"""
    d_instantiate(dentry, inode)
    _d_rehash(dentry)


def d_lookup(parent: Dentry, name: str) -> Dentry | None:
    """d_lookup(): the hashed child `name` of `parent`, or None. Linux: fs/dcache.c"""
    d = parent.d_subdirs.get(name)
    if d is not None and d.d_hashed:
        return d
    return None


def d_drop(dentry: Dentry) -> None:
    """d_drop()/__d_drop(): unhash so later lookups miss it; holders keep their reference. Linux: fs/dcache.c"""
    if dentry.d_hashed:
        dentry.d_hashed = False
        parent = dentry.d_parent
        if parent.d_subdirs.get(dentry.d_name) is dentry:
            del parent.d_subdirs[dentry.d_name]


def d_delete(dentry: Dentry) -> None:
    """d_delete(): after unlink; in-use dentries are unhashed so d_path shows " (deleted)". Linux: fs/dcache.c

    Simplification: the kernel turns an unused dentry negative instead; here every deleted dentry is
    unhashed, which is what any holder (an open file, a mapping) observes.
    """
    d_drop(dentry)


def d_invalidate(dentry: Dentry) -> None:
    """d_invalidate(): drop a dentry and its whole subtree (used after a failed revalidate). Linux: fs/dcache.c"""
    for child in list(dentry.d_subdirs.values()):
        d_invalidate(child)
    d_drop(dentry)


def dget(dentry: Dentry) -> Dentry:
    """dget(): take a reference.  The model's path walk and struct file take none (the dcache tree pins
    every dentry), so a dget() is a temporary reference the refcount ledger expects to be dput() within the
    same system call.  Linux: include/linux/dcache.h"""
    rt = dentry.d_sb.kernel.ref_tracker
    if rt is not None:
        rt.get(dentry, "dentry")
    dentry.d_count += 1
    return dentry


def dput(dentry: Dentry | None) -> None:
    """dput(): drop a reference; a dentry whose d_delete says so leaves the cache at the last put."""
    if dentry is None:
        return
    rt = dentry.d_sb.kernel.ref_tracker
    if rt is not None and not rt.put(dentry, "dentry"):
        return
    dentry.d_count -= 1
    if dentry.d_count <= 0 and dentry.d_op is not None and dentry.d_op.d_delete is not None:
        if dentry.d_op.d_delete(dentry):
            d_drop(dentry)


def dont_mount(dentry: Dentry) -> None:
    """dont_mount(): nothing may be mounted on this dentry (include/linux/dcache.h)."""
    dentry.d_flags |= DCACHE_DONTMOUNT


def cant_mount(dentry: Dentry) -> bool:
    return bool(dentry.d_flags & DCACHE_DONTMOUNT)
