"""What the three judge verifiers share: a config, a model runner, and one coroutine per sample.

Samples are scored concurrently on purpose: the runner's dynamic batcher gathers their
model calls into batches, so per-sample code stays simple and the model still sees
full batches.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from typing import Generic, TypeVar

from verifier_server.domain import Sample, ScoreResult
from verifier_server.kinds.judge.runner import JudgeRunner

C = TypeVar("C")


class PerSampleJudge(abc.ABC, Generic[C]):
    def __init__(self, config: C, runner: JudgeRunner) -> None:
        self.config = config
        self.runner = runner

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        return list(await asyncio.gather(*(self._score_one(sample) for sample in samples)))

    @abc.abstractmethod
    async def _score_one(self, sample: Sample) -> ScoreResult: ...
