"""The labelled cases: our verifier must get every one right; math-verify's configs are measured."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from math_cases import CASES, Case
from mv_baselines import openr1_reward, tuned_reward

from verifier_server.domain import Outcome, Sample
from verifier_server.kinds.math import MathVerifier


def test_there_are_enough_cases_in_every_category() -> None:
    assert len(CASES) >= 200
    categories = {case.category for case in CASES}
    assert {"magnitude", "intervals", "equations", "inequalities", "matrices", "complex", "choice"} <= categories
    assert len({(c.gold, c.completion) for c in CASES}) == len(CASES), "duplicate cases"


async def test_every_labelled_case_is_judged_right(make_verifier: Callable[..., MathVerifier]) -> None:
    verifier = make_verifier()
    results = await verifier.score_batch([Sample(completion=c.completion, reference={"answer": c.gold}) for c in CASES])
    wrong = [
        f"[{case.category}] gold={case.gold!r} completion=…{case.completion[-50:]!r} expected={case.expected} "
        f"got score={result.score} outcome={result.outcome.value} reason={result.reason!r} details={result.details}"
        for case, result in zip(CASES, results, strict=True)
        if result.outcome is not Outcome.OK or (result.score == 1.0) != case.expected
    ]
    assert not wrong, f"{len(wrong)} of {len(CASES)} cases judged wrong:\n" + "\n".join(wrong)


def _accuracy(reward: Callable[[str, str], bool], cases: list[Case]) -> float:
    right = 0
    for case in cases:
        try:
            judged = reward(case.completion, case.gold)
        except Exception:
            judged = None
        right += judged == case.expected
    return right / len(cases)


@pytest.mark.parametrize("reward", [openr1_reward, tuned_reward], ids=["open-r1", "tuned"])
def test_math_verify_baselines_are_measured_not_trusted(
    reward: Callable[[str, str], bool], record_property: Callable[[str, object], None]
) -> None:
    """Data, not a gate on math-verify: records its accuracy on our cases (the bench prints it too).

    The one assertion is that the baseline is really below perfect on these cases,
    i.e. the labelled set exercises failure modes the kind fixes.
    """
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    accuracy = _accuracy(reward, CASES)
    record_property(f"math_verify_{reward.__name__}_accuracy", round(accuracy, 4))
    print(f"math-verify {reward.__name__}: {accuracy:.1%} of {len(CASES)} labelled cases")
    assert 0.3 < accuracy < 1.0
