"""The ``cascade`` combination of a composite: children in order, each asked where those before were not decisive.

A child's verdict on a sample is *decisive* when it scores at least the child's
``threshold``: the later (slower, costlier) children never see that sample. Where
it scores below, the sample goes on to the next child, and the last child asked
decides. This is the "rules first, a model for the misses" pattern (``math`` then a
``reference-equivalence`` judge): the judge runs only on answers the rules could not
show equal.

A child that does not apply passes the sample on. A child that fails on it (error,
timeout, invalid input) ends the cascade with that failure; with
``cascade_on_failure`` it passes the sample on instead. The last child asked that
applies decides, with its verdict or its failure: a judge outage is the sample's
``error``, never the earlier child's 0.

``details`` say which child decided (``decided_by``) and whether it *flipped* the
first child's verdict (decided the other way round from the first child's pass or
fail); the server counts samples passed on and flips per position
(``verifier_cascade_consulted``, ``verifier_cascade_flips``), so the flip rate of a
model tier is measured, not guessed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.kinds.base import KindMetrics


@dataclass(frozen=True, slots=True)
class Stage:
    """One child of a cascade: its label in results and the score at which its verdict is decisive."""

    label: str
    threshold: float


ScoreStage = Callable[[int, Sequence[Sample]], Awaitable[list[ScoreResult]]]
"""Scores samples with the child at a position (through `kinds.containment`, as every batch is)."""


async def score_cascade(
    stages: Sequence[Stage],
    score: ScoreStage,
    samples: Sequence[Sample],
    *,
    on_failure: bool,
    metrics: KindMetrics | None = None,
) -> list[ScoreResult]:
    """Results in input order; each sample decided by the first decisive child (see the module docstring)."""
    asked: list[list[tuple[int, ScoreResult]]] = [[] for _ in samples]
    pending = list(range(len(samples)))
    for position, stage in enumerate(stages):
        if not pending:
            break
        if position > 0 and metrics is not None:
            metrics.cascade_consulted.labels(str(position)).inc(len(pending))
        results = await score(position, [samples[i] for i in pending])
        last = position == len(stages) - 1
        still: list[int] = []
        for index, result in zip(pending, results, strict=True):
            asked[index].append((position, result))
            if not last and _passes_on(result, stage, on_failure):
                still.append(index)
        pending = still
    combined = [_combine(stages, consulted) for consulted in asked]
    if metrics is not None:
        for result in combined:
            if result.details.get("flipped"):
                metrics.cascade_flips.labels(str(result.details["decided_at"])).inc()
    return combined


def _passes_on(result: ScoreResult, stage: Stage, on_failure: bool) -> bool:
    if result.outcome is Outcome.OK and result.score is not None:
        return result.score < stage.threshold
    return result.outcome is Outcome.NOT_APPLICABLE or on_failure


def _combine(stages: Sequence[Stage], consulted: list[tuple[int, ScoreResult]]) -> ScoreResult:
    position, decider = _decider(consulted)
    components = {stages[p].label: r.score for p, r in consulted if r.outcome is Outcome.OK and r.score is not None}
    details: dict[str, Any] = {
        stages[p].label: {"outcome": r.outcome.value, "reason": r.reason, **r.details} for p, r in consulted
    }
    details["decided_by"] = stages[position].label
    details["decided_at"] = position
    details["flipped"] = _flipped(stages, consulted, position, decider)
    return ScoreResult(
        score=decider.score if decider.outcome is Outcome.OK else None,
        outcome=decider.outcome,
        reason=decider.reason,
        components=components,
        details=details,
    )


def _decider(consulted: list[tuple[int, ScoreResult]]) -> tuple[int, ScoreResult]:
    """The last child asked that applies: its verdict, or its failure (never an earlier child's 0 instead)."""
    for position, result in reversed(consulted):
        if result.outcome is not Outcome.NOT_APPLICABLE:
            return position, result
    return consulted[-1]


def _flipped(
    stages: Sequence[Stage], consulted: list[tuple[int, ScoreResult]], position: int, decider: ScoreResult
) -> bool:
    first_position, first = consulted[0]
    if position == first_position or first.score is None or decider.score is None:
        return False
    return (first.score >= stages[first_position].threshold) != (decider.score >= stages[position].threshold)
