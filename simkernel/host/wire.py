"""The RPC wire between the test process and its host tasks: framed pickles over AF_UNIX stream sockets.

A frame is an 8-byte little-endian length followed by a pickle.  File descriptors ride along as SCM_RIGHTS
on the frame's first byte (a forking task hands the test process the parent end of its child's socket), and
a new task's hello carries SCM_CREDENTIALS (SO_PASSCRED), which the kernel translates into the receiver's pid
namespace: the test process learns the *global* pid of a task that lives in a nested pid namespace.

Both sides import this module; it holds no state.
"""

from __future__ import annotations

import array
import fcntl
import os
import pickle
import resource
import socket
import struct
import time
from typing import Any

__all__ = ["send_msg", "recv_msg", "WireClosed", "WireTimeout", "high_fd", "CHANNEL_FD_MIN"]

_HDR = struct.Struct("<Q")
_UCRED = struct.Struct("iII")  # struct ucred {pid_t pid; uid_t uid; gid_t gid;}
_MAX_FDS = 4


def _channel_fd_min() -> int:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return 900 if soft > 1000 else max(16, soft // 2)


# Channel sockets live at or above this descriptor number, so a scenario's first open() in a fresh task gets
# 3 as in a fresh process; /proc/<pid>/fd of a host task shows them (simplification of a clean fd table).
CHANNEL_FD_MIN = _channel_fd_min()


class WireClosed(Exception):
    """The peer closed its end (the task exited or exec'd; the test process died)."""


class WireTimeout(Exception):
    """No complete frame arrived before the deadline."""


def high_fd(fd: int) -> int:
    """Move `fd` to a close-on-exec descriptor >= CHANNEL_FD_MIN and close the original; return the new one."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, CHANNEL_FD_MIN)
    os.close(fd)
    return new


def send_msg(sock: socket.socket, obj: Any, fds: tuple[int, ...] = (), deadline: float | None = None) -> None:
    """Send one frame; `fds` go as SCM_RIGHTS.

    Credentials are not written here: a sender that set SO_PASSCRED on its socket gets its true tgid, uid and
    gid attached by the kernel (af_unix maybe_add_creds()), which also works where explicit SCM_CREDENTIALS
    would be refused (EINVAL for a uid with no mapping in a new user namespace).

    Raises:
        WireTimeout: the deadline passed with the frame partly sent (the channel is then out of step).
        OSError: the channel is broken (EPIPE, ECONNRESET, ...).
    """
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    data = _HDR.pack(len(payload)) + payload
    _settimeout(sock, deadline)
    try:
        sent = 0
        if fds:
            sent = sock.sendmsg([data[:1]], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())])
        sock.sendall(data[sent:])
    except socket.timeout as err:
        raise WireTimeout() from err


def recv_msg(sock: socket.socket, deadline: float | None = None) -> tuple[Any, list[int], int | None]:
    """Receive one frame: (object, received fds, sender pid from SCM_CREDENTIALS or None).

    Args:
        sock: the channel; its timeout is managed here.
        deadline: `time.monotonic()` value after which WireTimeout is raised; None blocks.

    Raises:
        WireClosed: EOF before a complete frame.
        WireTimeout: the deadline passed.
    """
    fds: list[int] = []
    pid: int | None = None
    anc_size = socket.CMSG_SPACE(_MAX_FDS * 4) + socket.CMSG_SPACE(_UCRED.size)
    _settimeout(sock, deadline)
    try:
        first, anc, _flags, _addr = sock.recvmsg(1, anc_size, socket.MSG_CMSG_CLOEXEC)
    except (socket.timeout, BlockingIOError) as err:
        raise WireTimeout() from err
    except ConnectionResetError as err:
        raise WireClosed() from err
    if not first:
        raise WireClosed()
    for level, kind, blob in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.extend(array.array("i", blob[: len(blob) - len(blob) % 4]))
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = _UCRED.unpack(blob[: _UCRED.size])[0]
    header = first + _recv_exact(sock, _HDR.size - 1, deadline)
    (length,) = _HDR.unpack(header)
    return pickle.loads(_recv_exact(sock, length, deadline)), fds, pid


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks: list[bytes] = []
    while n:
        _settimeout(sock, deadline)
        try:
            chunk = sock.recv(min(n, 1 << 20))
        except (socket.timeout, BlockingIOError) as err:
            raise WireTimeout() from err
        except ConnectionResetError as err:
            raise WireClosed() from err
        if not chunk:
            raise WireClosed()
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _settimeout(sock: socket.socket, deadline: float | None) -> None:
    if deadline is None:
        sock.settimeout(None)
    else:
        sock.settimeout(max(deadline - time.monotonic(), 0.0001))
