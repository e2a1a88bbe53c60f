"""Allocating and releasing struct file.

Linux: fs/file_table.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simkernel.fs.dcache import DentryOperations, Dentry
from simkernel.fs.file import OPEN_FMODE, FMODE_LSEEK, FMODE_PREAD, FMODE_PWRITE, FMODE_CAN_READ, \
    FMODE_CAN_WRITE, File, FileOperations
from simkernel.fs.path import Path

if TYPE_CHECKING:
    from simkernel.fs.inode import Inode
    from simkernel.fs.mount import VfsMount
    from simkernel.fs.super import SuperBlock

__all__ = ["alloc_file", "alloc_file_pseudo", "d_alloc_pseudo", "get_file", "fput", "simple_dname", "ANON_OPS"]


def simple_dname(dentry: Dentry) -> str:
    """simple_dname(): "/NAME (deleted)" for pseudo files (shmem, memfd, SysV). Linux: fs/d_path.c"""
    return f"/{dentry.d_name} (deleted)"


ANON_OPS = DentryOperations(d_dname=simple_dname)


def d_alloc_pseudo(sb: SuperBlock, name: str) -> Dentry:
    """d_alloc_pseudo(): a parentless dentry that no lookup can find; without s_d_op it names itself
    through simple_dname().  Linux: fs/dcache.c:d_alloc_pseudo()
    """
    d = Dentry(d_name=name, d_sb=sb, d_op=sb.s_d_op if sb.s_d_op is not None else ANON_OPS)
    d.d_parent = d
    return d


def alloc_file(path: Path, flags: int, fops: FileOperations | None, current: Any = None) -> File:
    """alloc_file(): a struct file on `path` with f_mode from the open flags. Linux: fs/file_table.c"""
    inode = path.dentry.d_inode
    assert inode is not None, "alloc_file on a negative dentry"
    fmode = OPEN_FMODE(flags) | FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE
    fops = fops if fops is not None else (inode.i_fop or FileOperations())
    if fmode & 1 and fops.read is not None:
        fmode |= FMODE_CAN_READ
    if fmode & 2 and fops.write is not None:
        fmode |= FMODE_CAN_WRITE
    k = inode.i_sb.kernel
    f = File(f_path=path, f_inode=inode, f_op=fops, f_mode=fmode, f_flags=flags,
             f_cred=current.cred if current is not None else None, f_id=k.next_id("file"))
    if k.ref_tracker is not None:
        k.ref_tracker.alloc(f, "file")
    return f


def alloc_file_pseudo(inode: Inode, mnt: VfsMount, name: str, flags: int, fops: FileOperations | None) -> File:
    """alloc_file_pseudo(): a file on a fresh pseudo dentry named `name` on an internal mount.

    readlink of anything mapping it prints "/NAME (deleted)".  Linux: fs/file_table.c:alloc_file_pseudo()
    """
    dentry = d_alloc_pseudo(mnt.mnt_sb, name)
    dentry.d_inode = inode
    return alloc_file(Path(mnt, dentry), flags, fops)


def get_file(f: File) -> File:
    """get_file(): take a reference. Linux: include/linux/fs.h"""
    rt = f.f_inode.i_sb.kernel.ref_tracker
    if rt is not None:
        rt.get(f, "file")
    f.f_count += 1
    return f


def fput(f: File) -> None:
    """fput(): drop a reference; the last one calls ->release. Linux: fs/file_table.c"""
    rt = f.f_inode.i_sb.kernel.ref_tracker
    if rt is not None and not rt.put(f, "file"):
        return
    assert f.f_count > 0, f"fput of a dead file {f!r}"
    f.f_count -= 1
    if f.f_count == 0 and f.f_op.release is not None:
        f.f_op.release(f.f_inode, f)
