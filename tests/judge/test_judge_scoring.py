"""Scoring rules and templates: reading verdicts, normalizing them, naming what is missing."""

from __future__ import annotations

import math

import pytest

from verifier_server.errors import SpecError
from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.judge.scoring import ScoringRule, read_scoring
from verifier_server.kinds.judge.templates import BUILTIN_TEMPLATES, MissingVariable, render, template_variables


def rule(scoring: dict, defaults: dict | None = None) -> ScoringRule:
    return read_scoring(ConfigReader({"scoring": scoring}), defaults or {})


@pytest.mark.parametrize(
    ("text", "reasoning", "expected"),
    [
        ("Score: 7", False, 6 / 9),
        ("7", False, 6 / 9),
        ("I'd say 10/10", False, 1.0),
        ("Rating = 1.", False, 0.0),
        ("The first draft scored 3 but after review... Score: 8", True, 7 / 9),
        ("Score: 7\nScore: 9", True, 8 / 9),
    ],
)
def test_number_rule_reads_and_normalizes(text: str, reasoning: bool, expected: float) -> None:
    parsed = rule({"method": "number", "min": 1, "max": 10}).parse(text, reasoning=reasoning)
    assert parsed is not None
    assert parsed.value == pytest.approx(expected)


@pytest.mark.parametrize("text", ["no idea", "Score: 11", "Score: 0", ""])
def test_number_rule_refuses_missing_or_out_of_range(text: str) -> None:
    assert rule({"method": "number", "min": 1, "max": 10}).parse(text, reasoning=False) is None


def test_number_rule_with_custom_pattern_takes_its_group() -> None:
    scoring = rule({"method": "number", "min": 0, "max": 5, "pattern": r"<grade>(\d)</grade>"})
    parsed = scoring.parse("steps 1 2 3 <grade>4</grade>", reasoning=False)
    assert parsed is not None and parsed.value == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("text", "reasoning", "expected"),
    [
        ("Yes", False, 1.0),
        ("no.", False, 0.0),
        ("Yes, although one could say no", False, 1.0),
        ("At first yes, but the units differ. Verdict: No", True, 0.0),
        ("maybe", False, None),
        ("Yesterday", False, None),
    ],
)
def test_label_rule(text: str, reasoning: bool, expected: float | None) -> None:
    parsed = rule({"method": "label", "labels": {"Yes": 1, "No": 0}}).parse(text, reasoning=reasoning)
    assert (parsed.value if parsed else None) == expected


def test_logprob_rule_weights_labels_by_probability() -> None:
    scoring = rule({"method": "logprobs", "labels": {"Yes": 1, "No": 0}})
    result = scoring.from_logprobs({"Yes": math.log(0.3), "No": math.log(0.1)})
    assert result is not None
    value, probs = result
    assert value == pytest.approx(0.75)
    assert probs == pytest.approx({"Yes": 0.75, "No": 0.25})


def test_logprob_rule_over_a_numeric_scale_and_impossible_labels() -> None:
    scoring = rule({"method": "logprobs", "min": 1, "max": 10})
    assert scoring.label_names == tuple(str(i) for i in range(1, 11))
    result = scoring.from_logprobs({"1": -math.inf, "10": 0.0} | {str(i): -math.inf for i in range(2, 10)})
    assert result is not None and result[0] == pytest.approx(1.0)
    assert scoring.from_logprobs({name: -math.inf for name in scoring.label_names}) is None


def test_template_defaults_apply_unless_the_spec_names_a_method() -> None:
    defaults = {"method": "number", "min": 1, "max": 10}
    assert rule({}, defaults).maximum == 10
    assert rule({"max": 5}, defaults).maximum == 5
    assert rule({"method": "label", "labels": {"A": 1, "B": 0}}, defaults).method == "label"


@pytest.mark.parametrize(
    ("scoring", "field"),
    [
        ({"method": "vibes"}, "config.scoring.method"),
        ({"method": "number", "min": 5, "max": 1}, "config.scoring.max"),
        ({"method": "label", "labels": {"Yes": 1}}, "config.scoring.labels"),
        ({"method": "label", "labels": {"Yes": 2, "No": 0}}, "config.scoring.labels.Yes"),
        ({"method": "number", "pattern": "("}, "config.scoring.pattern"),
        ({"method": "number", "pattern": "(a)(b)"}, "config.scoring.pattern"),
        ({"method": "number", "typo": 1}, "config.scoring.typo"),
        ({"method": "logprobs"}, "config.scoring.min"),
    ],
)
def test_bad_scoring_names_the_field(scoring: dict, field: str) -> None:
    with pytest.raises(SpecError) as info:
        rule(scoring)
    assert info.value.field == field


def test_render_fills_variables_and_names_the_missing_one() -> None:
    text = "Q: {prompt}\nGold: {answer}\nTests: {tests}\n{{literal}}"
    assert template_variables(text) == ("prompt", "answer", "tests")
    rendered = render(text, {"prompt": "2+2?", "answer": "4", "tests": [1, 2]})
    assert rendered == "Q: 2+2?\nGold: 4\nTests: [1, 2]\n{literal}"
    with pytest.raises(MissingVariable) as info:
        render(text, {"prompt": "2+2?", "tests": []})
    assert info.value.name == "answer"


def test_malformed_placeholders_are_refused() -> None:
    for text in ("{a.b}", "{x!r}", "{x:>3}", "{0}", "{unclosed"):
        with pytest.raises(ValueError):
            template_variables(text)


def test_builtin_templates_parse_and_carry_a_scoring_rule() -> None:
    for name, template in BUILTIN_TEMPLATES.items():
        assert template.variables, name
        assert read_scoring(ConfigReader({}), template.scoring).method in ("number", "label", "logprobs")
        assert template.description
