"""ms-swift ORM plugins backed by a remote verifier (checked against ms-swift 4.6 ``swift/rl_core``).

ms-swift instantiates ``orms[name](args=grpo_args)`` and calls the instance as
``reward(completions, **reward_kwargs)``: ``completions`` is the list of final assistant
texts, ``reward_kwargs`` holds ``messages`` (each row's conversation, the completion
last), ``trainer_state``, swift internals (``request_id``, ``rollout_infos``, ...) and
every dataset column (``solution``, ``answer``, ...) as per-sample lists. An instance
whose ``__call__`` is ``async def`` runs concurrently with the other async rewards
(``asyncio.gather`` inside one ``asyncio.run`` per batch).

Skip value: ``None``. ms-swift turns it into NaN and sums rewards with ``nansum``
(like TRL), so a sample the verifier could not score adds nothing instead of a fake 0.

In a plugin file passed with ``--external_plugins``::

    from swift.rewards import orms
    from sdk.adapters.swift import remote_orm
    orms["verified_math"] = remote_orm("math", target="127.0.0.1:50051")

then ``swift rlhf --rlhf_type grpo --reward_funcs verified_math ...``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sdk.adapters._common import AdapterSettings, BatchScorer, references_from_columns, score_or_none

SWIFT_KEYWORDS = frozenset(
    {
        "messages",
        "trainer_state",
        "trajectory_inputs",
        "prompt_id",
        "request_id",
        "finish_reason",
        "is_truncated",
        "rollout_infos",
        "response_token_ids",
        "images",
        "videos",
        "audios",
        "tools",
        "objects",
    }
)
"""Keywords ms-swift passes that are not dataset columns (never sent as references)."""


class RemoteORM:
    """A synchronous ORM: one blocking RPC per batch."""

    settings: AdapterSettings = AdapterSettings.from_env()
    reference_columns: Sequence[str] | None = None

    def __init__(self, args: Any = None, **kwargs: Any) -> None:
        """``args`` is ms-swift's GRPO config (unused; accepted because swift passes it)."""
        self.args = args
        self.scorer = BatchScorer(self.settings)

    def __call__(self, completions: Sequence[str], **kwargs: Any) -> list[float | None]:
        prompts, references = _batch(completions, kwargs, self.reference_columns)
        return [score_or_none(result) for result in self.scorer.score(completions, prompts, references)]


class AsyncRemoteORM:
    """An asynchronous ORM: ms-swift awaits it alongside its other async rewards.

    ms-swift runs each batch in a fresh ``asyncio.run`` loop, so each call opens and
    closes its own channel (one connection per batch, not per sample).
    """

    settings: AdapterSettings = AdapterSettings.from_env()
    reference_columns: Sequence[str] | None = None

    def __init__(self, args: Any = None, **kwargs: Any) -> None:
        self.args = args
        self.scorer = BatchScorer(self.settings)

    async def __call__(self, completions: Sequence[str], **kwargs: Any) -> list[float | None]:
        prompts, references = _batch(completions, kwargs, self.reference_columns)
        return [score_or_none(result) for result in await self.scorer.ascore(completions, prompts, references)]


def remote_orm(
    verifier: str,
    *,
    target: str | None = None,
    timeout_s: float | None = None,
    token: str | None = None,
    asynchronous: bool = True,
    reference_columns: Sequence[str] | None = None,
) -> type:
    """An ORM class for ``orms[...]`` bound to one verifier (swift instantiates the class itself).

    ``reference_columns`` picks the dataset columns sent as references; None sends every
    column that is JSON data and not a swift internal.
    """
    base: type = AsyncRemoteORM if asynchronous else RemoteORM
    settings = AdapterSettings.from_env(verifier, target, timeout_s, token)
    name = "Remote_" + "".join(part.capitalize() for part in verifier.replace("@", "-v").split("-"))
    return type(name, (base,), {"settings": settings, "reference_columns": reference_columns})


def _batch(
    completions: Sequence[str], columns: dict[str, Any], reference_columns: Sequence[str] | None
) -> tuple[list[Any] | None, list[dict[str, Any]]]:
    """Prompts are each conversation without its final (completion) message; references are the columns."""
    messages = columns.get("messages")
    prompts: list[Any] | None = None
    if isinstance(messages, list | tuple) and len(messages) == len(completions):
        prompts = [list(m[:-1]) if isinstance(m, list | tuple) and m else None for m in messages]
    references = references_from_columns(len(completions), columns, exclude=SWIFT_KEYWORDS, include=reference_columns)
    return prompts, references
