"""Remote verifiers as TRL reward functions: one RPC per GRPO batch, ``None`` where unscored.

TRL calls a reward function with keywords ``prompts``, ``completions``,
``completion_ids``, every dataset column, ``trainer_state``, ``log_extra`` and
``log_metric``. The dataset columns become each sample's reference. TRL has no
reward timeout and an exception stops training, so these adapters bound every call
by their own deadline and answer ``None`` (TRL's "does not apply", averaged away
with nan-aware means) for every sample they could not score, logging why.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sdk._base import DEFAULT_TARGET, VerifierTarget
from sdk._columns import ColumnReferences, Samples
from sdk._types import Outcome, ScoreResult
from sdk.adapters._common import AdapterSettings, BatchScorer, score_or_none, verifier_name

TRAINER_KEYWORDS = frozenset(
    {"prompts", "completions", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)
"""Keywords TRL passes that are not dataset columns."""

Scored = tuple[list[float | None], list[ScoreResult]]
"""What ``score_results`` returns: the rewards TRL gets, and one result per sample saying why."""


class _RewardBase:
    """What the sync and async rewards share: TRL's batch read into samples, results into rewards and metrics.

    The scoring itself is the trainer adapters' ``BatchScorer``: TRL is one more adapter.
    """

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
                column that is JSON data.
            client_options: other ``VerifierClient`` options (``token``, ``tls``, ``retry``, ...).
        """
        self.__name__ = name or verifier_name(verifier)
        settings = AdapterSettings(verifier, target, timeout_s, options=dict(client_options or {}))
        self.scorer = BatchScorer(settings, name=self.__name__)
        self.reference_columns = tuple(reference_columns) if reference_columns is not None else None
        self._references = ColumnReferences(exclude=TRAINER_KEYWORDS, include=reference_columns, owner=self.__name__)

    @property
    def verifier(self) -> VerifierTarget:
        return self.scorer.settings.verifier

    @property
    def target(self) -> str | Sequence[str]:
        return self.scorer.settings.target

    @property
    def timeout_s(self) -> float:
        return self.scorer.settings.timeout_s

    @property
    def client_options(self) -> Mapping[str, Any]:
        return self.scorer.settings.options

    def samples(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] = (),
        completion_ids: Sequence[Sequence[int]] | None = None,
        **columns: Any,
    ) -> Samples:
        """The batch TRL passed, as it is sent: prompts, completions, token ids and each sample's reference."""
        return Samples(completions, prompts, self._references(len(completions), columns), completion_ids)

    def _scored(self, results: list[ScoreResult], started: float, log_metric: Any) -> Scored:
        if callable(log_metric) and results:
            counts = Counter(result.outcome for result in results)
            for outcome in Outcome:
                log_metric(f"{self.__name__}/outcome_{outcome.value}", counts.get(outcome, 0) / len(results))
            log_metric(f"{self.__name__}/latency_s", time.perf_counter() - started)
        return [score_or_none(result) for result in results], results


class RemoteReward(_RewardBase):
    """A blocking TRL reward function backed by a remote verifier.

    >>> GRPOTrainer(..., reward_funcs=[RemoteReward("math", target="127.0.0.1:50051")])
    """

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
        samples = self.samples(prompts, completions, completion_ids, **columns)
        return self.score_samples(samples, log_metric=columns.get("log_metric"))

    def score_samples(self, samples: Samples, *, log_metric: Any = None) -> Scored:
        """``score_results`` for a batch already read (``samples``); ``log_metric`` is TRL's."""
        started = time.perf_counter()
        return self._scored(self.scorer.score(samples), started, log_metric)

    def close(self) -> None:
        self.scorer.close()


class AsyncRemoteReward(_RewardBase):
    """An async TRL reward function: TRL runs it concurrently with its other async rewards.

    TRL (>= 1.16) detects the ``async def __call__``; for older TRL pass
    ``reward.as_function()``, a plain ``async def`` that every version detects. The channel
    is created lazily in the event loop that calls (TRL's background loop), one per loop.
    """

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
        samples = self.samples(prompts, completions, completion_ids, **columns)
        return await self.score_samples(samples, log_metric=columns.get("log_metric"))

    async def score_samples(self, samples: Samples, *, log_metric: Any = None) -> Scored:
        """``score_results`` for a batch already read (``samples``); ``log_metric`` is TRL's."""
        started = time.perf_counter()
        return self._scored(await self.scorer.ascore(samples), started, log_metric)

    def as_function(self) -> Callable[..., Any]:
        """This reward as a plain ``async def`` named after the verifier."""

        async def reward(*args: Any, **kwargs: Any) -> list[float | None]:
            return await self(*args, **kwargs)

        reward.__name__ = reward.__qualname__ = self.__name__
        return reward
