"""Running a model inside the server process without blocking the event loop.

Model calls (and the first call's model load) run on a small thread pool owned
by the backend; the event loop only awaits them. torch releases the GIL inside
its kernels, so the loop keeps serving other requests while a batch runs.
"""

from __future__ import annotations

import abc
import asyncio
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar

from verifier_server.kinds.judge.backends.base import DEFAULT_POLICY, CallPolicy, GenerationParams, Prompt
from verifier_server.kinds.judge.config import BackendConfig
from verifier_server.kinds.judge.failures import JudgeFailure

M = TypeVar("M")
R = TypeVar("R")


class InProcessBackend(abc.ABC, Generic[M]):
    """Owns a lazily loaded model ``M`` and the threads that call it."""

    limits_per_request = False

    def __init__(self, config: BackendConfig) -> None:
        self.config = config
        self.name = f"{config.backend}:{config.model}"
        self._executor = ThreadPoolExecutor(
            max_workers=config.instance.max_concurrency, thread_name_prefix=f"judge-{config.backend}"
        )
        self._load_lock = threading.Lock()
        self._model: M | None = None
        self._load_error: JudgeFailure | None = None

    @abc.abstractmethod
    def load(self) -> M:
        """Build the model; runs on a worker thread. Subclasses implement it."""

    def model(self) -> M:
        """The loaded model, loading it on first use (worker thread only)."""
        with self._load_lock:
            if self._load_error is not None:
                raise self._load_error
            if self._model is None:
                try:
                    self._model = self.load()
                except JudgeFailure as exc:
                    self._load_error = exc
                    raise
                except Exception as exc:
                    # a broken model directory does not fix itself; remember instead of reloading per batch
                    self._load_error = JudgeFailure(
                        f"could not load judge model {self.config.model!r} ({self.config.backend}): "
                        f"{type(exc).__name__}: {exc}"
                    )
                    raise self._load_error from exc
            return self._model

    async def in_thread(self, fn: Callable[..., R], *args: Any) -> R:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # The Backend operations: each runs its blocking twin (below) on the backend's threads.
    # The policy is ignored: the runner applies a verifier's limits to whole batches.

    async def generate(
        self, prompts: Sequence[Prompt], params: GenerationParams, policy: CallPolicy = DEFAULT_POLICY
    ) -> list[str | JudgeFailure]:
        return await self.in_thread(self._generate, list(prompts), params)

    async def label_logprobs(
        self, prompts: Sequence[Prompt], labels: tuple[str, ...], policy: CallPolicy = DEFAULT_POLICY
    ) -> list[dict[str, float] | JudgeFailure]:
        return await self.in_thread(self._label_logprobs, list(prompts), labels)

    async def classify(
        self, conversations: Sequence[Prompt], policy: CallPolicy = DEFAULT_POLICY
    ) -> list[list[float] | JudgeFailure]:
        return await self.in_thread(self._classify, list(conversations))

    async def embed(
        self, texts: Sequence[str], pooling: str, policy: CallPolicy = DEFAULT_POLICY
    ) -> list[list[float] | JudgeFailure]:
        return await self.in_thread(self._embed, list(texts), pooling)

    @abc.abstractmethod
    def _generate(self, prompts: list[Prompt], params: GenerationParams) -> list[str | JudgeFailure]: ...

    @abc.abstractmethod
    def _label_logprobs(
        self, prompts: list[Prompt], labels: tuple[str, ...]
    ) -> list[dict[str, float] | JudgeFailure]: ...

    @abc.abstractmethod
    def _classify(self, conversations: list[Prompt]) -> list[list[float] | JudgeFailure]: ...

    @abc.abstractmethod
    def _embed(self, texts: list[str], pooling: str) -> list[list[float] | JudgeFailure]: ...

    async def aclose(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._model = None
