"""The math kind through the real server and SDK: built-in verifier, registered specs, timeouts."""

from __future__ import annotations

import uuid

from sdk import VerifierClient


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_builtin_math_scores_a_grpo_group(client: VerifierClient) -> None:
    completions = [
        "So the probability is $\\boxed{\\frac{3}{4}}$.",
        "The answer is 0.75",
        "I get \\boxed{\\frac{4}{3}}",
        "No idea.",
    ]
    results = client.score("math", completions=completions, references=[{"answer": "\\frac{3}{4}"}] * 4)
    assert [r.outcome for r in results] == ["ok"] * 4
    assert [r.score for r in results] == [1.0, 1.0, 0.0, 0.0]
    assert results[0].details["extracted_answer"] == "\\frac{3}{4}"
    assert results[0].details["normalized_gold"] == "\\frac{3}{4}"
    assert results[0].details["match_method"]
    assert results[2].reason == "not equal"
    assert results[3].reason == "no answer found"


def test_missing_gold_is_invalid_input_over_the_wire(client: VerifierClient) -> None:
    [result] = client.score("math", completions=["\\boxed{1}"], references=[{"question": "1?"}])
    assert result.outcome == "invalid_input"
    assert result.score is None and "'answer'" in result.reason


def test_registered_spec_with_gold_field_and_strict_mode(client: VerifierClient) -> None:
    name = _name("math-strict-target")
    client.register({"name": name, "kind": "math", "config": {"gold_field": "target", "strict": True}})
    results = client.score(
        name,
        completions=["Final Answer: $x = 3$", "the value 3 shows up here"],
        references=[{"target": "3"}, {"target": "3"}],
    )
    assert [r.score for r in results] == [1.0, 0.0]
    assert results[1].reason == "no answer found"


def test_an_answer_too_large_to_evaluate_scores_zero_through_the_server(client: VerifierClient) -> None:
    """A power tower cannot hold a worker to its timeout: it is refused at once, as a wrong answer."""
    results = client.score(
        "math",
        completions=["\\boxed{9^{9^{9}}}", "\\boxed{9^{9^{9^{9}}}}", "\\boxed{\\sqrt{8}}"],
        references=[{"answer": "1"}, {"answer": "1"}, {"answer": "2\\sqrt{2}"}],
    )
    for result in results[:2]:
        assert (result.outcome, result.score) == ("ok", 0.0)
        assert result.reason.startswith("answer too large to evaluate")
    assert (results[2].outcome, results[2].score) == ("ok", 1.0)


def test_timeout_through_the_server_is_an_outcome_not_a_zero(client: VerifierClient) -> None:
    name = _name("math-fast-timeout")
    # 10 s: ample for the honest items, while the first one needs minutes.
    client.register({"name": name, "kind": "math", "config": {"timeout_s": 10.0}})
    results = client.score(
        name,
        # Within every bound, but expanding it takes minutes: the server's limit, not the answer's fault.
        completions=["\\boxed{(a+b+c+d)^{30}(a+b+c-d)^{30}}", "\\boxed{\\sqrt{8}}", "\\boxed{(x+1)^2}"],
        references=[{"answer": "(a+b+c+d)^{60}"}, {"answer": "2\\sqrt{2}"}, {"answer": "x^2+2x+1"}],
    )
    assert results[0].outcome == "timeout"
    assert results[0].score is None and "timeout" in results[0].reason
    assert [(r.outcome, r.score) for r in results[1:]] == [("ok", 1.0), ("ok", 1.0)]
    # The server replaced the killed worker and keeps scoring.
    [again] = client.score(name, completions=["\\boxed{2x}"], references=[{"answer": "x+x"}])
    assert again.score == 1.0
