"""Hostile inputs: each gets a clear outcome while the rest of the batch is scored.

Time limits here are generous relative to the work (the machine is shared); only
items built to run for minutes are expected to time out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from verifier_server.domain import Outcome, Sample
from verifier_server.kinds.math import MathVerifier
from verifier_server.kinds.math.boxes import MAX_ANSWER_CHARS
from verifier_server.kinds.math.pool import MathPool

Make = Callable[..., MathVerifier]

GENEROUS_S = 60.0
"""A limit no honest item comes near, even on a loaded machine."""
TOWER = "\\boxed{9^{9^{9^{9}}}}"
SHORT_S = 10.0
"""The limit for a batch holding an item built to time out: ample for the honest items next to it."""
SLOW_GOLD = "(a+b+c+d)^{60}"
SLOW_ANSWER = "\\boxed{(a+b+c+d)^{30}(a+b+c-d)^{30}}"
"""Within every bound, but expanding both sides takes minutes: built to run past ``SHORT_S``."""


async def test_pathological_items_do_not_sink_the_batch(make_verifier: Make) -> None:
    verifier = make_verifier({"timeout_s": GENEROUS_S, "chunk_size": 64})
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
        "marker_flood": ("答案：" * 30000, "3"),
        "phrase_flood": ("the answer is " * 7000, "3"),
        "unit_words": ("The answer is 5 " + "a" * 1900 + "!", "3"),
    }
    normal = [(f"So the answer is $\\boxed{{\\frac{{{i}}}{{7}}+x}}$", f"x+\\frac{{{i}}}{{7}}") for i in range(1, 13)]
    items = list(hostile.values()) + normal
    results = await verifier.score_batch([Sample(completion=c, reference={"answer": g}) for c, g in items])
    by_name = dict(zip(hostile, results, strict=False))

    assert by_name["huge"].outcome is Outcome.OK and by_name["huge"].score == 1.0
    zeros = ("tower", "nested", "unbalanced", "unbalanced_latex", "empty", "garbage", "unclosed_tags", "marker_flood")
    for name in (*zeros, "phrase_flood"):
        result = by_name[name]
        assert result.outcome is Outcome.OK, (name, result)
        assert result.score == 0.0 and result.reason, (name, result)
    assert by_name["unclosed_boxes"].outcome is Outcome.OK and by_name["unclosed_boxes"].score == 0.0
    assert by_name["empty"].reason == "no answer found"
    assert by_name["unit_words"].outcome is Outcome.OK and by_name["unit_words"].score == 0.0
    assert [r.score for r in results[len(hostile) :]] == [1.0] * len(normal)
    assert all(r.outcome is Outcome.OK for r in results[len(hostile) :])


async def test_an_answer_too_large_to_evaluate_is_wrong_not_a_timeout(make_verifier: Make) -> None:
    """Power towers and huge factorials are refused before sympy sees them: 0.0 with the reason, at once."""
    verifier = make_verifier({"timeout_s": GENEROUS_S})
    answers = ["9^{9^{9}}", "10^{10^{10}}", "(10^{9})!", "(x+1)^{10^{6}}", "2^{2^{16}}"]
    kills_before = verifier.pool.kills
    results = await verifier.score_batch(
        [Sample(completion=f"The answer is $\\boxed{{{a}}}$.", reference={"answer": "2"}) for a in answers]
    )
    for result in results[:4]:
        assert (result.outcome, result.score) == (Outcome.OK, 0.0), result
        assert result.reason.startswith("answer too large to evaluate"), result.reason
        assert result.details["match_method"] == "too_large"
    assert (results[4].outcome, results[4].score) == (Outcome.OK, 0.0)  # 19,729 digits: evaluated, just wrong
    assert results[4].details["match_method"] != "too_large"
    assert verifier.pool.kills == kills_before


async def test_a_gold_too_large_to_evaluate_is_invalid_input(make_verifier: Make) -> None:
    verifier = make_verifier({"timeout_s": GENEROUS_S})
    results = await verifier.score_batch(
        [
            Sample(completion="\\boxed{x}", reference={"answer": "9^{9^{9^{9}}}"}),
            Sample(completion="\\boxed{9^{9^{9^{9}}}}", reference={"answer": "9^{9^{9^{9}}}"}),
            Sample(completion="\\boxed{\\sqrt{8}}", reference={"answer": "2\\sqrt{2}"}),
        ]
    )
    assert results[0].outcome is Outcome.INVALID_INPUT and "gold too large" in results[0].reason
    assert (results[1].outcome, results[1].score) == (Outcome.OK, 1.0)  # the same text needs no evaluation
    assert (results[2].outcome, results[2].score) == (Outcome.OK, 1.0)


async def test_a_gold_longer_than_any_answer_is_invalid_input(make_verifier: Make) -> None:
    """Answers are read up to MAX_ANSWER_CHARS; a gold past that is no answer, and its text never reaches the
    normalizing patterns (which run on the event loop). Neighbours in the batch are scored."""
    verifier = make_verifier({"timeout_s": GENEROUS_S})
    long_gold = "5" + "\\," * MAX_ANSWER_CHARS + "x"
    results = await verifier.score_batch(
        [
            Sample(completion="\\boxed{5}", reference={"answer": long_gold}),
            Sample(completion="\\boxed{5}", reference={"answer": "#### " + "5 " * MAX_ANSWER_CHARS}),
            Sample(completion="\\boxed{5}", reference={"answer": "5" + " " * (2 * MAX_ANSWER_CHARS)}),
        ]
    )
    for result in results[:2]:
        assert result.outcome is Outcome.INVALID_INPUT, result
        assert f"longer than {MAX_ANSWER_CHARS} characters" in result.reason
    assert (results[2].outcome, results[2].score) == (Outcome.OK, 1.0)  # trailing spaces are no part of the gold


async def test_a_timeout_kills_only_the_item_in_flight(make_verifier: Make) -> None:
    """One chunk holds every pair; the slow pair in the middle times out, the rest come back scored."""
    verifier = make_verifier({"timeout_s": SHORT_S, "chunk_size": 1000})
    squares = [f"\\boxed{{(x+{i})^2}}" for i in range(12)]
    expanded = [f"x^2+{2 * i}x+{i * i}" for i in range(12)]
    completions = [*squares[:6], SLOW_ANSWER, *squares[6:]]
    golds = [*expanded[:6], SLOW_GOLD, *expanded[6:]]
    kills_before = verifier.pool.kills
    results = await verifier.score_batch(
        [Sample(completion=c, reference={"answer": g}) for c, g in zip(completions, golds, strict=True)]
    )
    assert results[6].outcome is Outcome.TIMEOUT
    assert results[6].score is None and "timeout" in results[6].reason
    assert [r.score for i, r in enumerate(results) if i != 6] == [1.0] * 12
    assert verifier.pool.kills - kills_before == 1
    # The replacement worker serves the next batch.
    [after] = await verifier.score_batch([Sample(completion="\\boxed{x+x}", reference={"answer": "2x"})])
    assert after.score == 1.0


def test_math_workers_run_under_an_address_space_cap() -> None:
    """The kernel, not sympy, bounds a worker's memory: RLIMIT_AS sits a fixed headroom above its warm size."""
    pool = MathPool(1, start_method="forkserver", memory_mb=300)
    try:
        deadline = time.monotonic() + GENEROUS_S
        while not pool.worker_pids() and time.monotonic() < deadline:
            time.sleep(0.05)  # polling the pool's start-up thread
        [pid] = pool.worker_pids()
        limit_line = next(
            line for line in Path(f"/proc/{pid}/limits").read_text().splitlines() if line.startswith("Max address")
        )
        cap = int(limit_line.split()[3])
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        size = next(int(line.split()[1]) for line in status if line.startswith("VmSize:")) * 1024
        assert size < cap <= size + 300 * 1024 * 1024
    finally:
        pool.close()
