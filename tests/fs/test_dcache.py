"""fs/dcache.py: dentries, the hash, drop/delete/invalidate, references."""

from __future__ import annotations

from simkernel.fs import dcache as D
from simkernel.fs.namei import filename_lookup
from simkernel.uapi import AT_FDCWD
from tests.fs.vfskit import boot, mkdir, mkfile


def sb_root():
    k = boot()
    root = filename_lookup(k.init, AT_FDCWD, "/tmp", 0).dentry
    return k, root


def test_d_alloc_is_unhashed_and_negative():
    """d_alloc makes a negative child that no lookup finds until d_add."""
    _k, root = sb_root()
    d = D.d_alloc(root, "x")
    assert D.d_really_is_negative(d) and D.d_unhashed(d) and D.d_lookup(root, "x") is None
    D.d_add(d, None)
    assert D.d_lookup(root, "x") is d and D.d_inode(d) is None
    assert D.d_alloc_name(root, "y").d_parent is root


def test_d_rehash_replaces_previous_entry():
    """Hashing a second dentry under the same name unhashes the first."""
    _k, root = sb_root()
    a, b = D.d_alloc(root, "n"), D.d_alloc(root, "n")
    D.d_add(a, None)
    D.d_add(b, None)
    assert D.d_lookup(root, "n") is b and not a.d_hashed


def test_d_drop_and_d_delete_unhash():
    """d_drop/d_delete unhash; the dentry keeps its inode for holders; the root is never unhashed."""
    k, root = sb_root()
    mkfile(k, "/tmp/f")
    d = D.d_lookup(root, "f")
    D.d_delete(d)
    assert D.d_lookup(root, "f") is None and d.d_inode is not None and D.d_unhashed(d)
    D.d_drop(d)   # twice is harmless
    assert not D.d_unhashed(D.d_make_root(root.d_sb, root.d_inode))
    assert D.IS_ROOT(k.init.fs.root.dentry)


def test_d_invalidate_drops_subtree():
    """d_invalidate unhashes a dentry and everything below it."""
    k, root = sb_root()
    mkdir(k, "/tmp/a")
    mkdir(k, "/tmp/a/b")
    a = D.d_lookup(root, "a")
    b = D.d_lookup(a, "b")
    D.d_invalidate(a)
    assert not a.d_hashed and not b.d_hashed and list(a.children()) == []


def test_dget_dput_and_d_delete_op():
    """dput at zero asks ->d_delete; True drops the dentry from the cache; dput(None) is a no-op."""
    _k, root = sb_root()
    d = D.d_alloc(root, "z")
    D.d_add(d, None)
    d.d_op = D.DentryOperations(d_delete=lambda dentry: True)
    D.dget(d)
    D.dput(d)
    assert not d.d_hashed
    D.dput(None)
    e = D.d_alloc(root, "keep")
    D.d_add(e, None)
    e.d_op = D.DentryOperations(d_delete=lambda dentry: False)
    D.dput(e)
    assert e.d_hashed


def test_dont_mount_and_cant_mount():
    """dont_mount marks a dentry so nothing may be mounted there."""
    _k, root = sb_root()
    d = D.d_alloc(root, "m")
    assert not D.cant_mount(d)
    D.dont_mount(d)
    assert D.cant_mount(d)


def test_dentry_repr():
    """The repr names the dentry, its inode number and whether it is unhashed."""
    k, root = sb_root()
    mkfile(k, "/tmp/r")
    d = D.d_lookup(root, "r")
    assert repr(d).startswith("<dentry 'r' ino=") and "unhashed" not in repr(d)
    assert repr(D.d_alloc(root, "n")) == "<dentry 'n' ino=- unhashed>"
