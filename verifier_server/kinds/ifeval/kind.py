"""The ``ifeval`` kind: check a completion against the instructions its reference lists.

Per sample: read the constraints (``constraints``), take the response (optionally
without a ``<think>`` section, as open-instruct does for RLVR), check each instruction
in IFEval's strict mode (the response as is) or loose mode (also without its first
and/or last line and without ``*``, the paper's upper bound), and score the fraction
followed or 1/0 for all followed. Per-instruction verdicts go in ``details``.

Checks are CPU work in the interpreter (language detection takes ~1 ms), so a batch is
scored in a worker thread and the event loop stays free for other requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier_server.domain import Sample, ScoreResult
from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader
from verifier_server.kinds.ifeval.constraints import Constraint, read_constraints
from verifier_server.kinds.ifeval.params import ConstraintError
from verifier_server.kinds.settings import KindSettings

MODES = ("strict", "loose")
SCORINGS = ("fraction", "all_or_nothing")


@dataclass(frozen=True, slots=True)
class IFEvalConfig:
    mode: str = "strict"
    """``strict``: the response as is; ``loose``: also its variants without first/last line or ``*``."""
    scoring: str = "fraction"
    """``fraction`` of instructions followed, or ``all_or_nothing`` (IFEval's prompt-level accuracy)."""
    strip_thinking: bool = True
    """Check only what follows the last ``</think>`` (and drop ``<answer>`` tags), as open-instruct does."""


@dataclass(frozen=True, slots=True)
class IFEvalSettings(KindSettings):
    """``[kinds.ifeval]``: only what every kind has (checks are cheap and bounded by the text)."""

    kind: ClassVar[str] = "ifeval"


class IFEvalKind(BaseKind):
    name: ClassVar[str] = "ifeval"
    settings_type = IFEvalSettings

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> IFEvalVerifier:
        reader = ConfigReader(config)
        parsed = IFEvalConfig(
            mode=reader.str("mode", "strict", choices=MODES),
            scoring=reader.str("scoring", "fraction", choices=SCORINGS),
            strip_thinking=reader.bool("strip_thinking", True),
        )
        reader.finish()
        return IFEvalVerifier(parsed)


@dataclass(frozen=True, slots=True)
class IFEvalVerifier:
    config: IFEvalConfig

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        """In a worker thread, always: besides the checks, the first use of a check loads its
        library (NLTK's import alone takes a second), which must not stall the event loop."""
        return await asyncio.to_thread(lambda: [self.score_one(sample) for sample in samples])

    def score_one(self, sample: Sample) -> ScoreResult:
        try:
            source, constraints = read_constraints(sample.reference)
        except ConstraintError as exc:
            return ScoreResult.invalid(str(exc))
        response = response_text(sample.completion_text or "", self.config.strip_thinking)
        variants = loose_variants(response) if self.config.mode == "loose" else [response]
        verdicts = [_followed(constraint, variants) for constraint in constraints]
        followed = sum(verdicts)
        total = len(verdicts)
        all_or_nothing = self.config.scoring == "all_or_nothing"
        score = float(followed == total) if all_or_nothing else followed / total
        missed = [c.id for c, ok in zip(constraints, verdicts, strict=True) if not ok]
        reason = f"{followed}/{total} instructions followed"
        if missed:
            reason += f"; not followed: {', '.join(missed)}"
        return ScoreResult.ok(
            score,
            reason,
            format=source,
            mode=self.config.mode,
            followed=followed,
            total=total,
            all_followed=followed == total,
            instructions=[
                {"id": c.id, "followed": ok, "kwargs": c.args} for c, ok in zip(constraints, verdicts, strict=True)
            ],
        )


def _followed(constraint: Constraint, variants: Sequence[str]) -> bool:
    """IFEval: an empty response follows nothing; any variant that follows counts (loose mode)."""
    return any(v.strip() and constraint.instruction.check(v, constraint.args) for v in variants)


def response_text(completion: str, strip_thinking: bool) -> str:
    if not strip_thinking:
        return completion
    text = completion.replace("<|assistant|>", "").strip().split("</think>")[-1]
    return text.replace("<answer>", "").replace("</answer>", "").strip()


def loose_variants(response: str) -> list[str]:
    """The paper's loose variants: as is, without the first line, the last, or both; each also without ``*``."""
    lines = response.split("\n")
    trimmed = [
        response,
        "\n".join(lines[1:]).strip(),
        "\n".join(lines[:-1]).strip(),
        "\n".join(lines[1:-1]).strip(),
    ]
    return [trimmed[0], trimmed[0].replace("*", ""), *trimmed[1:], *(t.replace("*", "") for t in trimmed[1:])]
