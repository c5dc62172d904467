"""Per-slot network namespaces: empty (a loopback that stays down), created once, reused run after run.

Why reuse: creating and destroying a network namespace per run costs more CPU than the
rest of a warm Python run. Reuse by one slot's sequential runs is as isolated as a fresh
one: nothing of a run survives it (every process is killed, and sockets die with their
processes), the loopback cannot be brought up without CAP_NET_ADMIN, and /proc/sys/net
is read-only. Concurrent runs never share one (one namespace per slot). Root only: the
namespace is pinned by a bind mount of its nsfs file, like `ip netns add`.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2


def create(path: Path) -> None:
    """Pin a new, empty network namespace at `path` (a regular file that becomes its mount point)."""
    path.touch(mode=0o600)
    pid = os.fork()
    if pid == 0:  # the child unshares so this process keeps its own namespace
        if _libc.unshare(CLONE_NEWNET) != 0:
            os._exit(100 + min(ctypes.get_errno(), 99))
        if _libc.mount(b"/proc/self/ns/net", str(path).encode(), None, MS_BIND, None) != 0:
            os._exit(200 + min(ctypes.get_errno(), 49))
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        code = os.waitstatus_to_exitcode(status)
        step, errno = ("unshare", code - 100) if 100 <= code < 200 else ("mount", code - 200)
        detail = f"{step} failed: {os.strerror(errno)}" if code >= 100 else f"child ended with {code}"
        raise OSError(f"could not create a network namespace at {path}: {detail}")


def remove(path: Path) -> None:
    _libc.umount2(str(path).encode(), MNT_DETACH)
    with contextlib.suppress(OSError):
        path.unlink()
