"""Per-sample containment: a bad sample or a crashing kind never fails a batch.

Every batch a verifier scores goes through ``score_contained``, whoever asks: the service
for a request, a composite for each child. Samples without a usable completion are
answered ``invalid_input`` before the kind sees them; a kind that raises turns into
per-sample ``error`` outcomes (logged with the request id); a result that is not ``ok``
carries no score. It lives below the service so that composites, which score their
children with it, never reach up into the service.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.errors import InternalError
from verifier_server.kinds.base import Verifier

log = logging.getLogger(__name__)


async def score_contained(verifier: Verifier, samples: Sequence[Sample]) -> list[ScoreResult]:
    """Score ``samples``, answering unusable ones ``invalid_input`` and containing kind crashes."""
    if not samples:
        return []
    started = time.perf_counter()
    results: list[ScoreResult | None] = [None] * len(samples)
    valid_positions: list[int] = []
    for position, sample in enumerate(samples):
        problem = _sample_problem(sample)
        if problem:
            results[position] = ScoreResult.invalid(problem)
        else:
            valid_positions.append(position)
    if valid_positions:
        valid = samples if len(valid_positions) == len(samples) else [samples[i] for i in valid_positions]
        for position, result in zip(valid_positions, await _contained(verifier, valid), strict=True):
            results[position] = result
    elapsed = time.perf_counter() - started
    final: list[ScoreResult] = []
    for maybe in results:
        assert maybe is not None  # every position was filled above
        result = maybe
        if result.latency_s == 0.0:
            result.latency_s = elapsed
        if result.outcome is not Outcome.OK:
            result.score = None
        final.append(result)
    return final


async def _contained(verifier: Verifier, samples: Sequence[Sample]) -> list[ScoreResult]:
    try:
        results = await verifier.score_batch(samples)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("verifier crashed on a batch")
        reason = f"verifier failed: {type(exc).__name__}: {exc}"
        return [ScoreResult.failed(Outcome.ERROR, reason) for _ in samples]
    if len(results) != len(samples):
        raise InternalError(f"verifier returned {len(results)} results for {len(samples)} samples")
    return results


def _sample_problem(sample: Sample) -> str:
    if sample.input_error:
        return sample.input_error
    completion: Any = sample.completion
    if completion is None:
        return "completion is missing"
    if isinstance(completion, tuple):
        if not completion:
            return "completion has no messages"
        return ""
    if not isinstance(completion, str):
        return f"completion must be text or chat messages, got {type(completion).__name__}"
    return ""
