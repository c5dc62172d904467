"""Drop-in remote rewards for trainers other than TRL (TRL's adapter is ``sdk.rewards``).

- ``sdk.adapters.swift``: ms-swift ORM plugin classes (``--external_plugins``, ``--reward_funcs``).
- ``sdk.adapters.verl``: ``compute_score`` per sample and batched (``custom_reward_function``).
- ``sdk.adapters.openrlhf``: ``reward_func(queries, prompts, labels)`` (``--reward.remote_url file.py``).

None of them imports its framework, so each is importable (and testable) without it.
"""

from sdk.adapters._common import AdapterSettings, BatchScorer

__all__ = ["AdapterSettings", "BatchScorer"]
