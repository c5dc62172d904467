"""Every ``format`` option, scored through the real server with inline and registered specs."""

from __future__ import annotations

from typing import Any

import pytest

from sdk import InvalidArgumentError, Outcome, VerifierClient, VerifierSpec, specs

THINK_ANSWER = "<think>\nreason\n</think>\n<answer>\n4\n</answer>"


def score_one(client: VerifierClient, spec: Any, completion: Any, **kwargs: Any) -> Any:
    (result,) = client.score(spec, [completion], **kwargs)
    return result


@pytest.mark.parametrize(
    ("completion", "expected", "reason_part"),
    [
        (THINK_ANSWER, 1.0, ""),
        ("<think>a</think><answer>b</answer>", 1.0, ""),
        ("  <think>a</think>\n\n<answer>b</answer>\n", 1.0, ""),
        ("<answer>b</answer><think>a</think>", 0.0, "before the required <think>"),
        ("<think>a</think>", 0.0, "missing <answer>"),
        ("<think>a</think><answer>b</answer> trailing", 0.0, "outside the tags at the end"),
        ("lead <think>a</think><answer>b</answer>", 0.0, "outside the tags before <think>"),
        ("<think>a</think><answer>b</answer><answer>c</answer>", 0.0, "appears 2 times"),
        ("<think> </think><answer>b</answer>", 0.0, "<think> is empty"),
        ("<think>a<answer>b</answer></think>", 0.0, "inside <think>"),
        ("<think>a</think><answer>b", 0.0, "never closed"),
        ("</think><answer>b</answer>", 0.0, "without an opening"),
        ("", 0.0, "missing <think>"),
    ],
)
def test_builtin_think_answer_format(client: VerifierClient, completion: str, expected: float, reason_part: str):
    result = score_one(client, "think-answer-format", completion)
    assert result.outcome is Outcome.OK
    assert result.score == expected
    assert reason_part in result.reason


def test_tags_options(client: VerifierClient):
    unordered = specs.tags("t", ["a", "b"], ordered=False)
    assert score_one(client, unordered, "<b>1</b><a>2</a>").score == 1.0
    loose = specs.tags("t", ["a"], allow_text_outside=True)
    assert score_one(client, loose, "intro <a>x</a> outro").score == 1.0
    empty_ok = specs.tags("t", ["a"], require_content=False)
    assert score_one(client, empty_ok, "<a></a>").score == 1.0
    counted = specs.tags("t", ["step", "answer"], counts={"step": [1, 3]})
    assert score_one(client, counted, "<step>1</step><step>2</step><answer>x</answer>").score == 1.0
    assert score_one(client, counted, "<answer>x</answer>").score == 0.0
    assert score_one(client, counted, "<step>1</step>" * 4 + "<answer>x</answer>").score == 0.0
    optional = specs.tags("t", ["think", "answer"], counts={"think": [0, 1]})
    assert score_one(client, optional, "<answer>x</answer>").score == 1.0
    custom = specs.tags("t", ["a"], score_pass=0.5, score_fail=-1.0)
    assert score_one(client, custom, "<a>x</a>").score == 0.5
    assert score_one(client, custom, "nothing").score == -1.0


@pytest.mark.parametrize(
    ("spec", "completion", "expected"),
    [
        (specs.regex("r", r"\d+"), "abc 123", 1.0),
        (specs.regex("r", r"\d+", mode="match"), "abc 123", 0.0),
        (specs.regex("r", r"\d+", mode="fullmatch"), "123", 1.0),
        (specs.regex("r", r"\d+", mode="fullmatch"), "123 ", 0.0),
        (specs.regex("r", r"hello", flags=["IGNORECASE"]), "HeLLo", 1.0),
        (specs.regex("r", r"^b$", flags=["MULTILINE"]), "a\nb\nc", 1.0),
        (specs.regex("r", r"a.b", flags=["DOTALL"]), "a\nb", 1.0),
        (specs.regex("r", r"a.b"), "a\nb", 0.0),
        (specs.regex("r", r"x", score_pass=2.0, score_fail=-2.0), "y", -2.0),
    ],
)
def test_regex(client: VerifierClient, spec: Any, completion: str, expected: float):
    assert score_one(client, spec, completion).score == expected


def test_regex_that_backtracks_times_out_for_that_sample_only(client: VerifierClient):
    spec = specs.regex("slow", r"(a|aa)+$")
    spec = VerifierSpec(spec.name, spec.kind, {**spec.config, "timeout_s": 0.05})
    results = client.score(spec, ["a" * 40 + "b", "aaaa", "b"])
    assert results[0].outcome is Outcome.TIMEOUT and results[0].score is None
    assert "0.05s" in results[0].reason
    assert [(r.outcome, r.score) for r in results[1:]] == [(Outcome.OK, 1.0), (Outcome.OK, 0.0)]


SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name"],
}


@pytest.mark.parametrize(
    ("spec", "completion", "expected", "reason_part"),
    [
        (specs.json_format("j"), '{"a": 1}', 1.0, ""),
        (specs.json_format("j"), "  [1, 2]\n", 1.0, ""),
        (specs.json_format("j"), "{'a': 1}", 0.0, "invalid JSON"),
        (specs.json_format("j", schema=SCHEMA), '{"name": "x", "age": 3}', 1.0, ""),
        (specs.json_format("j", schema=SCHEMA), '{"age": 3}', 0.0, "'name' is a required property"),
        (specs.json_format("j", schema=SCHEMA), '{"name": "x", "age": -1}', 0.0, "at age"),
        (specs.json_format("j", extract="fenced"), 'Here:\n```json\n{"a": 1}\n```\n', 1.0, ""),
        (specs.json_format("j", extract="fenced"), '{"a": 1}', 0.0, "no JSON found"),
        (specs.json_format("j", extract="answer_tag"), '<think>x</think><answer>{"a": 2}</answer>', 1.0, ""),
    ],
)
def test_json(client: VerifierClient, spec: Any, completion: str, expected: float, reason_part: str):
    result = score_one(client, spec, completion)
    assert result.score == expected
    assert reason_part in result.reason


def test_builtin_json_valid(client: VerifierClient):
    results = client.score("json-valid", ['{"ok": true}', "not json"])
    assert [r.score for r in results] == [1.0, 0.0]


def test_length_in_chars_words_and_tokens(client: VerifierClient):
    window = specs.length("l", min=3, max=5, unit="chars")
    assert [r.score for r in client.score(window, ["ab", "abc", "abcde", "abcdef"])] == [0.0, 1.0, 1.0, 0.0]
    words = specs.length("l", min=2, max=2, unit="words")
    assert [r.score for r in client.score(words, ["one", "one two", "one two three"])] == [0.0, 1.0, 0.0]
    tokens = specs.length("l", max=3, unit="tokens")
    results = client.score(tokens, ["a", "b"], completion_ids=[[1, 2, 3], [1, 2, 3, 4]])
    assert [r.score for r in results] == [1.0, 0.0]
    assert results[1].details == {"length": 4, "unit": "tokens"}
    missing = client.score(tokens, ["a"])[0]
    assert missing.outcome is Outcome.INVALID_INPUT and "completion_ids" in missing.reason
    auto = specs.length("l", max=3)
    with_ids, without_ids = client.score(auto, ["abcdef", "abcdef"], completion_ids=[[1], None])
    assert (with_ids.score, with_ids.details["unit"]) == (1.0, "tokens")
    assert (without_ids.score, without_ids.details["unit"]) == (0.0, "chars")


def test_repetition_penalty_matches_open_r1(client: VerifierClient):
    spec = specs.repetition("rep", ngram_size=2, max_penalty=-1.0)
    fresh, repeated, short = client.score(spec, ["a b c d e", "a b a b a b", "a"])
    assert fresh.score == 0.0
    # 5 bigrams, 2 unique: (1 - 2/5) * -1
    assert repeated.score == pytest.approx(-0.6)
    assert short.score == 0.0


def test_overlong_soft_penalty_matches_trl(client: VerifierClient):
    spec = specs.overlong("long", max_length=10, soft_cache=4, unit="tokens")
    ids = [[0] * n for n in (6, 8, 10, 12)]
    scores = [r.score for r in client.score(spec, ["x"] * 4, completion_ids=ids)]
    assert scores == pytest.approx([0.0, -0.5, -1.0, -1.0])


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"type": "regex", "pattern": "("}, "config.pattern"),
        ({"type": "regex", "pattern": "a", "flags": ["NOPE"]}, "config.flags"),
        ({"type": "regex", "pattern": "a", "mode": "scan"}, "config.mode"),
        ({"type": "json", "schema": {"type": "no-such-type"}}, "config.schema"),
        ({"type": "tags", "tags": []}, "config.tags"),
        ({"type": "tags", "tags": ["a"], "counts": {"b": 1}}, "config.counts"),
        ({"type": "length", "min": 5, "max": 2}, "config.max"),
        ({"type": "length", "min": "five"}, "config.min"),
        ({"type": "overlong", "max_length": 4, "soft_cache": 8}, "config.soft_cache"),
        ({"type": "regex", "pattern": "a", "patern": "b"}, "config.patern"),
        ({"type": "shape"}, "config.type"),
        ({}, "config.type"),
    ],
)
def test_invalid_format_specs_name_the_field(client: VerifierClient, config: dict[str, Any], field: str):
    with pytest.raises(InvalidArgumentError) as info:
        client.register({"name": "bad-format", "kind": "format", "config": config})
    assert field in info.value.message
