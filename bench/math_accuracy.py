"""Benchmark: math verdict accuracy on labelled cases nobody here wrote, next to stock math-verify.

Scores ``cases.jsonl`` of ``shared/data/math_external`` (355 cases from the unit tests of
public math graders; see its README) three ways:

- ``math`` and ``math-strict``: the built-in verifiers of a real server subprocess, through
  the SDK (gold in the ``answer`` field, the presented ``completion`` as the completion);
- ``math-verify``: stock math-verify called the way each suite calls it (the ``anchor``
  and ``anchor_kw`` fields), in this process, on the same completion.

Prints accuracy, false positives (judged right, labelled wrong) and false negatives
(judged wrong, labelled right; a non-``ok`` outcome counts here too) per source and per
category, side by side, then the same for the project's own labelled cases
(``tests/math/math_cases.py``, where open-r1's and the tuned math-verify configuration
stand in for the anchor). ``--misses`` lists every case the ``math`` verifier gets wrong.

Run: ``.venv/bin/python bench/math_accuracy.py [--cases PATH] [--misses]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "math"))

from math_cases import CASES  # noqa: E402
from mv_baselines import anchor_verdict, openr1_reward, tuned_reward  # noqa: E402

from sdk import VerifierClient  # noqa: E402
from verifier_server.testing import start_server_process  # noqa: E402

_CASES_RELATIVE = Path("shared") / "data" / "math_external" / "cases.jsonl"
_BATCH = 64


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    source: str
    category: str
    gold: str
    completion: str
    expected: bool
    anchor: str
    anchor_kw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Judged:
    """One contender's verdict on one case: ``right`` is None when it gave no ok verdict."""

    right: bool | None
    detail: str = ""


def default_cases_path() -> Path:
    """``shared/`` next to the checkout, or next to the folder of worktrees that holds it."""
    for base in (REPO.parent, REPO.parent.parent):
        if (base / _CASES_RELATIVE).exists():
            return base / _CASES_RELATIVE
    return REPO.parent / _CASES_RELATIVE


def load_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            cases.append(
                Case(
                    id=row["id"],
                    source=row["source"].split(":")[0],
                    category=row["category"],
                    gold=row["gold"],
                    completion=row["completion"],
                    expected=bool(row["expected"]),
                    anchor=row["anchor"],
                    anchor_kw=dict(row.get("anchor_kw") or {}),
                )
            )
    return cases


def score_service(
    client: VerifierClient, verifier: str, golds: Sequence[str], completions: Sequence[str]
) -> list[Judged]:
    judged: list[Judged] = []
    for start in range(0, len(golds), _BATCH):
        results = client.score(
            verifier,
            completions=list(completions[start : start + _BATCH]),
            references=[{"answer": gold} for gold in golds[start : start + _BATCH]],
        )
        for result in results:
            if result.outcome != "ok":
                judged.append(Judged(None, f"{result.outcome}: {result.reason}"))
                continue
            details = result.details
            detail = (
                f"extracted={details.get('extracted_answer')!r} via {details.get('extraction_strategy')}, "
                f"decided by {details.get('match_method')}; {result.reason}"
            )
            judged.append(Judged(result.score == 1.0, detail))
    return judged


def score_in_process(check: Callable[[], bool]) -> Judged:
    try:
        return Judged(bool(check()))
    except Exception as exc:  # a baseline that raises gave no verdict
        return Judged(None, f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------
# the table
# ---------------------------------------------------------------------------


@dataclass
class Tally:
    n: int = 0
    right: int = 0
    false_positives: int = 0
    false_negatives: int = 0

    def add(self, expected: bool, judged: Judged) -> None:
        self.n += 1
        verdict = bool(judged.right)  # no verdict scores like "not right"
        if verdict == expected and judged.right is not None:
            self.right += 1
        elif verdict and not expected:
            self.false_positives += 1
        else:
            self.false_negatives += 1

    def cells(self) -> str:
        accuracy = self.right / self.n if self.n else 0.0
        return f"{accuracy:6.3f} {self.false_positives:3d} {self.false_negatives:3d}"


def print_table(
    title: str, keys: Sequence[str], expected: Sequence[bool], columns: dict[str, list[Judged]], groups: Sequence[str]
) -> None:
    names = list(columns)
    header = f"{title:<34s} {'n':>4s}  " + "  ".join(f"{name:^18s}" for name in names)
    print(header)
    print(f"{'':<34s} {'':>4s}  " + "  ".join(f"{'acc':>6s} {'FP':>3s} {'FN':>3s}    " for _ in names))
    tallies: dict[str, dict[str, Tally]] = defaultdict(lambda: {name: Tally() for name in names})
    for index, key in enumerate(keys):
        for name in names:
            tallies[key][name].add(expected[index], columns[name][index])
            tallies["ALL"][name].add(expected[index], columns[name][index])
    for key in [*groups, "ALL"]:
        if key not in tallies:
            continue
        row = tallies[key]
        print(f"{key[:34]:<34s} {row[names[0]].n:4d}  " + "  ".join(f"{row[name].cells()}    " for name in names))
    print()


def ordered(values: Iterable[str]) -> list[str]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return sorted(counts, key=lambda key: (-counts[key], key))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=default_cases_path(), help="the external cases.jsonl")
    parser.add_argument("--misses", action="store_true", help="list every case the math verifier gets wrong")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify warns per parse failure

    cases = load_cases(args.cases)
    own_golds = [case.gold for case in CASES]
    own_completions = [case.completion for case in CASES]
    with tempfile.TemporaryDirectory(prefix="math-accuracy-") as data_dir:
        server = start_server_process(data_dir)
        try:
            with VerifierClient(server.address, timeout_s=600) as client:
                golds, completions = [c.gold for c in cases], [c.completion for c in cases]
                external = {
                    "math": score_service(client, "math", golds, completions),
                    "math-strict": score_service(client, "math-strict", golds, completions),
                }
                own = {
                    "math": score_service(client, "math", own_golds, own_completions),
                    "math-strict": score_service(client, "math-strict", own_golds, own_completions),
                }
        finally:
            server.stop()
    external["math-verify"] = [
        score_in_process(lambda c=c: anchor_verdict(c.anchor, c.anchor_kw, c.gold, c.completion)) for c in cases
    ]
    own["mv open-r1"] = [score_in_process(lambda c=c: openr1_reward(c.completion, c.gold)) for c in CASES]
    own["mv tuned"] = [score_in_process(lambda c=c: tuned_reward(c.completion, c.gold)) for c in CASES]

    expected = [case.expected for case in cases]
    print(f"external labelled cases: {args.cases} ({len(cases)} cases, {sum(expected)} labelled right)\n")
    sources = [case.source for case in cases]
    categories = [case.category for case in cases]
    print_table("by source", sources, expected, external, ordered(sources))
    print_table("by category", categories, expected, external, ordered(categories))
    own_expected = [case.expected for case in CASES]
    own_categories = [case.category for case in CASES]
    print(f"project's own labelled cases: tests/math/math_cases.py ({len(CASES)} cases)\n")
    print_table("by category", own_categories, own_expected, own, ordered(own_categories))

    if args.misses:
        print("cases the math verifier gets wrong:")
        for case, judged in zip(cases, external["math"], strict=True):
            if judged.right is None or judged.right != case.expected:
                print(f"  {case.id} [{case.category}] expected={case.expected} {judged.detail}")


if __name__ == "__main__":
    main()
