"""The ``composite`` kind: several verifiers scored concurrently and combined.

``combine`` is ``weighted_sum`` (default), ``min``, ``max``, ``gate`` (the first
child gates the weighted sum of the rest) or ``cascade`` (children in order, a later
one asked only where the earlier ones scored below their ``threshold``; see
``cascade``). Any child may also be marked
``gate: true``: when its score is below its ``threshold`` the composite scores
``gate_fail_score`` — "format must pass before accuracy counts".

Children are registered names (``name`` or ``name@version``, resolved when scoring
so an unpinned child follows its latest version) or inline specs. A child that
does not apply to a sample is left out of the combination; a child that fails on a
sample (error, timeout, invalid input) makes the composite fail on it with the
child's outcome, because a partial sum would look like a real reward.

Size is bounded by server settings (``CompositeSettings``): children per composite,
inline nesting depth, and fan-out — the leaves one score reaches, counted through
registered children, so a DAG of registered composites cannot multiply its way to
2^K leaves. The structure is checked before any child compiles, in time linear in
what it visits, and fan-out is checked again at scoring (an unpinned child may have
grown since registration).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier_server.domain import Outcome, Sample, ScoreResult, VerifierSpec
from verifier_server.errors import NotFound, SpecError
from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader, Verifier
from verifier_server.kinds.cascade import Stage, score_cascade
from verifier_server.kinds.containment import score_contained
from verifier_server.kinds.settings import KindSettings, kind_settings, setting

_COMBINES = ("weighted_sum", "min", "max", "gate", "cascade")


@dataclass(frozen=True, slots=True)
class CompositeSettings(KindSettings):
    """The server's bounds on one composite (``[kinds.composite]``)."""

    kind: ClassVar[str] = "composite"

    max_children: int = setting(64, minimum=1)
    """Children of one composite."""
    max_depth: int = setting(8, minimum=1)
    """Composites nested inline inside one spec."""
    max_leaves: int = setting(256, minimum=1)
    """Non-composite verifiers one score reaches, through inline and registered children alike."""


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
        self,
        children: tuple[Child, ...],
        combine: str,
        gate_fail_score: float,
        context: BuildContext,
        limits: CompositeSettings = CompositeSettings(),
        *,
        cascade_on_failure: bool = False,
    ) -> None:
        self._children = children
        self._combine = combine
        self._gate_fail_score = gate_fail_score
        self._context = context
        self._limits = limits
        self._inline: dict[str, Verifier] = {}
        self._cascade_on_failure = cascade_on_failure
        """For ``cascade``: pass a sample on when a child fails on it, instead of failing with it."""

    async def validate(self) -> None:
        """Resolve every child now, so unknown names, cycles and too wide a fan-out fail at registration.

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
        problem = await self._fan_out_problem()
        if problem:
            raise SpecError("config.children", problem)

    async def leaf_count(self, counted: dict[int, int], budget: int) -> int:
        """Leaves this composite reaches (each shared sub-composite counted once per path, computed once).

        ``counted`` memoizes by verifier, so a DAG costs one visit per distinct composite; the
        count stops early past ``budget``.
        """
        mine = counted.get(id(self))
        if mine is not None:
            return mine
        total = 0
        for child in self._children:
            verifier = await self._child_verifier(child)
            if isinstance(verifier, CompositeVerifier):
                total += await verifier.leaf_count(counted, budget - total)
            else:
                total += 1
            if total > budget:
                break
        counted[id(self)] = total
        return total

    async def _fan_out_problem(self) -> str:
        leaves = await self.leaf_count({}, self._limits.max_leaves)
        if leaves > self._limits.max_leaves:
            return (
                f"reaches more than {self._limits.max_leaves} leaf verifiers through its children "
                "(this server's [kinds.composite] max_leaves)"
            )
        return ""

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
        problem = await self._fan_out_problem()  # unpinned children may have grown since registration
        if problem:
            return [ScoreResult.failed(Outcome.ERROR, f"composite {problem}") for _ in samples]

        async def run(child: Child) -> list[ScoreResult]:
            return await score_contained(await self._child_verifier(child), samples)

        if self._combine == "cascade":
            return await self._cascade(samples)

        per_child = await asyncio.gather(*(run(child) for child in self._children))
        return [self._combine_one([results[i] for results in per_child]) for i in range(len(samples))]

    async def _cascade(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        async def run(position: int, subset: Sequence[Sample]) -> list[ScoreResult]:
            return await score_contained(await self._child_verifier(self._children[position]), subset)

        stages = [Stage(child.label, child.threshold) for child in self._children]
        metrics = self._context.resources.metrics
        return await score_cascade(stages, run, samples, on_failure=self._cascade_on_failure, metrics=metrics)

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


class CompositeKind(BaseKind):
    name: ClassVar[str] = "composite"
    settings_type = CompositeSettings

    @classmethod
    async def validate(cls, verifier: Verifier) -> None:
        """Every child resolves (names, cycles) and the fan-out is within the server's bound."""
        assert isinstance(verifier, CompositeVerifier)  # from_spec built it
        await verifier.validate()

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> CompositeVerifier:
        reader = ConfigReader(config)
        limits = kind_settings(context.resources, CompositeSettings)
        combine = reader.str("combine", "weighted_sum", choices=_COMBINES)
        gate_fail_score = reader.float("gate_fail_score", 0.0)
        raw_children = reader.raw("children")
        if not isinstance(raw_children, list) or not raw_children:
            raise reader.error("children", "must be a non-empty list of child verifiers")
        _check_shape(raw_children, limits)  # before anything is compiled: bounded, linear work
        children = tuple(_child(index, raw, combine) for index, raw in enumerate(raw_children))
        labels: set[str] = set()
        for child in children:
            if child.label in labels:
                raise SpecError("config.children", f"two children are labelled {child.label!r}; set distinct 'label's")
            labels.add(child.label)
        cascade_on_failure = reader.bool("cascade_on_failure", False)
        reader.finish()
        return CompositeVerifier(
            children, combine, gate_fail_score, context, limits, cascade_on_failure=cascade_on_failure
        )


def _check_shape(children: list[Any], limits: CompositeSettings) -> None:
    """Children per composite, inline depth and inline leaves within ``limits``; stops at the first excess.

    Iterative (no recursion to exhaust) and linear in the nodes it visits, which the limits bound.
    """
    stack: list[tuple[list[Any], int, str]] = [(children, 1, "config.children")]
    leaves = 0
    while stack:
        level, depth, where = stack.pop()
        if len(level) > limits.max_children:
            raise SpecError(
                where,
                f"has {len(level)} children; this server allows at most {limits.max_children} "
                "([kinds.composite] max_children)",
            )
        for index, raw in enumerate(level):
            target = raw.get("verifier") if isinstance(raw, Mapping) else raw
            nested = _inline_children(target)
            if nested is None:
                leaves += 1
                if leaves > limits.max_leaves:
                    raise SpecError(
                        "config.children",
                        f"reaches more than {limits.max_leaves} leaf verifiers "
                        "(this server's [kinds.composite] max_leaves)",
                    )
                continue
            if depth + 1 > limits.max_depth:
                raise SpecError(
                    f"{where}[{index}]",
                    f"nests composites more than {limits.max_depth} deep ([kinds.composite] max_depth)",
                )
            stack.append((nested, depth + 1, f"{where}[{index}].verifier.config.children"))


def _inline_children(target: Any) -> list[Any] | None:
    """The children list of an inline composite spec, else None (a leaf, or a name counted at validation)."""
    if not isinstance(target, Mapping) or target.get("kind") != "composite":
        return None
    config = target.get("config")
    children = config.get("children") if isinstance(config, Mapping) else None
    return children if isinstance(children, list) else None


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
