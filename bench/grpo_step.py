"""Time per GRPO step on the tiny CPU model: in-process open-r1 rewards vs the same rewards from the service.

    .venv/bin/python bench/grpo_step.py [--steps 6] [--completion-length 64]

(a) ``in-process``: open-r1 style TRL reward functions in the trainer process
    (math_verify ``parse``/``verify`` per completion, the think/answer regex);
(b) ``remote``: ``math`` + ``think-answer-format`` through ``AsyncRemoteReward`` against a
    local server process (both verifiers concurrently).

Reward time per step is the wall time covered by reward calls (overlapping async calls
count once); the first step (imports, connections) is left out. Goal: remote reward
share <= 10% of step time.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sdk import AsyncRemoteReward, RemoteReward
from trainers.local_server import local_server
from trainers.tiny import build_tiny_model, write_tiny_math_dataset

FORMAT = re.compile(r"^<think>\n?.*?\n?</think>\s*<answer>\n?.*?\n?</answer>$", re.DOTALL)


def _content(completion: Any) -> str:
    return completion if isinstance(completion, str) else completion[0]["content"]


def accuracy_reward(completions: list[Any], answer: list[str], **kwargs: Any) -> list[float | None]:
    """open-r1's accuracy reward: parse gold and answer with math_verify, verify equivalence."""
    from math_verify import parse, verify

    rewards: list[float | None] = []
    for completion, gold in zip(completions, answer, strict=True):
        gold_parsed = parse(gold)
        if not gold_parsed:
            rewards.append(None)
            continue
        rewards.append(float(verify(gold_parsed, parse(_content(completion)))))
    return rewards


def format_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """open-r1's format reward: the whole completion is <think>...</think><answer>...</answer>."""
    return [1.0 if FORMAT.match(_content(c)) else 0.0 for c in completions]


class Timeline:
    """Reward-call intervals and step boundaries, to split step time into reward and the rest."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []
        self.steps: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def timed(self, func: Callable[..., Any]) -> Callable[..., Any]:
        import asyncio

        if asyncio.iscoroutinefunction(func):

            async def run_async(**kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return await func(**kwargs)
                finally:
                    self._add(start)

            wrapper: Callable[..., Any] = run_async
        else:

            def run_sync(**kwargs: Any) -> Any:
                start = time.perf_counter()
                try:
                    return func(**kwargs)
                finally:
                    self._add(start)

            wrapper = run_sync
        wrapper.__name__ = getattr(func, "__name__", "reward")
        return wrapper

    def _add(self, start: float) -> None:
        with self._lock:
            self.calls.append((start, time.perf_counter()))

    def per_step(self) -> list[tuple[float, float]]:
        """(step seconds, reward seconds) for each step after the first."""
        out = []
        for begin, end in self.steps[1:]:
            inside = sorted((max(s, begin), min(e, end)) for s, e in self.calls if s < end and e > begin)
            covered, cursor = 0.0, begin
            for s, e in inside:
                if e > cursor:
                    covered += e - max(s, cursor)
                    cursor = e
            out.append((end - begin, covered))
        return out


def run(label: str, model: Path, data: Path, rewards: list[Callable[..., Any]], args: argparse.Namespace) -> str:
    from datasets import load_dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    timeline = Timeline()

    class StepClock(TrainerCallback):  # type: ignore[misc]
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            self.begin = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            timeline.steps.append((self.begin, time.perf_counter()))

    trainer = GRPOTrainer(
        model=str(model),
        reward_funcs=[timeline.timed(r) for r in rewards],
        args=GRPOConfig(
            output_dir=tempfile.mkdtemp(prefix="bench-grpo-"),
            max_steps=args.steps,
            per_device_train_batch_size=8,
            num_generations=8,
            max_completion_length=args.completion_length,
            logging_steps=1000,
            bf16=False,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            disable_tqdm=True,
            seed=0,
        ),
        train_dataset=load_dataset("json", data_files=str(data), split="train"),
        callbacks=[StepClock()],
    )
    trainer.train()
    steps = timeline.per_step()
    step_s = statistics.fmean(s for s, _ in steps)
    reward_s = statistics.fmean(r for _, r in steps)
    return (
        f"{label:<12} step={step_s * 1000:8.1f} ms  reward={reward_s * 1000:7.1f} ms  "
        f"reward share={100 * reward_s / step_s:5.1f}%  ({len(steps)} steps, 8 completions/step)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--completion-length", type=int, default=64)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-grpo-step-"))
    model = build_tiny_model(workdir / "model")
    data = write_tiny_math_dataset(workdir / "data.jsonl", repeat=8)
    lines = [run("in-process", model, data, [accuracy_reward, format_reward], args)]
    with local_server(workdir / "server") as address:
        # Both adapter styles: async rewards run concurrently on TRL's background loop (best
        # when verifiers are slow); sync rewards run one after another on the main thread
        # (no thread hop, best when every verifier answers in a few milliseconds).
        remote_async = [
            AsyncRemoteReward("math", target=address, timeout_s=30).as_function(),
            AsyncRemoteReward("think-answer-format", target=address, timeout_s=30).as_function(),
        ]
        lines.append(run("remote async", model, data, remote_async, args))
        remote_sync = [
            RemoteReward("math", target=address, timeout_s=30),
            RemoteReward("think-answer-format", target=address, timeout_s=30),
        ]
        lines.append(run("remote sync ", model, data, remote_sync, args))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
