"""The ``reward_model`` judge: a sequence-classification model's scalar on prompt + completion.

The conversation goes through the model's own chat template, because a reward
model scores reliably only on the format it was trained on. The raw logit is
unbounded; ``normalize: sigmoid`` maps it to (0, 1) for rewards that mix with
others, and ``details.raw_score`` always keeps the logit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.judge.backends import Prompt
from verifier_server.kinds.judge.failures import JudgeFailure
from verifier_server.kinds.judge.inputs import as_text, conversation
from verifier_server.kinds.judge.per_sample import PerSampleJudge


@dataclass(frozen=True, slots=True)
class RewardModelConfig:
    label_index: int
    normalize: str
    chat: bool


def read_reward_model_config(reader: ConfigReader) -> RewardModelConfig:
    return RewardModelConfig(
        label_index=reader.int("label_index", 0, minimum=0),
        normalize=reader.str("normalize", "none", choices=("none", "sigmoid")),
        chat=reader.bool("chat", True),
    )


class RewardModelJudge(PerSampleJudge[RewardModelConfig]):
    async def _score_one(self, sample: Sample) -> ScoreResult:
        if sample.completion is None:
            return ScoreResult.invalid("sample has no completion")
        model_input: Prompt
        if self.config.chat:
            model_input = conversation(sample)
        else:
            model_input = "\n\n".join(t for t in (as_text(sample.prompt), as_text(sample.completion)) if t)
        try:
            logits = await self.runner.classify(model_input)
        except JudgeFailure as exc:
            return ScoreResult.failed(exc.outcome, exc.reason)
        index = self.config.label_index
        if index >= len(logits):
            return ScoreResult.failed(
                Outcome.ERROR, f"label_index {index} is out of range: the model has {len(logits)} outputs"
            )
        raw = logits[index]
        score = 1.0 / (1.0 + math.exp(-raw)) if self.config.normalize == "sigmoid" else raw
        return ScoreResult.ok(score, raw_score=raw)
