"""Benchmark: the ``math`` verifier service against open-r1's in-process math-verify reward.

Workload: GRPO-shaped steps of 64 prompts x 16 completions. Within a group the
final answers repeat (a few distinct answers, one of them right, written in
different forms) and the reasoning around them differs; about a third of the
prompts have hard golds (polynomials, radicals, intervals, matrices, equations).

(a) open-r1 ``accuracy_reward``: math-verify parse + verify per completion,
    sequentially, in this process (what TRL users run today).
(b) the service: a real server subprocess on a free port, one SDK ``score`` call
    per step (the built-in ``math`` verifier).

Prints throughput of both, the ratio, how often they agree, and the accuracy of
open-r1's config, the tuned math-verify config and the service on the labelled
cases in ``tests/math/math_cases.py``. Steps use distinct prompts so the verdict
cache only helps within a step (dedup), not by replaying a step.

Run: ``.venv/bin/python bench/math_reward.py [--steps N]`` (about a minute on 2 cores).
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "math"))

from math_cases import CASES  # noqa: E402
from mv_baselines import openr1_reward, tuned_reward  # noqa: E402

from sdk import VerifierClient  # noqa: E402
from verifier_server.testing import start_server_process  # noqa: E402

PROMPTS_PER_STEP = 64
GROUP_SIZE = 16

Problem = tuple[str, list[str], list[str]]
"""(gold, right answers in several forms, wrong answers)."""


def _easy(rng: random.Random) -> Problem:
    n = rng.randint(2, 5000)
    return str(n), [str(n), f"{n}.0" if n < 1000 else f"{n:,}", f"{n}\\text{{ dollars}}"], [str(n + 1), str(n - 7)]


def _fraction(rng: random.Random) -> Problem:
    p, q = rng.randint(1, 9), rng.randint(11, 19)
    return (
        f"\\frac{{{p}}}{{{q}}}",
        [f"\\frac{{{p}}}{{{q}}}", f"\\dfrac{{{2 * p}}}{{{2 * q}}}", f"{p}/{q}"],
        [f"\\frac{{{q}}}{{{p}}}", f"\\frac{{{p + 1}}}{{{q}}}"],
    )


def _hard(rng: random.Random) -> Problem:
    # Wide parameter ranges: steps must not replay each other's pairs (that would measure the cache).
    a, b = rng.randint(1, 60), rng.randint(2, 60)
    kind = rng.randrange(6)
    if kind == 0:
        return (
            f"x^2+{2 * a}x+{a * a}",
            [f"(x+{a})^2", f"x^2 + {2 * a}x + {a * a}"],
            [f"(x-{a})^2", f"(x+{a + 1})^2"],
        )
    if kind == 1:
        return (
            f"{a}\\sqrt{{{b * b * 2}}}",
            [f"{a * b}\\sqrt{{2}}", f"\\sqrt{{{a * a * b * b * 2}}}"],
            [f"{a}\\sqrt{{2}}"],
        )
    if kind == 2:
        return (
            f"[{a}, {a + b})",
            [f"[{a},{a + b})", f"\\left[{a}, {a + b}\\right)"],
            [f"({a},{a + b})", f"[{a},{a + b}]"],
        )
    if kind == 3:
        matrix = f"\\begin{{pmatrix}}{a}&{b}\\\\{b}&{a}\\end{{pmatrix}}"
        return matrix, [matrix, matrix.replace("pmatrix", "bmatrix")], [matrix.replace(f"{a}&{b}", f"{b}&{a}", 1)]
    if kind == 4:
        return f"y={a}x+{b}", [f"y = {a}x + {b}", f"{a}x - y + {b} = 0"], [f"y={a}x-{b}", f"y={b}x+{a}"]
    return (
        f"\\frac{{\\sqrt{{{b}}}}}{{{b}}}",
        [f"\\frac{{1}}{{\\sqrt{{{b}}}}}", f"\\frac{{\\sqrt{{{b}}}}}{{{b}}}"],
        [f"\\sqrt{{{b}}}", f"\\frac{{{b}}}{{\\sqrt{{{b}}}}}+1"],
    )


_WRAPS: list[Callable[[str], str]] = [
    lambda x: f"Therefore, the final answer is $\\boxed{{{x}}}$.",
    lambda x: f"**Final Answer**\n\\[\n\\boxed{{{x}}}\n\\]",
    lambda x: f"So we conclude $\\boxed{{{x}}}$. I hope it is correct.",
]


def _reasoning(rng: random.Random) -> str:
    steps = [
        f"Step {i}: we have {rng.randint(1, 99)} + {rng.randint(1, 99)} = {rng.randint(2, 198)}, "
        f"and $\\frac{{{rng.randint(1, 9)}}}{{{rng.randint(2, 9)}}}$ of that remains."
        for i in range(rng.randint(20, 60))
    ]
    return "Let me solve this step by step.\n" + "\n".join(steps) + "\n"


def build_step(rng: random.Random) -> tuple[list[str], list[str]]:
    """One GRPO step: completions and golds, 64 groups of 16."""
    completions: list[str] = []
    golds: list[str] = []
    for _ in range(PROMPTS_PER_STEP):
        maker = rng.choices([_easy, _fraction, _hard], weights=[4, 2, 3])[0]
        answer_only, right, wrong = maker(rng)
        # Like MATH / open-r1 datasets, most golds are whole solutions with a boxed answer.
        gold = (
            answer_only if rng.random() < 0.3 else _reasoning(rng) + f"Hence the answer is $\\boxed{{{answer_only}}}$."
        )
        answers = right + wrong
        for _ in range(GROUP_SIZE):
            answer = rng.choice(answers) if rng.random() < 0.6 else right[0]
            completions.append(_reasoning(rng) + rng.choice(_WRAPS)(answer))
            golds.append(gold)
    return completions, golds


def run_openr1(steps: list[tuple[list[str], list[str]]]) -> tuple[float, list[float]]:
    started = time.perf_counter()
    scores = [
        float(openr1_reward(c, g)) for completions, golds in steps for c, g in zip(completions, golds, strict=True)
    ]
    return time.perf_counter() - started, scores


def run_service(client: VerifierClient, steps: list[tuple[list[str], list[str]]]) -> tuple[float, list[float | None]]:
    started = time.perf_counter()
    scores: list[float | None] = []
    for completions, golds in steps:
        results = client.score("math", completions=completions, references=[{"answer": g} for g in golds])
        scores += [r.score for r in results]
    return time.perf_counter() - started, scores


def labelled_accuracy(client: VerifierClient) -> dict[str, float]:
    def accuracy(verdicts: list[bool]) -> float:
        return sum(v == case.expected for v, case in zip(verdicts, CASES, strict=True)) / len(CASES)

    service = client.score(
        "math", completions=[c.completion for c in CASES], references=[{"answer": c.gold} for c in CASES]
    )
    return {
        "open-r1 math-verify": accuracy([openr1_reward(c.completion, c.gold) for c in CASES]),
        "tuned math-verify": accuracy([tuned_reward(c.completion, c.gold) for c in CASES]),
        "service (math kind)": accuracy([r.score == 1.0 for r in service]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4, help="GRPO steps (64x16 completions each) per contender")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # math-verify warns per timeout / parse failure

    rng = random.Random(1234)
    steps = [build_step(rng) for _ in range(args.steps)]
    items = sum(len(c) for c, _ in steps)
    print(f"workload: {args.steps} steps x {PROMPTS_PER_STEP} prompts x {GROUP_SIZE} completions = {items} items")

    with tempfile.TemporaryDirectory(prefix="math-bench-") as data_dir:
        server = start_server_process(data_dir)
        try:
            with VerifierClient(server.address, timeout_s=300) as client:
                # Warm-up on other prompts: worker start-up is not what we measure.
                warm_completions, warm_golds = build_step(random.Random(99))
                for completion, gold in zip(warm_completions[:64], warm_golds[:64], strict=True):
                    openr1_reward(completion, gold)  # the same warm-up for the in-process baseline
                client.score(
                    "math", completions=warm_completions[:64], references=[{"answer": g} for g in warm_golds[:64]]
                )

                openr1_s, openr1_scores = run_openr1(steps)
                service_s, service_scores = run_service(client, steps)
                accuracy = labelled_accuracy(client)
        finally:
            server.stop()

    openr1_rate, service_rate = items / openr1_s, items / service_s
    agree = sum(a == b for a, b in zip(openr1_scores, service_scores, strict=True)) / items
    print(f"open-r1 in-process (math-verify, sequential): {openr1_rate:8.1f} items/s ({openr1_s:.2f}s)")
    print(f"service (math kind via SDK):                 {service_rate:8.1f} items/s ({service_s:.2f}s)")
    print(f"speed-up: {service_rate / openr1_rate:.1f}x")
    print(f"agreement with open-r1 on the workload: {agree:.1%}")
    service_mean = sum(s or 0 for s in service_scores) / items
    print(f"mean reward: service {service_mean:.3f}, open-r1 {sum(openr1_scores) / items:.3f}")
    for name, value in accuracy.items():
        print(f"labelled hard cases ({len(CASES)}): {name:22s} {value:.1%}")


if __name__ == "__main__":
    main()
