"""The machine: one `Kernel` object owns every piece of simulation state.

Boot builds the initial user and pid namespaces, the root filesystem, the internal shmem mount, the init
task (pid 1, uid 0, full capability sets) and procfs at /proc.  Pids, inode numbers, device numbers and the
clock come from per-kernel counters, so the same script gives the same output, and two kernels in one
process never touch each other.

Linux: init/main.c (start_kernel, kernel_init), kernel/sysctl.c
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

from attrs import define, field

from simkernel.kernel.user_namespace import UserNamespace

if TYPE_CHECKING:
    from simkernel.fs.mount import MntNamespace, VfsMount
    from simkernel.kernel.task import PidNamespace, Task
    from simkernel.versions import VersionProfile

__all__ = ["Kernel", "Sysctl", "BOOT_TIME_NS"]

# 2012-01-10 23:00:00 UTC: the author date of 640708a2cff7, which added map_files.
BOOT_TIME_NS = 1326236400 * 1_000_000_000
CLOCK_STEP_NS = 1_000_000  # the clock advances 1 ms per syscall: deterministic, and ls -l times differ


@define(eq=False)
class Sysctl:
    """The sysctls this model reads, by their /proc/sys names (dots for slashes)."""

    values: dict[str, int] = field(factory=lambda: {
        "vm.max_map_count": 65530,
        "vm.mmap_min_addr": 4096,
        "vm.memfd_noexec": 0,
        "fs.suid_dumpable": 0,
        # as on the reference host (systemd's defaults): hard links protected, the others off
        "fs.protected_hardlinks": 1,
        "fs.protected_symlinks": 0,
        "fs.protected_regular": 0,
        "fs.protected_fifos": 0,
        "kernel.yama.ptrace_scope": 0,
        "kernel.pid_max": 4194304,
        "kernel.overflowuid": 65534,
        "kernel.overflowgid": 65534,
    })

    def __getitem__(self, name: str) -> int:
        return self.values[name]

    def __setitem__(self, name: str, value: int) -> None:
        if name not in self.values:
            raise KeyError(f"unknown sysctl {name!r}")
        self.values[name] = int(value)

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)


@define(eq=False)
class Kernel:
    """A booted simulated Linux kernel.

    Example:
        >>> import simkernel
        >>> k = simkernel.Kernel()
        >>> k.init.pid, k.init.cred.euid
        (1, 0)

    Args:
        version: the release profile whose map_files behaviour to model (see `simkernel.VERSIONS`).
        yama: model a kernel built with Yama (kernel.yama.ptrace_scope exists); the host here has none.
        lockdep: boot with the lock validator (`k.lockdep`; simkernel/kernel/locking/lockdep.py).
        ref_tracker: boot with the refcount ledger (`k.ref_tracker`; simkernel/lib/ref_tracker.py).
        fault_injection: a CONFIG_FAULT_INJECTION build: /proc/<pid>/fail-nth (simkernel/fs/proc/fail_nth.py).
    """

    version: Any = None
    yama: bool = False
    sysctl: Sysctl = field(factory=Sysctl)
    clock_ns: int = BOOT_TIME_NS
    init_user_ns: UserNamespace = field(factory=UserNamespace.initial, repr=False)
    init_pid_ns: PidNamespace = field(default=None, repr=False)  # type: ignore[assignment]
    init_mnt_ns: MntNamespace = field(default=None, repr=False)  # type: ignore[assignment]
    shm_mnt: VfsMount = field(default=None, repr=False)  # type: ignore[assignment]
    init: Task = field(default=None, repr=False)  # type: ignore[assignment]
    tasks: dict[int, Task] = field(factory=dict, repr=False)   # every live or zombie task by global tid
    hooks: dict[str, Any] = field(factory=dict, repr=False)    # overridable kernel functions (patches)
    _counters: dict[str, int] = field(factory=dict, repr=False, alias="_counters")
    devices: dict[int, Any] = field(factory=dict, repr=False)  # char devices: rdev -> file_operations
    lsm_hooks: list[Any] = field(factory=list, repr=False)     # security_* hook list (security/lsm.py)
    oopses: list[Any] = field(factory=list, repr=False)        # KernelBug reports of the modelled release (dmesg)
    # Cost counters of work the kernel does that the model skips without changing a result (benchmarks/):
    # "vma_visits" counts the VMAs Linux's map_files readdir walks (the whole list on every getdents call).
    stats: dict[str, int] = field(factory=dict, repr=False)
    # Debugging facilities, off unless asked for at boot (like CONFIG_PROVE_LOCKING, CONFIG_REF_TRACKER):
    # Kernel(lockdep=True) installs the lock validator (kernel/locking/lockdep.py), Kernel(ref_tracker=True)
    # the refcount ledger (lib/ref_tracker.py).  Off, each costs one attribute test per lock or reference.
    lockdep: Any = field(default=False, repr=False)
    ref_tracker: Any = field(default=False, repr=False)
    # Built with CONFIG_FAULT_INJECTION: /proc/<pid>/fail-nth exists (this machine's kernel has none, so the
    # default lists /proc/<pid> as the host does).  `k.fail_nth()` works either way.
    fault_injection: bool = field(default=False, repr=False)
    # The interleaving scheduler while the race explorer runs this kernel (kernel/sched/), else None.
    sched: Any = field(default=None, repr=False)
    # Syscall entry/exit work (like the kernel's syscall_work flags): objects with syscall_enter(current,
    # name) and syscall_exit(current, name, errno); empty unless a debugging facility needs it.
    syscall_work: list[Any] = field(factory=list, repr=False)
    # fail-nth fault injection (lib/fault_inject.py): its bookkeeping (None until first armed), and the task
    # whose syscall is running while a countdown is armed (for fault points that have no `current` at hand).
    fault_inject: Any = field(default=None, repr=False)
    fault_current: Any = field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        from simkernel.versions import resolve_version
        self.version = resolve_version(self.version)
        if self.lockdep is True:
            from simkernel.kernel.locking.lockdep import Lockdep
            self.lockdep = Lockdep(self)
        self.lockdep = self.lockdep or None
        if self.ref_tracker is True:
            from simkernel.lib.ref_tracker import RefTracker
            self.ref_tracker = RefTracker(self)
        self.ref_tracker = self.ref_tracker or None
        from simkernel.init import start_kernel
        start_kernel(self)

    # -- deterministic counters -------------------------------------------------------------------
    def next_id(self, name: str, start: int = 1) -> int:
        """A per-kernel counter: next_id("ino") is get_next_ino(), next_id("mnt_id") numbers mounts."""
        v = self._counters.get(name, start - 1) + 1
        self._counters[name] = v
        return v

    def get_next_ino(self) -> int:
        """get_next_ino(): inode numbers for pseudo filesystems (procfs pid entries, shmem). Linux: fs/inode.c"""
        return self.next_id("ino", start=self.version.first_ino if self.version is not None else 1)

    def tick(self) -> int:
        """Advance the clock one step (called once per syscall) and return it."""
        self.clock_ns += CLOCK_STEP_NS
        return self.clock_ns

    def current_time(self) -> int:
        return self.clock_ns

    # -- lookups -----------------------------------------------------------------------------------
    def find_task(self, tid: int) -> Task | None:
        """find_task_by_vpid() in the initial pid namespace: a live or zombie task, None if reaped."""
        return self.tasks.get(tid)

    def spawn(self, comm: str, uid: int = 0, gid: int = 0, groups: tuple[int, ...] | list[int] = (),
              caps: Any = None, parent: Task | None = None, dumpable: bool = True) -> Task:
        """Fork `parent` (default init), name it, and switch credentials with the kernel's own rules.

        setgroups, setresgid and setresuid run as the child itself, so a non-root result ends with no
        capabilities (cap_task_fix_setuid).  `caps=None` keeps those rules; an iterable of CAP_* numbers
        then sets exactly those in effective and permitted (through capset, after PR_SET_KEEPCAPS-free
        transitions this needs the caps to still be permitted, so PR_SET_KEEPCAPS is set across the uid
        change, as `setpriv --reuid --keep-caps` would).  The uid change makes the mm non-dumpable
        (fs.suid_dumpable = 0); `dumpable=True` (the default, as after exec'ing a program) ends with
        prctl(PR_SET_DUMPABLE, 1).  `simkernel.host.HostKernel.spawn` does the same on the real kernel.
        """
        from simkernel.kernel.spawn import spawn
        return spawn(self, comm, uid=uid, gid=gid, groups=tuple(groups), caps=caps, parent=parent,
                     dumpable=dumpable)

    def trace(self, syscalls_only: bool = False, max_depth: int | None = None, **kwargs: Any) -> Any:
        """`with k.trace() as tr:` records the kernel call graph of every syscall inside (simkernel/trace.py).

        Nothing is installed outside the block, so tracing costs nothing when off.
        """
        from simkernel.trace import Trace
        return Trace(self, syscalls_only=syscalls_only, max_depth=max_depth, **kwargs)

    def strace(self, task: Task | None = None) -> Any:
        """`with k.strace() as st:` logs every syscall inside in strace's format (simkernel/strace.py)."""
        from simkernel.strace import Strace
        return Strace(self, task=task)

    # -- design experiments (simkernel/patch.py) ----------------------------------------------------
    def patch(self, target: Any, fn: Any = None, *, name: str = "") -> Any:
        """Replace a kernel function or operation-table slot in this kernel only; `fn(orig, *args)`.

        `k.patch("fs/proc/base.c:proc_map_files_readdir", fn)` returns the `Patch` (`.remove()` undoes it);
        as a decorator, `@k.patch(proc_map_files_readdir)` applies it and returns the function.  See
        simkernel/patch.py for the targets and how other kernels stay untouched.
        """
        from simkernel.patch import apply_patch
        if fn is None:
            def decorator(f: Any) -> Any:
                apply_patch(self, target, f, name)
                return f
            return decorator
        return apply_patch(self, target, fn, name)

    def unpatch(self, target: Any = None) -> None:
        """Remove the newest patch of `target`, or every patch of this kernel (target None)."""
        from simkernel.patch import unpatch
        unpatch(self, target)

    def patched(self, target: Any, fn: Any) -> Any:
        """`with k.patched(target, fn):` -- a patch for the duration of the block."""
        from simkernel.patch import patched
        return patched(self, target, fn)

    @property
    def patches(self) -> list[Any]:
        """The active patches of this kernel, oldest first."""
        from simkernel.patch import active_patches
        return active_patches(self)

    # -- fault injection (simkernel/lib/fault_inject.py) ---------------------------------------------
    def fail_nth(self, task: Task, n: int) -> None:
        """Make the n-th fault point of `task`'s next syscall fail (n = 0: cancel), like writing n to
        /proc/<tid>/fail-nth just before it; disarmed when that syscall returns.  Fault points: allocations
        (ENOMEM), killable locks (EINTR), get_task_mm() (no mm), dentry allocation (ENOMEM).

        Example: `k.fail_nth(t, 1); t.sys.readlink(path)` raises MemoryError (ENOMEM) if point 1 is an
        allocation; `k.fail_nth_result(t)` then gives FailNthResult(syscall, errno, injected, remaining).
        """
        from simkernel.lib.fault_inject import fail_nth_arm
        fail_nth_arm(self, task, n)

    def fail_nth_result(self, task: Task) -> Any:
        """What the last `fail_nth()`-armed syscall of `task` did: a FailNthResult (syscall, errno,
        injected: FaultRecord or None when the countdown did not reach 0, remaining), or None."""
        from simkernel.lib.fault_inject import fail_nth_result
        return fail_nth_result(self, task)

    def __repr__(self) -> str:
        extra = f" patched={len(self.hooks['patches'])}" if self.hooks.get("patches") else ""
        return f"<Kernel {self.version.name if self.version else '?'} tasks={len(self.tasks)}{extra}>"
