"""How the tracer and the strace log render values: a kernel object, a flag word, a C string, in a few characters.

`render_value` and `render_args` give the tracer's `task 42`, `MAY_EXEC|MAY_READ`, `dentry '2/map_files'`;
`flags` and `quote` are strace's printflags and string quoting, used by both (simkernel/strace_xlat.py builds
its decoders on them).  Rendering only reads objects: no system call, no dentry created, no clock moved.

Carved from simkernel/trace.py (the value rendering) and simkernel/strace.py (flags, quote).  Like them,
this module is tracer machinery: simkernel/trace.py lists it among the modules never recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from simkernel.uapi.capability import CAP_NAMES

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["render_value", "render_args", "flags", "quote", "capability_name", "STRING_LIMIT"]

STRING_LIMIT = 32        # strace -s 32 (the default)
_MAX_VALUE = 48          # characters of one rendered value before it is cut with "..."


def flags(value: int, table: tuple[tuple[str, int], ...], zero: str = "0") -> str:
    """strace's printflags: names in table order, then the unknown rest in hex; `zero` for 0.

    Example: flags(0x22, _MAP_FLAGS) == "MAP_ANONYMOUS|0x2" (the table of simkernel/strace_xlat.py).
    """
    if value == 0:
        return zero
    parts, rest = [], value
    for name, bit in table:
        if bit and rest & bit == bit:
            parts.append(name)
            rest &= ~bit
    if rest:
        parts.append(hex(rest))
    return "|".join(parts)


def quote(data: str | bytes, limit: int | None = STRING_LIMIT) -> str:
    """A C string as strace prints it: "\\177ELF\\2\\1" with octal escapes; `limit` bytes, then "...".

    Examples: quote(b"hi\\n") == '"hi\\\\n"'; quote(b"\\x7fELF\\x02") == '"\\\\177ELF\\\\2"'.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    cut = limit is not None and len(data) > limit
    if cut:
        data = data[:limit]  # type: ignore[index]
    out = []
    special = {0x22: '\\"', 0x5C: "\\\\", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r"}
    for i, b in enumerate(data):
        if b in special:
            out.append(special[b])
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            nxt = data[i + 1] if i + 1 < len(data) else None
            if nxt is not None and 0x30 <= nxt <= 0x37:
                out.append(f"\\{b:03o}")
            else:
                out.append(f"\\{b:o}")
    return '"' + "".join(out) + '"' + ("..." if cut else "")

def capability_name(cap: int) -> str:
    """A capability number by name: 19 -> "CAP_SYS_PTRACE"; an unknown number stays a number."""
    return CAP_NAMES[cap].upper() if cap in CAP_NAMES else str(cap)


def _cut(text: str, limit: int = _MAX_VALUE) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _dentry_name_path(dentry: Any) -> str:
    """Names from the dentry up to its superblock root: 'map_files' under '2' -> '2/map_files'."""
    parts = []
    d = dentry
    while d.d_parent is not d:
        parts.append(d.d_name)
        d = d.d_parent
    return "/".join(reversed(parts)) or "/"


def _path_text(mnt: Any, dentry: Any) -> str:
    """The path of (mnt, dentry) from the namespace root, without asking ->d_dname (no side effects)."""
    from simkernel.fs.d_path import prepend_path
    from simkernel.fs.path import Path
    root_mnt = mnt
    while root_mnt.mnt_parent is not None and root_mnt.mnt_parent is not root_mnt:
        root_mnt = root_mnt.mnt_parent
    text, _code = prepend_path(Path(mnt, dentry), Path(root_mnt, root_mnt.mnt_root))
    return text


def _cred_text(v: Any) -> str:
    if v.uid == v.euid == v.suid == v.fsuid:
        return f"cred {v.uid}"
    return f"cred {v.uid}/{v.euid}/{v.suid}/{v.fsuid}"


# Kernel objects by their identity, keyed by class name (no imports: the tracer must not load modules).
_RENDERERS: dict[str, Callable[[Any], str]] = {
    "Task": lambda v: f"task {v.pid}",
    "Inode": lambda v: f"inode {v.i_ino}",
    "Dentry": lambda v: f"dentry '{_dentry_name_path(v)}'",
    "Path": lambda v: f"path {_path_text(v.mnt, v.dentry)}",
    "File": lambda v: f"file {_path_text(v.f_path.mnt, v.f_path.dentry)}",
    "NameiData": lambda v: f"nd@{_path_text(v.path.mnt, v.path.dentry)}",
    "VmAreaStruct": lambda v: f"vma {v.vm_start:x}-{v.vm_end:x}",
    "MmStruct": lambda v: f"mm {v.mm_id}",
    "Cred": _cred_text,
    "MntNamespace": lambda v: f"mnt_ns {v.ns_id}",
    "PidEntry": lambda v: f"pid_entry '{v.name}'",
    "ProcFsInfo": lambda v: "proc_fs_info",
    "UserNamespace": lambda v: "init_user_ns" if v.level == 0 else f"user_ns level {v.level}",
    "RwSemaphore": lambda v: str(v.name),
    "Mutex": lambda v: str(v.name),
    "VfsMount": lambda v: f"mount {v.mnt_id}",
    "SuperBlock": lambda v: f"sb {v.s_id}",
    "Pid": lambda v: f"pid {v.nr}",
    "PidNamespace": lambda v: f"pid_ns level {v.level}",
    "stat_result": lambda v: f"stat(ino={v.st_ino}, mode={v.st_mode:o})",
}


def _render_object(v: Any) -> str | None:
    """`task 42`, `inode 17`, `dentry '2/map_files'`, `vma 7f00-7f01`, a function's name, or None."""
    fn = _RENDERERS.get(type(v).__name__)
    if fn is not None:
        return fn(v)
    if callable(v) and hasattr(v, "__name__"):
        return str(v.__name__)
    return None


_MAY = (("MAY_EXEC", 0x1), ("MAY_WRITE", 0x2), ("MAY_READ", 0x4), ("MAY_APPEND", 0x8), ("MAY_ACCESS", 0x10),
        ("MAY_OPEN", 0x20), ("MAY_CHDIR", 0x40), ("MAY_NOT_BLOCK", 0x80))
_PTRACE_MODE_FUNCS = frozenset({"mm_access", "may_access_mm", "proc_mem_open"})   # `mode` is PTRACE_MODE_*
_PTRACE_MODE = (("PTRACE_MODE_READ", 0x1), ("PTRACE_MODE_ATTACH", 0x2), ("PTRACE_MODE_NOAUDIT", 0x4),
                ("PTRACE_MODE_FSCREDS", 0x8), ("PTRACE_MODE_REALCREDS", 0x10))


def render_value(v: Any, name: str = "", func: str = "") -> str:
    """One argument or return value in a few characters; `name` is the parameter name, `func` the callee.

    Examples: a Task -> "task 42"; mask=5 -> "MAY_EXEC|MAY_READ"; cap=19 -> "CAP_SYS_PTRACE";
    dfd=-100 -> "AT_FDCWD"; 0x7f0000001000 -> "0x7f0000001000"; a long string is cut with "...".
    """
    if v is None or v is True or v is False:
        return repr(v)
    if isinstance(v, int):
        return _render_int(v, name, func)
    if isinstance(v, str):
        return _cut(quote(v, None))
    if isinstance(v, (bytes, bytearray)):
        return _cut(repr(bytes(v)))
    if isinstance(v, (tuple, list)) and type(v).__name__ != "stat_result":
        inner = ", ".join(render_value(x) for x in v[:4]) + (", ..." if len(v) > 4 else "")
        text = f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
        return _cut(text, 2 * _MAX_VALUE)
    obj = _render_object(v)
    if obj is not None:
        return _cut(obj, 2 * _MAX_VALUE)
    return type(v).__name__


def _render_int(v: int, name: str, func: str) -> str:
    if name == "mask" and 0 <= v < 0x100:
        return flags(v, _MAY)
    if name == "mode" and ("ptrace" in func or func in _PTRACE_MODE_FUNCS):
        return flags(v, _PTRACE_MODE)
    if name == "cap":
        return capability_name(v)
    if name in ("dfd", "dirfd") and v == -100:
        return "AT_FDCWD"
    if name == "mode":
        return f"0{v:o}" if v else "0"
    if name in ("flags", "vm_flags", "prot") and v:
        return hex(v)
    if v >= 0x10000 or v < -0x10000:
        return hex(v)
    return str(v)


def render_args(frame: FrameType) -> str:
    """The arguments of a function call, rendered; `current`, the kernel object and `why` (a simulation-only
    out-parameter for explanations, see kernel/ptrace.py:ptrace_may_access) are left out."""
    code = frame.f_code
    local = frame.f_locals
    n = code.co_argcount + code.co_kwonlyargcount
    parts = []
    for pname in code.co_varnames[:n]:
        if pname in ("current", "why"):
            continue
        v = local.get(pname)
        if type(v).__name__ == "Kernel":
            continue
        if pname == "self":
            obj = _render_object(v)
            if obj is None:
                continue
            parts.append(obj)
            continue
        parts.append(render_value(v, pname, code.co_name))
    return ", ".join(parts)
