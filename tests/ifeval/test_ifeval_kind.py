"""The ``ifeval`` kind's scoring rules, dataset formats and bad input, through a real server."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk import InvalidArgumentError, Outcome, VerifierClient, VerifierSpec

THREE = {
    "instruction_id_list": ["punctuation:no_comma", "detectable_format:title", "startend:end_checker"],
    "kwargs": [{}, {}, {"end_phrase": "Is there anything else I can help with?"}],
}


def ifeval(**config: Any) -> VerifierSpec:
    return VerifierSpec(name="ifeval-test", kind="ifeval", config=config)


def one(client: VerifierClient, verifier: Any, completion: str, reference: dict[str, Any]) -> Any:
    (result,) = client.score(verifier, [completion], references=[reference])
    return result


def test_fraction_and_all_or_nothing(client: VerifierClient):
    response = "<<Plan>>\nFirst, we rest. Is there anything else I can help with?"  # a comma: 2 of 3
    fraction = one(client, "ifeval", response, THREE)
    assert fraction.score == pytest.approx(2 / 3)
    assert fraction.details["followed"] == 2 and fraction.details["total"] == 3
    assert fraction.details["all_followed"] is False and "punctuation:no_comma" in fraction.reason
    assert one(client, ifeval(scoring="all_or_nothing"), response, THREE).score == 0.0
    assert one(client, ifeval(scoring="all_or_nothing"), response.replace(",", ""), THREE).score == 1.0


def test_loose_mode_forgives_a_framing_line_and_markdown_stars(client: VerifierClient):
    row = {"instruction_id_list": ["startend:end_checker", "startend:quotation"],
           "kwargs": [{"end_phrase": "Any other questions?"}, {}]}  # fmt: skip
    response = '**"Here is my answer. Any other questions?"**\nHope this helps!'
    assert one(client, "ifeval", response, row).score == 0.0
    loose = one(client, ifeval(mode="loose"), response, row)
    assert loose.score == 1.0 and loose.details["mode"] == "loose"


def test_thinking_is_stripped_unless_asked_not_to(client: VerifierClient):
    row = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    response = "<think>First, second, third</think><answer>No commas in the answer</answer>"
    assert one(client, "ifeval", response, row).score == 1.0
    assert one(client, ifeval(strip_thinking=False), response, row).score == 0.0


def test_an_empty_response_follows_nothing(client: VerifierClient):
    row = {"instruction_id_list": ["keywords:forbidden_words"], "kwargs": [{"forbidden_words": ["x"]}]}
    assert one(client, "ifeval", "   ", row).score == 0.0
    assert one(client, "ifeval", "<think>all the work</think>", row).score == 0.0


def test_multi_constraint_ground_truth_python_literal(client: VerifierClient):
    """IF_multi_constraints rows store ``ground_truth`` as the repr of a one-element list (None, quotes)."""
    truth = [{"instruction_id": ["change_case:english_lowercase", "detectable_content:number_placeholders"],
              "kwargs": [None, {"num_placeholders": 1, "relation": None}]}]  # fmt: skip
    row = {"key": "x", "ground_truth": repr(truth), "dataset": "ifeval", "constraint_type": "multi"}
    result = one(client, "ifeval", "please send it to [address] by noon today, thank you.", row)
    assert result.outcome is Outcome.OK and result.score == 1.0 and result.details["format"] == "ifeval"
    half = one(client, "ifeval", "Please send it by noon today, thank you very much.", row)
    assert half.score == 0.0  # capital P and no placeholder


def test_labels_as_openrlhf_passes_them(client: VerifierClient):
    """OpenRLHF turns a JSON-object label into the reference and any other label into {"answer": label}."""
    func = {"func_name": "validate_lowercase", "N": None, "quantifier": None}
    assert one(client, "ifeval", "all quiet here", func).score == 1.0
    listed = {"answer": repr([{"instruction_id": ["punctuation:no_comma"], "kwargs": [{}]}])}
    assert one(client, "ifeval", "no comma", listed).score == 1.0


def test_an_undetectable_language_counts_as_followed_as_in_ifeval(client: VerifierClient):
    row = {"instruction_id_list": ["language:response_language"], "kwargs": [{"language": "ja"}]}
    assert one(client, "ifeval", "12345 67890", row).score == 1.0
    assert one(client, "ifeval", "東京は日本の首都です。人口はとても多いです。", row).score == 1.0
    assert one(client, "ifeval", "Tokyo is the capital of Japan and it is very large.", row).score == 0.0


@pytest.mark.parametrize(
    ("reference", "reason_part"),
    [
        ({}, "no instructions found"),
        ({"instruction_id_list": ["keywords:telepathy"], "kwargs": [{}]}, "unknown instruction 'keywords:telepathy'"),
        ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"relation": "at least"}]},
         "kwargs[0].num_words: required"),
        ({"instruction_id_list": ["length_constraints:number_words"],
          "kwargs": [{"num_words": 5, "relation": "roughly"}]}, "must be one of 'less than', 'at least'"),
        ({"instruction_id_list": ["length_constraints:number_words"],
          "kwargs": [{"num_words": "five", "relation": "at least"}]}, "num_words: must be an integer"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"extra": 1}]}, "extra: not an argument"),
        ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, "one object per instruction"),
        ({"instruction_id_list": ["keywords:letter_frequency"],
          "kwargs": [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}]}, "single ASCII letter"),
        ({"instruction_id_list": ["length_constraints:nth_paragraph_first_word"],
          "kwargs": [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"}]}, "between 1 and num_paragraphs"),
        ({"instruction_id_list": ["language:response_language"], "kwargs": [{"language": "xx"}]},
         "not a language we detect"),
        ({"ground_truth": json.dumps({"func_name": "validate_telepathy"})}, "unknown function 'validate_telepathy'"),
        ({"ground_truth": "{'func_name': "}, "neither JSON nor a Python literal"),
        ({"ground_truth": "[" * 5000 + "]" * 5000}, "neither JSON nor a Python literal"),
        ({"ground_truth": json.dumps({"func_name": "verify_keywords"})}, "keyword_list: required"),
        ({"ground_truth": json.dumps({"func_name": "validate_choice", "options": []})}, "options: must be a list"),
        ({"ground_truth": json.dumps([{"instruction_id": ["punctuation:no_comma"]}, {}])}, "one constraint object"),
    ],
)  # fmt: skip
def test_unusable_constraints_are_invalid_input_naming_the_problem(
    client: VerifierClient, reference: dict[str, Any], reason_part: str
):
    result = one(client, "ifeval", "Some response.", reference)
    assert result.outcome is Outcome.INVALID_INPUT and result.score is None
    assert reason_part in result.reason


def test_a_bad_spec_is_refused_naming_the_field(client: VerifierClient):
    with pytest.raises(InvalidArgumentError, match=r"config\.mode"):
        client.score(ifeval(mode="lenient"), ["x"])
    with pytest.raises(InvalidArgumentError, match=r"config\.strict"):
        client.score(ifeval(strict=True), ["x"])


def test_large_batches_and_adversarial_text(client: VerifierClient):
    """Many samples go through the worker thread; pathological text is linear work, not a hang."""
    row = {"instruction_id_list": ["detectable_content:number_placeholders", "detectable_format:title",
                                   "detectable_format:number_bullet_lists", "detectable_content:postscript"],
           "kwargs": [{"num_placeholders": 1}, {}, {"num_bullets": 0}, {"postscript_marker": "P.S."}]}  # fmt: skip
    nasty = "[" * 200_000 + "<<" * 100_000 + "\n" * 100_000 + " " * 200_000
    results = client.score("ifeval", [nasty] + ["[a] <<T>> P.S. done"] * 40, references=[row] * 41)
    assert results[0].outcome is Outcome.OK and results[0].score == 0.25  # only "no bullets" holds
    assert all(r.score == 1.0 for r in results[1:])
