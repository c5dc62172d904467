"""The ``math`` -> judge (``reference-equivalence``) cascade through the real server: the judge is asked
only about answers the rules could not show equal, with the tiny local model and over real HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from judge_support import FakeOpenAI, TinyModels, judge_settings

from sdk import AsyncVerifierClient, VerifierClient, specs
from verifier_server.testing import ServerProcess, StartServer

pytestmark = pytest.mark.slow

GOLD = {"answer": "\\frac{1}{2}"}
COMPLETIONS = [
    "So the probability is $\\boxed{\\frac{1}{2}}$.",  # math decides: equal
    "So the probability is $\\boxed{0.5}$.",  # math decides: equal
    "The probability is one half.",  # words: math cannot show it, the judge is asked
    "So the probability is $\\boxed{\\frac{1}{3}}$.",  # math says no: the judge is asked
]


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def judge_server(start_server: StartServer, tiny_models: TinyModels, endpoint: str | None = None) -> ServerProcess:
    """A server whose settings let judges load the tiny models and (when given) call ``endpoint``."""
    settings = judge_settings(tiny_models)
    if endpoint is not None:
        settings["judge"]["openai_endpoints"].append({"base_url": endpoint})
    return start_server(config={"kinds": settings})


def math_then_judge(judge_config: dict[str, Any]) -> specs.VerifierSpec:
    judge = specs.judge("equivalence", **judge_config, template="reference-equivalence")
    return specs.cascade(unique("math-then-judge"), [specs.child("math"), specs.child(judge, threshold=0.5)])


def test_math_then_tiny_local_judge(start_server: StartServer, tiny_models: TinyModels) -> None:
    spec = math_then_judge({"type": "llm", "model": str(tiny_models.lm), "device": "cpu"})
    with VerifierClient(judge_server(start_server, tiny_models).address, timeout_s=120) as client:
        client.register(spec)
        results = client.score(spec.name, COMPLETIONS, prompts=["Flip a coin: P(heads)?"] * 4, references=[GOLD] * 4)
    assert [r.outcome for r in results] == ["ok"] * 4
    assert [r.details["decided_by"] for r in results] == ["math", "math", "equivalence", "equivalence"]
    for result in results[:2]:
        assert result.score == 1.0 and set(result.components) == {"math"}
    for result in results[2:]:
        assert result.components["math"] == 0.0
        assert 0.0 <= result.components["equivalence"] <= 1.0 and result.score == result.components["equivalence"]
        assert set(result.details["equivalence"]["label_probs"]) == {"Yes", "No"}
        assert result.details["flipped"] == ((result.score or 0.0) >= 0.5)


async def test_math_then_openai_compatible_judge(
    start_server: StartServer, tiny_models: TinyModels, openai_server: FakeOpenAI
) -> None:
    """Only the two answers math could not decide reach the endpoint, and the judge's Yes flips them."""
    verifier_server = judge_server(start_server, tiny_models, openai_server.base_url)
    openai_server.top_logprobs = {"Yes": -0.05, "No": -3.0}
    spec = math_then_judge(
        {"type": "llm", "backend": "openai", "model": "tiny-judge", "base_url": openai_server.base_url}
    )
    async with AsyncVerifierClient(verifier_server.address, timeout_s=120) as client:
        results = await client.score(spec, COMPLETIONS, prompts=["P(heads)?"] * 4, references=[GOLD] * 4)
    assert [r.details["decided_by"] for r in results] == ["math", "math", "equivalence", "equivalence"]
    assert [r.details["flipped"] for r in results] == [False, False, True, True]
    assert all(r.score is not None and r.score > 0.9 for r in results)
    asked = [request["body"]["messages"][-1]["content"] for request in openai_server.requests]
    assert len(asked) == 2
    assert any("one half" in text for text in asked) and any("\\frac{1}{3}" in text for text in asked)


async def test_a_judge_outage_fails_only_the_samples_it_was_asked_about(
    start_server: StartServer, tiny_models: TinyModels, openai_server: FakeOpenAI
) -> None:
    verifier_server = judge_server(start_server, tiny_models, openai_server.base_url)
    openai_server.faults = ["500"] * 10
    spec = math_then_judge(
        {
            "type": "llm",
            "backend": "openai",
            "model": "tiny-judge",
            "base_url": openai_server.base_url,
            "max_retries": 1,
            "retry_backoff_s": 0.0,
        }
    )
    async with AsyncVerifierClient(verifier_server.address, timeout_s=120) as client:
        results = await client.score(spec, COMPLETIONS, prompts=["P(heads)?"] * 4, references=[GOLD] * 4)
    assert [(r.outcome, r.score) for r in results[:2]] == [("ok", 1.0), ("ok", 1.0)]
    for result in results[2:]:  # a judge failure is ours: no score, never a 0
        assert result.outcome == "error" and result.score is None
        assert result.details["decided_by"] == "equivalence"
