"""The host's end of one session's channels: ctrl frames, output pipes, the zygote's status pipe, pidfds."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

from . import session_protocol as proto
from ._io import unwatch_and_close
from ._session_types import SessionLost


class Channel:
    """A session's ctrl socket on the loop: frames in a queue, EOF as `SessionLost`."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.setblocking(False)
        self.reader = proto.FrameReader()
        self.frames: asyncio.Queue[tuple[dict[str, Any], list[int]] | None] = asyncio.Queue()
        self.closed = False
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            alive = proto.recv_into(self.sock, self.reader)
            while (frame := self.reader.next_frame()) is not None:
                self.frames.put_nowait(frame)
        except BlockingIOError:
            return
        except (OSError, proto.ProtocolError):
            alive = False
        if not alive:
            self._stop_reading()
            self.frames.put_nowait(None)

    def _stop_reading(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ValueError, RuntimeError):
                asyncio.get_running_loop().remove_reader(self.sock.fileno())

    async def send(self, message: dict[str, Any], fds: Sequence[int] = ()) -> None:
        data = proto.pack(message)
        loop = asyncio.get_running_loop()
        try:
            if fds:
                while True:
                    try:
                        sent = socket.send_fds(self.sock, [data[:65536]], list(fds))
                        break
                    except BlockingIOError:
                        await asyncio.sleep(0.0005)
                data = data[sent:]
            if data:
                await loop.sock_sendall(self.sock, data)
        except OSError as exc:
            raise SessionLost(f"the session's channel broke: {exc}") from None

    async def receive(self, timeout_s: float) -> tuple[dict[str, Any], list[int]]:
        """The next frame; SessionLost at EOF; asyncio.TimeoutError after `timeout_s`."""
        frame = await asyncio.wait_for(self.frames.get(), timeout_s)
        if frame is None:
            self.frames.put_nowait(None)  # later receivers see the end too
            raise SessionLost("the session's interpreter is gone")
        return frame

    def sender(self) -> int:
        """The one pid the kernel stamped on what arrived so far (SO_PASSCRED); -1 if several or none."""
        pids = set(self.reader.pids)
        self.reader.pids.clear()
        return pids.pop() if len(pids) == 1 else -1

    def close(self) -> None:
        self._stop_reading()
        self.sock.close()
        self.frames.put_nowait(None)  # wake whoever waits for an answer: there will be none


class Output:
    """One output pipe read continuously; `take` returns what arrived since the last take, capped at `limit`.

    A cell's output is therefore also what the session's background processes printed since the
    previous cell; past the cap, data is read and dropped, so a writer never blocks on the pipe.
    """

    def __init__(self, fd: int, limit: int) -> None:
        self.fd = fd
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False
        self.limit = limit
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self.drain)

    def drain(self) -> None:
        while self.fd >= 0:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.close()
                return
            room = self.limit - self.size
            if len(data) > room:
                data = data[: max(room, 0)]
                self.truncated = True
            if data:
                self.chunks.append(data)
                self.size += len(data)

    def take(self, limit: int) -> tuple[bytes, bool]:
        self.drain()
        data, truncated = b"".join(self.chunks), self.truncated
        self.chunks, self.size, self.truncated, self.limit = [], 0, False, limit
        return data, truncated

    def close(self) -> None:
        if self.fd >= 0:
            unwatch_and_close(self.fd)
            self.fd = -1


def pidfd(pid: int) -> int:
    try:
        return os.pidfd_open(pid)
    except OSError:
        return -1


def kill_pidfd(fd: int) -> None:
    if fd >= 0:
        with contextlib.suppress(OSError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.close(fd)


class StatusPipe:
    """The zygote's status pipe of a root session: {"pid", "init"} first, then {"error"} or the exit status."""

    def __init__(self, fd: int) -> None:
        self.fd, self.buffer = fd, b""
        os.set_blocking(fd, False)

    async def line(self, timeout_s: float) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while b"\n" not in self.buffer:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                if loop.time() > deadline:
                    return {"error": "the fork server did not report on the session in time"}
                ready = loop.create_future()
                loop.add_reader(self.fd, set_once, ready)
                try:
                    await asyncio.wait_for(ready, max(0.0, deadline - loop.time()))
                except TimeoutError:
                    pass
                finally:
                    loop.remove_reader(self.fd)
                continue
            if not data:
                return {"error": "the fork server ended the session without a report"}
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        try:
            parsed = json.loads(line)
        except ValueError:
            return {"error": "garbled report from the fork server"}
        return parsed if isinstance(parsed, dict) else {"error": "garbled report from the fork server"}


def set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def exit_text(report: dict[str, Any]) -> str:
    if isinstance(report.get("signal"), int):
        return f"killed by signal {report['signal']}"
    if isinstance(report.get("exit_code"), int):
        return f"exit status {report['exit_code']}"
    return "no exit status"
