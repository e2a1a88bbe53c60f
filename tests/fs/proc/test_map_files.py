"""Unit tests of simkernel/fs/proc/map_files.py (Linux: fs/proc/base.c, map_files section)."""

from __future__ import annotations

import pytest

from simkernel.errors import KernelError
from simkernel.fs.dcache import cant_mount, d_lookup
from simkernel.fs.file import FMODE_READ, FMODE_WRITE
from simkernel.fs.proc.internal import PROC_I
from simkernel.fs.proc.map_files import (
    dname_to_vma_addr, map_files_d_revalidate, map_files_get_link, proc_map_files_get_link,
    proc_map_files_instantiate, proc_map_files_lookup,
)
from simkernel.kernel.task import PF_KTHREAD
from simkernel.uapi import (
    CAP_CHECKPOINT_RESTORE, CAP_DAC_READ_SEARCH, CAP_SYS_ADMIN, EACCES, EINTR, EINVAL, EISDIR, ENOENT,
    ENOTDIR, EPERM, ESRCH, O_DIRECTORY, O_RDONLY, PR_SET_DUMPABLE, S_IFLNK,
)
from tests.fs.proc.prockit import BASE, PAGE, dentry_of, mf, profile, rng, setup
from tests.helpers import kraises, raises_errno


# -- dname_to_vma_addr ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, want", [
    ("400000-452000", (0x400000, 0x452000)),
    ("7F00-7F01", (0x7F00, 0x7F01)),
    ("7f00-7F01", (0x7F00, 0x7F01)),
    ("0-1000", (0, 0x1000)),
    ("0-0", (0, 0)),
    ("-1000", (0, 0x1000)),
    ("1-", (1, 0)),
    ("-", (0, 0)),
    ("ffffffffffffffff-ffffffffffffffff", (2**64 - 1, 2**64 - 1)),
])
def test_dname_to_vma_addr_accepts(name: str, want: tuple[int, int]) -> None:
    """Well-formed names parse (any case; a lone 0; zero digits before the dash parse as 0)."""
    assert dname_to_vma_addr(name) == want


@pytest.mark.parametrize("name", [
    "0400000-452000", "00-1000", "400000-0452000", "0-01000", " 1-2", "1 -2", "1- 2", "1-2 ", "1-2\n", "0x1-2",
    "1-0x2", "+1-2", "1-+2", "1--2", "12", "1,2", "1-2z", "10000000000000000-1", "1-10000000000000000",
    "", "g-1", "1-g", "\u0661-2",
])
def test_dname_to_vma_addr_rejects(name: str) -> None:
    """Whitespace, 0x, signs, junk, missing dash, leading zeros and overflow are rejected (None)."""
    assert dname_to_vma_addr(name) is None


def test_dname_to_vma_addr_rejects_17_digits() -> None:
    """17 hex digits overflow an unsigned long."""
    assert dname_to_vma_addr("1" + "0" * 16 + "-1") is None


# -- lookup ----------------------------------------------------------------------------------------
def test_lookup_canonical_name_instantiates_symlink() -> None:
    """A name of an exact file-backed VMA gives a symlink inode 0400 (read-only open), size 64."""
    s = setup()
    st = s.root.sys.lstat(mf(s.t, s.ro))
    assert (st.st_mode, st.st_size, st.st_nlink, st.st_uid) == (S_IFLNK | 0o400, 64, 1, 1000)


def test_lookup_rw_open_gives_mode_0600() -> None:
    """A VMA of a file opened O_RDWR gives mode 0600."""
    s = setup()
    assert s.root.sys.lstat(mf(s.t, s.rw)).st_mode == S_IFLNK | 0o600


def test_lookup_anonymous_vma_is_enoent() -> None:
    """A private anonymous VMA of exactly that range has no vm_file: ENOENT."""
    s = setup()
    with raises_errno(ENOENT):
        s.root.sys.lstat(mf(s.t, s.anon))


def test_lookup_sub_range_is_enoent() -> None:
    """Only exact VMA ranges resolve."""
    s = setup()
    with raises_errno(ENOENT):
        s.root.sys.readlink(mf(s.t, rng(BASE, BASE + PAGE)))


def test_lookup_malformed_name_before_permission_is_enoent() -> None:
    """2026 order: a malformed name is ENOENT even for a caller that fails the ptrace check."""
    s = setup()
    w = s.k.spawn("drs", uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH])
    with raises_errno(ENOENT):
        w.sys.readlink(mf(s.t, "0" + s.ro))
    with raises_errno(EACCES):
        w.sys.readlink(mf(s.t, s.ro))


def test_lookup_pre2026_checks_permission_first() -> None:
    """6.18 before the back-port: the ptrace check comes first, so a malformed name is EACCES."""
    s = setup(version="6.18")
    w = s.k.spawn("drs", uid=1001, gid=1001, caps=[CAP_DAC_READ_SEARCH])
    with raises_errno(EACCES):
        w.sys.readlink(mf(s.t, "0" + s.ro))


def test_lookup_pre2026_zombie_is_enoent() -> None:
    """6.18 before the back-port: a well-formed name of a task without mm is ENOENT (not ESRCH)."""
    s = setup(version="6.18")
    d = dentry_of(s.root, mf(s.t))
    s.t.mm, mm = None, s.t.mm
    with kraises(ENOENT):
        proc_map_files_lookup(s.root, d.d_inode, _new_child(d, s.ro), 0)
    s.t.mm = mm


def _new_child(parent, name):
    from simkernel.fs.dcache import d_alloc
    return d_alloc(parent, name)


def test_lookup_task_without_mm_is_esrch() -> None:
    """6.18.44: mm_access() gives ESRCH for a task without mm (kernel thread, zombie)."""
    s = setup()
    d = dentry_of(s.root, mf(s.t))
    s.t.mm, mm = None, s.t.mm
    try:
        with kraises(ESRCH):
            proc_map_files_lookup(s.root, d.d_inode, _new_child(d, s.ro), 0)
    finally:
        s.t.mm = mm


def test_lookup_reaped_task_is_enoent() -> None:
    """get_proc_task() is None once the pid is released: ENOENT."""
    s = setup()
    d = dentry_of(s.root, mf(s.t))
    PROC_I(d.d_inode).pid.task = None
    with kraises(ENOENT):
        proc_map_files_lookup(s.root, d.d_inode, _new_child(d, s.ro), 0)


def test_lookup_fatal_signal_on_mmap_lock_is_eintr() -> None:
    """6.18 profile (no exec_update_lock in lookup): the killable mmap lock gives EINTR."""
    s = setup(version="6.18")
    d = dentry_of(s.root, mf(s.t))
    s.root.fatal_signal_pending = True
    with kraises(EINTR):
        proc_map_files_lookup(s.root, d.d_inode, _new_child(d, s.ro), 0)


def test_lookup_fatal_signal_on_exec_update_lock_is_eintr() -> None:
    """6.18.44: mm_access() takes exec_update_lock killably first: EINTR."""
    s = setup()
    d = dentry_of(s.root, mf(s.t))
    s.root.fatal_signal_pending = True
    with kraises(EINTR):
        proc_map_files_lookup(s.root, d.d_inode, _new_child(d, s.ro), 0)


def test_lookup_nondumpable_same_uid_is_eacces() -> None:
    """A non-dumpable target: the root-owned 0500 directory stops a same-uid caller (EACCES)."""
    s = setup(dumpable=0)
    w = s.k.spawn("same", uid=1000, gid=1000)
    with raises_errno(EACCES):
        w.sys.readlink(mf(s.t, s.ro))


# -- instantiate -----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmode, mode", [(FMODE_READ, 0o400), (FMODE_READ | FMODE_WRITE, 0o600),
                                         (FMODE_WRITE, 0o200), (0, 0)])
def test_proc_map_files_instantiate_mode_from_fmode(fmode: int, mode: int) -> None:
    """S_IRUSR for FMODE_READ, S_IWUSR for FMODE_WRITE; dont_mount() set (v6.12+)."""
    s = setup()
    d = dentry_of(s.root, mf(s.t))
    child = proc_map_files_instantiate(_new_child(d, "1-2"), s.t, fmode)
    assert child.d_inode.i_mode == S_IFLNK | mode
    assert child.d_inode.i_size == 64
    assert cant_mount(child)


def test_proc_map_files_instantiate_before_v612_is_mountable() -> None:
    """Without map_files_dont_mount (before v6.12) the entry dentry may be mounted on."""
    s = setup(version=profile(map_files_dont_mount=False))
    d = dentry_of(s.root, mf(s.t))
    child = proc_map_files_instantiate(_new_child(d, "1-2"), s.t, FMODE_READ)
    assert not cant_mount(child)


# -- d_revalidate ----------------------------------------------------------------------------------
def _cached(s, name):
    s.root.sys.lstat(mf(s.t, name))
    d = dentry_of(s.root, mf(s.t))
    child = d_lookup(d, name)
    assert child is not None
    return child


def test_map_files_d_revalidate_valid_refreshes_owner() -> None:
    """While the VMA exists the dentry is valid and the owner follows task_dump_owner()."""
    s = setup()
    child = _cached(s, s.ro)
    child.d_inode.i_uid = 4242
    assert map_files_d_revalidate(s.root, child, 0) is True
    assert child.d_inode.i_uid == 1000


def test_map_files_d_revalidate_vanished_vma_is_invalid() -> None:
    """After munmap the cached entry is invalid and the walk reports ENOENT."""
    s = setup()
    child = _cached(s, s.ro)
    s.t.sys.munmap(BASE, 2 * PAGE)
    assert map_files_d_revalidate(s.root, child, 0) is False
    with raises_errno(ENOENT):
        s.root.sys.lstat(mf(s.t, s.ro))


def test_map_files_d_revalidate_gone_task_is_invalid() -> None:
    """A released pid makes the entry invalid."""
    s = setup()
    child = _cached(s, s.ro)
    PROC_I(child.d_inode).pid.task = None
    assert map_files_d_revalidate(s.root, child, 0) is False


def test_map_files_d_revalidate_denied_mm_is_invalid() -> None:
    """A caller that loses ptrace access gets "invalid" (then the lookup's EACCES)."""
    s = setup()
    w = s.k.spawn("same", uid=1000, gid=1000)
    w.sys.lstat(mf(s.t, s.ro))
    child = d_lookup(dentry_of(s.root, mf(s.t)), s.ro)
    s.t.sys.prctl(PR_SET_DUMPABLE, 0)
    assert map_files_d_revalidate(w, child, 0) is False


def test_map_files_d_revalidate_no_mm_is_invalid() -> None:
    """A task without mm (ESRCH from mm_access): invalid, and the re-lookup says ESRCH."""
    s = setup()
    child = _cached(s, s.ro)
    s.t.mm, mm = None, s.t.mm
    try:
        assert map_files_d_revalidate(s.root, child, 0) is False
    finally:
        s.t.mm = mm


def test_map_files_d_revalidate_no_mm_pre613_is_invalid() -> None:
    """Before the mm_access() ESRCH refactor a missing mm is NULL: still invalid."""
    s = setup(version=profile(mm_access_esrch=False))
    child = _cached(s, s.ro)
    s.t.mm, mm = None, s.t.mm
    try:
        assert map_files_d_revalidate(s.root, child, 0) is False
    finally:
        s.t.mm = mm


def test_map_files_d_revalidate_malformed_name_is_invalid() -> None:
    """A dentry whose name does not parse (only reachable by hand) is invalid."""
    s = setup()
    child = _cached(s, s.ro)
    child.d_name = "zz"
    assert map_files_d_revalidate(s.root, child, 0) is False


def test_map_files_d_revalidate_fatal_signal_in_mm_access_is_invalid() -> None:
    """EINTR from mm_access()'s exec_update_lock only makes the dentry invalid (IS_ERR(mm) -> 0); the
    re-lookup then reports EINTR."""
    s = setup()
    child = _cached(s, s.ro)
    s.root.fatal_signal_pending = True
    assert map_files_d_revalidate(s.root, child, 0) is False


def test_map_files_d_revalidate_mmap_lock_eintr_aborts() -> None:
    """EINTR from the killable mmap lock aborts revalidation itself (v5.3+)."""
    s = setup()
    child = _cached(s, s.ro)

    class Killed:
        def down_read_killable(self, current):
            raise KernelError(EINTR)
    lock, s.t.mm.mmap_lock = s.t.mm.mmap_lock, Killed()
    try:
        with kraises(EINTR):
            map_files_d_revalidate(s.root, child, 0)
    finally:
        s.t.mm.mmap_lock = lock


# -- get_link / readlink / follow ------------------------------------------------------------------
def test_map_files_get_link_returns_vm_file_path() -> None:
    """The link target is the mapped file's path."""
    s = setup()
    assert s.root.sys.readlink(mf(s.t, s.ro)) == "/srv/mf/ro"


def test_map_files_get_link_no_mm_is_enoent() -> None:
    """get_task_mm() None: ENOENT."""
    s = setup()
    child = _cached(s, s.ro)
    s.t.mm, mm = None, s.t.mm
    try:
        with kraises(ENOENT):
            map_files_get_link(s.root, child, s.t)
    finally:
        s.t.mm = mm


def test_map_files_get_link_vanished_vma_is_enoent() -> None:
    """The VMA went away between revalidation and get_link: ENOENT (no oops since v3.14)."""
    s = setup()
    child = _cached(s, s.ro)
    s.t.sys.munmap(BASE, PAGE)
    with kraises(ENOENT):
        map_files_get_link(s.root, child, s.t)


def test_map_files_get_link_malformed_name_is_einval() -> None:
    """The (unreachable) parse failure in get_link is EINVAL."""
    s = setup()
    child = _cached(s, s.ro)
    child.d_name = "zz"
    with kraises(EINVAL):
        map_files_get_link(s.root, child, s.t)


def test_readlink_buffer_cut_without_nul() -> None:
    """readlink into 5 bytes returns the first 5 bytes of the path."""
    s = setup()
    assert s.root.sys.readlink(mf(s.t, s.ro), bufsiz=5) == "/srv/"


def test_follow_without_capability_is_eperm() -> None:
    """A same-uid caller may readlink but not follow: EPERM."""
    s = setup()
    w = s.k.spawn("same", uid=1000, gid=1000)
    assert w.sys.readlink(mf(s.t, s.ro)) == "/srv/mf/ro"
    with raises_errno(EPERM):
        w.sys.open(mf(s.t, s.ro), O_RDONLY)


@pytest.mark.parametrize("cap", [CAP_CHECKPOINT_RESTORE, CAP_SYS_ADMIN])
def test_follow_with_capability_opens_target(cap: int) -> None:
    """CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN lets a same-uid caller open the mapped file."""
    s = setup()
    w = s.k.spawn("same", uid=1000, gid=1000, caps=[cap])
    fd = w.sys.open(mf(s.t, s.ro), O_RDONLY)
    assert w.sys.fstat(fd).st_ino == s.root.sys.stat("/srv/mf/ro").st_ino


def test_follow_pre59_needs_sys_admin() -> None:
    """Before v5.9 only CAP_SYS_ADMIN allowed following."""
    s = setup(version=profile(checkpoint_restore_cap=False))
    w = s.k.spawn("cr", uid=1000, gid=1000, caps=[CAP_CHECKPOINT_RESTORE])
    with raises_errno(EPERM):
        w.sys.open(mf(s.t, s.ro), O_RDONLY)
    w2 = s.k.spawn("adm", uid=1000, gid=1000, caps=[CAP_SYS_ADMIN])
    w2.sys.close(w2.sys.open(mf(s.t, s.ro), O_RDONLY))


def test_proc_map_files_get_link_checks_capability_first() -> None:
    """The capability check precedes the ptrace check: an unprivileged caller sees EPERM even when the
    ptrace check would also fail."""
    s = setup()
    child = _cached(s, s.ro)
    w = s.k.spawn("other", uid=1001, gid=1001)
    with kraises(EPERM):
        proc_map_files_get_link(w, child, child.d_inode, None)


def test_readlink_reaped_task_is_enoent() -> None:
    """The 2026 FD-links form: readlink of an entry whose task was reaped is ENOENT."""
    s = setup()
    child = _cached(s, s.ro)
    PROC_I(child.d_inode).pid.task = None
    from simkernel.fs.proc.base import proc_pid_readlink
    with kraises(ENOENT):
        proc_pid_readlink(s.root, child, 4096)


# -- readdir ---------------------------------------------------------------------------------------
def test_readdir_lists_file_vmas_in_order() -> None:
    """One name per file-backed VMA, ascending; anonymous VMAs are absent."""
    s = setup()
    assert s.root.sys.listdir(mf(s.t)) == [s.ro, s.rw]


def test_readdir_entries_are_instantiated_links() -> None:
    """getdents reports DT_LNK and the inode number a later lstat gives."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    got = s.root.sys.getdents(fd, 4096)
    assert [n for n, *_ in got] == [".", "..", s.ro, s.rw]
    assert got[2][2] == 10 and got[2][1] == s.root.sys.lstat(mf(s.t, s.ro)).st_ino
    assert [off for *_, off in got] == [1, 2, 3, 4]


def test_readdir_denied_after_dots_is_eacces() -> None:
    """2026 order: dots first, then EACCES from mm_access on the next call."""
    s = setup()
    w = s.k.spawn("same", uid=1000, gid=1001)
    fd = w.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    assert [n for n, *_ in w.sys.getdents(fd, 4096)] == [".", ".."]
    with raises_errno(EACCES):
        w.sys.getdents(fd, 4096)


def test_readdir_pre2026_denied_is_eacces_at_once() -> None:
    """Before the back-port: the ptrace check precedes the dots."""
    s = setup(version="6.18")
    w = s.k.spawn("same", uid=1000, gid=1001)
    fd = w.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    with raises_errno(EACCES):
        w.sys.getdents(fd, 4096)


def test_readdir_no_mm_lists_dots_only() -> None:
    """A task without mm lists as empty (ESRCH from mm_access is swallowed)."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    s.t.mm, mm = None, s.t.mm
    try:
        assert [n for n, *_ in s.root.sys.getdents(fd, 4096)] == [".", ".."]
    finally:
        s.t.mm = mm


def test_readdir_no_mm_pre613_lists_dots_only() -> None:
    """Before the ESRCH refactor (mm_access NULL) a task without mm also lists as empty."""
    s = setup(version=profile(mm_access_esrch=False))
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    s.t.mm, mm = None, s.t.mm
    try:
        assert [n for n, *_ in s.root.sys.getdents(fd, 4096)] == [".", ".."]
    finally:
        s.t.mm = mm


def test_readdir_pre2026_no_mm_lists_dots_only() -> None:
    """6.18 (get_task_mm() None after the dots) lists dots only."""
    s = setup(version="6.18")
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    s.t.mm, mm = None, s.t.mm
    try:
        assert [n for n, *_ in s.root.sys.getdents(fd, 4096)] == [".", ".."]
    finally:
        s.t.mm = mm


def test_readdir_reaped_task_is_enoent() -> None:
    """An open map_files fd of a reaped task: ENOENT."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    PROC_I(s.root.files.fget(fd).f_inode).pid.task = None
    with raises_errno(ENOENT):
        s.root.sys.getdents(fd, 4096)


def test_readdir_fatal_signal_is_eintr() -> None:
    """A fatal signal while locking after the dots: the call returns the dots, the next EINTR."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    s.root.fatal_signal_pending = True
    assert [n for n, *_ in s.root.sys.getdents(fd, 4096)] == [".", ".."]
    with raises_errno(EINTR):
        s.root.sys.getdents(fd, 4096)


def test_readdir_small_buffer_resumes() -> None:
    """A buffer for one entry at a time walks the whole directory with consecutive d_off."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    seen = []
    for want in (24, 24, 48, 48):
        seen += s.root.sys.getdents(fd, want)
    assert [(n, off) for n, _i, _t, off in seen] == [(".", 1), ("..", 2), (s.ro, 3), (s.rw, 4)]
    assert s.root.sys.getdents(fd, 48) == []


def test_readdir_buffer_too_small_is_einval() -> None:
    """A buffer that cannot hold the next record: EINVAL."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    with raises_errno(EINVAL):
        s.root.sys.getdents(fd, 23)
    s.root.sys.lseek(fd, 2, 0)
    with raises_errno(EINVAL):
        s.root.sys.getdents(fd, 47)


def test_readdir_failed_instantiation_emits_unknown() -> None:
    """proc_fill_cache(): a failing instantiation still emits the name, with d_ino 1 and DT_UNKNOWN."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    import simkernel.fs.proc.map_files as M
    orig = M.proc_map_files_instantiate

    def boom(*a, **kw):
        raise KernelError(ENOENT)
    M.proc_map_files_instantiate = boom
    try:
        got = s.root.sys.getdents(fd, 4096)
    finally:
        M.proc_map_files_instantiate = orig
    assert (got[2][1], got[2][2]) == (1, 0)


def test_map_files_dir_read_is_eisdir() -> None:
    """read(2) on the directory: EISDIR (generic_read_dir)."""
    s = setup()
    fd = s.root.sys.open(mf(s.t), O_RDONLY | O_DIRECTORY)
    with raises_errno(EISDIR):
        s.root.sys.read(fd, 10)


def test_map_files_entry_is_not_a_directory() -> None:
    """Walking through an entry as a directory: ENOTDIR."""
    s = setup()
    with raises_errno(ENOTDIR):
        s.root.sys.stat(mf(s.t, s.ro) + "/")


def test_map_files_kernel_thread_lookup_is_esrch() -> None:
    """A kernel thread has no mm: listing is empty and names give ESRCH (6.18.44)."""
    s = setup()
    s.t.flags |= PF_KTHREAD
    assert s.root.sys.listdir(mf(s.t)) == []
    with raises_errno(ESRCH):
        s.root.sys.lstat(mf(s.t, s.ro))
