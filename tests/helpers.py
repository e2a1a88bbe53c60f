"""Shared test helpers: errno assertions through one funnel."""

from __future__ import annotations

import contextlib
from typing import Iterator

import pytest

from simkernel.errors import KernelError, errno_name

__all__ = ["raises_errno", "kraises"]


@contextlib.contextmanager
def raises_errno(errno: int, cls: type[OSError] | None = None) -> Iterator[pytest.ExceptionInfo[OSError]]:
    """Assert that the block raises OSError with exactly `errno` (and class `cls` when given)."""
    with pytest.raises(OSError) as info:
        yield info
    got = info.value.errno
    assert got == errno, f"expected {errno_name(errno)}, got {errno_name(got) if got else got}: {info.value!r}"
    if cls is not None:
        assert type(info.value) is cls, f"expected {cls.__name__}, got {type(info.value).__name__}"


@contextlib.contextmanager
def kraises(errno: int) -> Iterator[pytest.ExceptionInfo[KernelError]]:
    """Assert that kernel-internal code raises KernelError with exactly `errno`."""
    with pytest.raises(KernelError) as info:
        yield info
    assert info.value.errno == errno, f"expected {errno_name(errno)}, got {errno_name(info.value.errno)}"
