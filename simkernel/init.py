"""Booting: what `Kernel()` does before anything else runs.

Order (as init/main.c): namespaces, the root mount, internal mounts (shmem), device drivers, the init task
(pid 1, uid 0, full capability sets), then a small root filesystem populated through init's own system
calls, and procfs mounted at /proc.

Linux: init/main.c:start_kernel(), kernel_init(); init/do_mounts.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simkernel.fs.fdtable import FilesStruct
from simkernel.fs.path import Path
from simkernel.kernel.cred import cred_init_full
from simkernel.kernel.nsproxy import Nsproxy
from simkernel.kernel.task import FsStruct, PidNamespace, SignalStruct, Task

if TYPE_CHECKING:
    from simkernel.machine import Kernel

__all__ = ["start_kernel", "ROOTFS_LAYOUT"]

# (path, mode) directories made at boot; files are (path, mode, contents)
ROOTFS_LAYOUT: tuple[tuple[str, int], ...] = (
    ("/bin", 0o755), ("/dev", 0o755), ("/etc", 0o755), ("/home", 0o755), ("/lib", 0o755), ("/lib64", 0o755),
    ("/proc", 0o555), ("/root", 0o700), ("/srv", 0o755), ("/tmp", 0o1777), ("/usr", 0o755),
    ("/usr/bin", 0o755), ("/usr/lib", 0o755), ("/usr/lib/x86_64-linux-gnu", 0o755), ("/var", 0o755),
)
ROOTFS_FILES: tuple[tuple[str, int, bytes], ...] = (
    ("/etc/hostname", 0o644, b"simkernel\n"),
    ("/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n"
                           b"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
)


def start_kernel(k: Kernel) -> None:
    """Boot `k`: see the module docstring. Linux: init/main.c:start_kernel()"""
    from simkernel.drivers.char.mem import chr_dev_register
    from simkernel.fs.namespace import init_mount_tree
    from simkernel.fs.shmem import shmem_init
    from simkernel.kernel.fork import alloc_pid
    from simkernel.mm.mmap import mm_alloc

    k.init_pid_ns = PidNamespace(level=0, user_ns=k.init_user_ns)
    k.init_mnt_ns = init_mount_tree(k)
    shmem_init(k)
    chr_dev_register(k)

    cred = cred_init_full(k)
    root = Path(k.init_mnt_ns.root, k.init_mnt_ns.root.mnt_root)
    pid = alloc_pid(k.init_pid_ns)
    pid.kernel = k
    mm = mm_alloc(k, k.init_user_ns)
    init = Task(kernel=k, pid=pid.nr, tgid=pid.nr, comm="init", real_cred=cred, cred=cred, thread_pid=pid,
                signal=SignalStruct(), mm=mm, active_mm=mm, fs=FsStruct(root=root, pwd=root, umask=0o022),
                files=FilesStruct(), nsproxy=Nsproxy(mnt_ns=k.init_mnt_ns, pid_ns_for_children=k.init_pid_ns))
    init.group_leader = init
    pid.task = pid.tgid_task = init
    init.signal.threads.append(init)
    k.tasks[init.pid] = init
    k.init = init
    _populate_rootfs(k, init)


def _populate_rootfs(k: Kernel, init: Task) -> None:
    """Make the directories, /dev/null, /dev/zero and a few files through init's syscalls, then mount /proc."""
    from simkernel.uapi import fcntl as F
    from simkernel.uapi import stat as S
    s = init.sys
    for path, mode in ROOTFS_LAYOUT:
        s.mkdir(path, mode)
        s.chmod(path, mode)
    for name, minor in (("null", 3), ("zero", 5)):   # drivers/char/mem.c devlist: makedev(1, minor)
        s.mknod(f"/dev/{name}", S.S_IFCHR | 0o666, (1 << 8) | minor)
        s.chmod(f"/dev/{name}", 0o666)
    for path, mode, data in ROOTFS_FILES:
        fd = s.open(path, F.O_CREAT | F.O_WRONLY | F.O_TRUNC, mode)
        s.write(fd, data)
        s.close(fd)
    s.mount("proc", "/proc", "proc", 0, "")
