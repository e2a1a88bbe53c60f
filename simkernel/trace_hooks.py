"""The syscall hook chain: how the tracer, the strace log and patches share `kernel.hooks["syscall"]`.

`simkernel.syscalls.Sys._call` calls one hook; while tracers, strace loggers or patches are active that hook
is a `SyscallHookChain` of layers, each wrapping the next.  `SyscallLayer` is the `with` block that adds one
layer for its duration (the tracer in simkernel/trace.py, the strace logger in simkernel/strace.py).

Carved from simkernel/trace.py.  Tracer machinery: simkernel/trace.py lists this module among the modules
never recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from simkernel.kernel.task import Task
    from simkernel.machine import Kernel

__all__ = ["SyscallHookChain", "SyscallLayer", "install_syscall_layer", "remove_syscall_layer"]


class SyscallHookChain:
    """The callable kept in `kernel.hooks["syscall"]` while tracers or strace loggers are active.

    Each layer is `layer(name, fn, current, args, call_next)` and must call `call_next(fn, current, *args)`
    to run the system call (or the next layer).  Layers run outermost first, in the order installed.
    A hook that was already there (someone's patch) stays innermost.
    """

    __slots__ = ("layers", "inner")

    def __init__(self, inner: Callable[..., Any] | None) -> None:
        self.layers: list[Callable[..., Any]] = []
        self.inner = inner

    def __call__(self, name: str, fn: Callable[..., Any], current: Task, *args: Any) -> Any:
        return self._run(0, name, fn, current, args)

    def _run(self, i: int, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...]) -> Any:
        if i == len(self.layers):
            if self.inner is not None:
                return self.inner(name, fn, current, *args)
            return fn(current, *args)

        def call_next(fn2: Callable[..., Any], current2: Task, *args2: Any) -> Any:
            return self._run(i + 1, name, fn2, current2, args2)
        return self.layers[i](name, fn, current, args, call_next)


def install_syscall_layer(kernel: Kernel, layer: Callable[..., Any]) -> None:
    """Add `layer` to the kernel's syscall hook chain (creating the chain on first use)."""
    chain = kernel.hooks.get("syscall")
    if not isinstance(chain, SyscallHookChain):
        chain = SyscallHookChain(chain)
        kernel.hooks["syscall"] = chain
    chain.layers.append(layer)


def remove_syscall_layer(kernel: Kernel, layer: Callable[..., Any]) -> None:
    """Remove `layer`; when no layer is left, the hook is what it was before the first layer came."""
    chain = kernel.hooks.get("syscall")
    if not isinstance(chain, SyscallHookChain):
        return
    chain.layers[:] = [x for x in chain.layers if x != layer]   # bound methods compare equal, not identical
    if not chain.layers:
        if chain.inner is None:
            del kernel.hooks["syscall"]
        else:
            kernel.hooks["syscall"] = chain.inner


class SyscallLayer:
    """A `with` block that puts `self._layer` into the kernel's syscall hook chain for its duration
    (the tracer in simkernel/trace.py, the strace logger in simkernel/strace.py)."""

    kernel: Kernel
    active: bool
    _what = "layer"

    def __enter__(self) -> Any:
        if self.active:
            raise RuntimeError(f"this {self._what} is already active")
        self.active = True
        install_syscall_layer(self.kernel, self._layer)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.active = False
        remove_syscall_layer(self.kernel, self._layer)

    def _layer(self, name: str, fn: Callable[..., Any], current: Task, args: tuple[Any, ...],
               call_next: Callable[..., Any]) -> Any:
        raise NotImplementedError
