# ruff: noqa: UP031
# (stdlib only, Python >= 3.9: the sandbox's own interpreter imports this module too)
"""The protocol between the host (sandboxes/sessions.py) and a session's runtime (_session_runtime.py).

Both sides import this one module: the host as ``sandboxes.session_protocol``, the runtime
as ``session_protocol`` (the fork server's zygote loads its source at setup). Nothing here
runs user code.

Channel: one ``AF_UNIX`` ``SOCK_STREAM`` socket per session ("ctrl"), held by the host and by
the session's interpreter. A frame is a 4-byte big-endian length and that many bytes of a
UTF-8 JSON object; file descriptors ride along as ``SCM_RIGHTS`` on the frame that names
them. The host's end has ``SO_PASSCRED``, so the kernel stamps every frame with the
sender's pid: the host learns a fork's pid from the fork itself, never from its parent.
Output never crosses this channel: a session's fd 1 and 2 are pipes the host reads itself,
capped there, so a flood cannot block the protocol. The session is untrusted: the host
reads frames under ``MAX_FRAME`` and checks every value it uses.

Messages, key by key (``op`` names each; the host speaks first except for ``hello``):

Runtime -> host, unsolicited
  ``hello``   sent once by a new session's interpreter before any user code runs.
              Carries fd: the seccomp user-notification listener of the session's filter
              (only the root session; forks share it). Keys: ``pid`` (int, as the session
              sees itself), ``language`` (str).

Host -> runtime
  ``run``     run one cell. ``code`` (str), ``timeout_s`` (float, wall clock), ``cpu_s``
              (float, CPU seconds of the interpreter), ``language`` (str, optional: "bash"
              runs a shell cell in a Python session, sharing its files). Answer: ``done``.
  ``fork``    make ``count`` (int) copies. Carries 3 x count fds: for copy i, its ctrl
              socket, its stdout pipe and its stderr pipe (write ends). Answer: ``forked``
              once every copy exists; each copy then speaks ``hello`` on its own ctrl.
  ``go``      to a new copy, on its own ctrl, after the host mounted its file systems
              and moved it into its cgroup: re-open files, drop capabilities, answer
              ``ready`` (or ``failed``), then serve cells.
  ``attach``  hand the live namespace to host-supplied code, for good (the session is a
              throwaway copy). ``module`` (str: Python source), ``entry`` (str: a function
              name in it, called as ``entry(namespace, fd, args)``), ``args`` (object).
              Carries fd: the socket the entry serves on. Answer: ``attached``, then the
              entry owns the process; the runtime never reads ctrl again.

Runtime -> host, answers
  ``done``      ``status`` (one of CELL_STATUSES), ``error`` (str: one line, e.g.
                ``ZeroDivisionError: division by zero``), ``result`` (str: repr of the
                cell's last expression, "" if none), ``cpu_s`` (float).
  ``forked``    ``count`` (int: copies made), ``error`` (str, "" when all were made).
  ``ready``     a copy is set up and serving. ``failed``: ``error`` (str).
  ``attached``  (no keys).
  ``error``     the request was malformed: ``error`` (str). The session keeps serving.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Sequence
from typing import Any

#: Largest frame either side accepts (a cell's code, a fork request, an answer).
MAX_FRAME = 16 * 1024 * 1024
#: Caps on strings the runtime sends back (the host re-checks them).
MAX_ERROR_CHARS = 4000
MAX_RESULT_CHARS = 20000
#: At most this many fds on one frame (a fork of 64 copies carries 192).
MAX_FDS = 3 * 64

OK, ERROR, TIMEOUT = "ok", "error", "timeout"
CELL_STATUSES = (OK, ERROR, TIMEOUT)

#: unshare(2) flags a fork child passes to leave every namespace of its parent behind; the
#: session's seccomp filter lets exactly this value through (after the host agrees), no other.
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
FORK_UNSHARE_FLAGS = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWUTS
#: Where the sandbox root shows sandbox-reaper (reaper.c), the init a fork child spawns first.
REAPER_PATH = "/.sandbox/reaper"

_HEADER = struct.Struct(">I")
_FD_SIZE = struct.calcsize("i")


class ProtocolError(Exception):
    """The peer broke the protocol (oversized or garbled frame, closed mid-frame)."""


def pack(message: dict[str, Any]) -> bytes:
    """One frame for `message` (a dict with an ``op``)."""
    data = json.dumps(message, separators=(",", ":")).encode()
    if len(data) > MAX_FRAME:
        raise ProtocolError("frame of %d bytes exceeds %d" % (len(data), MAX_FRAME))
    return _HEADER.pack(len(data)) + data


def send(sock: socket.socket, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
    """Send one frame, with `fds` attached to its first byte (blocking socket)."""
    data = pack(message)
    if fds:
        sent = socket.send_fds(sock, [data], list(fds))
        data = data[sent:]
    if data:
        sock.sendall(data)


class FrameReader:
    """Splits a byte stream into frames, keeping the fds that arrived with them.

    Feed it what ``recvmsg`` returned (``feed``); ``next_frame`` pops complete frames.
    fds are handed out with the frame being completed when they arrived, which is the
    frame they were sent with as long as the sender sends one fd-carrying frame at a time.
    """

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.fds: list[int] = []
        self.pids: list[int] = []

    def feed(self, data: bytes, fds: Sequence[int] = (), pid: int | None = None) -> None:
        self.buffer.extend(data)
        self.fds.extend(fds)
        if pid is not None:
            self.pids.append(pid)
        if len(self.buffer) >= _HEADER.size and _HEADER.unpack_from(self.buffer)[0] > MAX_FRAME:
            raise ProtocolError("announced frame exceeds %d bytes" % MAX_FRAME)

    def next_frame(self) -> tuple[dict[str, Any], list[int]] | None:
        """(message, fds) for the next complete frame, or None."""
        if len(self.buffer) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack_from(self.buffer)
        if len(self.buffer) < _HEADER.size + size:
            return None
        raw = bytes(self.buffer[_HEADER.size : _HEADER.size + size])
        del self.buffer[: _HEADER.size + size]
        fds, self.fds = self.fds, []
        try:
            message = json.loads(raw)
        except ValueError:
            raise ProtocolError("a frame is not JSON") from None
        if not isinstance(message, dict) or not isinstance(message.get("op"), str):
            raise ProtocolError("a frame is not an object with an op")
        return message, fds


def recv_into(sock: socket.socket, reader: FrameReader, bufsize: int = 65536) -> bool:
    """One recvmsg into `reader`; returns False at EOF. Collects SCM_RIGHTS and SCM_CREDENTIALS."""
    space = socket.CMSG_SPACE(MAX_FDS * _FD_SIZE) + socket.CMSG_SPACE(struct.calcsize("3i"))
    data, ancdata, _flags, _addr = sock.recvmsg(bufsize, space)
    fds: list[int] = []
    pid: int | None = None
    for level, kind, payload in ancdata:
        if level != socket.SOL_SOCKET:
            continue
        if kind == socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % _FD_SIZE
            fds.extend(struct.unpack("%di" % (usable // _FD_SIZE), payload[:usable]))
        elif kind == socket.SCM_CREDENTIALS and len(payload) >= struct.calcsize("3i"):
            pid = struct.unpack("3i", payload[: struct.calcsize("3i")])[0]
    if not data:
        reader.fds.extend(fds)
        return False
    reader.feed(data, fds, pid)
    return True


def recv(sock: socket.socket, reader: FrameReader) -> tuple[dict[str, Any], list[int]] | None:
    """Block until one whole frame arrives: (message, fds); None at EOF."""
    while True:
        frame = reader.next_frame()
        if frame is not None:
            return frame
        if not recv_into(sock, reader):
            if reader.buffer:
                raise ProtocolError("connection closed in the middle of a frame")
            return None
