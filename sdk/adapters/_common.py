"""What every trainer adapter shares: settings, and one scoring call per batch that never raises into the trainer.

Each framework hands a batch over in its own shape (TRL and ms-swift: columns as keyword
lists; verl: a ground truth and an ``extra_info`` dict per sample; OpenRLHF: label strings).
An adapter only reads that shape into ``Samples`` (with the readers of ``sdk._columns``),
calls ``BatchScorer`` once per batch, and turns each ``ScoreResult`` into the framework's
reward value. A call that fails is logged and answered with an ``error`` result per sample,
which ``score_or_none`` maps to None like any other sample the verifier did not score.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sdk._async_client import AsyncVerifierClient
from sdk._base import VerifierTarget
from sdk._client import VerifierClient
from sdk._columns import Samples
from sdk._errors import VerifierError
from sdk._types import Outcome, ScoreResult

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0
DEADLINE_GRACE_S = 1.0
"""An async call is abandoned this long after its deadline: the backstop if the client's own deadline never fires."""


@dataclass(frozen=True)
class AdapterSettings:
    """Where and what to score. ``from_env`` fills what the caller leaves out.

    Environment variables (so a framework's config file needs no code change):
    ``VERIFIER_SERVER`` (address, default ``127.0.0.1:50051``), ``VERIFIER_NAME``
    (default ``math``), ``VERIFIER_TOKEN``, ``VERIFIER_TIMEOUT_S``.
    """

    verifier: VerifierTarget
    """A registered name (``name`` or ``name@version``) or an inline spec."""
    target: str | Sequence[str]
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Per batch; past it every sample of the batch is unscored."""
    token: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    """Other ``VerifierClient`` options (``tls``, ``retry``, ``client_id``, ...)."""

    @classmethod
    def from_env(
        cls,
        verifier: str | None = None,
        target: str | None = None,
        timeout_s: float | None = None,
        token: str | None = None,
    ) -> AdapterSettings:
        timeout = timeout_s if timeout_s is not None else float(os.environ.get("VERIFIER_TIMEOUT_S", DEFAULT_TIMEOUT_S))
        return cls(
            verifier=verifier or os.environ.get("VERIFIER_NAME", "math"),
            target=target or os.environ.get("VERIFIER_SERVER", "127.0.0.1:50051"),
            timeout_s=timeout,
            token=token or os.environ.get("VERIFIER_TOKEN") or None,
        )

    def client_options(self) -> dict[str, Any]:
        return {**self.options, "timeout_s": self.timeout_s, **({"token": self.token} if self.token else {})}


class BatchScorer:
    """One RPC per batch, sync or async; a failed call gives every sample an ``error`` result saying why.

    The sync client is created on first use and shared (it is thread-safe). An async client
    belongs to the event loop that creates it, so ``ascore`` keeps one per loop, created
    lazily in it (TRL's background loop, verl's reward loop); ``fresh_channel=True`` opens
    and closes one per call instead, for frameworks that run every batch in a new loop.
    Picklable (Ray and multiprocessing copy reward functions): clients reconnect lazily.
    """

    def __init__(self, settings: AdapterSettings, *, name: str | None = None, unscored_as: str = "None") -> None:
        """
        Args:
            name: what logs call this reward (default: the verifier's name).
            unscored_as: what the framework gets for an unscored sample, for the failure's log line.
        """
        self.settings = settings
        self.name = name or verifier_name(settings.verifier)
        self.unscored_as = unscored_as
        self._client: VerifierClient | None = None
        self._loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncVerifierClient] = (
            weakref.WeakKeyDictionary()
        )

    def score(self, samples: Samples) -> list[ScoreResult]:
        try:
            if self._client is None:
                self._client = VerifierClient(self.settings.target, **self.settings.client_options())
            return list(self._client.score(self.settings.verifier, **samples.arguments()))
        except VerifierError as error:
            return self._failed(len(samples), error)

    async def ascore(self, samples: Samples, *, fresh_channel: bool = False) -> list[ScoreResult]:
        try:
            if fresh_channel:
                async with self.new_async_client() as client:
                    return await self._bounded(client.score(self.settings.verifier, **samples.arguments()))
            return await self._bounded(self.loop_client().score(self.settings.verifier, **samples.arguments()))
        except (VerifierError, TimeoutError) as error:
            return self._failed(len(samples), error)

    def loop_client(self) -> AsyncVerifierClient:
        """This event loop's client, created in it on first use."""
        loop = asyncio.get_running_loop()
        client = self._loop_clients.get(loop)
        if client is None:
            client = self._loop_clients[loop] = self.new_async_client()
        return client

    def new_async_client(self) -> AsyncVerifierClient:
        return AsyncVerifierClient(self.settings.target, **self.settings.client_options())

    async def _bounded(self, scoring: Awaitable[list[ScoreResult]]) -> list[ScoreResult]:
        return await asyncio.wait_for(scoring, self.settings.timeout_s + DEADLINE_GRACE_S)

    def _failed(self, count: int, error: Exception) -> list[ScoreResult]:
        log.warning("%s: scoring failed, returning %s for %d samples: %s", self.name, self.unscored_as, count, error)
        reason = f"scoring failed: {str(error) or type(error).__name__}"
        return [ScoreResult(score=None, outcome=Outcome.ERROR, reason=reason)] * count

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_client": None, "_loop_clients": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _loop_clients=weakref.WeakKeyDictionary())


def score_or_none(result: ScoreResult) -> float | None:
    """The reward where the verifier scored the sample, None where it did not (any other outcome)."""
    if result.outcome is not Outcome.OK or result.score is None:
        return None
    return float(result.score)


def verifier_name(verifier: VerifierTarget) -> str:
    """A verifier's name for logs and metrics: the registered name, or an inline spec's ``name``."""
    if isinstance(verifier, str):
        return verifier
    name = verifier.get("name") if isinstance(verifier, Mapping) else getattr(verifier, "name", "")
    return str(name or "remote_reward")
