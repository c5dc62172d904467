"""Drop-in remote rewards for trainers other than TRL (TRL's adapter, ``sdk.rewards``, is built on the same core).

- ``sdk.adapters.swift``: ms-swift ORM plugin classes (``--external_plugins``, ``--reward_funcs``).
- ``sdk.adapters.verl``: ``compute_score`` per sample and batched (``custom_reward_function``).
- ``sdk.adapters.openrlhf``: ``reward_func(queries, prompts, labels)`` (``--reward.remote_url file.py``).

None of them imports its framework, so each is importable (and testable) without it. A new
adapter is one file: it reads its framework's batch into ``Samples`` (the readers in
``sdk._columns`` say which columns are the reference and how prompts and messages are read),
scores it with ``BatchScorer`` and maps each result to the framework's value.
"""

from sdk._columns import Samples
from sdk.adapters._common import AdapterSettings, BatchScorer

__all__ = ["AdapterSettings", "BatchScorer", "Samples"]
