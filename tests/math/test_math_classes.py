"""The failure classes of issue 11, one rule at a time, with cases written here (never copied from
the external suites): extraction, normalization, bounds, the fast path, and which step decided."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from verifier_server.domain import Outcome, Sample
from verifier_server.kinds.math import MathVerifier
from verifier_server.kinds.math.bounds import too_large
from verifier_server.kinds.math.boxes import is_list_gap
from verifier_server.kinds.math.compare import CompareOptions
from verifier_server.kinds.math.extraction import (
    STRATEGIES,
    STRICT_STRATEGIES,
    extract_answer,
    extract_gold,
    visible_text,
)
from verifier_server.kinds.math.fastpath import fast_verdict
from verifier_server.kinds.math.normalize import normalize

Make = Callable[..., MathVerifier]


def answer(text: str, strict: bool = False) -> str | None:
    found = extract_answer(text, STRICT_STRATEGIES if strict else STRATEGIES)
    return found.text if found is not None else None


# -- 1. extraction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Work.\n\n**Final answer:** $\\sqrt{27}$", "\\sqrt{27}"),
        ("Work.\n\n**Final Answer**: $x+1$", "x+1"),
        ("Work.\n\n## Final Answer\n\n$42$", "42"),
        ("Work.\n\n__Answer:__ 17", "17"),
        ("Final Answer: The final answer is $\\frac{2}{9}$. I hope it is correct.", "\\frac{2}{9}"),
        ("Final Answer: The radius of the circle $\\omega$ is 12. I hope it is correct.", "12"),
        ("Final Answer: Tom walked 6 miles before noon.", "6"),
        ("\\boxed{40} is the subtotal; with tax, $44$ total.\nFinal Answer: The final answer is $44$.", "44"),
        ("\\boxed{40}\n\nThe answer is correct, as checked.", "40"),
        ("\\boxed{40}\n\nthe answer is not 41.", "40"),
    ],
)
def test_labelled_statements_reduce_to_their_answer(text: str, expected: str) -> None:
    assert answer(text) == expected
    assert answer(text, strict=True) == expected  # all of these are explicit markers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Réponse : 42", "42"),
        ("La réponse est $42$.", "42"),
        ("Die Antwort lautet 42.", "42"),
        ("Respuesta: 42 libros, no 40.", "42"),
        ("Ответ: 42", "42"),
        ("所以，答案是42。", "42"),
        ("计算得 6×7=42。\n答案：共42个", "42"),
        ("答え：42", "42"),
        ("الإجابة: 42", "42"),
        ("उत्तर: 42", "42"),
    ],
)
def test_answer_markers_in_other_languages(text: str, expected: str) -> None:
    assert answer(text, strict=True) == expected


def test_an_answer_only_inside_think_does_not_count() -> None:
    assert answer("<think>it is \\boxed{3}</think>No idea.") is None
    assert answer("<think>it is \\boxed{3}") is None  # reasoning that never closed
    assert answer("<think>maybe 2</think>So $\\boxed{3}$.") == "3"
    assert visible_text("So $\\boxed{3}$.<|im_end|><|im_start|>user\nAnd \\boxed{9}?") == "So $\\boxed{3}$."


def test_display_math_on_the_last_line() -> None:
    assert answer("Adding up:\n\\[\n  27\n\\]") == "27"
    assert answer("Adding up:\n$$\n27\n$$\n") == "27"
    assert answer("Adding up gives $$27.$$") == "27."


def test_a_gold_written_as_a_sentence_is_reduced_to_its_answer() -> None:
    assert extract_gold("The answer is $\\frac{4}{7}$.") == "\\frac{4}{7}"
    assert extract_gold("The triangle's area is $12$ square units.") == "12"
    assert normalize(extract_gold("$2$ and $5$")) == "2,5"
    assert extract_gold("\\frac{4}{7}") == "\\frac{4}{7}"


# -- 2. several boxes that list one answer ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("So $\\boxed{-1}$ and $\\boxed{6}$.", "-1, 6"),
        ("\\boxed{1}, \\boxed{2}, \\boxed{3}", "1, 2, 3"),
        ("$$x_1 = \\boxed{2} \\quad \\text{and} \\quad x_2 = \\boxed{5}$$", "2, 5"),
        ("\\boxed{(1,2)} for part (a) and \\boxed{(3,4)}", "(1,2), (3,4)"),
        ("First \\boxed{4}. Wait, that is wrong. So \\boxed{5}", "5"),
        ("\\boxed{4} is what I got, but actually \\boxed{5}", "5"),
        ("Substituting \\boxed{3} gives \\boxed{9}", "9"),
    ],
)
def test_listed_boxes_are_one_answer_and_replaced_boxes_are_not(text: str, expected: str) -> None:
    assert answer(text) == expected


def test_list_gaps() -> None:
    assert is_list_gap(" and ") and is_list_gap(", ") and is_list_gap("$ \\quad \\text{and} \\quad $")
    assert is_list_gap(" 和 ") and is_list_gap(" apples and ")
    assert not is_list_gap(". Then ") and not is_list_gap(" but not ") and not is_list_gap(" gives ")


def test_gold_boxes_list_every_answer() -> None:
    assert extract_gold("So $\\boxed{3}$ and $\\boxed{-3}$.") == "3, -3"


def test_an_empty_or_unfinished_final_box_is_no_answer() -> None:
    assert answer("So \\boxed{5} and finally \\boxed{}") is None
    assert answer("So \\boxed{5} and finally \\boxed{6") is None


# -- 3-6. normalization ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}", "\\begin{bmatrix}1&0\\\\0&1\\end{bmatrix}"),
        ("5\\frac{2}{3}", "\\frac{17}{3}"),
        ("-5\\frac{2}{3}", "-\\frac{17}{3}"),
        ("12 3/4", "\\frac{51}{4}"),
        ("5\\frac{4}{3}", "5\\frac{4}{3}"),  # not a proper fraction: a product, as written
        ("12,\\!34,\\!567", "1234567"),
        ("12, 345", "12, 345"),  # a list of two numbers, never twelve thousand
        ("6\\sqrt(3)", "6\\sqrt{3}"),
        ("sqrt(3)/2", "\\sqrt{3}/2"),
        ("{2,5}", "2,5"),
        ("3 \\times 4 \\times 5 = 60", "60"),
        ("y = 3 + 4 = 7", "y=7"),
        ("5 = 2a+b", "5=2a+b"),
        ("\\frac{22}{7} \\approx 3.14", "\\frac{22}{7}"),
        ("x \\approx 3.14", "3.14"),
        ("\\log_3 7", "\\log_{3}7"),
        ("\\cos(60^\\circ)", "\\cos(\\frac{60\\pi}{180})"),
        ("60^\\circ", "60"),
        ("\\mathcal{C}", "C"),
        ("q=1,r=2;q=3,r=4", "(q=1,r=2),(q=3,r=4)"),
        ("x <= 4", "x\\leq4"),
    ],
)
def test_normalization_classes(raw: str, norm: str) -> None:
    assert normalize(raw) == norm


# -- bounds (issue 12, finding 7) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["9^{9^{9}}", "10^{10^{10}}", "7^{-10^{12}}", "(10^{9})!", "123456789!", "(a+b)^{10^{5}}"]
)
def test_answers_past_the_bounds(text: str) -> None:
    assert too_large(text) is not None


@pytest.mark.parametrize("text", ["2^{100}", "2^{2^{16}}", "x^{10^{9}}", "e^{10^{9}}", "1^{10^{99}}", "100!", "5!=120"])
def test_answers_within_the_bounds(text: str) -> None:
    assert too_large(text) is None


# -- the fast path decides only what is certain --------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "answer", "match", "method"),
    [
        ("C'", "C", False, "decoration"),
        ("\\hat{x}", "x", False, "decoration"),
        ("A'", "A'", True, "exact"),
        ("11:00", "1:00", False, "ratio"),
        ("4:6", "4:6", True, "exact"),
        ("V_1:V_2=4:6", "4:6", True, "ratio"),
        ("1", "9^{9^{9}}", False, "too_large"),
        ("9^{9^{9}}", "1", False, "gold_too_large"),
        ("\\frac{51}{4}", "12.75", True, "numeric_fast"),
    ],
)
def test_fast_verdicts(gold: str, answer: str, match: bool, method: str) -> None:
    verdict = fast_verdict(gold, answer, CompareOptions())
    assert verdict is not None and (verdict.match, verdict.method) == (match, method)


def test_the_fast_path_leaves_anything_uncertain_to_the_workers() -> None:
    for gold, answer in [("\\frac{\\sqrt3}{2}", "\\cos 30^\\circ"), ("x+1", "1+x"), ("-i", "\\frac{1}{i}")]:
        assert fast_verdict(normalize(gold), normalize(answer), CompareOptions()) is None


# -- 7-9 and details: the verdict says which step decided ------------------------------------------------------


async def test_details_name_the_deciding_step(make_verifier: Make) -> None:
    pairs = [
        ("\\frac{1}{2}", "\\boxed{0.5}", 1.0, "numeric_fast"),
        ("-i", "\\boxed{\\frac{1}{i}}", 1.0, "structural"),
        (
            "\\begin{pmatrix}1\\\\0.5\\end{pmatrix}",
            "\\boxed{\\frac12\\begin{pmatrix}2\\\\1\\end{pmatrix}}",
            1.0,
            "matrix",
        ),
        ("x \\geq 3", "\\boxed{3 \\leq x}", 1.0, "inequality"),
        ("m = 2, 4", "\\boxed{m = 4, 6}", 0.0, "equation"),
        ("1", "\\boxed{9^{9^{9}}}", 0.0, "too_large"),
        ("B'", "\\boxed{B}", 0.0, "decoration"),
    ]
    results = await make_verifier().score_batch(
        [Sample(completion=completion, reference={"answer": gold}) for gold, completion, _, _ in pairs]
    )
    for (gold, completion, score, method), result in zip(pairs, results, strict=True):
        assert result.outcome is Outcome.OK, (gold, completion, result)
        assert result.score == score, (gold, completion, result)
        assert result.details["match_method"].startswith(method), (gold, completion, result.details)


async def test_strict_reads_only_marked_answers_and_compares_the_same(make_verifier: Make) -> None:
    """``math-strict`` means: the final answer must be explicitly marked; what counts as equal does not change."""
    texts = ["The total is 12 apples.", "Answer: 12", "So $\\boxed{12}$.", "Ответ: 12", "<think>\\boxed{12}</think>12"]
    loose = await make_verifier().score_batch([Sample(completion=t, reference={"answer": "12"}) for t in texts])
    strict = await make_verifier({"strict": True}).score_batch(
        [Sample(completion=t, reference={"answer": "12"}) for t in texts]
    )
    assert [r.score for r in loose] == [1.0, 1.0, 1.0, 1.0, 1.0]
    assert [r.score for r in strict] == [0.0, 1.0, 1.0, 1.0, 0.0]
    assert strict[0].reason == strict[4].reason == "no answer found"
