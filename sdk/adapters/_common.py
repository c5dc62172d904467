"""What every trainer adapter shares: settings, per-sample references, and one scoring call per batch.

Each framework hands a batch over in its own shape (ms-swift: columns as keyword lists;
verl: a ground truth and an ``extra_info`` dict per sample; OpenRLHF: labels strings).
The adapters only translate that shape into ``(completions, prompts, references)``,
call ``BatchScorer`` once per batch, and turn each ``ScoreResult`` (or ``None`` when
the whole call failed) into the framework's reward value. A failed call never raises
into the trainer: it is logged and every sample gets the framework's failure value.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sdk._async_client import AsyncVerifierClient
from sdk._client import VerifierClient
from sdk._errors import VerifierError
from sdk._types import Outcome, ScoreResult

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class AdapterSettings:
    """Where and what to score. ``from_env`` fills what the caller leaves out.

    Environment variables (so a framework's config file needs no code change):
    ``VERIFIER_SERVER`` (address, default ``127.0.0.1:50051``), ``VERIFIER_NAME``
    (default ``math``), ``VERIFIER_TOKEN``, ``VERIFIER_TIMEOUT_S``.
    """

    verifier: str
    target: str
    timeout_s: float = DEFAULT_TIMEOUT_S
    """Per batch; past it every sample of the batch gets the failure value."""
    token: str | None = None

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
        return {"timeout_s": self.timeout_s, **({"token": self.token} if self.token else {})}


class BatchScorer:
    """One RPC per batch, sync or async; ``None`` per sample where the call failed.

    The sync client is created once and reused (thread-safe). Async clients are bound to
    the event loop that creates them, so ``ascore`` takes one from the caller (reused on a
    long-lived loop) or opens and closes its own (frameworks that ``asyncio.run`` per batch).
    """

    def __init__(self, settings: AdapterSettings) -> None:
        self.settings = settings
        self._client: VerifierClient | None = None

    def score(
        self, completions: Sequence[Any], prompts: Sequence[Any] | None, references: Sequence[Mapping[str, Any]]
    ) -> list[ScoreResult | None]:
        if self._client is None:
            self._client = VerifierClient(self.settings.target, **self.settings.client_options())
        try:
            results = self._client.score(self.settings.verifier, completions, prompts=prompts, references=references)
        except VerifierError as error:
            return self._failed(len(completions), error)
        return list(results)

    async def ascore(
        self,
        completions: Sequence[Any],
        prompts: Sequence[Any] | None,
        references: Sequence[Mapping[str, Any]],
        client: AsyncVerifierClient | None = None,
    ) -> list[ScoreResult | None]:
        try:
            if client is not None:
                results = await client.score(
                    self.settings.verifier, completions, prompts=prompts, references=references
                )
            else:
                async with self.new_async_client() as own:
                    results = await own.score(
                        self.settings.verifier, completions, prompts=prompts, references=references
                    )
        except VerifierError as error:
            return self._failed(len(completions), error)
        return list(results)

    def new_async_client(self) -> AsyncVerifierClient:
        return AsyncVerifierClient(self.settings.target, **self.settings.client_options())

    def _failed(self, count: int, error: Exception) -> list[ScoreResult | None]:
        log.warning("%s: scoring failed for %d samples: %s", self.settings.verifier, count, error)
        return [None] * count

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (Ray and multiprocessing copy reward functions); the client reconnects lazily."""
        return {**self.__dict__, "_client": None}


def score_or_none(result: ScoreResult | None) -> float | None:
    """The reward where the verifier scored the sample, None where it did not (any other outcome)."""
    if result is None or result.outcome is not Outcome.OK or result.score is None:
        return None
    return float(result.score)


def references_from_columns(
    count: int, columns: Mapping[str, Any], *, exclude: Iterable[str] = (), include: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per-sample references from columnar keyword arguments (``{"answer": ["4", "8"]}``).

    Only columns holding one JSON-safe value per sample are sent: framework internals
    (states, tensors, callbacks) are excluded by name or dropped because they are not data.
    """
    excluded = set(exclude)
    names = list(include) if include is not None else [key for key in columns if key not in excluded]
    references: list[dict[str, Any]] = [{} for _ in range(count)]
    for name in names:
        values = columns.get(name)
        if not isinstance(values, list | tuple) or len(values) != count:
            continue
        for reference, value in zip(references, values, strict=True):
            safe = json_safe(value)
            if safe is not _UNSAFE and safe is not None:
                reference[name] = safe
    return references


_UNSAFE = object()


def json_safe(value: Any) -> Any:
    """``value`` as JSON data (numpy scalars and arrays converted), or a sentinel when it is not data."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        value = value.tolist()  # numpy arrays and scalars (verl's non-tensor batch is numpy)
    elif hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            safe = json_safe(item)
            if safe is not _UNSAFE:
                out[str(key)] = safe
        return out
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return _UNSAFE
    return value
