"""File mode bits and d_type values.

Linux: include/uapi/linux/stat.h, include/linux/fs.h (DT_*)
"""

from __future__ import annotations

S_IFMT = 0o170000
S_IFSOCK = 0o140000
S_IFLNK = 0o120000
S_IFREG = 0o100000
S_IFBLK = 0o060000
S_IFDIR = 0o040000
S_IFCHR = 0o020000
S_IFIFO = 0o010000
S_ISUID = 0o4000
S_ISGID = 0o2000
S_ISVTX = 0o1000
S_IRWXU = 0o700
S_IRUSR = 0o400
S_IWUSR = 0o200
S_IXUSR = 0o100
S_IRWXG = 0o070
S_IRGRP = 0o040
S_IWGRP = 0o020
S_IXGRP = 0o010
S_IRWXO = 0o007
S_IROTH = 0o004
S_IWOTH = 0o002
S_IXOTH = 0o001
S_IRWXUGO = 0o777
S_IALLUGO = 0o7777
S_IRUGO = 0o444
S_IWUGO = 0o222
S_IXUGO = 0o111

DT_UNKNOWN = 0
DT_FIFO = 1
DT_CHR = 2
DT_DIR = 4
DT_BLK = 6
DT_REG = 8
DT_LNK = 10
DT_SOCK = 12


def S_ISDIR(m: int) -> bool:
    return (m & S_IFMT) == S_IFDIR


def S_ISREG(m: int) -> bool:
    return (m & S_IFMT) == S_IFREG


def S_ISLNK(m: int) -> bool:
    return (m & S_IFMT) == S_IFLNK


def S_ISCHR(m: int) -> bool:
    return (m & S_IFMT) == S_IFCHR


def dt_type(mode: int) -> int:
    """S_DT(): the d_type of an inode mode (include/linux/fs_types.h)."""
    return (mode & S_IFMT) >> 12


__all__ = [k for k in list(globals()) if k.isupper() or k.startswith("S_IS")] + ["dt_type"]
