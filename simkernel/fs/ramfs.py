"""An in-memory filesystem for /, /tmp and tmpfs mounts: directories, files with bytes, symlinks, devices.

It behaves like tmpfs in Linux 6.18 for what userspace sees:

* readdir: ".", "..", then the children in the directory's d_children order, which is newest first (a new
  dentry is added at the head, and a renamed one moves to the head of its new directory).  Each child has a
  stable offset from a per-directory cyclic counter starting at 3 (libfs "simple_offset"); `d_off` of a record
  is the offset of the next child, and the end of the directory is offset 2147483647 (observed on v6.18).
* a directory's size is 40 plus 20 per entry (BOGO_DIRENT_SIZE), st_blocks counts the 4 KiB pages that hold
  data (a sparse ftruncate allocates none), symlinks of 128 bytes or more take a page;
* names longer than 255 bytes are ENAMETOOLONG; writes and truncation by a task without CAP_FSETID clear
  the set-id bits of a regular file (file_remove_privs).

Example: create a, b, c in a fresh directory, rename b to z: getdents lists ".", "..", "z", "c", "a".

The directory machinery shared with libfs (simple_lookup, offsets, readdir, directory lseek) is in libfs.py.

Linux: mm/shmem.c (shmem_mknod, shmem_link, shmem_unlink, shmem_rmdir, shmem_rename2, shmem_symlink,
shmem_tmpfile, shmem_setattr, shmem_file_llseek), fs/ramfs/inode.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.fs.dcache import _d_rehash, d_delete, d_instantiate, d_make_root
from simkernel.fs.file import FileOperations
from simkernel.fs.inode import Inode, InodeOperations, S_DEAD, inode_init_owner
from simkernel.fs.read_write import generic_file_llseek_size
from simkernel.fs.libfs import (DIR_OFFSET_EOD, DIR_OFFSET_MIN, MAX_LFS_FILESIZE, OffsetCtx, _link_child, _offsets,
                                _unlink_child, generic_read_dir, offset_dir_llseek, offset_readdir, simple_lookup,
                                simple_offset_add, simple_offset_empty, simple_offset_remove)
from simkernel.fs.super import FileSystemType, SuperBlock
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.dcache import Dentry
    from simkernel.fs.file import File

__all__ = ["RAMFS_TYPE", "TMPFS_TYPE", "ramfs_fill_super", "ramfs_get_inode", "generic_file_read",
           "generic_file_write", "generic_file_llseek", "offset_dir_llseek", "ramfs_file_operations",
           "ramfs_dir_inode_operations", "simple_lookup", "simple_offset_empty", "offset_readdir",
           "file_remove_privs", "ramfs_setsize", "OffsetCtx", "RamfsFileInfo", "BOGO_DIRENT_SIZE",
           "DIR_OFFSET_MIN", "DIR_OFFSET_EOD"]

PAGE_SIZE = 4096
BOGO_DIRENT_SIZE = 20
SHORT_SYMLINK_LEN = 128
from simkernel.uapi.fcntl import SEEK_DATA, SEEK_HOLE  # noqa: E402  (re-exported)


@define(eq=False)
class RamfsFileInfo:
    """The page cache of a regular file: page index -> 4 KiB of bytes, only for pages that were written
    (a hole reads as zeros and counts no blocks; a file of 1 TiB made by ftruncate costs nothing)."""

    pages: dict[int, bytearray] = field(factory=dict)


def _now(inode: Inode) -> int:
    return inode.i_sb.kernel.current_time()


def _touch(inode: Inode) -> None:
    inode.i_mtime = inode.i_ctime = _now(inode)


def ramfs_get_inode(sb: SuperBlock, current: Any, dir: Inode | None, mode: int, dev: int = 0) -> Inode:
    """shmem_get_inode(): a new inode of any type with its operation tables; numbered per superblock.

    Linux: mm/shmem.c:shmem_get_inode(), fs/ramfs/inode.c:ramfs_get_inode()
    """
    now = sb.kernel.current_time()
    # tmpfs numbers inodes per superblock (root is 1); get_next_ino() is for pseudo filesystems
    inode = Inode(i_ino=sb.kernel.next_id(f"ino@{sb.s_dev}"), i_mode=0, i_sb=sb, i_atime=now, i_mtime=now,
                  i_ctime=now, i_blocks=0)
    if current is not None:
        inode_init_owner(current, inode, dir, mode)
    else:
        inode.i_mode = mode
    fmt = mode & S.S_IFMT
    if fmt == S.S_IFDIR:
        inode.i_op = ramfs_dir_inode_operations
        inode.i_fop = ramfs_dir_operations
        inode.i_nlink = 2
        inode.i_size = 2 * BOGO_DIRENT_SIZE
        inode.i_private = OffsetCtx()
    elif fmt == S.S_IFREG:
        inode.i_op = ramfs_file_inode_operations
        inode.i_fop = ramfs_file_operations
        inode.i_private = RamfsFileInfo()
    elif fmt == S.S_IFLNK:
        inode.i_op = ramfs_symlink_inode_operations
    else:  # devices, fifos, sockets
        inode.i_op = ramfs_special_inode_operations
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


def _instantiate(dir: Inode, dentry: Dentry, inode: Inode) -> None:
    """d_instantiate + hash + offset + d_children head + the directory's bogus size. Linux: mm/shmem.c"""
    d_instantiate(dentry, inode)
    _d_rehash(dentry)
    simple_offset_add(dir, dentry)
    _link_child(dir, dentry)
    dir.i_size += BOGO_DIRENT_SIZE
    _touch(dir)


def _mknod(current: Any, dir: Inode, dentry: Dentry, mode: int, dev: int = 0) -> None:
    """shmem_mknod(). Linux: mm/shmem.c"""
    inode = ramfs_get_inode(dir.i_sb, current, dir, mode, dev)
    _instantiate(dir, dentry, inode)


def _create(current: Any, dir: Inode, dentry: Dentry, mode: int) -> None:
    """shmem_create(): the VFS already applied umask (vfs_prepare_mode). Linux: mm/shmem.c"""
    _mknod(current, dir, dentry, (mode & S.S_IALLUGO) | S.S_IFREG)


def _mkdir(current: Any, dir: Inode, dentry: Dentry, mode: int) -> None:
    """shmem_mkdir(). Linux: mm/shmem.c"""
    _mknod(current, dir, dentry, (mode & S.S_IALLUGO) | S.S_IFDIR)
    dir.i_nlink += 1


def _symlink(current: Any, dir: Inode, dentry: Dentry, target: str) -> None:
    """shmem_symlink(): mode 0777, size = target length; a body of 128 bytes or more takes a page.

    Raises:
        KernelError(ENAMETOOLONG): the body with its NUL is longer than a page.

    Linux: mm/shmem.c:shmem_symlink()
    """
    length = len(target.encode("utf-8", "surrogateescape")) + 1
    if length > PAGE_SIZE:
        raise KernelError(E.ENAMETOOLONG)
    inode = ramfs_get_inode(dir.i_sb, current, dir, S.S_IFLNK | 0o777)
    inode.i_link = target
    inode.i_size = length - 1
    inode.i_blocks = PAGE_SIZE // 512 if length > SHORT_SYMLINK_LEN else 0
    _instantiate(dir, dentry, inode)


def _link(current: Any, old_dentry: Dentry, dir: Inode, new_dentry: Dentry) -> None:
    """shmem_link()/simple_link(). Linux: mm/shmem.c, fs/libfs.c"""
    inode = old_dentry.d_inode
    inode.i_nlink += 1
    inode.i_ctime = _now(inode)
    _instantiate(dir, new_dentry, inode)


def _remove_entry(dir: Inode, dentry: Dentry) -> None:
    simple_offset_remove(dir, dentry)
    _unlink_child(dir, dentry)
    dir.i_size -= BOGO_DIRENT_SIZE
    _touch(dir)


def _unlink(current: Any, dir: Inode, dentry: Dentry) -> None:
    """shmem_unlink(). Linux: mm/shmem.c"""
    inode = dentry.d_inode
    _remove_entry(dir, dentry)
    inode.i_nlink -= 1
    inode.i_ctime = _now(inode)
    d_delete(dentry)


def _rmdir(current: Any, dir: Inode, dentry: Dentry) -> None:
    """shmem_rmdir(): only empty directories.

    Raises:
        KernelError(ENOTEMPTY): the directory has entries.

    Linux: mm/shmem.c:shmem_rmdir()
    """
    if not simple_offset_empty(dentry):
        raise KernelError(E.ENOTEMPTY)
    inode = dentry.d_inode
    _remove_entry(dir, dentry)
    inode.i_nlink = 0
    inode.i_ctime = _now(inode)
    dir.i_nlink -= 1
    d_delete(dentry)


def _rename(current: Any, old_dir: Inode, old_dentry: Dentry, new_dir: Inode, new_dentry: Dentry) -> None:
    """shmem_rename2() (flags 0) and the VFS's d_move(): a replaced target keeps its offset for the moved
    entry; the moved dentry goes to the head of its new directory's list.

    Raises:
        KernelError(ENOTEMPTY): the target is a directory with entries.

    Linux: mm/shmem.c:shmem_rename2(), fs/libfs.c:simple_offset_rename(), fs/dcache.c:d_move()
    """
    if not simple_offset_empty(new_dentry):
        raise KernelError(E.ENOTEMPTY)
    they_are_dirs = S.S_ISDIR(old_dentry.d_inode.i_mode)
    # simple_offset_rename()
    new_offset = new_dentry.d_fsdata if new_dentry.d_inode is not None else 0
    simple_offset_remove(old_dir, old_dentry)
    if new_offset:
        new_dentry.d_fsdata = 0
        _offsets(new_dir).by_offset[new_offset] = old_dentry
        old_dentry.d_fsdata = new_offset
    else:
        simple_offset_add(new_dir, old_dentry)
    target = new_dentry.d_inode
    if target is not None:
        _unlink_child(new_dir, new_dentry)
        new_dir.i_size -= BOGO_DIRENT_SIZE
        target.i_nlink -= 1
        if they_are_dirs:
            target.i_nlink -= 1
            target.i_flags |= S_DEAD
            old_dir.i_nlink -= 1
        target.i_ctime = _now(target)
        d_delete(new_dentry)
    elif they_are_dirs:
        old_dir.i_nlink -= 1
        new_dir.i_nlink += 1
    old_dir.i_size -= BOGO_DIRENT_SIZE
    new_dir.i_size += BOGO_DIRENT_SIZE
    _touch(old_dir)
    _touch(new_dir)
    old_dentry.d_inode.i_ctime = _now(old_dentry.d_inode)
    # d_move(): the dentry takes the target's name and place
    _unlink_child(old_dir, old_dentry)
    parent = old_dentry.d_parent
    if parent.d_subdirs.get(old_dentry.d_name) is old_dentry:
        del parent.d_subdirs[old_dentry.d_name]
    old_dentry.d_name = new_dentry.d_name
    old_dentry.d_parent = new_dentry.d_parent
    _d_rehash(old_dentry)
    _link_child(new_dir, old_dentry)


def _tmpfile(current: Any, dir: Inode, parent: Dentry, mode: int, linkable: bool = True) -> Dentry:
    """shmem_tmpfile() + d_tmpfile(): an unhashed dentry "#<ino>" under `parent` with link count 0, so its
    name prints as "<dir>/#<ino> (deleted)".  Linux: mm/shmem.c:shmem_tmpfile(), fs/dcache.c:d_tmpfile()
    """
    from simkernel.fs.dcache import Dentry as _Dentry
    inode = ramfs_get_inode(dir.i_sb, current, dir, (mode & S.S_IALLUGO) | S.S_IFREG)
    inode.i_nlink = 0
    dentry = _Dentry(d_name=f"#{inode.i_ino}", d_sb=parent.d_sb, d_parent=parent, d_inode=inode,
                     d_op=parent.d_sb.s_d_op)
    return dentry


def generic_file_llseek(current: Any, file: File, offset: int, whence: int) -> int:
    """generic_file_llseek(): generic_file_llseek_size() within [0, MAX_LFS_FILESIZE] (tmpfs's s_maxbytes).

    Raises:
        KernelError(EINVAL): unknown whence, a negative result.   KernelError(ENXIO): SEEK_DATA/SEEK_HOLE
        at or past the end.

    Linux: fs/read_write.c:generic_file_llseek()
    """
    return generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE, file.f_inode.i_size)


def shmem_file_llseek(current: Any, file: File, offset: int, whence: int) -> int:
    """shmem_file_llseek(): the generic whences, plus SEEK_DATA/SEEK_HOLE over the pages that hold data.

    Raises:
        KernelError(ENXIO): SEEK_DATA/SEEK_HOLE at or beyond the end, or no data after `offset`.
        KernelError(EINVAL): generic_file_llseek()'s.

    Linux: mm/shmem.c:shmem_file_llseek(), mm/filemap.c:mapping_seek_hole_data()
    """
    if whence not in (SEEK_DATA, SEEK_HOLE):
        return generic_file_llseek(current, file, offset, whence)
    inode = file.f_inode
    size = inode.i_size
    if offset < 0 or offset >= size:
        raise KernelError(E.ENXIO)
    pages = _file_pages(inode)
    pos = offset
    while pos < size:
        present = pos // PAGE_SIZE in pages
        if (whence == SEEK_DATA) == present:
            break
        pos = (pos // PAGE_SIZE + 1) * PAGE_SIZE
    if pos >= size:
        if whence == SEEK_DATA:
            raise KernelError(E.ENXIO)
        pos = size
    file.f_pos = pos
    return pos


def file_remove_privs(current: Any, inode: Inode) -> None:
    """file_remove_privs(): a write or truncate by a task without CAP_FSETID clears S_ISUID, and S_ISGID
    when setattr_should_drop_sgid() says so (regular files only; no permission check: ATTR_FORCE).

    Linux: fs/inode.c:file_remove_privs(), fs/attr.c:setattr_should_drop_suidgid()
    """
    from simkernel.fs.attr import setattr_should_drop_sgid
    from simkernel.kernel.capability import capable
    from simkernel.uapi.capability import CAP_FSETID
    mode = inode.i_mode
    if not S.S_ISREG(mode) or current is None:
        return
    kill_suid = bool(mode & S.S_ISUID)
    kill_sgid = setattr_should_drop_sgid(current, inode)
    if not (kill_suid or kill_sgid) or capable(current, CAP_FSETID):
        return
    if kill_suid:
        mode &= ~S.S_ISUID
    if kill_sgid:
        mode &= ~S.S_ISGID
    inode.i_mode = mode
    inode.i_ctime = _now(inode)


def _file_pages(inode: Inode) -> dict[int, bytearray]:
    info = inode.i_private
    assert isinstance(info, RamfsFileInfo), "not a ramfs regular file"
    return info.pages


def _update_blocks(inode: Inode) -> None:
    inode.i_blocks = len(_file_pages(inode)) * (PAGE_SIZE // 512)


def ramfs_setsize(current: Any, inode: Inode, length: int) -> None:
    """shmem_setattr(ATTR_SIZE): pages wholly beyond the new end are freed and the tail of the last one is
    zeroed (so growing again reads zeros); growing allocates nothing.

    Linux: mm/shmem.c:shmem_setattr(), shmem_truncate_range()
    """
    pages = _file_pages(inode)
    keep = (length + PAGE_SIZE - 1) // PAGE_SIZE
    for idx in [i for i in pages if i >= keep]:
        del pages[idx]
    tail = length % PAGE_SIZE
    if tail and length // PAGE_SIZE in pages:
        page = pages[length // PAGE_SIZE]
        page[tail:] = bytes(PAGE_SIZE - tail)
    _update_blocks(inode)
    if length != inode.i_size:
        _touch(inode)
    inode.i_size = length


def ramfs_setattr(current: Any, dentry: Dentry, attrs: dict[str, Any]) -> None:
    """shmem_setattr(): size changes truncate; mode/uid/gid are copied. Linux: mm/shmem.c"""
    inode = dentry.d_inode
    if "size" in attrs:
        ramfs_setsize(current, inode, attrs["size"])
    for key in ("uid", "gid", "mode"):
        if key in attrs:
            setattr(inode, f"i_{key}", attrs[key])


def generic_file_read(current: Any, file: File, count: int, pos: int) -> bytes:
    """shmem_file_read_iter(): bytes up to i_size, page by page; holes read as zeros. Linux: mm/shmem.c"""
    inode = file.f_inode
    end = min(pos + count, inode.i_size)
    if pos >= end:
        return b""
    pages = _file_pages(inode)
    out = bytearray()
    while pos < end:
        idx, off = divmod(pos, PAGE_SIZE)
        n = min(PAGE_SIZE - off, end - pos)
        page = pages.get(idx)
        out += page[off:off + n] if page is not None else bytes(n)
        pos += n
    return bytes(out)


def generic_file_write(current: Any, file: File, buf: bytes, pos: int) -> int:
    """shmem_file_write_iter(): generic_write_checks (O_APPEND writes at i_size; EFBIG at MAX_LFS_FILESIZE,
    a write reaching it is cut: reachable only with O_APPEND, rw_verify_area() refusing the rest with
    EINVAL), file_remove_privs(), then the bytes into pages.

    Linux: mm/shmem.c:shmem_file_write_iter(), mm/filemap.c:generic_write_checks(), generic_perform_write()
    """
    inode = file.f_inode
    if file.f_flags & F.O_APPEND:
        pos = inode.i_size
    if not buf:
        return 0
    if pos >= MAX_LFS_FILESIZE:
        raise KernelError(E.EFBIG)
    buf = buf[:MAX_LFS_FILESIZE - pos]
    file_remove_privs(current, inode)
    pages = _file_pages(inode)
    done = 0
    while done < len(buf):
        idx, off = divmod(pos + done, PAGE_SIZE)
        n = min(PAGE_SIZE - off, len(buf) - done)
        page = pages.setdefault(idx, bytearray(PAGE_SIZE))
        page[off:off + n] = buf[done:done + n]
        done += n
    inode.i_size = max(inode.i_size, pos + len(buf))
    _update_blocks(inode)
    _touch(inode)
    return len(buf)


def generic_file_mmap(current: Any, file: File, vma: Any) -> None:
    """generic_file_mmap(): page-cache backed; nothing to set up in this model. Linux: mm/filemap.c"""
    vma.vm_ops = "generic_file_vm_ops"


def dcache_dir_open(current: Any, inode: Inode, file: File) -> None:
    return None


ramfs_dir_operations = FileOperations(open=dcache_dir_open, read=generic_read_dir, iterate_shared=offset_readdir,
                                      llseek=offset_dir_llseek)
ramfs_file_operations = FileOperations(read=generic_file_read, write=generic_file_write,
                                       llseek=shmem_file_llseek, mmap=generic_file_mmap)
ramfs_dir_inode_operations = InodeOperations(lookup=simple_lookup, create=_create, mkdir=_mkdir, mknod=_mknod,
                                             symlink=_symlink, link=_link, unlink=_unlink, rmdir=_rmdir,
                                             rename=_rename, tmpfile=_tmpfile, setattr=ramfs_setattr)
ramfs_file_inode_operations = InodeOperations(setattr=ramfs_setattr)
ramfs_special_inode_operations = InodeOperations(setattr=ramfs_setattr)
ramfs_symlink_inode_operations = InodeOperations(setattr=ramfs_setattr)


def ramfs_fill_super(kernel: Any, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0,
                     fs_type: FileSystemType | None = None) -> SuperBlock:
    """shmem_fill_super()/ramfs_fill_super(): a new superblock with a root directory (inode 1).

    Linux: mm/shmem.c:shmem_fill_super(), fs/ramfs/inode.c:ramfs_fill_super()
    """
    from simkernel.fs.super import MKDEV
    sb = SuperBlock(s_dev=MKDEV(0, kernel.next_id("anon_dev", start=32)), s_type=fs_type or RAMFS_TYPE,
                    kernel=kernel, s_id=name, s_user_ns=kernel.init_user_ns, s_magic=0x858458F6)
    root = ramfs_get_inode(sb, None, None, S.S_IFDIR | (mode & 0o7777))
    root.i_uid, root.i_gid = uid, gid
    sb.s_root = d_make_root(sb, root)
    return sb


def _parse_options(data: str, tmpfs: bool) -> dict[str, int]:
    """shmem_parse_one()/ramfs_parse_param(): mode=, uid=, gid= (and tmpfs's size options, accepted).

    Raises:
        KernelError(EINVAL): a bad number; an unknown option on tmpfs (ramfs ignores them).
    """
    opts: dict[str, int] = {}
    for item in (data or "").split(","):
        if not item:
            continue
        key, _, value = item.partition("=")
        try:
            if key == "mode":
                opts["mode"] = int(value, 8) & 0o7777
            elif key in ("uid", "gid") and tmpfs:
                opts[key] = int(value, 10)
            elif key in ("size", "nr_blocks", "nr_inodes", "huge", "mpol", "inode64", "inode32", "noswap",
                         "quota", "usrquota", "grpquota") and tmpfs:
                continue
            elif tmpfs:
                raise KernelError(E.EINVAL)
        except ValueError:
            raise KernelError(E.EINVAL) from None
    return opts


def _ramfs_mount(kernel: Any, current: Any, source: str, flags: int, data: str) -> SuperBlock:
    opts = _parse_options(data, tmpfs=False)
    return ramfs_fill_super(kernel, source or "ramfs", mode=opts.get("mode", 0o755), fs_type=RAMFS_TYPE)


def _tmpfs_mount(kernel: Any, current: Any, source: str, flags: int, data: str) -> SuperBlock:
    """tmpfs: the root is 1777 unless mode= says otherwise. Linux: mm/shmem.c:shmem_fill_super()"""
    opts = _parse_options(data, tmpfs=True)
    return ramfs_fill_super(kernel, source or "tmpfs", mode=opts.get("mode", 0o1777), uid=opts.get("uid", 0),
                            gid=opts.get("gid", 0), fs_type=TMPFS_TYPE)


RAMFS_TYPE = FileSystemType(name="ramfs", mount=_ramfs_mount)
TMPFS_TYPE = FileSystemType(name="tmpfs", mount=_tmpfs_mount)
