"""The shared front of one judge model: cache, then dynamic batching, then limits.

Every verifier naming the same model (backend + weights + dtype) gets the same
``ModelRunner`` from the server's ``ResourceBag``, so they share one copy of the
weights, one queue and one cache, and their samples land in the same batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from verifier_server.kinds.base import ResourceBag
from verifier_server.kinds.judge.backends import Backend, GenerationParams, Prompt, create_backend
from verifier_server.kinds.judge.batching import DynamicBatcher
from verifier_server.kinds.judge.cache import JudgeCache
from verifier_server.kinds.judge.config import BackendConfig, BatchingConfig
from verifier_server.kinds.judge.failures import JudgeFailure, JudgeTimeout
from verifier_server.kinds.judge.limits import CallLimits


@dataclass(slots=True)
class RunnerStats:
    """Counters for tests, benchmarks and the capabilities report."""

    model_calls: int
    inputs: int
    largest_batch: int
    cache_hits: int
    cache_misses: int
    peak_concurrency: int


class ModelRunner:
    def __init__(self, backend: Backend, batching: BatchingConfig) -> None:
        self.backend = backend
        self.batching = batching
        self.limits = CallLimits(batching.max_concurrency, batching.max_requests_per_second)
        self._cache = JudgeCache(batching.cache_size)
        self._batchers: dict[Hashable, DynamicBatcher] = {}
        self._calls = 0
        self._inputs = 0
        self._largest = 0

    @property
    def stats(self) -> RunnerStats:
        return RunnerStats(
            model_calls=self._calls,
            inputs=self._inputs,
            largest_batch=self._largest,
            cache_hits=self._cache.hits,
            cache_misses=self._cache.misses,
            peak_concurrency=self.limits.peak_in_flight,
        )

    async def generate(self, prompt: Prompt, params: GenerationParams) -> str:
        result: str = await self._submit("generate", params, prompt, lambda items: self.backend.generate(items, params))
        return result

    async def label_logprobs(self, prompt: Prompt, labels: tuple[str, ...]) -> dict[str, float]:
        result: dict[str, float] = await self._submit(
            "label_logprobs", labels, prompt, lambda items: self.backend.label_logprobs(items, labels)
        )
        return result

    async def classify(self, conversation: Prompt) -> list[float]:
        result: list[float] = await self._submit("classify", None, conversation, self.backend.classify)
        return result

    async def embed(self, text: str, pooling: str) -> list[float]:
        result: list[float] = await self._submit(
            "embed", pooling, text, lambda items: self.backend.embed(items, pooling)
        )
        return result

    async def _submit(
        self, op: str, params: Hashable, item: Hashable, call: Callable[[Any], Awaitable[Sequence[Any]]]
    ) -> Any:
        key = (op, params)
        batcher = self._batchers.get(key)
        if batcher is None:
            batcher = DynamicBatcher(
                lambda items: self._run(call, items),
                max_batch_size=self.batching.max_batch_size,
                max_wait_s=self.batching.max_wait_ms / 1000,
                # HTTP backends limit each request themselves; in-process ones limit whole batches
                gate=None if self.backend.limits_per_request else self.limits,
            )
            self._batchers[key] = batcher
        return await self._cache.get_or_compute((op, params, item), lambda: batcher.submit(item))

    async def _run(self, call: Callable[[Any], Awaitable[Sequence[Any]]], items: list[Hashable]) -> Sequence[Any]:
        self._calls += 1
        self._inputs += len(items)
        self._largest = max(self._largest, len(items))
        try:
            async with asyncio.timeout(self.batching.timeout_s):
                return await call(items)
        except TimeoutError:
            raise JudgeTimeout(
                f"judge model call on {len(items)} inputs exceeded timeout_s={self.batching.timeout_s:g}"
            ) from None

    async def aclose(self) -> None:
        for batcher in self._batchers.values():
            await batcher.aclose()
        await self.backend.aclose()


def shared_runner(resources: ResourceBag, config: BackendConfig) -> ModelRunner:
    """The one runner for this model on this server, created on first use."""
    return resources.get_or_create(
        config.resource_key,
        lambda: ModelRunner(create_backend(config), config.batching),
        close=lambda runner: runner.aclose(),
    )


__all__ = ["JudgeFailure", "ModelRunner", "RunnerStats", "shared_runner"]
