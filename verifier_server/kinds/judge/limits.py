"""Per-backend call limits: how many calls run at once and how fast they start.

Hosted APIs bill and throttle per request, a GPU has room for a fixed number of
concurrent batches. Each verifier has its own ``CallLimits`` (from its spec, within the
server's caps) and the shared instance has the server's; a call passes both, the
verifier's first, so a verifier waiting on its own bound holds no shared slot.
"""

from __future__ import annotations

import asyncio
from types import TracebackType


class RateLimiter:
    """Spaces call starts at least ``1 / per_second`` apart (no bursts), measured between the starts themselves.

    A strict spacing is what providers' per-second limits actually enforce; a
    bucket that allowed bursts would earn 429s and then retries. Callers take turns,
    and each waits from the previous call's actual start: slots reserved on a fixed
    grid would let a caller woken late start closer than the interval to the next.
    """

    def __init__(self, per_second: float) -> None:
        self._interval_s = 1.0 / per_second
        self._last_start: float | None = None
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._turn:
            loop = asyncio.get_running_loop()
            if self._last_start is not None:
                wait_s = self._last_start + self._interval_s - loop.time()
                if wait_s > 0:
                    await asyncio.sleep(wait_s)
            self._last_start = loop.time()


class CallLimits:
    """A concurrency cap and an optional rate limit, used as ``async with limits:``."""

    def __init__(self, max_concurrency: int, max_requests_per_second: float | None) -> None:
        self.max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rate = RateLimiter(max_requests_per_second) if max_requests_per_second else None
        self.in_flight = 0
        self.peak_in_flight = 0

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        try:
            if self._rate is not None:
                await self._rate.acquire()
        except BaseException:
            self._semaphore.release()
            raise
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.in_flight -= 1
        self._semaphore.release()


class ChainedLimits:
    """Several ``CallLimits`` entered in order and left in reverse, as one ``async with``."""

    def __init__(self, *limits: CallLimits | None) -> None:
        self._limits = [limit for limit in limits if limit is not None]

    async def __aenter__(self) -> None:
        entered: list[CallLimits] = []
        try:
            for limit in self._limits:
                await limit.__aenter__()
                entered.append(limit)
        except BaseException:
            for limit in reversed(entered):
                await limit.__aexit__(None, None, None)
            raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for limit in reversed(self._limits):
            await limit.__aexit__(exc_type, exc, tb)
