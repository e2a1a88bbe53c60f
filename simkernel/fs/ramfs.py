"""An in-memory filesystem for / and /tmp: directories, regular files with bytes, symlinks, devices.

It behaves like tmpfs in 6.x for what userspace sees: readdir lists entries in creation order with stable
offsets (libfs "simple_offset"), names longer than 255 bytes give ENAMETOOLONG, files hold real bytes.

Linux: fs/ramfs/inode.c, fs/libfs.c (simple_lookup, simple_offset_*, simple_link/unlink/rmdir/rename),
mm/shmem.c (tmpfs behaviour it imitates)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.dcache import d_add, d_delete, d_make_root, d_instantiate, _d_rehash
from simkernel.fs.file import FileOperations
from simkernel.fs.inode import Inode, InodeOperations, S_DEAD, inode_init_owner
from simkernel.fs.readdir import dir_emit, dir_emit_dots
from simkernel.fs.super import FileSystemType, SuperBlock
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.fs.file import File

__all__ = ["RAMFS_TYPE", "ramfs_fill_super", "ramfs_get_inode", "generic_file_read", "generic_file_write",
           "generic_file_llseek", "ramfs_file_operations", "ramfs_dir_inode_operations", "simple_lookup"]

NAME_MAX = 255
MAX_LFS_FILESIZE = (1 << 63) - 1


@define(eq=False)
class OffsetCtx:
    """struct offset_ctx: stable readdir cookies for one directory (fs/libfs.c simple_offset_*)."""

    next_offset: int = 2
    by_offset: dict[int, Any] = field(factory=dict)   # offset -> dentry, in creation order


def _offsets(dir: Inode) -> OffsetCtx:
    if dir.i_private is None:
        dir.i_private = OffsetCtx()
    return dir.i_private


def _offset_add(dir: Inode, dentry: Dentry) -> None:
    ctx = _offsets(dir)
    off = ctx.next_offset
    ctx.next_offset += 1
    ctx.by_offset[off] = dentry
    dentry.d_fsdata = off


def _offset_remove(dir: Inode, dentry: Dentry) -> None:
    ctx = _offsets(dir)
    ctx.by_offset.pop(dentry.d_fsdata, None)


def simple_lookup(current: Any, dir: Inode, dentry: Dentry, flags: int) -> Dentry | None:
    """simple_lookup(): a miss in an in-memory fs is a negative dentry.

    Raises:
        KernelError(ENAMETOOLONG): the name is longer than NAME_MAX (255 bytes).

    Linux: fs/libfs.c:simple_lookup()
    """
    if len(dentry.d_name.encode("utf-8", "surrogateescape")) > NAME_MAX:
        raise KernelError(E.ENAMETOOLONG)
    d_add(dentry, None)
    return None


def _touch(inode: Inode) -> None:
    now = inode.i_sb.kernel.current_time()
    inode.i_mtime = inode.i_ctime = now


def ramfs_get_inode(sb: SuperBlock, current: Any, dir: Inode | None, mode: int, dev: int = 0) -> Inode:
    """ramfs_get_inode(): a new inode of any type with its operation tables. Linux: fs/ramfs/inode.c"""
    now = sb.kernel.current_time()
    # tmpfs numbers inodes per superblock (root is 1); get_next_ino() is for pseudo filesystems
    inode = Inode(i_ino=sb.kernel.next_id(f"ino@{sb.s_dev}"), i_mode=0, i_sb=sb, i_atime=now, i_mtime=now,
                  i_ctime=now)
    if current is not None:
        inode_init_owner(current, inode, dir, mode)
    else:
        inode.i_mode = mode
    fmt = mode & S.S_IFMT
    if fmt == S.S_IFDIR:
        inode.i_op = ramfs_dir_inode_operations
        inode.i_fop = ramfs_dir_operations
        inode.i_nlink = 2
        inode.i_size = 0
    elif fmt == S.S_IFREG:
        inode.i_op = ramfs_file_inode_operations
        inode.i_fop = ramfs_file_operations
        inode.i_data = bytearray()
    elif fmt == S.S_IFLNK:
        inode.i_op = ramfs_symlink_inode_operations
    else:  # devices, fifos, sockets
        inode.i_op = ramfs_file_inode_operations
        inode.i_rdev = dev
        inode.i_fop = _special_fops(sb, mode, dev)
    return inode


def _special_fops(sb: SuperBlock, mode: int, dev: int) -> FileOperations | None:
    """init_special_inode(): character devices open through the kernel's device table. Linux: fs/inode.c"""
    if S.S_ISCHR(mode):
        return FileOperations(open=_chrdev_open)
    return None


def _chrdev_open(current: Any, inode: Inode, file: File) -> None:
    """chrdev_open(): replace f_op with the driver's. Linux: fs/char_dev.c

    Raises:
        KernelError(ENXIO): no driver for this device number.
    """
    fops = inode.i_sb.kernel.devices.get(inode.i_rdev)
    if fops is None:
        raise KernelError(E.ENXIO)
    file.f_op = fops
    if fops.open is not None:
        fops.open(current, inode, file)


def _mknod(current: Any, dir: Inode, dentry: Dentry, mode: int, dev: int = 0) -> None:
    """ramfs_mknod(). Linux: fs/ramfs/inode.c"""
    inode = ramfs_get_inode(dir.i_sb, current, dir, mode, dev)
    d_instantiate(dentry, inode)
    _d_rehash(dentry)
    _offset_add(dir, dentry)
    _touch(dir)


def _create(current: Any, dir: Inode, dentry: Dentry, mode: int) -> None:
    _mknod(current, dir, dentry, (mode & S.S_IALLUGO) | S.S_IFREG)


def _mkdir(current: Any, dir: Inode, dentry: Dentry, mode: int) -> None:
    _mknod(current, dir, dentry, (mode & S.S_IALLUGO) | S.S_IFDIR)
    dir.i_nlink += 1


def _symlink(current: Any, dir: Inode, dentry: Dentry, target: str) -> None:
    """ramfs_symlink(): mode 0777, size = target length. Linux: fs/ramfs/inode.c"""
    inode = ramfs_get_inode(dir.i_sb, current, dir, S.S_IFLNK | 0o777)
    inode.i_link = target
    inode.i_size = len(target.encode("utf-8", "surrogateescape"))
    d_instantiate(dentry, inode)
    _d_rehash(dentry)
    _offset_add(dir, dentry)
    _touch(dir)


def _link(current: Any, old_dentry: Dentry, dir: Inode, new_dentry: Dentry) -> None:
    """simple_link(). Linux: fs/libfs.c"""
    inode = old_dentry.d_inode
    inode.i_nlink += 1
    inode.i_ctime = inode.i_sb.kernel.current_time()
    d_instantiate(new_dentry, inode)
    _d_rehash(new_dentry)
    _offset_add(dir, new_dentry)
    _touch(dir)


def _unlink(current: Any, dir: Inode, dentry: Dentry) -> None:
    """simple_unlink(). Linux: fs/libfs.c"""
    inode = dentry.d_inode
    inode.i_nlink -= 1
    inode.i_ctime = inode.i_sb.kernel.current_time()
    _offset_remove(dir, dentry)
    d_delete(dentry)
    _touch(dir)


def _rmdir(current: Any, dir: Inode, dentry: Dentry) -> None:
    """simple_rmdir(): only empty directories. Linux: fs/libfs.c

    Raises:
        KernelError(ENOTEMPTY): the directory has positive children.
    """
    if any(c.d_inode is not None and c.d_hashed for c in dentry.d_subdirs.values()):
        raise KernelError(E.ENOTEMPTY)
    inode = dentry.d_inode
    inode.i_nlink = 0
    inode.i_flags |= S_DEAD
    dir.i_nlink -= 1
    _offset_remove(dir, dentry)
    d_delete(dentry)
    _touch(dir)


def _rename(current: Any, old_dir: Inode, old_dentry: Dentry, new_dir: Inode, new_dentry: Dentry) -> None:
    """simple_rename(): move the dentry; a replaced target is unlinked first. Linux: fs/libfs.c"""
    from simkernel.fs.dcache import d_drop
    is_dir = S.S_ISDIR(old_dentry.d_inode.i_mode)
    if new_dentry.d_inode is not None:
        if S.S_ISDIR(new_dentry.d_inode.i_mode):
            _rmdir(current, new_dir, new_dentry)
        else:
            _unlink(current, new_dir, new_dentry)
    _offset_remove(old_dir, old_dentry)
    d_drop(old_dentry)
    if is_dir and old_dir is not new_dir:
        old_dir.i_nlink -= 1
        new_dir.i_nlink += 1
    parent = new_dentry.d_parent
    old_dentry.d_name = new_dentry.d_name
    old_dentry.d_parent = parent
    _d_rehash(old_dentry)
    _offset_add(new_dir, old_dentry)
    _touch(old_dir)
    _touch(new_dir)


def dcache_readdir_offset(current: Any, file: File, ctx: Any) -> None:
    """offset_readdir(): ".", "..", then children by creation offset. Linux: fs/libfs.c:offset_readdir()"""
    if not dir_emit_dots(file, ctx):
        return
    offs = _offsets(file.f_inode)
    for off in sorted(o for o in offs.by_offset if o >= ctx.pos):
        d = offs.by_offset[off]
        ctx.pos = off
        if not dir_emit(ctx, d.d_name, d.d_inode.i_ino, S.dt_type(d.d_inode.i_mode)):
            return
        ctx.pos = off + 1
    ctx.pos = max(ctx.pos, offs.next_offset)


def generic_file_llseek(current: Any, file: File, offset: int, whence: int) -> int:
    """generic_file_llseek(): SEEK_SET/CUR/END within [0, MAX_LFS_FILESIZE].

    Raises:
        KernelError(EINVAL): unknown whence or a negative result.

    Linux: fs/read_write.c:generic_file_llseek()
    """
    if whence == F.SEEK_SET:
        new = offset
    elif whence == F.SEEK_CUR:
        new = file.f_pos + offset
    elif whence == F.SEEK_END:
        new = file.f_inode.i_size + offset
    else:
        raise KernelError(E.EINVAL)
    if new < 0 or new > MAX_LFS_FILESIZE:
        raise KernelError(E.EINVAL)
    file.f_pos = new
    return new


def generic_file_read(current: Any, file: File, count: int, pos: int) -> bytes:
    """filemap_read() over the inode's bytes. Linux: mm/filemap.c"""
    data = file.f_inode.i_data
    assert data is not None
    return bytes(data[pos:pos + count])


def generic_file_write(current: Any, file: File, buf: bytes, pos: int) -> int:
    """generic_perform_write(): extend with zeros as needed. Linux: mm/filemap.c"""
    inode = file.f_inode
    data = inode.i_data
    assert data is not None
    if file.f_flags & F.O_APPEND:
        pos = len(data)
    if pos > len(data):
        data.extend(bytes(pos - len(data)))
    data[pos:pos + len(buf)] = buf
    inode.i_size = len(data)
    _touch(inode)
    return len(buf)


def generic_file_mmap(current: Any, file: File, vma: Any) -> None:
    """generic_file_mmap(): page-cache backed; nothing to set up in this model. Linux: mm/filemap.c"""
    vma.vm_ops = "generic_file_vm_ops"


def dcache_dir_open(current: Any, inode: Inode, file: File) -> None:
    return None


ramfs_dir_operations = FileOperations(open=dcache_dir_open, iterate_shared=dcache_readdir_offset,
                                      llseek=generic_file_llseek)
ramfs_file_operations = FileOperations(read=generic_file_read, write=generic_file_write,
                                       llseek=generic_file_llseek, mmap=generic_file_mmap)
ramfs_dir_inode_operations = InodeOperations(lookup=simple_lookup, create=_create, mkdir=_mkdir, mknod=_mknod,
                                             symlink=_symlink, link=_link, unlink=_unlink, rmdir=_rmdir,
                                             rename=_rename)
ramfs_file_inode_operations = InodeOperations()
ramfs_symlink_inode_operations = InodeOperations()


def ramfs_fill_super(kernel: Any, name: str, mode: int = 0o755) -> SuperBlock:
    """ramfs_fill_super(): a new superblock with a root directory owned by root. Linux: fs/ramfs/inode.c"""
    from simkernel.fs.super import MKDEV
    sb = SuperBlock(s_dev=MKDEV(0, kernel.next_id("anon_dev", start=32)), s_type=RAMFS_TYPE, kernel=kernel,
                    s_id=name, s_user_ns=kernel.init_user_ns, s_magic=0x858458F6)
    root = ramfs_get_inode(sb, None, None, S.S_IFDIR | mode)
    sb.s_root = d_make_root(sb, root)
    return sb


def _ramfs_mount(kernel: Any, current: Any, source: str, flags: int, data: str) -> SuperBlock:
    return ramfs_fill_super(kernel, source or "ramfs")


RAMFS_TYPE = FileSystemType(name="ramfs", mount=_ramfs_mount)
TMPFS_TYPE = FileSystemType(name="tmpfs", mount=_ramfs_mount)
