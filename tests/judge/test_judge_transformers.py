"""The judge kind end to end on the transformers backend, with tiny random models.

Random weights make verdicts meaningless; what is checked is that every path
produces a well-formed result: scores in range or an explicit failure, batching
across concurrent calls, caching, timeouts, shared model instances, and that the
event loop keeps running while the model works.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from judge_support import JudgeBuildContext, TinyModels

from verifier_server.domain import Message, Outcome, Sample
from verifier_server.kinds.judge import JudgeKind
from verifier_server.kinds.judge.runner import JudgeRunner, ModelRunner

pytestmark = pytest.mark.slow

QUESTION = "What is 2 + 2?"


def llm_spec(models: TinyModels, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "type": "llm",
        "backend": "transformers",
        "model": str(models.lm),
        "device": "cpu",
        "template": "reference-equivalence",
        "max_wait_ms": 20,
    }
    spec.update(overrides)
    return spec


def samples(n: int, answer: str | None = "4") -> list[Sample]:
    reference = {"answer": answer} if answer is not None else {}
    return [Sample(completion=f"The answer is {i}.", prompt=QUESTION, reference=reference) for i in range(n)]


def runner_of(verifier: Any) -> ModelRunner:
    """The shared model instance behind a judge verifier."""
    runner = verifier.runner
    assert isinstance(runner, JudgeRunner) and isinstance(runner.model, ModelRunner)
    return runner.model


async def test_logprob_judge_scores_every_sample_in_range(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models), context)
    results = await judge.score_batch(samples(6))
    for result in results:
        assert result.outcome is Outcome.OK, result.reason
        assert result.score is not None and 0.0 <= result.score <= 1.0
        assert sum(result.details["label_probs"].values()) == pytest.approx(1.0)
    assert len({r.score for r in results}) > 1  # a soft score: completions differ, so do rewards


async def test_multi_token_numeric_labels(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    spec = llm_spec(tiny_models, template="rubric", scoring={"method": "logprobs", "min": 1, "max": 10})
    judge = JudgeKind.from_spec(spec, context)
    results = await judge.score_batch([Sample("A fine essay.", prompt="Write.", reference={"rubric": "Be brief."})])
    assert results[0].outcome is Outcome.OK, results[0].reason
    assert set(results[0].details["label_probs"]) == {str(i) for i in range(1, 11)}


async def test_unreadable_generated_verdict_is_an_error_not_a_zero(
    tiny_models: TinyModels, context: JudgeBuildContext
) -> None:
    spec = llm_spec(tiny_models, template="rubric", max_new_tokens=4, parse_retries=1)
    judge = JudgeKind.from_spec(spec, context)
    results = await judge.score_batch([Sample("Essay.", prompt="Write.", reference={"rubric": "Be brief."})] * 2)
    for result in results:
        if result.outcome is Outcome.OK:  # a random model may, rarely, emit a number in range
            assert result.score is not None and 0.0 <= result.score <= 1.0
        else:
            assert result.outcome is Outcome.ERROR and result.score is None
            assert "after 2 attempts" in result.reason


async def test_reasoning_then_logprob_verdict(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models, reasoning=True, max_new_tokens=6), context)
    [result] = await judge.score_batch(samples(1))
    assert result.outcome is Outcome.OK, result.reason
    assert isinstance(result.details["judge_rationale"], str)


async def test_pairwise_in_both_orders(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    spec = llm_spec(tiny_models, template="pairwise-preference", pairwise={"field": "baseline"})
    judge = JudgeKind.from_spec(spec, context)
    [result, missing] = await judge.score_batch(
        [
            Sample("4", prompt=QUESTION, reference={"baseline": "5"}),
            Sample("4", prompt=QUESTION, reference={}),
        ]
    )
    assert result.outcome is Outcome.OK, result.reason
    first, second = result.details["pairwise_preferences"]
    assert result.score == pytest.approx((first + second) / 2)
    assert missing.outcome is Outcome.INVALID_INPUT and "'baseline'" in missing.reason


async def test_missing_template_variable_is_invalid_input_naming_it(
    tiny_models: TinyModels, context: JudgeBuildContext
) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models), context)
    [result, no_completion] = await judge.score_batch([*samples(1, answer=None), Sample(completion=None)])
    assert result.outcome is Outcome.INVALID_INPUT
    assert "'answer'" in result.reason
    assert no_completion.outcome is Outcome.INVALID_INPUT


async def test_raw_text_prompts_and_chat_samples(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models, chat=False), context)
    chat_sample = Sample(
        completion=(Message("assistant", "It is 4."),),
        prompt=(Message("system", "Be terse."), Message("user", QUESTION)),
        reference={"answer": "4"},
    )
    results = await judge.score_batch([chat_sample, *samples(1)])
    assert [r.outcome for r in results] == [Outcome.OK, Outcome.OK]


async def test_concurrent_calls_are_batched_together(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models, max_wait_ms=200, max_batch_size=64), context)
    runner = runner_of(judge)
    batches = await asyncio.gather(*(judge.score_batch([s]) for s in samples(12)))
    assert all(b[0].outcome is Outcome.OK for b in batches)
    stats = runner.stats
    assert stats.inputs == 12
    assert stats.model_calls < 12 and stats.largest_batch > 1


async def test_identical_inputs_are_answered_from_the_cache(
    tiny_models: TinyModels, context: JudgeBuildContext
) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models), context)
    runner = runner_of(judge)
    first = await judge.score_batch(samples(3))
    calls = runner.stats.model_calls
    second = await judge.score_batch(samples(3) + samples(3))
    assert runner.stats.model_calls == calls
    assert runner.stats.cache_hits >= 6
    assert [r.score for r in second] == [r.score for r in first] * 2


async def test_verifiers_naming_one_model_share_one_instance(
    tiny_models: TinyModels, context: JudgeBuildContext
) -> None:
    a = JudgeKind.from_spec(llm_spec(tiny_models), context)
    b = JudgeKind.from_spec(llm_spec(tiny_models, template="rubric"), context)
    c = JudgeKind.from_spec(llm_spec(tiny_models, dtype="bfloat16"), context)
    assert runner_of(a) is runner_of(b)
    assert runner_of(a) is not runner_of(c)


async def test_a_model_call_past_its_deadline_times_out(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    spec = llm_spec(tiny_models, template="rubric", timeout_s=0.001, max_new_tokens=200, parse_retries=0)
    judge = JudgeKind.from_spec(spec, context)
    results = await judge.score_batch([Sample("Essay.", prompt="Write.", reference={"rubric": "x"})] * 3)
    for result in results:
        assert result.outcome is Outcome.TIMEOUT and result.score is None
        assert "timeout_s" in result.reason


async def test_over_long_input_fails_alone(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(llm_spec(tiny_models), context)
    huge = Sample(completion="word " * 3000, prompt=QUESTION, reference={"answer": "4"})
    [bad, good] = await judge.score_batch([huge, *samples(1)])
    assert bad.outcome is Outcome.ERROR and "the model accepts" in bad.reason
    assert good.outcome is Outcome.OK


async def test_broken_model_directory_is_an_error_outcome(
    tiny_models: TinyModels, context: JudgeBuildContext, tmp_path: Any
) -> None:
    (tmp_path / "config.json").write_text("{not json")
    context.settings["judge"]["model_roots"].append(str(tmp_path))
    judge = JudgeKind.from_spec(llm_spec(tiny_models, model=str(tmp_path)), context)
    results = await judge.score_batch(samples(2))
    for result in results:
        assert result.outcome is Outcome.ERROR and "could not load judge model" in result.reason


async def test_the_event_loop_keeps_running_during_inference(
    tiny_models: TinyModels, context: JudgeBuildContext
) -> None:
    spec = llm_spec(tiny_models, template="rubric", max_new_tokens=64, parse_retries=0)
    judge = JudgeKind.from_spec(spec, context)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(ticker())
    await judge.score_batch([Sample("Essay.", prompt="Write.", reference={"rubric": "x"})] * 4)
    task.cancel()
    assert ticks > 10


# ---------------------------------------------------------------------------
# reward_model
# ---------------------------------------------------------------------------


def reward_spec(models: TinyModels, **overrides: Any) -> dict[str, Any]:
    return {"type": "reward_model", "model": str(models.reward), "device": "cpu", "max_wait_ms": 20, **overrides}


async def test_reward_model_scalar_is_batch_invariant(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(reward_spec(tiny_models), context)
    batch = [Sample(completion="x" * (i * 7 + 1), prompt=QUESTION) for i in range(5)]
    together = await judge.score_batch(batch)
    alone = [(await judge.score_batch([s]))[0] for s in batch[:2]]  # cached: the same call again
    assert all(r.outcome is Outcome.OK and math.isfinite(r.score or math.nan) for r in together)
    fresh = JudgeKind.from_spec(reward_spec(tiny_models, dtype="float32", cache_size=0), context)
    for sample, expected in zip(batch, together, strict=True):
        [single] = await fresh.score_batch([sample])  # padded in a batch vs alone: same scalar
        assert single.score == pytest.approx(expected.score, abs=1e-4)
    assert [a.score for a in alone] == [t.score for t in together[:2]]


async def test_reward_model_sigmoid_and_raw_text(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(reward_spec(tiny_models, normalize="sigmoid", chat=False), context)
    results = await judge.score_batch([Sample(completion="4", prompt=QUESTION), Sample(completion="5")])
    for result in results:
        assert result.outcome is Outcome.OK
        assert result.score is not None and 0.0 < result.score < 1.0
        assert result.score == pytest.approx(1 / (1 + math.exp(-result.details["raw_score"])))


async def test_reward_model_label_index_out_of_range(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(reward_spec(tiny_models, label_index=3), context)
    [result] = await judge.score_batch([Sample(completion="4", prompt=QUESTION)])
    assert result.outcome is Outcome.ERROR and "label_index" in result.reason


# ---------------------------------------------------------------------------
# similarity (a real embedding model)
# ---------------------------------------------------------------------------


async def test_paraphrases_score_above_unrelated_texts(tiny_models: TinyModels, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec({"type": "similarity", "model": str(tiny_models.minilm), "device": "cpu"}, context)
    gold = {"answer": "The cat is sleeping on the sofa."}
    results = await judge.score_batch(
        [
            Sample(completion="A cat naps on the couch.", reference=gold),
            Sample(completion="Quarterly revenue grew by eight percent.", reference=gold),
            Sample(completion="The cat is sleeping on the sofa.", reference=gold),
            Sample(completion="A cat naps on the couch.", reference={"gold": "x"}),
        ]
    )
    paraphrase, unrelated, identical, missing = results
    assert paraphrase.score is not None and unrelated.score is not None
    assert paraphrase.score > unrelated.score + 0.3
    assert identical.score == pytest.approx(1.0, abs=1e-4)
    assert missing.outcome is Outcome.INVALID_INPUT and "'answer'" in missing.reason


async def test_builtin_reference_similarity(context: JudgeBuildContext) -> None:
    from verifier_server.kinds.judge import builtin_specs

    [spec] = [s for s in builtin_specs() if s["name"] == "reference-similarity"]
    assert spec["kind"] == "judge"
    judge = JudgeKind.from_spec(spec["config"], context)
    results = await judge.score_batch(
        [
            Sample(completion="Paris is the capital of France.", reference={"answer": "France's capital is Paris."}),
            Sample(completion="Bananas are yellow.", reference={"answer": "France's capital is Paris."}),
        ]
    )
    assert results[0].score is not None and results[1].score is not None
    assert results[0].score > results[1].score
