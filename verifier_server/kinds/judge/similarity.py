"""The ``similarity`` judge: cosine similarity of completion and reference embeddings.

A cheap, smooth signal for free-form answers where exact match is too strict. The
reference embedding is cached, so a GRPO group sharing one gold answer embeds it
once. Cosine lies in [-1, 1]; ``normalize: clip`` (default) maps negatives to 0,
``affine`` maps to (cos + 1) / 2, ``none`` keeps the raw cosine.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from verifier_server.domain import Sample, ScoreResult
from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.judge.failures import JudgeFailure
from verifier_server.kinds.judge.inputs import as_text, reference_text
from verifier_server.kinds.judge.per_sample import PerSampleJudge


@dataclass(frozen=True, slots=True)
class SimilarityConfig:
    reference_field: str
    pooling: str
    normalize: str


def read_similarity_config(reader: ConfigReader) -> SimilarityConfig:
    return SimilarityConfig(
        reference_field=reader.str("reference_field", "answer"),
        pooling=reader.str("pooling", "mean", choices=("mean", "cls")),
        normalize=reader.str("normalize", "clip", choices=("clip", "affine", "none")),
    )


class SimilarityJudge(PerSampleJudge[SimilarityConfig]):
    async def _score_one(self, sample: Sample) -> ScoreResult:
        completion = as_text(sample.completion)
        if completion is None:
            return ScoreResult.invalid("sample has no completion")
        field = self.config.reference_field
        reference = sample.reference.get(field)
        if reference is None:
            return ScoreResult.invalid(f"reference field {field!r} is missing")
        pooling = self.config.pooling
        try:
            mine, gold = await asyncio.gather(
                self.runner.embed(completion, pooling), self.runner.embed(reference_text(reference), pooling)
            )
        except JudgeFailure as exc:
            return ScoreResult.failed(exc.outcome, exc.reason)
        cosine = sum(a * b for a, b in zip(mine, gold, strict=True))
        if self.config.normalize == "clip":
            score = min(1.0, max(0.0, cosine))
        elif self.config.normalize == "affine":
            score = (cosine + 1.0) / 2.0
        else:
            score = cosine
        return ScoreResult.ok(score, cosine=cosine)
