"""The vLLM backend on a GPU (skipped elsewhere): same judges, vLLM engine underneath."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
from judge_support import JudgeBuildContext, TinyModels

from verifier_server.domain import Outcome, Sample
from verifier_server.kinds.judge import JudgeKind


def _gpu_with_vllm() -> bool:
    if importlib.util.find_spec("vllm") is None or importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not _gpu_with_vllm(), reason="needs a CUDA GPU and vLLM installed (pip install '.[vllm]')"),
]

VLLM_OPTIONS: dict[str, Any] = {"backend": "vllm", "gpu_memory_utilization": 0.2, "max_model_len": 1024}


async def test_logprob_judge_on_vllm(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    spec = {"type": "llm", "model": str(tiny_models.lm), "template": "reference-equivalence", **VLLM_OPTIONS}
    judge = JudgeKind.from_spec(spec, context)
    results = await judge.score_batch(
        [Sample(f"The answer is {i}.", prompt="2+2?", reference={"answer": "4"}) for i in range(4)]
    )
    for result in results:
        assert result.outcome is Outcome.OK, result.reason
        assert result.score is not None and 0.0 <= result.score <= 1.0


async def test_generated_verdict_on_vllm(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    spec = {"type": "llm", "model": str(tiny_models.lm), "template": "rubric", "parse_retries": 0, **VLLM_OPTIONS}
    judge = JudgeKind.from_spec(spec, context)
    [result] = await judge.score_batch([Sample("Essay.", prompt="Write.", reference={"rubric": "x"})])
    assert result.outcome in (Outcome.OK, Outcome.ERROR)
    assert result.outcome is Outcome.OK or "attempts" in result.reason
