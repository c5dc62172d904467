"""Hostile inputs: each gets a clear outcome within the timeout while the rest of the batch is scored."""

from __future__ import annotations

from collections.abc import Callable

from verifier_server.domain import Outcome, Sample
from verifier_server.kinds.math import MathVerifier

Make = Callable[..., MathVerifier]

TOWER = "\\boxed{9^{9^{9^{9}}}}"


async def test_pathological_items_do_not_sink_the_batch(make_verifier: Make) -> None:
    verifier = make_verifier({"timeout_s": 1.5, "chunk_size": 64})
    nested = "\\boxed{" + "{" * 3000 + "1" + "}" * 3000 + "}"
    huge = ("Let me think. " * 8000) + "\nSo \\boxed{42}"
    garbage = bytes(range(256)).decode("latin-1") * 40
    hostile = {
        "tower": (TOWER, "1"),
        "huge": (huge, "42"),
        "nested": (nested, "1"),
        "unbalanced": ("\\boxed{\\frac{1}{2}", "\\frac{1}{2}"),
        "unbalanced_latex": ("The answer is $\\frac{1}{2$", "\\frac{1}{2}"),
        "empty": ("", "3"),
        "garbage": (garbage, "3"),
        # Inputs that make naive regex extraction quadratic or exponential.
        "unclosed_tags": ("<answer>" * 12000, "3"),
        "unclosed_boxes": ("\\boxed{" * 15000, "3"),
        "unit_words": ("The answer is 5 " + "a" * 1900 + "!", "3"),
    }
    normal = [(f"So the answer is $\\boxed{{\\frac{{{i}}}{{7}}+x}}$", f"x+\\frac{{{i}}}{{7}}") for i in range(1, 13)]
    items = list(hostile.values()) + normal
    results = await verifier.score_batch([Sample(completion=c, reference={"answer": g}) for c, g in items])
    by_name = dict(zip(hostile, results, strict=False))

    assert by_name["tower"].outcome is Outcome.TIMEOUT
    assert by_name["tower"].score is None and "timeout" in by_name["tower"].reason
    assert by_name["huge"].outcome is Outcome.OK and by_name["huge"].score == 1.0
    for name in ("nested", "unbalanced", "unbalanced_latex", "empty", "garbage", "unclosed_tags", "unclosed_boxes"):
        result = by_name[name]
        assert result.outcome is Outcome.OK, (name, result)
        assert result.score == 0.0 and result.reason, (name, result)
    assert by_name["empty"].reason == "no answer found"
    assert by_name["unit_words"].outcome is Outcome.OK and by_name["unit_words"].score == 0.0
    assert [r.score for r in results[len(hostile) :]] == [1.0] * len(normal)
    assert all(r.outcome is Outcome.OK for r in results[len(hostile) :])


async def test_a_timeout_kills_only_the_item_in_flight(make_verifier: Make) -> None:
    """One chunk holds every pair; the tower in the middle times out, the rest come back scored."""
    verifier = make_verifier({"timeout_s": 1.0, "chunk_size": 1000})
    squares = [f"\\boxed{{(x+{i})^2}}" for i in range(12)]
    expanded = [f"x^2+{2 * i}x+{i * i}" for i in range(12)]
    completions = [*squares[:6], TOWER, *squares[6:]]
    golds = [*expanded[:6], "2", *expanded[6:]]
    kills_before = verifier.pool.kills
    results = await verifier.score_batch(
        [Sample(completion=c, reference={"answer": g}) for c, g in zip(completions, golds, strict=True)]
    )
    assert [r.outcome for r in results].count(Outcome.TIMEOUT) == 1
    assert results[6].outcome is Outcome.TIMEOUT
    assert [r.score for i, r in enumerate(results) if i != 6] == [1.0] * 12
    assert verifier.pool.kills - kills_before == 1
    # The replacement worker serves the next batch.
    [after] = await verifier.score_batch([Sample(completion="\\boxed{x+x}", reference={"answer": "2x"})])
    assert after.score == 1.0


async def test_a_pathological_gold_times_out_its_samples_only(make_verifier: Make) -> None:
    verifier = make_verifier({"timeout_s": 1.0})
    results = await verifier.score_batch(
        [
            Sample(completion="\\boxed{x}", reference={"answer": "9^{9^{9^{9}}}"}),
            Sample(completion="\\boxed{y}", reference={"answer": "9^{9^{9^{9}}}"}),
            Sample(completion="\\boxed{\\sqrt{8}}", reference={"answer": "2\\sqrt{2}"}),
        ]
    )
    assert [r.outcome for r in results] == [Outcome.TIMEOUT, Outcome.TIMEOUT, Outcome.OK]
    assert results[2].score == 1.0
