"""The OpenAI-compatible backend over real HTTP against a loopback server running the tiny model.

Failures are injected by the server (500, 429, 400, garbage bodies, wrong shapes,
slow answers) so retries, backoff, limits and error reporting run for real.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from judge_support import FakeOpenAI, JudgeBuildContext

from verifier_server.domain import Outcome, Sample
from verifier_server.errors import SpecError
from verifier_server.kinds.judge import JudgeKind

pytestmark = pytest.mark.slow


def spec(server: FakeOpenAI, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "type": "llm",
        "backend": "openai",
        "model": "tiny-judge",
        "base_url": server.base_url,
        "template": "rubric",
        "retry_backoff_s": 0.0,
        "max_wait_ms": 5,
        "max_new_tokens": 8,
    }
    config.update(overrides)
    return config


def essay(i: int = 0) -> Sample:
    return Sample(completion=f"Essay number {i}.", prompt="Write an essay.", reference={"rubric": "Be brief."})


async def test_parsed_scores_over_chat_completions(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    openai_server.replies = ["Thoughtful. Score: 7"]
    judge = JudgeKind.from_spec(spec(openai_server), context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.OK
    assert result.score == pytest.approx(6 / 9)
    sent = openai_server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["model"] == "tiny-judge"
    assert [m["role"] for m in sent["body"]["messages"]] == ["system", "user"]
    assert "Be brief." in sent["body"]["messages"][1]["content"]


async def test_text_from_the_real_model_is_scored_or_reported(
    openai_server: FakeOpenAI, context: JudgeBuildContext
) -> None:
    judge = JudgeKind.from_spec(spec(openai_server, parse_retries=1), context)
    results = await judge.score_batch([essay(i) for i in range(3)])
    for result in results:
        assert result.outcome in (Outcome.OK, Outcome.ERROR)
        if result.outcome is Outcome.ERROR:
            assert result.score is None and "after 2 attempts" in result.reason


async def test_unparseable_output_after_retries_is_an_error(
    openai_server: FakeOpenAI, context: JudgeBuildContext
) -> None:
    openai_server.replies = ["I refuse to grade.", "Still no.", "Nope."]
    judge = JudgeKind.from_spec(spec(openai_server, parse_retries=2), context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.ERROR and result.score is None
    assert "after 3 attempts" in result.reason and "Nope." in result.reason
    temperatures = [r["body"]["temperature"] for r in openai_server.requests]
    assert temperatures == [0.0, 0.7, 0.7]  # retries sample instead of repeating the greedy answer


async def test_server_errors_are_retried(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    openai_server.replies = ["Score: 10"]
    openai_server.faults = ["500", "429", "garbage"]
    judge = JudgeKind.from_spec(spec(openai_server, max_retries=3), context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.OK and result.score == pytest.approx(1.0)
    assert len(openai_server.requests) == 4


@pytest.mark.parametrize(
    ("faults", "expected"),
    [
        (["500"] * 3, "HTTP 500"),
        (["garbage"] * 3, "unreadable response"),
        (["shape"] * 3, "unreadable response"),
        (["400"], "rejected the request: HTTP 400"),
    ],
)
async def test_persistent_failures_are_errors_with_the_reason(
    openai_server: FakeOpenAI, context: JudgeBuildContext, faults: list[str], expected: str
) -> None:
    openai_server.faults = list(faults)
    judge = JudgeKind.from_spec(spec(openai_server, max_retries=2), context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.ERROR and result.score is None
    assert expected in result.reason
    assert len(openai_server.requests) == len(faults)  # 400 is not retried


async def test_slow_endpoint_times_out(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    openai_server.faults = ["slow", "slow"]
    judge = JudgeKind.from_spec(spec(openai_server, request_timeout_s=0.2, max_retries=1), context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.TIMEOUT and result.score is None
    assert "request_timeout_s" in result.reason


async def test_endpoint_down_is_an_error(context: JudgeBuildContext) -> None:
    down = FakeOpenAI(base_url="http://127.0.0.1:9/v1")  # discard port: nothing listens
    judge = JudgeKind.from_spec(spec(down, max_retries=1), context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.ERROR and "after 2 attempt(s)" in result.reason


async def test_api_key_comes_from_the_named_environment_variable(
    openai_server: FakeOpenAI, context: JudgeBuildContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    openai_server.api_key = "sk-test-123"
    openai_server.replies = ["Score: 4"]
    monkeypatch.setenv("JUDGE_TEST_KEY", "sk-test-123")
    judge = JudgeKind.from_spec(spec(openai_server, api_key_env="JUDGE_TEST_KEY"), context)
    [ok] = await judge.score_batch([essay()])
    assert ok.outcome is Outcome.OK
    unauthenticated = JudgeKind.from_spec(spec(openai_server, model="other"), context)
    [denied] = await unauthenticated.score_batch([essay()])
    assert denied.outcome is Outcome.ERROR and "HTTP 401" in denied.reason
    with pytest.raises(SpecError) as info:
        JudgeKind.from_spec(spec(openai_server, api_key_env="sk-test-123!"), context)
    assert info.value.field == "config.api_key_env"


async def test_concurrency_limit_per_backend(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    openai_server.replies = ["Score: 5"]
    openai_server.delay_s = 0.02
    judge = JudgeKind.from_spec(spec(openai_server, max_concurrency=2), context)
    results = await asyncio.gather(*(judge.score_batch([essay(i)]) for i in range(8)))
    assert all(r[0].outcome is Outcome.OK for r in results)
    assert len(openai_server.requests) == 8
    assert openai_server.peak_in_flight == 2


async def test_rate_limit_spaces_requests(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    openai_server.replies = ["Score: 5"]
    judge = JudgeKind.from_spec(spec(openai_server, max_requests_per_second=40, max_concurrency=8), context)
    await judge.score_batch([essay(i) for i in range(5)])
    gaps = [b - a for a, b in zip(openai_server.arrivals, openai_server.arrivals[1:], strict=False)]
    assert len(gaps) == 4 and min(gaps) >= 0.02  # lower bound from 1/40 s spacing (with slack)


async def test_completions_endpoint_batches_prompts_into_one_request(
    openai_server: FakeOpenAI, context: JudgeBuildContext
) -> None:
    judge = JudgeKind.from_spec(
        spec(openai_server, endpoint="completions", chat=False, max_wait_ms=100, parse_retries=0), context
    )
    results = await asyncio.gather(*(judge.score_batch([essay(i)]) for i in range(6)))
    assert all(r[0].outcome in (Outcome.OK, Outcome.ERROR) for r in results)
    assert len(openai_server.requests) < 6
    assert sum(len(r["body"]["prompt"]) for r in openai_server.requests) == 6


async def test_echo_logprobs_score_multi_token_labels(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    config = spec(
        openai_server, endpoint="completions", chat=False, scoring={"method": "logprobs", "min": 1, "max": 10}
    )
    judge = JudgeKind.from_spec(config, context)
    [result] = await judge.score_batch([essay()])
    assert result.outcome is Outcome.OK, result.reason
    probs = result.details["label_probs"]
    assert sum(probs.values()) == pytest.approx(1.0)
    body = openai_server.requests[0]["body"]
    assert body["echo"] is True and len(body["prompt"]) == 10


async def test_chat_top_logprobs_weight_labels(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    openai_server.top_logprobs = {"Yes": math.log(0.6), " yes": math.log(0.1), "No": math.log(0.2), "Maybe": -1.0}
    config = spec(openai_server, template="reference-equivalence")
    judge = JudgeKind.from_spec(config, context)
    [result] = await judge.score_batch([Sample("4", prompt="2+2?", reference={"answer": "4"})])
    assert result.outcome is Outcome.OK
    assert result.score == pytest.approx(0.7 / 0.9)  # " yes" is a variant of Yes; Maybe is not a label
    openai_server.top_logprobs = {"Maybe": -0.1}
    [unsure] = await judge.score_batch([Sample("5", prompt="2+2?", reference={"answer": "4"})])
    assert unsure.outcome is Outcome.ERROR and "none of the labels" in unsure.reason


async def test_chat_top_logprobs_from_the_real_model(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    judge = JudgeKind.from_spec(spec(openai_server, template="reference-equivalence"), context)
    [result] = await judge.score_batch([Sample("4", prompt="2+2?", reference={"answer": "4"})])
    # a random model rarely ranks "Yes"/"No" in its top 20; either way the result says so honestly
    assert result.outcome in (Outcome.OK, Outcome.ERROR)
    assert openai_server.requests[0]["body"]["top_logprobs"] == 20


async def test_similarity_over_the_embeddings_endpoint(openai_server: FakeOpenAI, context: JudgeBuildContext) -> None:
    config = {"type": "similarity", "backend": "openai", "model": "tiny-embed", "base_url": openai_server.base_url}
    judge = JudgeKind.from_spec(config, context)
    results = await judge.score_batch(
        [Sample("same text", reference={"answer": "same text"}), Sample("other", reference={"answer": "same text"})]
    )
    assert results[0].score == pytest.approx(1.0, abs=1e-6)
    assert results[1].outcome is Outcome.OK
    assert openai_server.requests[0]["path"] == "/v1/embeddings"
    assert len(openai_server.requests) == 1  # three distinct texts, one batched request


def test_openai_spec_errors(context: JudgeBuildContext) -> None:
    down = FakeOpenAI(base_url="http://127.0.0.1:9/v1")
    cases = [
        ({"type": "reward_model"}, "config.backend"),
        ({"base_url": "127.0.0.1:8000"}, "config.base_url"),
        ({"endpoint": "completions"}, "config.chat"),
        ({"endpoint": "responses"}, "config.endpoint"),
    ]
    for overrides, field in cases:
        with pytest.raises(SpecError) as info:
            JudgeKind.from_spec(spec(down, **overrides), context)
        assert info.value.field == field
