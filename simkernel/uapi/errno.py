"""Linux errno values (x86-64, asm-generic).

Linux: include/uapi/asm-generic/errno-base.h, include/uapi/asm-generic/errno.h
Kernel-internal values (>= 512) come from include/linux/errno.h and never reach userspace.
"""

from __future__ import annotations

EPERM = 1
ENOENT = 2
ESRCH = 3
EINTR = 4
EIO = 5
ENXIO = 6
E2BIG = 7
ENOEXEC = 8
EBADF = 9
ECHILD = 10
EAGAIN = 11
ENOMEM = 12
EACCES = 13
EFAULT = 14
EBUSY = 16
EEXIST = 17
EXDEV = 18
ENODEV = 19
ENOTDIR = 20
EISDIR = 21
EINVAL = 22
ENFILE = 23
EMFILE = 24
ENOTTY = 25
ETXTBSY = 26
EFBIG = 27
ENOSPC = 28
ESPIPE = 29
EROFS = 30
EMLINK = 31
ERANGE = 34
ENAMETOOLONG = 36
ENOSYS = 38
ENOTEMPTY = 39
ELOOP = 40
EOVERFLOW = 75
ELIBBAD = 80
EOPNOTSUPP = 95
# kernel-internal (include/linux/errno.h); must never escape a syscall
ERESTARTSYS = 512
ECHILD_RCU = ECHILD  # RCU-walk asks for a retry in ref-walk with -ECHILD

ERRORCODE: dict[int, str] = {
    v: k for k, v in sorted(globals().items(), key=lambda kv: kv[0]) if k.isupper() and isinstance(v, int) and k != "ECHILD_RCU"
}

STRERROR: dict[int, str] = {
    EPERM: "Operation not permitted", ENOENT: "No such file or directory", ESRCH: "No such process",
    EINTR: "Interrupted system call", EIO: "Input/output error", ENXIO: "No such device or address",
    E2BIG: "Argument list too long", ENOEXEC: "Exec format error", EBADF: "Bad file descriptor",
    ECHILD: "No child processes", EAGAIN: "Resource temporarily unavailable", ENOMEM: "Cannot allocate memory",
    EACCES: "Permission denied", EFAULT: "Bad address", EBUSY: "Device or resource busy", EEXIST: "File exists",
    EXDEV: "Invalid cross-device link", ENODEV: "No such device", ENOTDIR: "Not a directory",
    EISDIR: "Is a directory", EINVAL: "Invalid argument", ENFILE: "Too many open files in system",
    EMFILE: "Too many open files", ENOTTY: "Inappropriate ioctl for device", ETXTBSY: "Text file busy",
    EFBIG: "File too large", ENOSPC: "No space left on device", ESPIPE: "Illegal seek",
    EROFS: "Read-only file system", EMLINK: "Too many links", ERANGE: "Numerical result out of range",
    ENAMETOOLONG: "File name too long", ENOSYS: "Function not implemented", ENOTEMPTY: "Directory not empty",
    ELOOP: "Too many levels of symbolic links", EOVERFLOW: "Value too large for defined data type",
    ELIBBAD: "Accessing a corrupted shared library",
    EOPNOTSUPP: "Operation not supported",
}

__all__ = [k for k in list(globals()) if k.isupper()]
