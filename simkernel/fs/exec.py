"""execve(2): open the program, compute the new credentials, replace the address space.

The flow follows fs/exec.c: do_execveat_common() opens the file for execution (do_open_execat: MAY_EXEC,
regular file, not on a noexec mount) and builds a linux_binprm; bprm_execve() takes cred_guard_mutex
(held until setup_new_exec(); exec_mmap() adds exec_update_lock for write since v5.7), prepares the
credentials and notes unsafe states (ptraced, shared fs_struct, no_new_privs); the binary
handler (binfmt_elf.load_elf_binary) checks the image and calls begin_new_exec(), the point of no return:
set-uid/set-gid bits and capabilities (bprm_fill_uid + commoncap's cap_bprm_creds_from_file), the new mm,
close-on-exec descriptors, the dumpable flag, comm, and commit_creds().

Errors before the point of no return come back from execve; after it the task is killed with SIGSEGV, as
the kernel does (the program that called execve no longer exists to see an error).

Simplification: only the simplified ELF format (binfmt_elf.py) is recognised, no "#!" scripts or
binfmt_misc; argv/envp are counted and kept on the bprm but not written to the stack; file capabilities
(security.capability xattrs) are not modelled; the exec file's write denial is only checked (ETXTBSY when
it is open for writing), not held.

Linux: fs/exec.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from attrs import define, field

from simkernel.errors import KernelError
from simkernel.uapi import errno as E
from simkernel.uapi import fcntl as F
from simkernel.uapi import stat as S

if TYPE_CHECKING:
    from simkernel.fs.file import File
    from simkernel.kernel.cred import Cred
    from simkernel.kernel.task import Task
    from simkernel.mm.mm_types import MmStruct

__all__ = ["LinuxBinprm", "do_execve", "do_execveat_common", "open_exec", "do_open_execat", "bprm_fill_uid",
           "would_dump", "begin_new_exec", "setup_new_exec", "BINPRM_BUF_SIZE", "MAX_ARG_STRINGS",
           "BINPRM_FLAGS_ENFORCE_NONDUMP"]

BINPRM_BUF_SIZE = 256
MAX_ARG_STRINGS = 0x7FFFFFFF
MAX_ARG_STRLEN = 32 * 4096
EXEC_ARG_LIMIT = 2 << 20         # bprm_stack_limits() with the default 8 MiB stack: RLIMIT_STACK / 4
BINPRM_FLAGS_ENFORCE_NONDUMP = 1 << 0
SIGSEGV = 11


@define(eq=False)
class LinuxBinprm:
    """struct linux_binprm (include/linux/binfmts.h): one exec in progress."""

    file: File = field(repr=False)
    filename: str
    argv: tuple[str, ...] = ()
    envp: tuple[str, ...] = ()
    buf: bytes = field(default=b"", repr=False)         # the start of the file (the whole description here)
    cred: Cred | None = field(default=None, repr=False)
    mm: MmStruct | None = field(default=None, repr=False)
    unsafe: int = 0
    per_clear: bool = False
    secureexec: bool = False
    cap_effective: bool = False
    interp_flags: int = 0
    point_of_no_return: bool = False
    entry: int = 0
    # the exec locks this exec holds (released by setup_new_exec(), or on the way out after an error)
    cred_guard_held: bool = False
    exec_update_held: bool = False


# -- opening ---------------------------------------------------------------------------------------------------

def do_open_execat(current: Task, dfd: int, name: str, flags: int = 0) -> File:
    """Open `name` for execution: walk (following links), may_open(MAY_EXEC), regular and not noexec.

    Raises:
        KernelError(EINVAL): flags other than AT_SYMLINK_NOFOLLOW / AT_EMPTY_PATH.
        KernelError: the walk's errno (ENOENT, ENOTDIR, ELOOP, EACCES for search permission, ...).
        KernelError(EACCES): a directory, device, fifo or socket; no exec permission; a noexec mount.
        KernelError(ETXTBSY): the file is open for writing.

    Linux: fs/exec.c:do_open_execat(); fs/namei.c:may_open()
    """
    from simkernel.fs.file_table import alloc_file
    from simkernel.fs.inode import MAY_EXEC
    from simkernel.fs.mount import MNT_NOEXEC
    from simkernel.fs.namei import LOOKUP_FOLLOW, filename_lookup
    from simkernel.fs.open import may_open
    if flags & ~(F.AT_SYMLINK_NOFOLLOW | F.AT_EMPTY_PATH):
        raise KernelError(E.EINVAL, explain="execveat: unknown flags")
    lookup = 0 if flags & F.AT_SYMLINK_NOFOLLOW else LOOKUP_FOLLOW
    path = filename_lookup(current, dfd, name, lookup)
    open_flags = F.O_LARGEFILE | F.O_RDONLY
    may_open(current, path, MAY_EXEC, open_flags)
    inode = path.dentry.d_inode
    if not S.S_ISREG(inode.i_mode) or path.mnt.mnt_flags & MNT_NOEXEC:
        raise KernelError(E.EACCES, explain="exec of a non-regular file or on a noexec mount")
    if inode.i_writecount > 0:
        raise KernelError(E.ETXTBSY, explain="the program is open for writing")
    f = alloc_file(path, open_flags, None, current)
    from simkernel.fs.file import FMODE_EXEC
    f.f_mode |= FMODE_EXEC
    if f.f_op.open is not None:
        f.f_op.open(current, inode, f)
    return f


def open_exec(current: Task, name: str) -> File:
    """Open an interpreter for execution. Linux: fs/exec.c:open_exec()"""
    return do_open_execat(current, F.AT_FDCWD, name, 0)


# -- credentials -----------------------------------------------------------------------------------------------

def prepare_exec_creds(current: Task) -> Cred:
    """prepare_creds() with suid = fsuid = euid and sgid = fsgid = egid. Linux: kernel/cred.c"""
    import attrs
    c = current.cred
    return attrs.evolve(c, suid=c.euid, fsuid=c.euid, sgid=c.egid, fsgid=c.egid)


def check_unsafe_exec(current: Task, bprm: LinuxBinprm) -> None:
    """LSM_UNSAFE_PTRACE when traced, _NO_NEW_PRIVS, _SHARE when another process shares our fs_struct.

    Linux: fs/exec.c:check_unsafe_exec()
    """
    from simkernel.security.commoncap import LSM_UNSAFE_NO_NEW_PRIVS, LSM_UNSAFE_PTRACE, LSM_UNSAFE_SHARE
    if current.ptrace_parent is not None:
        bprm.unsafe |= LSM_UNSAFE_PTRACE
    if current.no_new_privs:
        bprm.unsafe |= LSM_UNSAFE_NO_NEW_PRIVS
    fs = current.fs
    n_fs = 1 + sum(1 for t in current.signal.threads if t is not current and t.fs is fs)
    if fs is not None and fs.users > n_fs:
        bprm.unsafe |= LSM_UNSAFE_SHARE


def bprm_fill_uid(current: Task, bprm: LinuxBinprm) -> None:
    """Set-uid / set-gid bits: euid from the file owner (S_ISUID), egid from its group (S_ISGID with S_IXGRP).

    Ignored on a nosuid mount, under no_new_privs, when exec permission vanished, or when the owner or
    group has no mapping in the caller's user namespace.

    Linux: fs/exec.c:bprm_fill_uid()
    """
    import attrs
    from simkernel.fs.inode import MAY_EXEC, inode_permission
    from simkernel.fs.mount import MNT_NOSUID
    from simkernel.kernel.user_namespace import kgid_has_mapping, kuid_has_mapping
    file = bprm.file
    inode = file.f_inode
    assert bprm.cred is not None
    if file.f_path.mnt.mnt_flags & MNT_NOSUID or current.no_new_privs:
        return
    mode = inode.i_mode
    if not mode & (S.S_ISUID | S.S_ISGID):
        return
    try:
        inode_permission(current, inode, MAY_EXEC)
    except KernelError:
        return
    ns = bprm.cred.user_ns
    if not kuid_has_mapping(ns, inode.i_uid) or not kgid_has_mapping(ns, inode.i_gid):
        return
    if mode & S.S_ISUID:
        bprm.per_clear = True
        bprm.cred = attrs.evolve(bprm.cred, euid=inode.i_uid)
    if mode & (S.S_ISGID | S.S_IXGRP) == S.S_ISGID | S.S_IXGRP:
        bprm.per_clear = True
        bprm.cred = attrs.evolve(bprm.cred, egid=inode.i_gid)


def bprm_creds_from_file(current: Task, bprm: LinuxBinprm) -> None:
    """bprm_fill_uid(), then security_bprm_creds_from_file() (commoncap). Linux: fs/exec.c"""
    from simkernel.security.commoncap import cap_bprm_creds_from_file
    from simkernel.fs.mount import MNT_NOSUID
    bprm_fill_uid(current, bprm)
    assert bprm.cred is not None
    r = cap_bprm_creds_from_file(current, current.cred, bprm.cred, file_caps=None,
                                 nosuid=bool(bprm.file.f_path.mnt.mnt_flags & MNT_NOSUID), unsafe=bprm.unsafe)
    bprm.cred, bprm.secureexec, bprm.cap_effective = r.cred, r.secureexec, r.cap_effective
    bprm.per_clear = bprm.per_clear or r.per_clear


def would_dump(current: Task, bprm: LinuxBinprm, file: File) -> None:
    """An unreadable program (or interpreter) forces a non-dumpable result and lifts mm->user_ns to a
    namespace where the file's owner and group are mapped.

    Linux: fs/exec.c:would_dump()
    """
    from simkernel.fs.inode import MAY_READ, inode_permission
    from simkernel.kernel.capability import privileged_wrt_inode_uidgid
    inode = file.f_inode
    try:
        inode_permission(current, inode, MAY_READ)
    except KernelError:
        bprm.interp_flags |= BINPRM_FLAGS_ENFORCE_NONDUMP
        assert bprm.mm is not None
        ns = bprm.mm.user_ns
        while ns.parent is not None and not privileged_wrt_inode_uidgid(ns, inode):
            ns = ns.parent
        bprm.mm.user_ns = ns


# -- the point of no return ------------------------------------------------------------------------------------

def _de_thread(current: Task) -> None:
    """Make current the only thread: the others exit; a non-leader takes over the leader's pid.

    Simplification: the other threads are reaped at once; a non-leader caller swaps pid and struct pid with
    the old leader (exchange_tids), which is released.

    Linux: fs/exec.c:de_thread()
    """
    from simkernel.kernel.exit import _exit_one, release_task
    from simkernel.kernel.task import EXIT_ZOMBIE, TASK_RUNNING
    leader = current.group_leader
    for t in list(current.signal.threads):
        if t is current:
            continue
        if t.state == TASK_RUNNING:
            _exit_one(t, SIGSEGV)  # SIGKILL in the kernel; the code is never reported for threads
        if t is not leader:
            t.state = EXIT_ZOMBIE
            release_task(t)
    if leader is not current:
        k = current.kernel
        k.tasks.pop(current.pid, None)
        k.tasks.pop(leader.pid, None)
        current.thread_pid, leader.thread_pid = leader.thread_pid, current.thread_pid
        current.pid, leader.pid = leader.pid, current.pid
        current.thread_pid.task = current.thread_pid.tgid_task = current
        leader.thread_pid.task, leader.thread_pid.tgid_task = leader, None
        k.tasks[current.pid] = current
        k.tasks[leader.pid] = leader
        current.real_parent = leader.real_parent
        if leader.real_parent is not None:
            leader.real_parent.children.append(current)
        for child in list(leader.children):
            leader.children.remove(child)
            child.real_parent = current
            current.children.append(child)
        current.group_leader = current
        leader.group_leader = current
        leader.state = EXIT_ZOMBIE
        release_task(leader)


def _exec_mmap(current: Task, bprm: LinuxBinprm, mm: MmStruct) -> None:
    """Install the new mm; drop the old one.

    Since v5.7 (profile `exec_update_lock`) first takes signal->exec_update_lock for write, killably, and
    keeps it until setup_new_exec(): mm_access() and the 2026 /proc link checks take it for read, so they
    see either the old mm with the old credentials or the new mm with the new ones.  The old mm's mmap lock
    is held for read around the switch (the core-dump check); its release is a preemption point where the
    new mm is installed and the credentials are still the old ones.

    Raises:
        KernelError(EINTR): a fatal signal while waiting for exec_update_lock.

    Linux: fs/exec.c:exec_mmap()
    """
    from simkernel.mm.mmap import mmput
    if current.kernel.version.exec_update_lock:
        current.signal.exec_update_lock.down_write_killable(current)
        bprm.exec_update_held = True
    old = current.mm
    if old is not None:
        old.mmap_lock.down_read(current)
    current.mm = current.active_mm = mm
    if old is not None:
        old.mmap_lock.up_read(current)
        mmput(old)


def _exec_unlock(current: Task, bprm: LinuxBinprm) -> None:
    """Drop the exec locks still held: exec_update_lock, then cred_guard_mutex.

    Linux: fs/exec.c:setup_new_exec() (success), begin_new_exec() out_unlock and free_bprm() (errors)
    """
    sig = current.signal
    if bprm.exec_update_held:
        bprm.exec_update_held = False
        sig.exec_update_lock.up_write(current)
    if bprm.cred_guard_held:
        bprm.cred_guard_held = False
        sig.cred_guard_mutex.unlock(current)


def begin_new_exec(current: Task, bprm: LinuxBinprm) -> None:
    """Commit to the new program.

    Order: the new credentials are computed (bprm_creds_from_file) -- the last point an error returns; then
    the other threads go, the fd table is unshared, exe_file is set, would_dump(), the new mm is installed,
    close-on-exec descriptors are closed, secureexec clears pdeath_signal, dumpable becomes
    fs.suid_dumpable when forced non-dumpable or the *old* euid/egid differ from the old uid/gid (else
    SUID_DUMP_USER), comm becomes the file name (15 bytes), and commit_creds() installs the credentials
    (which may clear dumpable again).

    Linux: fs/exec.c:begin_new_exec()
    """
    from simkernel.fs.file_table import fput, get_file
    from simkernel.kernel.cred import commit_creds
    from simkernel.uapi.prctl import SUID_DUMP_USER
    bprm_creds_from_file(current, bprm)
    bprm.point_of_no_return = True
    _de_thread(current)
    files = current.files
    if files is not None and files.count > 1:
        files.count -= 1
        current.files = files = files.dup()
    assert bprm.mm is not None
    bprm.mm.exe_file = get_file(bprm.file)
    would_dump(current, bprm, bprm.file)
    _exec_mmap(current, bprm, bprm.mm)
    bprm.mm = None
    current.flags &= ~0x00000040            # PF_FORKNOEXEC
    if files is not None:
        for fd in sorted(files.close_on_exec):
            f = files.close_fd(fd)
            if f is not None:
                fput(f)
    if bprm.secureexec and hasattr(current, "pdeath_signal"):
        current.pdeath_signal = 0
    c = current.cred
    mm = current.mm
    if bprm.interp_flags & BINPRM_FLAGS_ENFORCE_NONDUMP or not (c.euid == c.uid and c.egid == c.gid):
        mm.set_dumpable(current.kernel.sysctl["fs.suid_dumpable"])
    else:
        mm.set_dumpable(SUID_DUMP_USER)
    current.comm = bprm.filename.rstrip("/").rsplit("/", 1)[-1][:15] if bprm.filename else ""
    assert bprm.cred is not None
    commit_creds(current, bprm.cred)
    bprm.cred = None


def setup_new_exec(current: Task, bprm: LinuxBinprm) -> None:
    """Pick the mmap layout of the new mm, then drop exec_update_lock and cred_guard_mutex: the program's
    segments are mapped after this, with the new credentials already committed.

    Before v5.7 install_exec_creds(), called right after setup_new_exec(), dropped cred_guard_mutex.

    Linux: fs/exec.c:setup_new_exec(); install_exec_creds() before v5.9
    """
    from simkernel.mm.unmapped_area import arch_pick_mmap_layout
    assert current.mm is not None
    arch_pick_mmap_layout(current.mm)
    _exec_unlock(current, bprm)


# -- the system call -------------------------------------------------------------------------------------------

def _bprm_execve(current: Task, bprm: LinuxBinprm) -> None:
    """Linux: fs/exec.c:bprm_execve(), exec_binprm(), search_binary_handler()"""
    from simkernel.fs.binfmt_elf import ELFMAG, load_elf_binary
    from simkernel.fs.read_write import vfs_read
    from simkernel.kernel.exit import do_group_exit
    current.signal.cred_guard_mutex.lock_killable(current)   # prepare_bprm_creds()
    bprm.cred_guard_held = True
    try:
        bprm.cred = prepare_exec_creds(current)
        check_unsafe_exec(current, bprm)
        bprm.buf = vfs_read(current, bprm.file, 64 << 10, 0)
        try:
            if not bprm.buf.startswith(ELFMAG):
                raise KernelError(E.ENOEXEC, explain="no binary format recognises the file (not ELF)")
            load_elf_binary(current, bprm)
        except KernelError:
            if bprm.point_of_no_return:
                do_group_exit(current, SIGSEGV)     # force_fatal_sig(SIGSEGV)
                return
            raise
    finally:
        _exec_unlock(current, bprm)


def do_execveat_common(current: Task, dfd: int, filename: str, argv: Sequence[str], envp: Sequence[str],
                       flags: int) -> None:
    """Open, count and check the arguments, then exec.

    Raises (before the point of no return):
        KernelError: do_open_execat()'s errno; E2BIG for arguments over the limit; ENOEXEC, ELIBBAD, ...
        from the binary handler.

    Linux: fs/exec.c:do_execveat_common()
    """
    from simkernel.fs.file_table import fput
    from simkernel.mm.mmap import mm_alloc, mmput
    file = do_open_execat(current, dfd, filename, flags)
    bprm = LinuxBinprm(file=file, filename=filename, argv=tuple(argv) or ("",), envp=tuple(envp))
    bprm.mm = mm_alloc(current.kernel, current.cred.user_ns)
    if current.mm is not None:
        bprm.mm.dumpable = current.mm.dumpable     # MMF_INIT_MASK carries the dumpable bits
    try:
        strings = (*argv, *envp)
        size = sum(len(s.encode()) + 1 for s in strings) + len(filename.encode()) + 1
        ptrs = (max(len(argv), 1) + len(envp)) * 8
        if size + ptrs > EXEC_ARG_LIMIT or any(len(s.encode()) + 1 > MAX_ARG_STRLEN for s in strings):
            raise KernelError(E.E2BIG, explain="argument list too long (bprm_stack_limits, copy_strings)")
        _bprm_execve(current, bprm)
    finally:
        if bprm.mm is not None:
            mmput(bprm.mm)
        fput(file)


def do_execve(current: Task, path: str, argv: Sequence[str] = (), envp: Sequence[str] = ()) -> None:
    """execve(2). See do_execveat_common(). Linux: fs/exec.c:do_execve()"""
    do_execveat_common(current, F.AT_FDCWD, path, argv, envp, 0)
