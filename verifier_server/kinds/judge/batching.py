"""Dynamic batching: judge inputs from concurrent requests become one model call.

A GRPO step sends many ``Score`` calls at once (one per reward function, chunks of
a large batch, several trainer ranks). Running the model once per sample wastes
the accelerator; so each input waits up to ``max_wait_s`` for company, and a batch
leaves when it is full or the wait is over. A batch takes its items only once a
call slot (``gate``) is free, so while the model is busy the queue grows and the
next batch is fuller: the batch size adapts to the load without tuning.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from verifier_server.kinds.judge.failures import JudgeFailure

RunBatch = Callable[[list[Hashable]], Awaitable[Sequence[Any]]]
"""Runs one model call; returns one answer or ``JudgeFailure`` per item, in order."""


class DynamicBatcher:
    """Gathers submitted items into batches of at most ``max_batch_size``."""

    def __init__(
        self,
        run_batch: RunBatch,
        *,
        max_batch_size: int,
        max_wait_s: float,
        gate: AbstractAsyncContextManager[Any] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self._max_batch_size = max_batch_size
        self._max_wait_s = max_wait_s
        self._gate = gate
        self._pending: list[tuple[Hashable, asyncio.Future[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._waiting_dispatchers = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batch_sizes: list[int] = []

    async def submit(self, item: Hashable) -> Any:
        """The answer for ``item``; raises ``JudgeFailure`` when its batch failed."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if len(self._pending) >= self._max_batch_size:
            self._spawn_dispatchers()
        elif self._timer is None and self._waiting_dispatchers == 0 and self._pending:
            self._timer = asyncio.get_running_loop().call_later(self._max_wait_s, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._spawn_dispatchers(at_least_one=True)

    def _spawn_dispatchers(self, at_least_one: bool = False) -> None:
        """Enough dispatchers waiting for a slot to take every full batch (and a partial one on timeout)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        full_batches = len(self._pending) // self._max_batch_size
        wanted = math.ceil(len(self._pending) / self._max_batch_size) if at_least_one else full_batches
        while self._waiting_dispatchers < wanted:
            self._waiting_dispatchers += 1
            task = asyncio.get_running_loop().create_task(self._dispatch())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self) -> None:
        async with self._gate or nullcontext():
            self._waiting_dispatchers -= 1
            batch = [(item, fut) for item, fut in self._pending[: self._max_batch_size] if not fut.done()]
            del self._pending[: self._max_batch_size]
            self._schedule()
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[tuple[Hashable, asyncio.Future[Any]]]) -> None:
        self.batch_sizes.append(len(batch))
        try:
            answers: Sequence[Any] = await self._run_batch([item for item, _ in batch])
            if len(answers) != len(batch):
                raise JudgeFailure(f"judge backend returned {len(answers)} answers for {len(batch)} inputs")
        except JudgeFailure as exc:
            answers = [exc] * len(batch)
        except Exception as exc:  # a backend bug must fail these samples, not the server
            answers = [JudgeFailure(f"judge backend failed: {type(exc).__name__}: {exc}")] * len(batch)
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue
            if isinstance(answer, JudgeFailure):
                future.set_exception(answer)
            else:
                future.set_result(answer)

    async def aclose(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in list(self._tasks):
            task.cancel()
        for _, future in self._pending:
            if not future.done():
                future.set_exception(JudgeFailure("judge backend is shutting down"))
        self._pending.clear()
