"""The front of a judge model: a shared instance per model, and each verifier's own view of it.

Every verifier naming the same model (backend + weights + dtype; for HTTP the endpoint) gets
the same ``ModelRunner`` from the server's ``ResourceBag``: one copy of the weights, one answer
cache, and the server's limits on the instance (``model_max_concurrency``; an endpoint's own
allow-list limits). Each verifier then talks to it through its own ``JudgeRunner``, which holds
that verifier's batching, concurrency, rate, timeout and retry settings, so a verifier gets the
limits its spec asked for whoever loaded the model first.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from verifier_server.kinds.base import ResourceBag
from verifier_server.kinds.judge.backends import Backend, CallPolicy, GenerationParams, Prompt, create_backend
from verifier_server.kinds.judge.batching import DynamicBatcher
from verifier_server.kinds.judge.cache import JudgeCache
from verifier_server.kinds.judge.config import BackendConfig, BatchingConfig, VerifierLimits
from verifier_server.kinds.judge.failures import JudgeFailure, JudgeTimeout
from verifier_server.kinds.judge.limits import CallLimits, ChainedLimits


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
    """One model instance shared by every verifier that names it."""

    def __init__(self, backend: Backend, config: BackendConfig) -> None:
        self.backend = backend
        self.config = config
        self.limits = CallLimits(config.instance.max_concurrency, None)
        """The server's bound on model calls in flight on this instance (in-process backends)."""
        self.cache = JudgeCache(config.instance.cache_size)
        self._views: weakref.WeakSet[JudgeRunner] = weakref.WeakSet()
        self.calls = 0
        self.inputs = 0
        self.largest = 0

    def for_verifier(self, limits: VerifierLimits) -> JudgeRunner:
        view = JudgeRunner(self, limits)
        self._views.add(view)
        return view

    @property
    def stats(self) -> RunnerStats:
        return RunnerStats(
            model_calls=self.calls,
            inputs=self.inputs,
            largest_batch=self.largest,
            cache_hits=self.cache.hits,
            cache_misses=self.cache.misses,
            peak_concurrency=self.limits.peak_in_flight,
        )

    async def aclose(self) -> None:
        for view in list(self._views):
            await view.aclose()
        await self.backend.aclose()


class JudgeRunner:
    """One verifier's way into a shared model: its own batches, limits, timeout and retries."""

    def __init__(self, model: ModelRunner, limits: VerifierLimits) -> None:
        self.model = model
        self.batching: BatchingConfig = limits.batching
        self.limits = CallLimits(limits.batching.max_concurrency, limits.batching.max_requests_per_second)
        self._policy = CallPolicy(limits=self.limits, request=limits.request)
        self._batchers: dict[Hashable, DynamicBatcher] = {}

    @property
    def stats(self) -> RunnerStats:
        """The shared model's counters, with this verifier's own peak concurrency."""
        stats = self.model.stats
        stats.peak_concurrency = self.limits.peak_in_flight
        return stats

    async def generate(self, prompt: Prompt, params: GenerationParams) -> str:
        backend, policy = self.model.backend, self._policy
        result: str = await self._submit(
            "generate", params, prompt, lambda items: backend.generate(items, params, policy)
        )
        return result

    async def label_logprobs(self, prompt: Prompt, labels: tuple[str, ...]) -> dict[str, float]:
        backend, policy = self.model.backend, self._policy
        result: dict[str, float] = await self._submit(
            "label_logprobs", labels, prompt, lambda items: backend.label_logprobs(items, labels, policy)
        )
        return result

    async def classify(self, conversation: Prompt) -> list[float]:
        backend, policy = self.model.backend, self._policy
        result: list[float] = await self._submit(
            "classify", None, conversation, lambda items: backend.classify(items, policy)
        )
        return result

    async def embed(self, text: str, pooling: str) -> list[float]:
        backend, policy = self.model.backend, self._policy
        result: list[float] = await self._submit(
            "embed", pooling, text, lambda items: backend.embed(items, pooling, policy)
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
                # HTTP backends limit each request themselves; in-process ones limit whole batches,
                # by this verifier's own bound first, then the shared instance's
                gate=None if self.model.backend.limits_per_request else ChainedLimits(self.limits, self.model.limits),
            )
            self._batchers[key] = batcher
        if self.batching.cache_size == 0:
            return await batcher.submit(item)
        return await self.model.cache.get_or_compute(
            (op, params, item), lambda: batcher.submit(item), join_timeout_s=self.batching.timeout_s
        )

    async def _run(self, call: Callable[[Any], Awaitable[Sequence[Any]]], items: list[Hashable]) -> Sequence[Any]:
        model = self.model
        model.calls += 1
        model.inputs += len(items)
        model.largest = max(model.largest, len(items))
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


def shared_runner(resources: ResourceBag, config: BackendConfig) -> ModelRunner:
    """The one runner for this model on this server, created on first use."""
    endpoint_limits = None
    if config.openai is not None:
        allowed = config.openai.allowed
        endpoint_limits = resources.get_or_create(
            f"judge:endpoint-limits:{allowed.base_url}",
            lambda: CallLimits(allowed.max_concurrency, allowed.max_requests_per_second),
        )
    return resources.get_or_create(
        config.resource_key,
        lambda: ModelRunner(create_backend(config, endpoint_limits), config),
        close=lambda runner: runner.aclose(),
    )


__all__ = ["JudgeFailure", "JudgeRunner", "ModelRunner", "RunnerStats", "shared_runner"]
