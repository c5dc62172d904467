"""An OpenRLHF ``reward_func`` backed by a remote verifier (checked against OpenRLHF 0.11.2).

OpenRLHF loads a ``.py`` file given as ``--reward.remote_url`` (older releases:
``--remote_rm_url``) and calls ``reward_func(queries, prompts, labels)`` from a worker
thread (``asyncio.to_thread``); 0.11 sends one rollout per call. ``queries`` are the
decoded prompt + response *with* special tokens, ``prompts`` the templated prompt
texts, ``labels`` the ``--data.label_key`` column (strings). It expects
``{"rewards": tensor, "scores": tensor, "extra_logs": {name: tensor}}``: ``rewards``
drive advantages, ``scores`` dynamic filtering, ``extra_logs`` go to the logger.

Skip value: OpenRLHF has none (one float per rollout), so a sample the verifier could
not score gets ``failure_reward`` (default 0.0) and ``extra_logs["verified"]`` is 0 for it.

The response is what follows the prompt in the query (its first occurrence, so a BOS in
front does not matter), with trailing end-of-turn tokens stripped (format verifiers would
otherwise see ``<|im_end|>`` after the answer). A label that is a JSON object becomes the
reference; any other label is ``{"answer": label}``
(``protos.openrlhf.response_text``, shared with the server's HTTP face, and
``sdk._columns.answer_reference``).
The reward file is two lines, see ``examples/openrlhf_reward.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from protos.openrlhf import END_OF_TURN_TOKENS, response_text
from sdk._columns import Samples, answer_reference
from sdk.adapters._common import AdapterSettings, BatchScorer, score_or_none


class RemoteRewardFunc:
    """Callable as OpenRLHF's ``reward_func``; returns torch tensors (imported on first call)."""

    def __init__(
        self,
        verifier: str | None = None,
        *,
        target: str | None = None,
        timeout_s: float | None = None,
        token: str | None = None,
        failure_reward: float = 0.0,
        end_of_turn_tokens: Sequence[str] = END_OF_TURN_TOKENS,
    ) -> None:
        settings = AdapterSettings.from_env(verifier, target, timeout_s, token)
        self.scorer = BatchScorer(settings, unscored_as=f"failure_reward={failure_reward}")
        self.failure_reward = failure_reward
        self.end_of_turn_tokens = tuple(end_of_turn_tokens)

    def __call__(self, queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any], **kwargs: Any) -> dict:
        import torch

        samples = Samples(
            completions=[
                response_text(query, prompt, self.end_of_turn_tokens)
                for query, prompt in zip(queries, prompts, strict=True)
            ],
            prompts=list(prompts),
            references=[answer_reference(label) for label in labels],
        )
        scores = [score_or_none(result) for result in self.scorer.score(samples)]
        rewards = torch.tensor([self.failure_reward if s is None else s for s in scores], dtype=torch.float32)
        verified = torch.tensor([0.0 if s is None else 1.0 for s in scores], dtype=torch.float32)
        return {"rewards": rewards, "scores": rewards.clone(), "extra_logs": {"verified": verified}}


def reward_func_for(verifier: str | None = None, **options: Any) -> RemoteRewardFunc:
    """``reward_func = reward_func_for("math", target=...)`` in the file OpenRLHF loads."""
    return RemoteRewardFunc(verifier, **options)
