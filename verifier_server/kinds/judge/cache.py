"""A bounded cache of judge answers keyed by the exact judge input.

GRPO asks the same question many times: a group shares one reference answer (its
embedding is computed once), retried batches resend identical samples, and a
composite may judge the same completion twice. Identical inputs that arrive while
the first is still being computed wait for it instead of queueing a second copy.
Failures are not cached: a judge that was down a second ago may be up now. The cache is
shared by every verifier of one model; one that joins another's computation waits at most
its own deadline, not the other verifier's.
"""

from __future__ import annotations

import asyncio
import functools
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from verifier_server.kinds.judge.failures import JudgeTimeout


class JudgeCache:
    """LRU of successful answers plus a table of computations in flight."""

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._done: OrderedDict[Hashable, Any] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Task[Any]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._done)

    async def get_or_compute(
        self, key: Hashable, compute: Callable[[], Awaitable[Any]], *, join_timeout_s: float | None = None
    ) -> Any:
        if self._max_entries == 0:
            self.misses += 1
            return await compute()
        if key in self._done:
            self.hits += 1
            self._done.move_to_end(key)
            return self._done[key]
        task = self._inflight.get(key)
        if task is not None:
            self.hits += 1
            if join_timeout_s is not None:
                try:
                    async with asyncio.timeout(join_timeout_s):
                        return await asyncio.shield(task)
                except TimeoutError:
                    raise JudgeTimeout(
                        f"the judge answer this input shares with another verifier took longer than "
                        f"timeout_s={join_timeout_s:g}"
                    ) from None
        else:
            self.misses += 1
            task = asyncio.ensure_future(compute())
            self._inflight[key] = task
            task.add_done_callback(functools.partial(self._settle, key))
        # shield: one waiter being cancelled must not cancel the answer others wait for
        return await asyncio.shield(task)

    def _settle(self, key: Hashable, task: asyncio.Task[Any]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        self._done[key] = task.result()
        self._done.move_to_end(key)
        while len(self._done) > self._max_entries:
            self._done.popitem(last=False)
