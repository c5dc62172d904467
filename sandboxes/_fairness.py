"""Fair sharing of a backend's concurrency among callers: a freed slot goes to the waiting caller that holds the fewest.

Why: with one FIFO queue, a caller that submits many slow jobs makes every other caller's
jobs wait behind all of them. Here each caller (an opaque key its service sets with
`as_caller`; this package knows nothing of who the callers are) waits in its own queue,
and a freed slot goes to the caller holding the fewest slots, the longest waiting first
among equals. A lone caller still gets every slot; FIFO holds within one caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter, deque
from collections.abc import Iterator
from contextvars import ContextVar

_CALLER: ContextVar[str] = ContextVar("sandboxes_caller", default="")


@contextlib.contextmanager
def as_caller(key: str) -> Iterator[None]:
    """Runs started inside this block (and tasks it creates) are scheduled as `key`'s."""
    token = _CALLER.set(key)
    try:
        yield
    finally:
        _CALLER.reset(token)


def current_caller() -> str:
    return _CALLER.get()


class FairScheduler:
    """`permits` concurrent holders; waiters are served by fewest held per caller, then arrival."""

    def __init__(self, permits: int) -> None:
        self._free = permits
        self._held: Counter[str] = Counter()
        self._waiting: dict[str, deque[tuple[int, asyncio.Future[None]]]] = {}
        self._arrivals = itertools.count()

    async def acquire(self) -> str:
        """Wait for a permit; returns the caller key to hand back to `release`."""
        caller = current_caller()
        if self._free > 0 and not self._waiting:
            self._take(caller)
            return caller
        entry = (next(self._arrivals), asyncio.get_running_loop().create_future())
        self._waiting.setdefault(caller, deque()).append(entry)
        try:
            await entry[1]
        except asyncio.CancelledError:
            if entry[1].done() and not entry[1].cancelled():
                self.release(caller)  # granted, then cancelled before it could run: pass the permit on
            else:
                self._forget(caller, entry)
            raise
        return caller

    def release(self, caller: str) -> None:
        self._held[caller] -= 1
        if self._held[caller] <= 0:
            del self._held[caller]
        self._free += 1
        self._grant()

    def _take(self, caller: str) -> None:
        self._free -= 1
        self._held[caller] += 1

    def _forget(self, caller: str, entry: tuple[int, asyncio.Future[None]]) -> None:
        queue = self._waiting.get(caller)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(entry)
            if not queue:
                del self._waiting[caller]
        self._grant()

    def _grant(self) -> None:
        while self._free > 0 and self._waiting:
            caller = min(self._waiting, key=lambda key: (self._held[key], self._waiting[key][0][0]))
            queue = self._waiting[caller]
            _, future = queue.popleft()
            if not queue:
                del self._waiting[caller]
            if future.done():
                continue  # cancelled while waiting
            self._take(caller)
            future.set_result(None)
