"""Async plumbing shared by the host-side backends: capped output capture and stdin feeding.

Output is read as it is produced so a flood never sits in a pipe buffer, and the cap
is enforced here: the first byte past `output_bytes` marks the stream truncated and
fires `on_overflow` (the backend kills the run; status OUTPUT_LIMIT). What is kept grows
in one buffer that becomes the result without a copy, so a run's output is held once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any


class CappedReader:
    """Reads one non-blocking fd to EOF, keeping at most `limit` bytes."""

    def __init__(self, fd: int, limit: int, on_overflow: Callable[[], None], until: bytes = b"") -> None:
        """`until`: stop (done) as soon as this byte string arrives, without waiting for EOF."""
        self.fd, self.limit, self.on_overflow, self.until = fd, limit, on_overflow, until
        self._buffer = io.BytesIO()
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
            self._buffer.write(data[:room])
            self.size = self.limit
            if not self.truncated:
                self.truncated = True
                self.on_overflow()
            self.close()  # stop reading: the writer gets EPIPE / is being killed
            return
        self._buffer.write(data)
        self.size += len(data)
        if self.until and self.until in data:
            self.close()

    def close(self) -> None:
        if self.fd < 0:
            return
        # Drop the callback: it is usually a method of the object holding this reader, and that cycle
        # would keep the output alive until the garbage collector runs, not until its last use.
        self.on_overflow = _nothing
        asyncio.get_running_loop().remove_reader(self.fd)
        os.close(self.fd)
        self.fd = -1
        if not self.done.done():
            self.done.set_result(None)

    @property
    def data(self) -> bytes:
        """What was kept. BytesIO hands over its own buffer when it is exactly full: no second copy."""
        return self._buffer.getvalue()


def _nothing() -> None:
    pass


def unwatch_and_close(fd: int) -> None:
    """Close `fd` after the running loop stops reading it (no loop running, or one closing: just close)."""
    with contextlib.suppress(ValueError, RuntimeError):
        asyncio.get_running_loop().remove_reader(fd)
    os.close(fd)


def read_available(fd: int, *, close: bool = False, limit: int = 1 << 16) -> bytes:
    """What a pipe holds now, without blocking (a status fd whose writer has exited)."""
    os.set_blocking(fd, False)
    chunks = []
    size = 0
    try:
        while size < limit:
            try:
                chunk = os.read(fd, limit - size)
            except BlockingIOError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    finally:
        if close:
            os.close(fd)
    return b"".join(chunks)


def start_feed(fd: int, data: bytes) -> asyncio.Future[None]:
    """`feed` started now: what the pipe takes at once is written here, a task only carries the rest.

    Most inputs (a job's payload, a test's stdin) fit in the pipe's buffer: they cost one
    write and no task. The future is done once `fd` is closed; cancelling it stops the feeding.
    """
    os.set_blocking(fd, False)
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view[:65536]) :]
    except BlockingIOError:
        return asyncio.ensure_future(feed(fd, view))
    except OSError:
        pass  # the program stopped reading; that is its business
    with contextlib.suppress(OSError):
        os.close(fd)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


async def feed(fd: int, data: bytes | memoryview) -> None:
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


class RunOutput:
    """A run's stdout/stderr under the output cap, and its supervision until it ends.

    One place for what every host-side backend (bwrap per run, the fork server,
    unsafe-local) does the same way: stop the run at the first byte past the cap, kill it
    at the wall time, kill whatever is left when it ends or the caller is cancelled, and
    collect what it wrote.
    """

    def __init__(self, out_fd: int, err_fd: int, limit: int, kill: Callable[[], object]) -> None:
        self.kill = kill
        self.overflowed = False
        self.out = CappedReader(out_fd, limit, self._overflow)
        self.err = CappedReader(err_fd, limit, self._overflow)

    def _overflow(self) -> None:
        self.overflowed = True
        self.kill()

    async def supervise(
        self,
        ended: Awaitable[object],
        wall_time_s: float,
        feeders: Sequence[asyncio.Future[None]],
        also_close: Sequence[CappedReader] = (),
    ) -> bool:
        """Wait for `ended` up to the wall time; True if the wall time ran out. Always kills the rest."""
        timed_out = False
        try:
            try:
                await asyncio.wait_for(ended, timeout=wall_time_s)
            except TimeoutError:
                timed_out = True
            self.kill()
            if not (self.out.done.done() and self.err.done.done()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.gather(self.out.done, self.err.done), timeout=2.0)
        except BaseException:
            self.kill()  # cancelled by the caller: nothing of the run may survive
            raise
        finally:
            for reader in (self.out, self.err, *also_close):
                reader.close()
            for feeder in feeders:
                feeder.cancel()
        return timed_out

    def streams(self) -> dict[str, Any]:
        """The output fields of `finish(...)`."""
        return {
            "stdout": self.out.data,
            "stderr": self.err.data,
            "stdout_truncated": self.out.truncated,
            "stderr_truncated": self.err.truncated,
        }
