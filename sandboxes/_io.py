"""Async plumbing shared by the host-side backends: capped output capture and stdin feeding.

Output is read as it is produced so a flood never sits in a pipe buffer, and the cap
is enforced here: the first byte past `output_bytes` marks the stream truncated and
fires `on_overflow` (the backend kills the run; status OUTPUT_LIMIT).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable


class CappedReader:
    """Reads one non-blocking fd to EOF, keeping at most `limit` bytes."""

    def __init__(self, fd: int, limit: int, on_overflow: Callable[[], None], until: bytes = b"") -> None:
        """`until`: stop (done) as soon as this byte string arrives, without waiting for EOF."""
        self.fd, self.limit, self.on_overflow, self.until = fd, limit, on_overflow, until
        self.chunks: list[bytes] = []
        self.size = 0
        self.truncated = False
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        os.set_blocking(fd, False)
        asyncio.get_running_loop().add_reader(fd, self._readable)

    def _readable(self) -> None:
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
            self.chunks.append(data[:room])
            self.size = self.limit
            if not self.truncated:
                self.truncated = True
                self.on_overflow()
            self.close()  # stop reading: the writer gets EPIPE / is being killed
            return
        self.chunks.append(data)
        self.size += len(data)
        if self.until and self.until in data:
            self.close()

    def close(self) -> None:
        if self.fd < 0:
            return
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)
        self.fd = -1
        if not self.done.done():
            self.done.set_result(None)

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)


async def feed(fd: int, data: bytes) -> None:
    """Write `data` to a pipe without blocking the loop, then close it (EOF for the program)."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    view = memoryview(data)
    try:
        while view:
            try:
                n = os.write(fd, view[:65536])
                view = view[n:]
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(fd, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(fd)
    except (BrokenPipeError, OSError):
        pass  # the program stopped reading; that is its business
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
