"""The recipe's reward functions: SDK remote rewards, each wrapped to record what it scored.

The record (one JSONL row per completion and verifier) is what makes a run auditable:
it holds exactly the samples sent (prompt, completion and reference, as the reward read
them) and the rewards TRL received, so anyone can rescore them with the SDK and compare,
or mine them for preference pairs afterwards.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sdk import ScoreResult
from sdk.adapters import Samples
from sdk.rewards import AsyncRemoteReward, RemoteReward

log = logging.getLogger(__name__)

RewardFunc = Callable[..., Any]


class CompletionsLog:
    """Appends scored completions to a JSONL file; shared by every reward function of a run."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()  # sync rewards run on the main thread, async ones on TRL's loop thread
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")

    def write(
        self,
        reward_name: str,
        step: int,
        samples: Samples,
        rewards: Sequence[float | None],
        results: Sequence[ScoreResult],
    ) -> None:
        """One row per completion: what was sent, what TRL got (``reward``) and why (``outcome``, ``reason``)."""
        if self.path is None:
            return
        count = len(samples)
        prompts = samples.prompts if samples.prompts is not None else [None] * count
        references = samples.references if samples.references is not None else [{}] * count
        lines = [
            json.dumps(
                {
                    "step": step,
                    "reward_name": reward_name,
                    "prompt": prompt,
                    "completion": completion,
                    "reference": reference,
                    "reward": reward,
                    "outcome": result.outcome.value,
                    "reason": result.reason,
                },
                ensure_ascii=False,
                default=str,
            )
            for prompt, completion, reference, reward, result in zip(
                prompts, samples.completions, references, rewards, results, strict=True
            )
        ]
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")


def build_reward_funcs(
    verifiers: Sequence[str],
    *,
    target: str,
    timeout_s: float,
    async_rewards: bool,
    completions_log: CompletionsLog,
    token: str | None = None,
) -> list[RewardFunc]:
    """One TRL reward function per verifier, named after it (TRL logs ``rewards/<name>/mean``).

    Async functions are plain ``async def`` closures: every TRL release detects that form
    (older ones miss async callable objects), and TRL runs them concurrently.
    """
    options: dict[str, Any] = {"target": target, "timeout_s": timeout_s}
    if token:
        options["client_options"] = {"token": token}
    funcs: list[RewardFunc] = []
    for verifier in verifiers:
        if async_rewards:
            funcs.append(_recorded_async(AsyncRemoteReward(verifier, **options), completions_log))
        else:
            funcs.append(_recorded_sync(RemoteReward(verifier, **options), completions_log))
    return funcs


def _recorded_async(reward: AsyncRemoteReward, completions_log: CompletionsLog) -> RewardFunc:
    async def remote_reward(**columns: Any) -> list[float | None]:
        samples = reward.samples(**columns)
        rewards, results = await reward.score_samples(samples, log_metric=columns.get("log_metric"))
        _after_call(reward.__name__, columns, samples, rewards, results, completions_log)
        return rewards

    remote_reward.__name__ = remote_reward.__qualname__ = reward.__name__
    return remote_reward


def _recorded_sync(reward: RemoteReward, completions_log: CompletionsLog) -> RewardFunc:
    def remote_reward(**columns: Any) -> list[float | None]:
        samples = reward.samples(**columns)
        rewards, results = reward.score_samples(samples, log_metric=columns.get("log_metric"))
        _after_call(reward.__name__, columns, samples, rewards, results, completions_log)
        return rewards

    remote_reward.__name__ = remote_reward.__qualname__ = reward.__name__
    return remote_reward


def _after_call(
    name: str,
    columns: dict[str, Any],
    samples: Samples,
    rewards: list[float | None],
    results: list[ScoreResult],
    completions_log: CompletionsLog,
) -> None:
    if rewards and all(reward is None for reward in rewards):
        # TRL keeps training: a row where every reward is None gets zero advantage (no
        # learning signal), so an outage costs steps' worth of signal, not the run.
        log.warning(
            "%s: no rewards for this batch of %d (verifier unreachable, timed out or not applicable); "
            "completions left unscored get zero advantage",
            name,
            len(rewards),
        )
    step = int(getattr(columns.get("trainer_state"), "global_step", 0))
    completions_log.write(name, step, samples, rewards, results)
