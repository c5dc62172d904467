"""Dynamic batching, the answer cache and call limits, with a counting fake model call."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Hashable, Sequence
from typing import Any

import pytest

from verifier_server.kinds.judge.batching import DynamicBatcher
from verifier_server.kinds.judge.cache import JudgeCache
from verifier_server.kinds.judge.failures import JudgeFailure
from verifier_server.kinds.judge.limits import CallLimits, RateLimiter


class CountingModel:
    """Doubles numbers; a negative number fails on its own, the item 'boom' fails the batch."""

    def __init__(self, release: asyncio.Event | None = None) -> None:
        self.batches: list[list[Hashable]] = []
        self.release = release
        self.started = asyncio.Event()

    async def __call__(self, items: list[Hashable]) -> Sequence[Any]:
        self.batches.append(list(items))
        self.started.set()
        if self.release is not None:
            await self.release.wait()
        if "boom" in items:
            raise RuntimeError("kaput")
        return [JudgeFailure(f"negative {x}") if isinstance(x, int) and x < 0 else x * 2 for x in items]


async def test_concurrent_submissions_share_batches() -> None:
    model = CountingModel()
    batcher = DynamicBatcher(model, max_batch_size=8, max_wait_s=0.05)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    assert results == [i * 2 for i in range(20)]
    assert [len(b) for b in model.batches] == [8, 8, 4]


async def test_a_busy_model_lets_the_next_batch_fill_up() -> None:
    release = asyncio.Event()
    model = CountingModel(release)
    batcher = DynamicBatcher(model, max_batch_size=64, max_wait_s=0.0, gate=CallLimits(1, None))
    first = asyncio.ensure_future(batcher.submit(0))
    await model.started.wait()  # the first batch leaves alone and holds the only slot
    rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(1, 30)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(first, *rest) == [i * 2 for i in range(30)]
    assert [len(b) for b in model.batches] == [1, 29]


async def test_per_item_failures_and_batch_failures_reach_their_callers() -> None:
    model = CountingModel()
    batcher = DynamicBatcher(model, max_batch_size=4, max_wait_s=0.01)
    results = await asyncio.gather(batcher.submit(1), batcher.submit(-1), return_exceptions=True)
    assert results[0] == 2
    assert isinstance(results[1], JudgeFailure) and "negative" in results[1].reason
    results = await asyncio.gather(batcher.submit(3), batcher.submit("boom"), return_exceptions=True)
    assert all(isinstance(r, JudgeFailure) and "kaput" in r.reason for r in results)


async def test_cache_answers_repeats_and_joins_inputs_in_flight() -> None:
    model = CountingModel()
    batcher = DynamicBatcher(model, max_batch_size=16, max_wait_s=0.01)
    cache = JudgeCache(max_entries=2)

    def ask(x: int) -> Any:
        return cache.get_or_compute(x, lambda: batcher.submit(x))

    assert await asyncio.gather(ask(1), ask(1), ask(2)) == [2, 2, 4]
    assert model.batches == [[1, 2]]  # the second 1 joined the first
    assert await ask(1) == 2
    assert len(model.batches) == 1
    assert (cache.hits, cache.misses) == (2, 2)
    await ask(3)  # evicts the least recently used (2)
    await ask(2)
    assert len(model.batches) == 3 and len(cache) == 2


async def test_failures_are_not_cached() -> None:
    model = CountingModel()
    batcher = DynamicBatcher(model, max_batch_size=4, max_wait_s=0.0)
    cache = JudgeCache(max_entries=8)
    for _ in range(2):
        with pytest.raises(JudgeFailure):
            await cache.get_or_compute(-5, lambda: batcher.submit(-5))
    assert len(model.batches) == 2


async def test_call_limits_cap_concurrency() -> None:
    limits = CallLimits(max_concurrency=2, max_requests_per_second=None)

    async def work() -> None:
        async with limits:
            await asyncio.sleep(0.01)

    await asyncio.gather(*(work() for _ in range(6)))
    assert limits.peak_in_flight == 2


async def test_rate_limiter_spaces_call_starts() -> None:
    limiter = RateLimiter(per_second=50)
    loop = asyncio.get_running_loop()
    starts = []
    for _ in range(4):
        await limiter.acquire()
        starts.append(loop.time())
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 0.019  # a lower bound the limiter guarantees, not a speed claim


async def test_a_caller_woken_late_does_not_bring_the_next_start_closer() -> None:
    """The first caller holds the event loop past the second one's turn; the third still waits a full
    interval after the second actually started (slots on a fixed grid would let it start 10 ms after)."""
    limiter = RateLimiter(per_second=50)
    loop = asyncio.get_running_loop()
    starts: list[float] = []

    async def call(hold_s: float) -> None:
        await limiter.acquire()
        starts.append(loop.time())
        await asyncio.sleep(0)  # the other callers wait for their turns now
        time.sleep(hold_s)  # noqa: ASYNC251 - blocks the loop on purpose: the next caller's timer fires late

    await asyncio.gather(call(0.03), call(0.0), call(0.0))
    gaps = [b - a for a, b in itertools.pairwise(sorted(starts))]
    assert min(gaps) >= 0.019, gaps
