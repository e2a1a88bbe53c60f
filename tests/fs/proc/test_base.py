"""Unit tests of simkernel/fs/proc/base.py (Linux: fs/proc/base.c): the pid directories, hidepid, magic links,
table-driven files (comm, status, maps, uid_map, gid_map, setgroups)."""

from __future__ import annotations

import pytest

from simkernel.fs.proc.base import (
    TGID_BASE_STUFF, TID_BASE_STUFF, UNMODELLED_DIRS, call_proc_get_link, has_pid_permissions, pid_entry_nlink,
    proc_cwd_link, proc_exe_link, proc_pid_permission, proc_root_link,
)
from simkernel.fs.proc.internal import HIDEPID_INVISIBLE, HIDEPID_NO_ACCESS, HIDEPID_NOT_PTRACEABLE, PROC_I
from simkernel.uapi import (
    CLONE_FILES, CLONE_FS, CLONE_NEWUSER, CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, EACCES, EINVAL, EISDIR,
    ENOENT, ENOTDIR, EPERM, ESRCH, O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY, S_IFDIR, S_IFLNK, S_IFREG,
)
from tests.fs.proc.prockit import dentry_of, kernel, mf, profile, setup
from tests.helpers import kraises, raises_errno

THREAD = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD


def _write(t, path, data):
    fd = t.sys.open(path, O_WRONLY)
    try:
        return t.sys.write(fd, data)
    finally:
        t.sys.close(fd)


def _read(t, path):
    fd = t.sys.open(path, O_RDONLY)
    try:
        return t.sys.read(fd, 65536).decode()
    finally:
        t.sys.close(fd)


# -- the tables ------------------------------------------------------------------------------------
def test_tgid_base_stuff_has_map_files_tid_base_stuff_not() -> None:
    """map_files is a row of tgid_base_stuff only (commit 640708a2cff7)."""
    assert "map_files" in [p.name for p in TGID_BASE_STUFF]
    assert "map_files" not in [p.name for p in TID_BASE_STUFF]


def test_pid_entry_nlink_counts_unmodelled_dirs() -> None:
    """nlink of /proc/<pid> is 9 and of /proc/<pid>/task/<tid> is 7, as on a 6.18 x86-64 build."""
    assert len(UNMODELLED_DIRS) == 4
    assert pid_entry_nlink(TGID_BASE_STUFF) == 9
    assert pid_entry_nlink(TID_BASE_STUFF) == 7


def test_pid_dir_stat_mode_owner_nlink() -> None:
    """/proc/<pid>: dr-xr-xr-x, owned by the task's euid/egid even when non-dumpable."""
    s = setup(dumpable=0)
    st = s.root.sys.stat(f"/proc/{s.t.pid}")
    assert (st.st_mode, st.st_uid, st.st_gid, st.st_nlink) == (S_IFDIR | 0o555, 1000, 1000, 9)


def test_map_files_dir_mode_and_owner() -> None:
    """map_files: dr-x------ owned by the task (dumpable) or root (non-dumpable)."""
    s = setup()
    st = s.root.sys.lstat(mf(s.t))
    assert (st.st_mode, st.st_uid, st.st_nlink, st.st_size) == (S_IFDIR | 0o500, 1000, 2, 0)
    s.t.sys.prctl(4, 0)
    assert s.root.sys.lstat(mf(s.t)).st_uid == 0


def test_proc_pident_readdir_lists_table_in_order() -> None:
    """getdents of /proc/<pid>: dots, then the rows of the table in order."""
    s = setup()
    names = s.root.sys.listdir(f"/proc/{s.t.pid}")
    assert names == [p.name for p in TGID_BASE_STUFF]


def test_proc_pident_readdir_small_buffer_resumes() -> None:
    """Reading the pid directory one record at a time resumes at the next row."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}", O_RDONLY | O_DIRECTORY)
    got = []
    while True:
        batch = s.root.sys.getdents(fd, 32)
        if not batch:
            break
        got += [n for n, *_ in batch]
    assert got == [".", ".."] + [p.name for p in TGID_BASE_STUFF]


def test_proc_pident_lookup_unknown_name_is_enoent() -> None:
    """A name that is no row: ENOENT."""
    s = setup()
    with raises_errno(ENOENT):
        s.root.sys.stat(f"/proc/{s.t.pid}/nonexistent")


def test_proc_pident_lookup_reaped_is_enoent() -> None:
    """Lookup in the directory of a released pid: ENOENT."""
    s = setup()
    d = dentry_of(s.root, f"/proc/{s.t.pid}")
    PROC_I(d.d_inode).pid.task = None
    from simkernel.fs.dcache import d_alloc
    from simkernel.fs.proc.base import proc_pident_lookup
    with kraises(ENOENT):
        proc_pident_lookup(s.root, d.d_inode, d_alloc(d, "maps"), TGID_BASE_STUFF)


def test_proc_pident_readdir_reaped_is_enoent() -> None:
    """getdents on /proc/<pid> opened before the reap: ENOENT."""
    s = setup()
    p = s.k.spawn("parent")
    t = s.k.spawn("child", parent=p)
    fd = s.root.sys.open(f"/proc/{t.pid}", O_RDONLY | O_DIRECTORY)
    t.sys.exit(0)
    p.sys.waitpid(t.pid, 0)
    with raises_errno(ENOENT):
        s.root.sys.getdents(fd, 4096)


def test_pid_dir_read_is_eisdir() -> None:
    """read(2) on /proc/<pid>: EISDIR."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}", O_RDONLY | O_DIRECTORY)
    with raises_errno(EISDIR):
        s.root.sys.read(fd, 1)


# -- hidepid ---------------------------------------------------------------------------------------
def _mount(k, opts):
    k.init.sys.mkdir("/mnt2", 0o755)
    k.init.sys.mount("proc", "/mnt2", "proc", 0, opts)


@pytest.mark.parametrize("opts, errno", [("hidepid=1", EPERM), ("hidepid=2", ENOENT), ("hidepid=4", ENOENT)])
def test_proc_pid_permission_hidepid(opts: str, errno: int) -> None:
    """An unrelated user: hidepid=1 EPERM, 2 ENOENT (permission), 4 ENOENT (lookup)."""
    s = setup(uid=0)
    _mount(s.k, opts)
    nobody = s.k.spawn("nobody", uid=65534, gid=65534)
    with raises_errno(errno):
        nobody.sys.listdir(f"/mnt2/{s.t.pid}/map_files")


def test_proc_pid_permission_hidepid_gid_member_passes() -> None:
    """hidepid=2,gid=G: a member passes hidepid and meets the 0500 directory (EACCES)."""
    s = setup(uid=0)
    _mount(s.k, "hidepid=2,gid=4242")
    member = s.k.spawn("member", uid=65534, gid=65534, groups=[4242])
    with raises_errno(EACCES):
        member.sys.listdir(f"/mnt2/{s.t.pid}/map_files")
    assert str(s.t.pid) in member.sys.listdir("/mnt2")


def test_proc_pid_permission_gone_task_is_esrch() -> None:
    """proc_pid_permission() on a released pid: ESRCH."""
    s = setup()
    d = dentry_of(s.root, f"/proc/{s.t.pid}")
    PROC_I(d.d_inode).pid.task = None
    with kraises(ESRCH):
        proc_pid_permission(s.root, d.d_inode, 1)


def test_has_pid_permissions_modes() -> None:
    """has_pid_permissions(): off passes; gid passes; ptraceable always asks ptrace."""
    s = setup(uid=0)
    nobody = s.k.spawn("nobody", uid=65534, gid=65534, groups=[7])
    info = dentry_of(s.root, "/proc").d_sb.s_fs_info
    assert has_pid_permissions(nobody, info, s.t, HIDEPID_INVISIBLE)
    info.hide_pid = HIDEPID_NOT_PTRACEABLE
    assert not has_pid_permissions(nobody, info, s.t, HIDEPID_NO_ACCESS)
    info.hide_pid, info.pid_gid = HIDEPID_INVISIBLE, 7
    assert has_pid_permissions(nobody, info, s.t, HIDEPID_INVISIBLE)
    info.pid_gid = 8
    assert not has_pid_permissions(nobody, info, s.t, HIDEPID_INVISIBLE)
    info.hide_pid, info.pid_gid = 0, 0


def test_pid_getattr_invisible_is_enoent() -> None:
    """hidepid=2: stat of another user's /proc/<pid> is ENOENT (pid_getattr)."""
    s = setup(uid=0)
    _mount(s.k, "hidepid=2")
    nobody = s.k.spawn("nobody", uid=65534, gid=65534)
    with raises_errno(ENOENT):
        nobody.sys.stat(f"/mnt2/{s.t.pid}")


# -- magic links -----------------------------------------------------------------------------------
def test_cwd_root_exe_links() -> None:
    """cwd and root read as the task's paths; exe without an exe_file is ENOENT."""
    s = setup()
    s.t.sys.chdir("/srv")
    assert s.root.sys.readlink(f"/proc/{s.t.pid}/cwd") == "/srv"
    assert s.root.sys.readlink(f"/proc/{s.t.pid}/root") == "/"
    if s.t.mm.exe_file is None:
        with raises_errno(ENOENT):
            s.root.sys.readlink(f"/proc/{s.t.pid}/exe")


def test_magic_links_of_exited_task_are_enoent() -> None:
    """proc_cwd_link/proc_root_link/proc_exe_link after exit (no fs, no mm): ENOENT."""
    s = setup()
    s.t.fs, s.t.mm = None, None
    d = dentry_of(s.root, f"/proc/{s.t.pid}")
    for fn in (proc_cwd_link, proc_root_link, proc_exe_link):
        with kraises(ENOENT):
            fn(s.root, d, s.t)


def test_cwd_link_other_user_is_eacces() -> None:
    """The ptrace check guards every magic link: another user gets EACCES."""
    s = setup()
    other = s.k.spawn("other", uid=1001, gid=1001)
    with raises_errno(EACCES):
        other.sys.readlink(f"/proc/{s.t.pid}/cwd")


def test_cwd_link_follow_chdir() -> None:
    """Following /proc/<pid>/cwd jumps to the directory (nd_jump_link)."""
    s = setup()
    s.t.sys.chdir("/srv/mf")
    s.root.sys.chdir(f"/proc/{s.t.pid}/cwd")
    assert s.root.sys.getcwd() == "/srv/mf"


def test_call_proc_get_link_reaped_2026_is_enoent_before_eacces() -> None:
    """call_proc_get_link(): a gone task is ENOENT since the FD-links patch, EACCES before it."""
    s = setup()
    d = dentry_of(s.root, f"/proc/{s.t.pid}/cwd")
    PROC_I(d.d_inode).pid.task = None
    with kraises(ENOENT):
        call_proc_get_link(s.root, d, d.d_inode)
    s.k.version = profile(proc_link_exec_update_lock=False)
    with kraises(EACCES):
        call_proc_get_link(s.root, d, d.d_inode)


def test_call_proc_get_link_pre2026_ptrace_denied_is_eacces() -> None:
    """Before the FD-links patch a failed ptrace check is EACCES as well."""
    s = setup(version="6.18")
    other = s.k.spawn("other", uid=1001, gid=1001)
    with raises_errno(EACCES):
        other.sys.readlink(f"/proc/{s.t.pid}/cwd")
    assert s.root.sys.readlink(f"/proc/{s.t.pid}/cwd") == "/"


# -- text files ------------------------------------------------------------------------------------
def test_comm_read_and_write_same_group() -> None:
    """comm reads the name; the task itself may rename (cut to 15 chars); others get EINVAL."""
    s = setup()
    assert _read(s.root, f"/proc/{s.t.pid}/comm") == "target\n"
    _write(s.t, f"/proc/{s.t.pid}/comm", b"a-very-long-name-indeed\n")
    assert _read(s.root, f"/proc/{s.t.pid}/comm") == "a-very-long-nam\n"
    with raises_errno(EINVAL):
        _write(s.root, f"/proc/{s.t.pid}/comm", b"x")


def test_comm_write_after_reap_is_esrch() -> None:
    """Writing comm through an fd of a released pid: ESRCH."""
    s = setup()
    fd = s.t.sys.open(f"/proc/{s.t.pid}/comm", O_WRONLY)
    f = s.t.files.fget(fd)
    PROC_I(f.f_inode).pid.task = None
    with raises_errno(ESRCH):
        s.t.sys.write(fd, b"x")


def test_text_file_of_reaped_task_is_esrch_after_buffer() -> None:
    """A text file whose task went away: what the buffer still holds is returned, then ESRCH."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/status", O_RDONLY)
    head = s.root.sys.read(fd, 10)
    PROC_I(s.root.files.fget(fd).f_inode).pid.task = None
    rest = s.root.sys.read(fd, 1 << 16)
    assert (head + rest).startswith(b"Name:\ttarget\nUmask:")
    assert s.root.sys.read(fd, 100) == b""          # past the one record: EOF, no rendering
    assert s.root.sys.lseek(fd, 0, 0) == 0
    with raises_errno(ESRCH):
        s.root.sys.read(fd, 100)
    with raises_errno(ESRCH):
        s.root.sys.lseek(fd, 5, 0)
    assert s.root.sys.lseek(fd, 0, 1) == 0


def test_open_text_file_of_reaped_task_is_esrch() -> None:
    """Opening a text file whose task is gone (dentry still cached): ESRCH from ->open."""
    s = setup()
    _read(s.root, f"/proc/{s.t.pid}/status")
    d = dentry_of(s.root, f"/proc/{s.t.pid}/status")
    from simkernel.fs.proc.base import TGID_BASE_STUFF as T
    status = next(p for p in T if p.name == "status")
    with kraises(ESRCH):
        PROC_I(d.d_inode).pid.task = None
        status.fop.open(s.root, d.d_inode, None)


def test_seq_lseek_on_text_files() -> None:
    """Text files seek with SEEK_SET/SEEK_CUR only (seq_lseek); SEEK_END and negatives are EINVAL."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/status", O_RDONLY)
    assert s.root.sys.lseek(fd, 6, 0) == 6
    assert s.root.sys.lseek(fd, 2, 1) == 8
    with raises_errno(EINVAL):
        s.root.sys.lseek(fd, 0, 2)
    with raises_errno(EINVAL):
        s.root.sys.lseek(fd, -100, 1)


def test_text_file_modes() -> None:
    """Rows carry their modes: status 0444, comm 0644, uid_map 0644, maps 0444."""
    s = setup()
    for name, mode in (("status", 0o444), ("comm", 0o644), ("uid_map", 0o644), ("maps", 0o444)):
        assert s.root.sys.stat(f"/proc/{s.t.pid}/{name}").st_mode == S_IFREG | mode


def test_link_rows_are_0777_symlinks() -> None:
    """cwd, root and exe are lrwxrwxrwx."""
    s = setup()
    assert s.root.sys.lstat(f"/proc/{s.t.pid}/cwd").st_mode == S_IFLNK | 0o777


# -- user namespace maps ---------------------------------------------------------------------------
def test_uid_map_write_after_unshare() -> None:
    """A uid-1000 task in a new user namespace maps its own uid and gid (after setgroups deny)."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    assert _write(u, f"/proc/{u.pid}/setgroups", b"deny") == 4
    assert _write(u, f"/proc/{u.pid}/uid_map", b"0 1000 1") == 8
    assert _write(u, f"/proc/{u.pid}/gid_map", b"0 1000 1") == 8
    assert u.sys.getresuid() == (0, 0, 0)
    assert _read(u, f"/proc/{u.pid}/uid_map") == "         0       1000          1\n"
    assert _read(u, f"/proc/{u.pid}/setgroups") == "deny\n"


def test_uid_map_write_twice_is_eperm() -> None:
    """Maps are write-once."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    _write(u, f"/proc/{u.pid}/uid_map", b"0 1000 1")
    with raises_errno(EPERM):
        _write(u, f"/proc/{u.pid}/uid_map", b"0 1000 1")


def test_uid_map_write_initial_namespace_is_eperm() -> None:
    """The initial namespace's map is fixed."""
    k = kernel()
    with raises_errno(EPERM):
        _write(k.init, f"/proc/{k.init.pid}/uid_map", b"0 0 1")


def test_id_map_write_at_offset_is_einval() -> None:
    """A second write on the same fd (offset != 0) is EINVAL."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    fd = u.sys.open(f"/proc/{u.pid}/uid_map", O_RDWR)
    u.sys.lseek(fd, 3, 0)
    with raises_errno(EINVAL):
        u.sys.write(fd, b"0 1000 1")
    fd2 = u.sys.open(f"/proc/{u.pid}/setgroups", O_RDWR)
    u.sys.lseek(fd2, 1, 0)
    with raises_errno(EINVAL):
        u.sys.write(fd2, b"deny")


def test_id_map_files_pin_the_namespace_at_open() -> None:
    """uid_map/setgroups pin the user namespace at open: they still work once the task is gone."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    u.sys.unshare(CLONE_NEWUSER)
    fd = u.sys.open(f"/proc/{u.pid}/uid_map", O_RDWR)
    fd2 = u.sys.open(f"/proc/{u.pid}/setgroups", O_RDWR)
    PROC_I(u.files.fget(fd).f_inode).pid.task = None
    PROC_I(u.files.fget(fd2).f_inode).pid.task = None
    assert u.sys.write(fd2, b"deny") == 4
    assert u.sys.write(fd, b"0 1000 1") == 8
    assert u.sys.pread(fd, 100, 0) == b"         0       1000          1\n"
    assert u.sys.pread(fd2, 100, 0) == b"deny\n"


def test_setgroups_open_for_write_needs_cap_sys_admin() -> None:
    """Opening setgroups for writing without CAP_SYS_ADMIN over the namespace: EACCES at open."""
    k = kernel()
    u = k.spawn("u", uid=1000, gid=1000)
    with raises_errno(EACCES):
        u.sys.open(f"/proc/{u.pid}/setgroups", O_WRONLY)
    fd = u.sys.open(f"/proc/{u.pid}/setgroups", O_RDONLY)
    assert u.sys.read(fd, 100) == b"allow\n"


# -- task directory --------------------------------------------------------------------------------
def test_task_dir_lists_threads_leader_first() -> None:
    """/proc/<pid>/task lists every thread (leader first); nlink is 2 + threads."""
    s = setup()
    th = s.t.sys.clone(THREAD)
    assert s.root.sys.listdir(f"/proc/{s.t.pid}/task") == [str(s.t.pid), str(th.pid)]
    assert s.root.sys.stat(f"/proc/{s.t.pid}/task").st_nlink == 4


def test_task_dir_small_buffer_and_reaped() -> None:
    """The task directory resumes with small buffers and is ENOENT after the reap."""
    s = setup()
    th = s.t.sys.clone(THREAD)
    fd = s.root.sys.open(f"/proc/{s.t.pid}/task", O_RDONLY | O_DIRECTORY)
    got = []
    while True:
        batch = s.root.sys.getdents(fd, 24)
        if not batch:
            break
        got += [n for n, *_ in batch]
    assert got == [".", "..", str(s.t.pid), str(th.pid)]
    PROC_I(s.root.files.fget(fd).f_inode).pid.task = None
    s.root.sys.lseek(fd, 0, 0)
    with raises_errno(ENOENT):
        s.root.sys.getdents(fd, 4096)


def test_task_lookup_rejects_foreign_and_malformed_tids() -> None:
    """task/<tid>: another process's tid, a malformed number or a gone leader are ENOENT."""
    s = setup()
    for name in (str(s.root.pid), "01", "x", "99999"):
        with raises_errno(ENOENT):
            s.root.sys.stat(f"/proc/{s.t.pid}/task/{name}")
    d = dentry_of(s.root, f"/proc/{s.t.pid}/task")
    from simkernel.fs.dcache import d_alloc
    lookup = d.d_inode.i_op.lookup
    PROC_I(d.d_inode).pid.task = None
    with kraises(ENOENT):
        lookup(s.root, d.d_inode, d_alloc(d, str(s.t.pid)), 0)


def test_task_tid_dir_has_no_map_files() -> None:
    """task/<tid>/map_files does not exist; thread-self/map_files neither."""
    s = setup()
    with raises_errno(ENOENT):
        s.t.sys.listdir(f"/proc/{s.t.pid}/task/{s.t.pid}/map_files")
    with raises_errno(ENOENT):
        s.t.sys.listdir("/proc/thread-self/map_files")


def test_task_getattr_of_reaped_task_keeps_base_nlink() -> None:
    """proc_task_getattr() with the task gone reports the directory's own nlink."""
    s = setup()
    fd = s.root.sys.open(f"/proc/{s.t.pid}/task", O_RDONLY | O_DIRECTORY)
    PROC_I(s.root.files.fget(fd).f_inode).pid.task = None
    assert s.root.sys.fstat(fd).st_nlink == 2


def test_map_files_through_self_from_thread() -> None:
    """A non-leader thread reaches its process's map_files through /proc/self."""
    s = setup()
    th = s.t.sys.clone(THREAD)
    assert len(th.sys.listdir("/proc/self/map_files")) == 2


def test_proc_pid_dir_entry_not_a_directory() -> None:
    """A path through a regular file of /proc/<pid>: ENOTDIR."""
    s = setup()
    with raises_errno(ENOTDIR):
        s.root.sys.stat(f"/proc/{s.t.pid}/status/x")


def test_pid_dir_is_immutable_unlink_is_eperm() -> None:
    """/proc/<pid> and task/<tid> are S_IMMUTABLE: unlink inside is EPERM even for the owner."""
    from simkernel.fs.inode import S_IMMUTABLE
    s = setup()
    with raises_errno(EPERM):
        s.t.sys.unlink(f"/proc/{s.t.pid}/maps")
    assert dentry_of(s.root, f"/proc/{s.t.pid}/task/{s.t.pid}").d_inode.i_flags & S_IMMUTABLE
