"""``composite``: weighted sum, gates, min, max; named and inline children; cycles; failures."""

from __future__ import annotations

import uuid

import pytest

from sdk import InvalidArgumentError, Outcome, VerifierClient, specs

GOOD = "<think>x</think><answer>42</answer>"
BAD_FORMAT = "the answer is 42"
NO_NUMBER = "<think>x</think><answer>none</answer>"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def has_number(client: VerifierClient) -> str:
    name = unique("has-number")
    client.register(specs.regex(name, r"\d"))
    return name


def test_weighted_sum_reports_components(client: VerifierClient, has_number: str):
    spec = specs.composite(
        "sum",
        [specs.child("think-answer-format", weight=0.25), specs.child(has_number, weight=1.0, label="number")],
    )
    good, bad_format, no_number = client.score(spec, [GOOD, BAD_FORMAT, NO_NUMBER])
    assert good.score == pytest.approx(1.25)
    assert dict(good.components) == {"think-answer-format": 1.0, "number": 1.0}
    assert bad_format.score == pytest.approx(1.0)
    assert no_number.score == pytest.approx(0.25)
    assert no_number.components["number"] == 0.0


def test_gate_must_pass_before_others_count(client: VerifierClient, has_number: str):
    gated = specs.composite("gated", ["think-answer-format", has_number], combine="gate", gate_fail_score=-1.0)
    good, bad_format, no_number = client.score(gated, [GOOD, BAD_FORMAT, NO_NUMBER])
    assert good.score == 1.0
    assert bad_format.score == -1.0
    assert "gate 'think-answer-format' not passed" in bad_format.reason
    assert bad_format.components["think-answer-format"] == 0.0
    assert no_number.score == 0.0


def test_gate_flag_with_threshold(client: VerifierClient, has_number: str):
    rep = specs.repetition("rep", ngram_size=1, max_penalty=-1.0)
    spec = specs.composite(
        "flagged", [specs.child(rep, gate=True, threshold=-0.5, label="rep"), specs.child(has_number, weight=2.0)]
    )
    fresh, repetitive = client.score(spec, ["one 2 three", "7 7 7 7 7 7"])
    assert fresh.score == 2.0
    assert repetitive.score == 0.0 and "gate 'rep'" in repetitive.reason


@pytest.mark.parametrize(("combine", "expected"), [("min", 0.0), ("max", 1.0), ("weighted_sum", 1.0)])
def test_min_max(client: VerifierClient, has_number: str, combine: str, expected: float):
    spec = specs.composite("mm", ["think-answer-format", has_number], combine=combine)
    (result,) = client.score(spec, [BAD_FORMAT])
    assert result.score == expected


def test_named_children_follow_latest_version_and_pins_hold(client: VerifierClient):
    child = unique("child")
    client.register(specs.regex(child, "a"))
    parent = unique("parent")
    client.register(
        specs.composite(parent, [specs.child(child, label="latest"), specs.child(f"{child}@1", label="v1")])
    )
    client.register(specs.regex(child, "b"))
    import time

    time.sleep(1.1)  # the server caches "latest" for one second
    (result,) = client.score(parent, ["b"])
    assert dict(result.components) == {"latest": 1.0, "v1": 0.0}


def test_inline_children_and_nested_composites(client: VerifierClient):
    inner = specs.composite("inner", [specs.regex("x", "x"), specs.regex("y", "y")], combine="min")
    outer = specs.composite("outer", [specs.child(inner, weight=2.0), specs.child("json-valid", weight=1.0)])
    assert client.score(outer, ["xy"])[0].score == 2.0
    assert client.score(outer, ["x"])[0].score == 0.0
    assert client.score(outer, ['"xy"'])[0].score == 3.0


def test_child_failure_fails_the_sample_not_the_batch(client: VerifierClient):
    tokens = specs.length("tok", max=5, unit="tokens")
    spec = specs.composite("needs-ids", [tokens, "json-valid"])
    with_ids, without_ids = client.score(spec, ["{}", "{}"], completion_ids=[[1, 2], None])
    assert with_ids.outcome is Outcome.OK and with_ids.score == 2.0
    assert without_ids.outcome is Outcome.INVALID_INPUT and without_ids.score is None
    assert "child 'tok'" in without_ids.reason
    assert without_ids.components == {"json-valid": 1.0}


def test_self_reference_and_cycles_are_rejected(client: VerifierClient):
    a, b = unique("a"), unique("b")
    with pytest.raises(InvalidArgumentError, match="cycle"):
        client.register(specs.composite(a, [a]))
    client.register(specs.composite(a, ["json-valid"]))
    client.register(specs.composite(b, [a]))
    with pytest.raises(InvalidArgumentError, match=f"cycle: {a} -> {b} -> {a}"):
        client.register(specs.composite(a, [b]))
    # the rejected registration left the old version in place
    assert client.get(a).version == 1


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"children": []}, "config.children"),
        ({"children": [{"verifier": "json-valid", "weight": "heavy"}]}, "config.children[0].weight"),
        ({"children": [{"verifier": "no-such-verifier"}]}, "config.children[0].verifier"),
        ({"children": [{"verifier": 12}]}, "config.children[0].verifier"),
        ({"children": [{"verifier": {"kind": "format", "config": {"type": "regex", "pattern": "("}}}]}, "pattern"),
        ({"children": ["json-valid", "json-valid"]}, "config.children"),
        ({"children": ["json-valid"], "combine": "avg"}, "config.combine"),
    ],
)
def test_invalid_composites_name_the_field(client: VerifierClient, config: dict, field: str):
    with pytest.raises(InvalidArgumentError) as info:
        client.register({"name": "bad-composite", "kind": "composite", "config": config})
    assert field in info.value.message
