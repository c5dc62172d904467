"""``composite`` with ``combine: "cascade"`` through the real server: later children only for the misses,
failures, ``details`` naming the child that decided, and the flip counters on ``/metrics``."""

from __future__ import annotations

import urllib.request
import uuid

import pytest

from sdk import VerifierClient, VerifierSpec, specs
from tests.ops.support import metrics_port
from verifier_server.testing import StartServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def lenient_math(name: str) -> VerifierSpec:
    """A second opinion that accepts answers within 1%: stands in for a model judge without a model."""
    return specs.math(name, rel_tol=0.01)


def test_a_later_child_sees_only_what_the_earlier_did_not_decide(client: VerifierClient) -> None:
    spec = specs.cascade(
        unique("cascade"), [specs.child("math", label="exact"), specs.child(lenient_math("near"), label="near")]
    )
    exact, near, far, none = client.score(
        spec,
        completions=["\\boxed{\\frac{1}{3}}", "\\boxed{0.3334}", "\\boxed{0.4}", "I give up."],
        references=[{"answer": "\\frac{1}{3}"}] * 4,
    )
    assert (exact.score, exact.details["decided_by"], exact.details["flipped"]) == (1.0, "exact", False)
    assert set(exact.components) == {"exact"} and "near" not in exact.details  # never asked
    assert (near.score, near.details["decided_by"], near.details["flipped"]) == (1.0, "near", True)
    assert dict(near.components) == {"exact": 0.0, "near": 1.0}
    assert near.details["exact"]["match_method"] and near.details["near"]["match_method"]
    assert (far.score, far.details["decided_by"], far.details["flipped"]) == (0.0, "near", False)
    assert (none.score, none.reason) == (0.0, "no answer found")


def test_a_failing_child_ends_the_cascade_unless_told_to_pass_it_on(client: VerifierClient) -> None:
    """math with a gold field the sample lacks is invalid input: a failure of the request, not a 0."""
    strict_field = specs.math("target-math", gold_field="target")
    children = [specs.child(strict_field, label="target"), specs.child("math", label="answer")]
    references = [{"answer": "7"}]
    [stops] = client.score(specs.cascade(unique("stops"), children), ["\\boxed{7}"], references=references)
    assert stops.outcome == "invalid_input" and stops.score is None
    assert stops.details["decided_by"] == "target"
    on = specs.cascade(unique("passes-on"), children, cascade_on_failure=True)
    [passed] = client.score(on, ["\\boxed{7}"], references=references)
    assert (passed.outcome, passed.score, passed.details["decided_by"]) == ("ok", 1.0, "answer")
    assert passed.details["target"]["outcome"] == "invalid_input"


def test_threshold_sets_what_is_decisive(client: VerifierClient) -> None:
    lengthy = specs.length("long", min=5, max=100, unit="chars")
    spec = specs.cascade(
        unique("thresholds"),
        [specs.child("think-answer-format", threshold=1.0, label="format"), specs.child(lengthy, label="length")],
    )
    tagged, plain = client.score(spec, ["<think>a</think><answer>b</answer>", "plain text here"])
    assert tagged.details["decided_by"] == "format" and tagged.score == 1.0
    assert plain.details["decided_by"] == "length"


def test_an_unknown_option_is_refused_naming_the_field(client: VerifierClient) -> None:
    from sdk import InvalidArgumentError

    bad = specs.cascade(unique("bad"), ["math", "math-strict"])
    bad.config["cascade_on_failur"] = True
    with pytest.raises(InvalidArgumentError, match=r"cascade_on_failur"):
        client.register(bad)


def test_flips_and_hand_overs_are_counted_on_metrics(start_server: StartServer) -> None:
    server = start_server(extra_args=["--metrics-port", "0"])
    spec = specs.cascade(unique("counted"), [specs.child("math", label="exact"), specs.child(lenient_math("near"))])
    with VerifierClient(server.address, timeout_s=120) as client:
        results = client.score(
            spec,
            completions=["\\boxed{2}", "\\boxed{2.001}", "\\boxed{2.5}", "\\boxed{2.01}"],
            references=[{"answer": "2"}] * 4,
        )
    assert [r.details["decided_by"] for r in results] == ["exact", "near", "near", "near"]
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port(server)}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'verifier_cascade_consulted_total{position="1"} 3.0' in text
    assert 'verifier_cascade_flips_total{position="1"} 2.0' in text
