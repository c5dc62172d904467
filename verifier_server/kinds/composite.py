"""The ``composite`` kind: several verifiers scored concurrently and combined.

``combine`` is ``weighted_sum`` (default), ``min``, ``max`` or ``gate`` (the first
child gates the weighted sum of the rest). Any child may also be marked
``gate: true``: when its score is below its ``threshold`` the composite scores
``gate_fail_score`` — "format must pass before accuracy counts".

Children are registered names (``name`` or ``name@version``, resolved when scoring
so an unpinned child follows its latest version) or inline specs. A child that
does not apply to a sample is left out of the combination; a child that fails on a
sample (error, timeout, invalid input) makes the composite fail on it with the
child's outcome, because a partial sum would look like a real reward.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier_server.domain import Outcome, Sample, ScoreResult, VerifierSpec
from verifier_server.errors import NotFound, SpecError
from verifier_server.kinds.base import BuildContext, ConfigReader, Verifier

_COMBINES = ("weighted_sum", "min", "max", "gate")


@dataclass(frozen=True, slots=True)
class Child:
    label: str
    ref: str | None
    inline: VerifierSpec | None
    weight: float
    gate: bool
    threshold: float


class CompositeVerifier:
    def __init__(
        self, children: tuple[Child, ...], combine: str, gate_fail_score: float, context: BuildContext
    ) -> None:
        self._children = children
        self._combine = combine
        self._gate_fail_score = gate_fail_score
        self._context = context
        self._inline: dict[str, Verifier] = {}

    async def validate(self) -> None:
        """Resolve every child now, so unknown names and cycles fail at registration.

        Problems of every child are reported together, an inline child's under its full
        path (``config.children[1].verifier.config.pattern``).
        """
        problems: list[tuple[str, str]] = []
        for index, child in enumerate(self._children):
            where = f"config.children[{index}].verifier"
            try:
                await self._child_verifier(child)
            except NotFound as exc:
                problems.append((where, exc.message))
            except SpecError as exc:
                if child.inline is None:  # a registered child's own spec, or a cycle: not a field of ours
                    raise
                problems.extend((f"{where}.{field}" if field else where, message) for field, message in exc.problems)
        if problems:
            raise SpecError.of(problems)

    async def _child_verifier(self, child: Child) -> Verifier:
        if child.inline is not None:
            verifier = self._inline.get(child.label)
            if verifier is None:
                verifier = await self._context.compile_inline(child.inline)
                self._inline[child.label] = verifier
            return verifier
        assert child.ref is not None  # a child has a ref or an inline spec; from_spec checks it
        return await self._context.resolve(child.ref)

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        from verifier_server.service import score_with  # the service's per-sample containment

        async def run(child: Child) -> list[ScoreResult]:
            return await score_with(await self._child_verifier(child), samples)

        per_child = await asyncio.gather(*(run(child) for child in self._children))
        return [self._combine_one([results[i] for results in per_child]) for i in range(len(samples))]

    def _combine_one(self, child_results: list[ScoreResult]) -> ScoreResult:
        components: dict[str, float] = {}
        details: dict[str, Any] = {}
        applicable: list[tuple[Child, float]] = []
        failure: tuple[Child, ScoreResult] | None = None
        for child, result in zip(self._children, child_results, strict=True):
            if result.details or result.reason:
                details[child.label] = {"outcome": result.outcome.value, "reason": result.reason, **result.details}
            if result.outcome is Outcome.OK and result.score is not None:
                components[child.label] = result.score
                applicable.append((child, result.score))
            elif result.outcome is not Outcome.NOT_APPLICABLE and failure is None:
                failure = (child, result)
        if failure is not None:
            child, result = failure
            return ScoreResult(
                score=None,
                outcome=result.outcome,
                reason=f"child {child.label!r}: {result.reason}",
                components=components,
                details=details,
            )
        for child, score in applicable:
            if child.gate and score < child.threshold:
                return ScoreResult(
                    score=self._gate_fail_score,
                    reason=f"gate {child.label!r} not passed ({score:g} < {child.threshold:g})",
                    components=components,
                    details=details,
                )
        counted = [(child, score) for child, score in applicable if not child.gate]
        if not counted:
            if applicable:  # only gates, all passed
                return ScoreResult(score=1.0, components=components, details=details)
            return ScoreResult(
                score=None, outcome=Outcome.NOT_APPLICABLE, reason="no child applies", components=components
            )
        if self._combine == "min":
            score = min(score for _, score in counted)
        elif self._combine == "max":
            score = max(score for _, score in counted)
        else:
            score = sum(child.weight * score for child, score in counted)
        return ScoreResult(score=score, components=components, details=details)


class CompositeKind:
    name: ClassVar[str] = "composite"

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> CompositeVerifier:
        reader = ConfigReader(config)
        combine = reader.str("combine", "weighted_sum", choices=_COMBINES)
        gate_fail_score = reader.float("gate_fail_score", 0.0)
        raw_children = reader.raw("children")
        if not isinstance(raw_children, list) or not raw_children:
            raise reader.error("children", "must be a non-empty list of child verifiers")
        children = tuple(_child(index, raw, combine) for index, raw in enumerate(raw_children))
        labels = [child.label for child in children]
        duplicate = next((label for label in labels if labels.count(label) > 1), None)
        if duplicate is not None:
            raise SpecError("config.children", f"two children are labelled {duplicate!r}; set distinct 'label's")
        reader.finish()
        return CompositeVerifier(children, combine, gate_fail_score, context)


def _child(index: int, raw: Any, combine: str) -> Child:
    if isinstance(raw, str):
        raw = {"verifier": raw}
    reader = ConfigReader(raw if isinstance(raw, Mapping) else {}, f"config.children[{index}]")
    if not isinstance(raw, Mapping):
        raise reader.error("verifier", "a child is a verifier name or an object with 'verifier'")
    target = reader.raw("verifier")
    weight = reader.float("weight", 1.0)
    is_gate = reader.bool("gate", combine == "gate" and index == 0)
    threshold = reader.float("threshold", 1.0)
    label = reader.optional_str("label")
    if isinstance(target, str):
        ref, inline = target, None
        label = label or target.partition("@")[0]
    elif isinstance(target, Mapping):
        spec_reader = ConfigReader(target, reader.path("verifier"))
        kind = spec_reader.str("kind")
        inline = VerifierSpec(
            name=spec_reader.str("name", f"child{index}"),
            kind=kind,
            config=spec_reader.mapping("config"),
            description=spec_reader.str("description", ""),
        )
        spec_reader.finish()
        ref = None
        label = label or inline.name
    else:
        raise reader.error("verifier", "must be a verifier name ('name' or 'name@version') or an inline spec object")
    reader.finish()
    return Child(label=label, ref=ref, inline=inline, weight=weight, gate=is_gate, threshold=threshold)
