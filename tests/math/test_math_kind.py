"""The math kind's contract: spec fields, gold lookup, outcomes, details, dedup and cache."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from math_verify import LatexExtractionConfig, parse

from verifier_server.domain import Outcome, Sample
from verifier_server.errors import SpecError
from verifier_server.kinds.math import MathKind, MathVerifier, builtin_specs
from verifier_server.kinds.math.extraction import extract_answer, extract_gold
from verifier_server.kinds.math.normalize import normalize
from verifier_server.kinds.math.numeric import Tolerance, numbers_close, parse_simple

Make = Callable[..., MathVerifier]


def sample(completion: str, **reference: object) -> Sample:
    return Sample(completion=completion, reference=reference)


# -- extraction --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer", "strategy"),
    [
        ("so \\boxed{1} then \\boxed{\\frac{2}{3}}", "\\frac{2}{3}", "boxed"),
        ("\\boxed{\\{1,2\\}}", "\\{1,2\\}", "boxed"),
        ("\\fbox{7}", "7", "boxed"),
        ("<answer>\\boxed{5}</answer>", "5", "boxed"),
        ("<think>4</think><answer>$5$</answer>", "5", "answer_tag"),
        ("The answer is $x=3$. Done", "x=3", "the_answer_is"),
        ("The answer is 3.5.", "3.5", "the_answer_is"),
        ("Final Answer: 12", "12", "final_answer"),
        ("Hence **42**", "42", "bold"),
        ("blah blah\n$17$", "17", "last_line"),
        ("we get 5 and then 9 in the end", "9", "last_line"),
        ("we get 5 and then 9\nin the end that is all", "9", "last_number"),
    ],
)
def test_extraction_strategies(text: str, answer: str, strategy: str) -> None:
    found = extract_answer(text)
    assert found is not None
    assert (found.text, found.strategy) == (answer, strategy)


def test_strict_strategies_ignore_unmarked_numbers() -> None:
    assert extract_answer("we get 5 and then 9 in the end", ("boxed", "answer_tag")) is None
    assert extract_answer("") is None


def test_a_completion_cut_off_inside_its_last_box_has_no_answer() -> None:
    assert extract_answer("\\boxed{3} and finally \\boxed{4") is None
    assert extract_answer("\\boxed{3} and finally \\boxed{}") is None  # an empty final box answers nothing
    found = extract_answer("a stray \\boxed{ here } then \\boxed{4}")
    assert found is not None and found.text == "4"


def test_gold_may_be_a_solution_or_gsm8k_text() -> None:
    assert extract_gold("So $\\boxed{\\frac{1}{2}}$.") == "\\frac{1}{2}"
    assert extract_gold("48/2 = 24\n#### 72") == "72"
    assert extract_gold("\\frac{3}{4}") == "\\frac{3}{4}"


# -- normalization and numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("$1{,}000$", "1000"),
        ("5\\text{ cm}^2", "5"),
        ("30^\\circ", "30"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\frac18", "\\frac{1}{8}"),
        ("\\sqrt 3", "\\sqrt{3}"),
        ("0.\\overline{3}", "\\frac{1}{3}"),
        ("1.5e-4", "1.5\\times10^{-4}"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("2i", "2i"),
    ],
)
def test_normalize(raw: str, norm: str) -> None:
    assert normalize(raw) == norm


def test_tolerance_is_relative_and_configurable() -> None:
    third = parse_simple("\\frac{1}{3}")
    rough = parse_simple("0.3333")
    assert third is not None and rough is not None
    assert not numbers_close(third, rough, Tolerance())
    assert numbers_close(third, rough, Tolerance(rel=1e-3))
    tiny, tinier = parse_simple("1\\times10^{-12}"), parse_simple("1.5\\times10^{-12}")
    assert tiny is not None and tinier is not None
    assert not numbers_close(tiny, tinier, Tolerance())
    assert numbers_close(tiny, tinier, Tolerance(abs=1e-9))


# -- spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"strategies": ["boxed", "vibes"]}, "config.strategies"),
        ({"rel_tol": -1}, "config.rel_tol"),
        ({"timeout_s": 0}, "config.timeout_s"),
        ({"strict": "yes"}, "config.strict"),
        ({"strict": True, "strategies": ["last_number"]}, "config.strict"),
        ({"gold_feild": "x"}, "config.gold_feild"),
    ],
)
def test_bad_specs_name_the_field(make_verifier: Make, config: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as error:
        make_verifier(config)
    assert error.value.field == field


def test_builtin_specs_compile(make_verifier: Make) -> None:
    specs = builtin_specs()
    assert [spec["name"] for spec in specs] == ["math", "math-strict"]
    for spec in specs:
        assert spec["kind"] == MathKind.name
        make_verifier(spec["config"])


def test_verifiers_share_one_pool_and_cache(make_verifier: Make) -> None:
    first, second = make_verifier(), make_verifier({"strict": True})
    assert first.pool is second.pool and first.cache is second.cache


# -- gold lookup and outcomes ------------------------------------------------------------------


async def test_gold_field_default_order_and_override(make_verifier: Make) -> None:
    default = make_verifier()
    results = await default.score_batch(
        [
            sample("\\boxed{2}", solution="So \\boxed{2}.", ground_truth="3"),
            sample("\\boxed{3}", ground_truth="3", gold="4"),
            sample("\\boxed{4}", gold="4"),
            sample("\\boxed{5}", answer=5),
        ]
    )
    assert [r.score for r in results] == [1.0, 1.0, 1.0, 1.0]
    assert [r.details["gold_field"] for r in results] == ["solution", "ground_truth", "gold", "answer"]
    custom = make_verifier({"gold_field": "target"})
    [hit, missing] = await custom.score_batch([sample("\\boxed{7}", target="7"), sample("\\boxed{7}", answer="7")])
    assert hit.score == 1.0
    assert missing.outcome is Outcome.INVALID_INPUT and "'target'" in missing.reason


async def test_missing_gold_is_invalid_input_naming_the_fields(make_verifier: Make) -> None:
    [result] = await make_verifier().score_batch([sample("\\boxed{1}", question="?")])
    assert result.outcome is Outcome.INVALID_INPUT and result.score is None
    assert "'answer'" in result.reason and "'gold'" in result.reason


async def test_no_answer_found_is_ok_with_a_configurable_score(make_verifier: Make) -> None:
    [default] = await make_verifier({"strict": True}).score_batch([sample("I have no idea.", answer="3")])
    assert (default.outcome, default.score, default.reason) == (Outcome.OK, 0.0, "no answer found")
    [penalised] = await make_verifier({"strict": True, "no_answer_score": -0.5}).score_batch(
        [sample("I have no idea.", answer="3")]
    )
    assert penalised.score == -0.5


async def test_details_say_what_was_compared_and_why_not(make_verifier: Make) -> None:
    [right, wrong] = await make_verifier().score_batch(
        [sample("Thus $\\boxed{\\dfrac{1}{2}}$", answer="0.5"), sample("\\boxed{y=3x+1}", answer="y=2x+1")]
    )
    assert right.score == 1.0 and right.reason == ""
    assert right.details["extracted_answer"] == "\\dfrac{1}{2}"
    assert right.details["normalized_answer"] == "\\frac{1}{2}"
    assert right.details["normalized_gold"] == "0.5"
    assert right.details["extraction_strategy"] == "boxed"
    assert right.details["match_method"] == "numeric_fast"
    assert wrong.score == 0.0 and wrong.reason == "not equal"
    assert wrong.details["match_method"] == "equation"


async def test_strict_mode_reads_only_the_final_answer(make_verifier: Make) -> None:
    text = "I computed 12 and that is it"
    [loose] = await make_verifier().score_batch([sample(text, answer="12")])
    [strict] = await make_verifier({"strict": True}).score_batch([sample(text, answer="12")])
    assert loose.score == 1.0
    assert strict.score == 0.0 and strict.reason == "no answer found"


async def test_grpo_batch_dedups_and_caches_across_batches(make_verifier: Make) -> None:
    verifier = make_verifier({"rel_tol": 1e-7})  # its own cache namespace
    group = [f"Reasoning {i}. So \\boxed{{(x+{i % 3})^2}}" for i in range(16)]
    batch = [sample(text, answer="x^2 + 2x + 1") for text in group]
    sent_before = verifier.pool.pairs_sent
    first = await verifier.score_batch(batch)
    assert [r.score for r in first] == [1.0 if i % 3 == 1 else 0.0 for i in range(16)]
    assert verifier.pool.pairs_sent - sent_before == 3  # 16 completions, 3 distinct answers
    second = await verifier.score_batch(batch)
    assert [r.score for r in second] == [r.score for r in first]
    assert verifier.pool.pairs_sent - sent_before == 3  # all three verdicts came from the cache


# -- the fast parser agrees with math-verify where it answers at all -----------------------------


@pytest.mark.parametrize(
    "text",
    ["x^2+14x+49", "y=2x+8", "[1,7)", "(2,\\infty)", "\\frac{\\sqrt{3}}{3}", "2^{-9}", "-x^2", "x(x+1)", "3\\sqrt{2}"],
)
def test_lite_parser_matches_math_verify(text: str) -> None:
    from verifier_server.kinds.math.compare import CompareOptions, equivalent
    from verifier_server.kinds.math.lite import parse_lite

    quick = parse_lite(text)
    reference = parse(f"\\boxed{{{text}}}", [LatexExtractionConfig(boxed_match_priority=0)], parsing_timeout=None)[0]
    assert quick is not None
    assert equivalent(reference, quick, CompareOptions())[0]


@pytest.mark.parametrize("text", ["e^2", "3+4i", "x^23", "1/2x", "yes", "1,2", "(3,1)", "\\sin x", "0.5x"])
def test_lite_parser_leaves_ambiguous_text_to_math_verify(text: str) -> None:
    from verifier_server.kinds.math.lite import parse_lite

    assert parse_lite(text) is None
