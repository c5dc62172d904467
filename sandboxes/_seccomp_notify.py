"""The host's side of a session's seccomp user-notification listener: it decides each fork child's unshare.

A session's filter (seccomp.session_bpf_program) sends unshare(FORK_UNSHARE_FLAGS) here
instead of running it. It is let through only for a child of an interpreter the host just
asked to fork, and only as many times as copies were asked for; anything else fails with
EPERM. So a cell cannot make namespaces of its own at will: it only gets those of a fork
the host is making. The flags arrive in a register (no pointer to re-read), so letting the
call continue is race-free.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import struct
from collections.abc import Callable

from ._io import unwatch_and_close

NOTIF_RECV = 0xC0502100  # SECCOMP_IOCTL_NOTIF_RECV: _IOWR('!', 0, struct seccomp_notif)  (80 bytes)
NOTIF_SEND = 0xC0182101  # SECCOMP_IOCTL_NOTIF_SEND: _IOWR('!', 1, struct seccomp_notif_resp)  (24 bytes)
NOTIF_ID_VALID = 0x40082102  # SECCOMP_IOCTL_NOTIF_ID_VALID: _IOW('!', 2, __u64)
FLAG_CONTINUE = 1
_NOTIF = struct.Struct("=QIIiIQ6Q")  # id, pid, flags, data.nr, data.arch, data.ip, data.args[6]
_RESP = struct.Struct("=QqiI")  # id, val, error, flags


class NotifyListener:
    """Serves one listener fd on the running loop; `allow(pid)` says whether a notifying pid may unshare."""

    def __init__(self, fd: int, allow: Callable[[int], bool]) -> None:
        self.fd, self.allow = fd, allow
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
        buffer = bytearray(_NOTIF.size)
        try:
            fcntl.ioctl(self.fd, NOTIF_RECV, buffer, True)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EINTR, errno.ENOENT):
                return  # nothing pending, or the caller died meanwhile
            self.close()  # the filter's processes are all gone
            return
        notif_id, pid = _NOTIF.unpack(buffer)[:2]
        allowed = False
        with contextlib.suppress(OSError):
            allowed = self.allow(pid) and self._still_valid(notif_id)
        flags, error = (FLAG_CONTINUE, 0) if allowed else (0, -errno.EPERM)
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.fd, NOTIF_SEND, _RESP.pack(notif_id, 0, error, flags))

    def _still_valid(self, notif_id: int) -> bool:
        """The pid we looked up is still the caller (it did not die and get reused while we read /proc)."""
        try:
            fcntl.ioctl(self.fd, NOTIF_ID_VALID, struct.pack("=Q", notif_id))
            return True
        except OSError:
            return False

    def close(self) -> None:
        if self.fd >= 0:
            unwatch_and_close(self.fd)
            self.fd = -1


def parent_pid(pid: int) -> int:
    """PPid of `pid` as this process sees it (host pids)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise OSError(f"no PPid for {pid}")
