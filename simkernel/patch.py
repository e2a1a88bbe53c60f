"""Patches: replace a kernel function or an operation-table entry for ONE `Kernel` instance, from a notebook.

A design experiment is a replacement that receives the original first and may call it:

    >>> import simkernel
    >>> from simkernel.errors import KernelError
    >>> k = simkernel.Kernel()
    >>> @k.patch("fs/proc/base.c:proc_map_files_readdir")
    ... def quiet(orig, current, file, ctx):
    ...     raise KernelError(13, "this experiment lists nothing")
    >>> t = k.spawn("app", uid=1000, gid=1000)
    >>> t.sys.listdir(f"/proc/{t.pid}/map_files")
    Traceback (most recent call last):
    ...
    PermissionError: [Errno 13] Permission denied: '/proc/2/map_files'
    >>> other = simkernel.Kernel(); u = other.spawn("app", uid=1000, gid=1000)
    >>> u.sys.listdir(f"/proc/{u.pid}/map_files")     # another kernel: untouched
    []
    >>> k.unpatch("proc_map_files_readdir"); t.sys.listdir(f"/proc/{t.pid}/map_files")
    []

Targets: a kernel function (the object, `"name"`, `"fs/proc/base.c:name"` -- the C file is a hint, the
function is found among simkernel's modules by its kernel name -- or `"simkernel.fs.proc.map_files:name"`),
or an operation-table slot (`"PROC_MAP_FILES_OPERATIONS.iterate_shared"`), which changes the calls through
that table only.  Patches stack: a second patch of the same target receives the first as its `orig`.

How the kernel finds a patch cheaply.  The first time any kernel patches a target, the target is made a
patch point for the whole process: the function is wrapped in a `PatchPoint` that every module global and
every operation table, pid_entry row or other table holding the function now holds instead.  A patch point
finds the kernel of the call (from `current`, the first argument of most kernel functions, else from an
argument that belongs to one kernel -- a task, mm, inode, dentry, superblock, file -- else from the system
call running on that kernel) and looks its key up in that kernel's `hooks` dict; without an entry it calls
the original.  So an unpatched kernel never pays anything until some kernel in the process patches that very
function, then one dict lookup per call; two kernels side by side never see each other's patches.  The
wrapper mimics the original for the tracer (same `__code__`, `__name__`, annotations), so traces look the
same, and a replacement defined outside simkernel is not recorded -- the original it calls is.

Simplification: a function reachable only through a closure (the show functions of /proc/<pid> text files)
or called before the first patch was installed through a local reference cannot be redirected; patch its
caller or its table slot instead.

Linux: none -- livepatch (kernel/livepatch/) is the real counterpart: per-function redirection (ftrace),
the old function still callable, but for the whole machine.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import pkgutil
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterator

from attrs import define, field

if TYPE_CHECKING:
    from simkernel.machine import Kernel

__all__ = ["PatchPoint", "Patch", "PatchError", "apply_patch", "remove_patch", "unpatch", "patched", "resolve",
           "active_patches", "PATCH_POINTS"]

# The call sites the map_files story turns on (documentation and a test make sure each resolves).
PATCH_POINTS = (
    "fs/proc/base.c:proc_map_files_lookup", "fs/proc/base.c:proc_map_files_readdir",
    "fs/proc/base.c:map_files_d_revalidate", "fs/proc/base.c:proc_map_files_get_link",
    "fs/proc/base.c:map_files_get_link", "fs/proc/base.c:proc_map_files_instantiate",
    "fs/proc/base.c:dname_to_vma_addr", "fs/proc/base.c:proc_pid_readlink", "fs/proc/fd.c:proc_fd_permission",
    "kernel/ptrace.c:ptrace_may_access", "kernel/ptrace.c:__ptrace_may_access", "kernel/fork.c:mm_access",
    "kernel/fork.c:may_access_mm", "fs/namei.c:generic_permission",
    "PROC_MAP_FILES_INODE_OPERATIONS.lookup", "PROC_MAP_FILES_INODE_OPERATIONS.permission",
    "PROC_MAP_FILES_OPERATIONS.iterate_shared", "PROC_MAP_FILES_LINK_INODE_OPERATIONS.get_link",
    "PROC_MAP_FILES_LINK_INODE_OPERATIONS.readlink", "TID_MAP_FILES_DENTRY_OPERATIONS.d_revalidate",
)

_PATCHES_KEY = "patches"          # k.hooks["patches"]: the active Patch handles, oldest first
_RUNNING: list[Any] = []          # kernels running a system call now (innermost last)
_POINTS: list[PatchPoint] = []    # every patch point installed in this process
_TABLE_TYPES = ("InodeOperations", "FileOperations", "DentryOperations", "VmOperationsStruct", "PidEntry")


class PatchError(LookupError):
    """A patch target that names no kernel function or table slot, or names several."""


def _kernel_of_object(a: Any) -> Any:
    """The Kernel an argument belongs to (a Kernel, a task, mm, superblock, inode, dentry, file), or None."""
    if type(a).__name__ in ("Kernel", "MiniKernel"):
        return a
    for attr in ("kernel", "i_sb", "d_sb", "f_inode", "vm_mm"):
        sub = getattr(a, attr, None)
        if sub is None or isinstance(a, (int, str, bytes)):
            continue
        if attr == "kernel":
            return sub
        return _kernel_of_object(sub)
    return None


def _kernel_of_args(args: tuple[Any, ...]) -> Any:
    for a in args:
        k = _kernel_of_object(a)
        if k is not None:
            return k
    return _RUNNING[-1] if _RUNNING else None


class PatchPoint:
    """A kernel function made patchable: calls the kernel's patch for `key` if it has one, else the original.

    Looks like the original to `inspect` and to the tracer (`__wrapped__`, `__code__`, `__globals__`,
    `__name__`, `__annotations__`).
    """

    def __init__(self, orig: Callable[..., Any], key: str) -> None:
        functools.update_wrapper(self, orig)
        self.key = key
        self.__code__ = getattr(orig, "__code__", None)
        self.__globals__ = getattr(orig, "__globals__", {})
        self.__defaults__ = getattr(orig, "__defaults__", None)
        code = self.__code__
        self._current_first = bool(code is not None and code.co_argcount and code.co_varnames[0] == "current")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._current_first and args:
            k = args[0].kernel
        else:
            k = _kernel_of_args(args)
        if k is not None:
            hooks = k.hooks
            if hooks:
                fn = hooks.get(self.key)
                if fn is not None:
                    return fn(*args, **kwargs)
        return self.__wrapped__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<patch point {self.key}>"


@define(eq=False)
class Patch:
    """One active patch of one kernel: `remove()` undoes it."""

    kernel: Any = field(repr=False)
    key: str
    fn: Callable[..., Any] = field(repr=False)
    original: Callable[..., Any] = field(repr=False)
    name: str = ""

    def remove(self) -> None:
        remove_patch(self)

    def __repr__(self) -> str:
        return f"<Patch {self.name or getattr(self.fn, '__name__', '?')} on {self.key}>"


# -- finding the target --------------------------------------------------------------------------------------

def _simkernel_modules(import_all: bool = False) -> list[Any]:
    if import_all:
        import simkernel
        for info in pkgutil.walk_packages(simkernel.__path__, "simkernel."):
            if info.name.startswith(("simkernel.host.child",)) or info.name == "simkernel.__main__":
                continue
            with contextlib.suppress(Exception):
                importlib.import_module(info.name)
    return [m for name, m in sorted(sys.modules.items())
            if m is not None and (name == "simkernel" or name.startswith("simkernel."))]


def _is_function(v: Any) -> bool:
    return inspect.isfunction(v) or isinstance(v, PatchPoint)


def _defines(m: Any, name: str) -> bool:
    """Does module `m` define the table `name` itself (rather than import it)?"""
    try:
        src = inspect.getsource(m)
    except (OSError, TypeError):
        return False
    return f"\n{name} = " in src or f"\n{name}, " in src or f", {name} = " in src


def _find_global(name: str, hint: str = "") -> list[tuple[Any, str]]:
    """(module, name) pairs defining `name` as a kernel function or an operation table (not imports)."""
    found: list[tuple[Any, str]] = []
    for import_all in (False, True):
        found = []
        tables: dict[int, list[Any]] = {}
        for m in _simkernel_modules(import_all):
            v = m.__dict__.get(name)
            if v is None:
                continue
            if _is_function(v):
                if getattr(inspect.unwrap(v), "__module__", None) == m.__name__:
                    found.append((m, name))
            elif name.isupper() and type(v).__name__ in _TABLE_TYPES[:4]:
                tables.setdefault(id(v), []).append(m)
        for mods in tables.values():
            owners = [m for m in mods if _defines(m, name)] or mods
            found.append((owners[0], name))
        if found:
            break
    if len(found) > 1 and hint:
        pref = [(m, n) for m, n in found
                if hint in (m.__doc__ or "") or hint in (getattr(m.__dict__[n], "__doc__", None) or "")]
        if pref:
            found = pref
    return found


def resolve(target: Any) -> tuple[Any, str, str | None]:
    """(owner module, global name, table slot or None) of a patch target.

    Raises:
        PatchError: nothing or more than one thing has that name.
    """
    if isinstance(target, PatchPoint) or inspect.isfunction(target):
        fn = inspect.unwrap(target)
        m = sys.modules.get(getattr(fn, "__module__", ""), None)
        if m is None or inspect.unwrap(m.__dict__.get(fn.__name__, None) or (lambda: None)) is not fn:
            raise PatchError(f"{target!r} is not a module-level kernel function of simkernel")
        return m, fn.__name__, None
    if not isinstance(target, str):
        raise PatchError(f"a patch target is a kernel function or a name, not {target!r}")
    text = target
    module_name = hint = ""
    if ":" in text:
        left, text = text.split(":", 1)
        if left.startswith("simkernel"):
            module_name = left
        else:
            hint = left
    name, _, slot = text.partition(".")
    if module_name:
        m = importlib.import_module(module_name)
        if name not in m.__dict__:
            raise PatchError(f"{module_name} has no {name!r}")
        found = [(m, name)]
    else:
        found = _find_global(name, hint)
    if not found:
        raise PatchError(f"no simkernel kernel function or operation table is named {name!r}")
    if len(found) > 1:
        where = ", ".join(f"{m.__name__}:{n}" for m, n in found)
        raise PatchError(f"{name!r} is ambiguous ({where}); say 'module:{name}'")
    m, name = found[0]
    if slot:
        table = m.__dict__[name]
        if not hasattr(table, slot) or not callable(getattr(table, slot)):
            raise PatchError(f"{m.__name__}:{name} has no function in slot {slot!r}")
        return m, name, slot
    if not _is_function(m.__dict__[name]):
        raise PatchError(f"{m.__name__}:{name} is a table: name a slot ({name}.lookup, ...)")
    return m, name, None


# -- making a target a patch point --------------------------------------------------------------------------

def _replace_everywhere(orig: Any, point: PatchPoint) -> None:
    """Every simkernel module global and table field that holds `orig` now holds `point`."""
    seen: set[int] = set()

    def fix_table(obj: Any) -> None:
        if id(obj) in seen:
            return
        seen.add(id(obj))
        for name in getattr(type(obj), "__slots__", ()) or getattr(obj, "__dict__", {}):
            v = getattr(obj, name, None)
            if v is orig:
                object.__setattr__(obj, name, point)
            elif type(v).__name__ in _TABLE_TYPES:
                fix_table(v)

    for m in _simkernel_modules():
        d = m.__dict__
        for gname, v in list(d.items()):
            if v is orig:
                d[gname] = point
            elif type(v).__name__ in _TABLE_TYPES:
                fix_table(v)
            elif isinstance(v, tuple) and v and type(v[0]).__name__ in _TABLE_TYPES:
                for row in v:
                    fix_table(row)


def _patch_point(m: Any, name: str, slot: str | None) -> PatchPoint:
    """The PatchPoint of a target, installed on first use (process-wide, inert for unpatched kernels)."""
    if slot is None:
        v = m.__dict__[name]
        if isinstance(v, PatchPoint):
            return v
        point = PatchPoint(v, f"{m.__name__}:{name}")
        _replace_everywhere(v, point)
        for other in _POINTS:           # a table slot made patchable earlier now calls through the function's
            if other.__wrapped__ is v:
                other.__wrapped__ = point
        _POINTS.append(point)
        return point
    table = m.__dict__[name]
    v = getattr(table, slot)
    key = f"{m.__name__}:{name}.{slot}"
    if isinstance(v, PatchPoint) and v.key == key:
        return v
    point = PatchPoint(v, key)
    object.__setattr__(table, slot, point)
    _POINTS.append(point)
    return point


# -- per-kernel state ---------------------------------------------------------------------------------------

def active_patches(kernel: Kernel) -> list[Patch]:
    """The kernel's active patches, oldest first."""
    return list(kernel.hooks.get(_PATCHES_KEY, ()))


def _compose(kernel: Kernel, key: str, original: Callable[..., Any]) -> None:
    """Rebuild kernel.hooks[key]: the newest patch of `key`, whose orig is the one before, ... the original."""
    layer: Callable[..., Any] | None = None
    for p in kernel.hooks.get(_PATCHES_KEY, ()):
        if p.key == key:
            layer = functools.partial(p.fn, layer if layer is not None else original)
    if layer is None:
        kernel.hooks.pop(key, None)
    else:
        kernel.hooks[key] = layer


def _syscall_layer(name: str, fn: Callable[..., Any], current: Any, args: tuple[Any, ...],
                   call_next: Callable[..., Any]) -> Any:
    """Marks the kernel whose system call is running (for patch points with no kernel in their arguments)."""
    _RUNNING.append(current.kernel)
    try:
        return call_next(fn, current, *args)
    finally:
        _RUNNING.pop()


def apply_patch(kernel: Kernel, target: Any, fn: Callable[..., Any], name: str = "") -> Patch:
    """Patch `target` in `kernel` only: `fn(orig, *args)` replaces it; `orig(*args)` runs what was there.

    Raises:
        PatchError: the target names no kernel function or table slot (or several).
    """
    from simkernel.trace import install_syscall_layer
    m, gname, slot = resolve(target)
    point = _patch_point(m, gname, slot)
    patches = kernel.hooks.setdefault(_PATCHES_KEY, [])
    if not patches:
        install_syscall_layer(kernel, _syscall_layer)
    p = Patch(kernel, point.key, fn, point.__wrapped__, name or getattr(fn, "__name__", ""))
    patches.append(p)
    _compose(kernel, point.key, point.__wrapped__)
    return p


def remove_patch(p: Patch) -> None:
    """Undo one patch (the others of the same target stay, in order)."""
    from simkernel.trace import remove_syscall_layer
    kernel = p.kernel
    patches = kernel.hooks.get(_PATCHES_KEY, [])
    if p not in patches:
        return
    patches.remove(p)
    _compose(kernel, p.key, p.original)
    if not patches:
        del kernel.hooks[_PATCHES_KEY]
        remove_syscall_layer(kernel, _syscall_layer)


def unpatch(kernel: Kernel, target: Any = None) -> None:
    """Remove the newest patch of `target` (every patch when target is None)."""
    patches = active_patches(kernel)
    if target is None:
        for p in reversed(patches):
            remove_patch(p)
        return
    m, gname, slot = resolve(target)
    key = f"{m.__name__}:{gname}" + (f".{slot}" if slot else "")
    mine = [p for p in patches if p.key == key]
    if not mine:
        raise PatchError(f"{key} is not patched in this kernel")
    remove_patch(mine[-1])


@contextlib.contextmanager
def patched(kernel: Kernel, target: Any, fn: Callable[..., Any]) -> Iterator[Patch]:
    """`with patched(k, target, fn):` -- the patch is active inside the block only."""
    p = apply_patch(kernel, target, fn)
    try:
        yield p
    finally:
        remove_patch(p)
