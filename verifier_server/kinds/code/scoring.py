"""From per-test verdicts to one reward: fraction passed, all-or-nothing, or weighted."""

from __future__ import annotations

from collections.abc import Sequence

SCORINGS = ("fraction", "all_or_nothing", "weighted")


def score(verdicts: Sequence[str], weights: Sequence[float], mode: str) -> float:
    """Tests never run (stop on first failure) count as failed: skipping must not raise the reward."""
    if not verdicts:
        return 0.0
    passed = [v == "passed" for v in verdicts]
    if mode == "all_or_nothing":
        return 1.0 if all(passed) else 0.0
    if mode == "weighted":
        total = sum(weights)
        return sum(w for w, ok in zip(weights, passed, strict=False) if ok) / total if total > 0 else 0.0
    return sum(passed) / len(passed)


def summary(verdicts: Sequence[str]) -> str:
    """'3/5 tests passed; first failure: test 2 wrong_answer' — the reason line users read."""
    passed = sum(v == "passed" for v in verdicts)
    text = f"{passed}/{len(verdicts)} tests passed"
    for i, verdict in enumerate(verdicts):
        if verdict != "passed":
            return f"{text}; first failure: test {i} {verdict}"
    return text
