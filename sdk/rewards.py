"""Remote verifiers as TRL reward functions: one RPC per GRPO batch, ``None`` where unscored.

TRL calls a reward function with keywords ``prompts``, ``completions``,
``completion_ids``, every dataset column, ``trainer_state``, ``log_extra`` and
``log_metric``. The dataset columns become each sample's reference. TRL has no
reward timeout and an exception stops training, so these adapters bound every call
by their own deadline and answer ``None`` (TRL's "does not apply", averaged away
with nan-aware means) for every sample they could not score, logging why.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sdk._async_client import AsyncVerifierClient
from sdk._base import DEFAULT_TARGET, VerifierTarget
from sdk._client import VerifierClient
from sdk._errors import VerifierError
from sdk._types import Outcome, ScoreResult

log = logging.getLogger(__name__)

TRAINER_KEYWORDS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)
"""Keywords TRL passes that are not dataset columns."""

Scored = tuple[list[float | None], list[ScoreResult]]
"""What ``score_results`` returns: the rewards TRL gets, and one result per sample saying why."""


class _RewardBase:
    """What the sync and async adapters share: naming, references, result mapping, metrics."""

    def __init__(
        self,
        verifier: VerifierTarget,
        *,
        target: str | Sequence[str] = DEFAULT_TARGET,
        timeout_s: float = 120.0,
        name: str | None = None,
        reference_columns: Sequence[str] | None = None,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        """
        Args:
            verifier: a registered name (``name`` or ``name@version``) or an inline spec.
            target: the server address(es); see ``VerifierClient``.
            timeout_s: the longest a reward call may take; past it every sample is ``None``.
            name: what TRL logs the reward as (``rewards/<name>/mean``); defaults to the
                verifier's name.
            reference_columns: dataset columns sent as references; None sends every
                column that is JSON-serializable.
        """
        self.verifier = verifier
        self.target = target
        self.timeout_s = timeout_s
        self.reference_columns = tuple(reference_columns) if reference_columns is not None else None
        self.client_options = dict(client_options or {})
        self.__name__ = name or _verifier_name(verifier)
        self._skipped_columns: set[str] = set()

    def _references(self, count: int, columns: Mapping[str, Any]) -> list[dict[str, Any]]:
        if self.reference_columns is not None:  # an empty selection means "send no references"
            wanted: Sequence[str] = self.reference_columns
        else:
            wanted = [key for key in columns if key not in TRAINER_KEYWORDS]
        references: list[dict[str, Any]] = [{} for _ in range(count)]
        for key in wanted:
            values = columns.get(key)
            if not isinstance(values, list | tuple) or len(values) != count or not _serializable(values):
                if key not in self._skipped_columns:
                    self._skipped_columns.add(key)
                    log.warning("%s: dataset column %r is not sent as a reference (not JSON data)", self.__name__, key)
                continue
            for reference, value in zip(references, values, strict=True):
                reference[key] = value
        return references

    def _rewards(self, results: Sequence[ScoreResult], started: float, log_metric: Any) -> list[float | None]:
        rewards = [result.score if result.outcome is Outcome.OK else None for result in results]
        if callable(log_metric) and results:
            counts = Counter(result.outcome.value for result in results)
            for outcome in Outcome:
                log_metric(f"{self.__name__}/outcome_{outcome.value}", counts.get(outcome.value, 0) / len(results))
            log_metric(f"{self.__name__}/latency_s", time.perf_counter() - started)
        return rewards

    def _failed(self, count: int, error: Exception, started: float, log_metric: Any) -> Scored:
        log.warning("%s: scoring failed, returning None for %d samples: %s", self.__name__, count, error)
        if callable(log_metric):
            log_metric(f"{self.__name__}/outcome_error", 1.0)
            log_metric(f"{self.__name__}/latency_s", time.perf_counter() - started)
        failed = ScoreResult(
            score=None, outcome=Outcome.ERROR, reason=f"scoring failed: {str(error) or type(error).__name__}"
        )
        return [None] * count, [failed] * count

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (TRL and multiprocessing may copy reward functions): clients reconnect lazily."""
        state = self.__dict__.copy()
        for key in ("_client", "_clients"):
            state.pop(key, None)
        return state


class RemoteReward(_RewardBase):
    """A blocking TRL reward function backed by a remote verifier.

    >>> GRPOTrainer(..., reward_funcs=[RemoteReward("math", target="127.0.0.1:50051")])
    """

    def __init__(self, verifier: VerifierTarget, **options: Any) -> None:
        super().__init__(verifier, **options)
        self._client: VerifierClient | None = None

    def _get_client(self) -> VerifierClient:
        if getattr(self, "_client", None) is None:
            self._client = VerifierClient(self.target, timeout_s=self.timeout_s, **self.client_options)
        assert self._client is not None
        return self._client

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        return self.score_results(prompts, completions, completion_ids, **columns)[0]

    def score_results(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> Scored:
        """The rewards TRL gets and the results behind them (a failed call gives ``error`` results saying why)."""
        started = time.perf_counter()
        log_metric = columns.get("log_metric")
        try:
            results = self._get_client().score(
                self.verifier,
                completions,
                prompts=prompts,
                references=self._references(len(completions), columns),
                completion_ids=completion_ids,
                timeout_s=self.timeout_s,
            )
        except VerifierError as error:
            return self._failed(len(completions), error, started, log_metric)
        return self._rewards(results, started, log_metric), results

    def close(self) -> None:
        if getattr(self, "_client", None) is not None:
            self._client.close()  # type: ignore[union-attr]
            self._client = None


class AsyncRemoteReward(_RewardBase):
    """An async TRL reward function: TRL runs it concurrently with its other async rewards.

    TRL (>= 1.16) detects the ``async def __call__``; for older TRL pass
    ``reward.as_function()``, a plain ``async def`` that every version detects.
    """

    def __init__(self, verifier: VerifierTarget, **options: Any) -> None:
        super().__init__(verifier, **options)
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncVerifierClient] = (
            weakref.WeakKeyDictionary()
        )

    def _get_client(self) -> AsyncVerifierClient:
        if not hasattr(self, "_clients"):
            self._clients = weakref.WeakKeyDictionary()
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = AsyncVerifierClient(self.target, timeout_s=self.timeout_s, **self.client_options)
            self._clients[loop] = client
        return client

    async def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        return (await self.score_results(prompts, completions, completion_ids, **columns))[0]

    async def score_results(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> Scored:
        """The rewards TRL gets and the results behind them (a failed call gives ``error`` results saying why)."""
        started = time.perf_counter()
        log_metric = columns.get("log_metric")
        try:
            results = await asyncio.wait_for(
                self._get_client().score(
                    self.verifier,
                    completions,
                    prompts=prompts,
                    references=self._references(len(completions), columns),
                    completion_ids=completion_ids,
                    timeout_s=self.timeout_s,
                ),
                self.timeout_s + 1.0,
            )
        except (VerifierError, TimeoutError) as error:
            return self._failed(len(completions), error, started, log_metric)
        return self._rewards(results, started, log_metric), results

    def as_function(self) -> Callable[..., Any]:
        """This reward as a plain ``async def`` named after the verifier."""

        async def reward(*args: Any, **kwargs: Any) -> list[float | None]:
            return await self(*args, **kwargs)

        reward.__name__ = reward.__qualname__ = self.__name__
        return reward


def _verifier_name(verifier: VerifierTarget) -> str:
    if isinstance(verifier, str):
        return verifier
    name = verifier.get("name") if isinstance(verifier, Mapping) else getattr(verifier, "name", "")
    return str(name or "remote_reward")


def _serializable(values: Sequence[Any]) -> bool:
    try:
        json.dumps(values[:1] if len(values) > 1 else values, default=lambda v: v.tolist())
    except (TypeError, ValueError, AttributeError):
        return False
    return True
