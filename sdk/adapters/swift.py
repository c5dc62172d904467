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

from sdk._columns import ColumnReferences, Samples, conversation_prompt
from sdk.adapters._common import AdapterSettings, BatchScorer, score_or_none

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


class _SwiftORM:
    """What both ORM forms share: the settings ``remote_orm`` binds, and the reference columns."""

    settings: AdapterSettings = AdapterSettings.from_env()
    reference_columns: Sequence[str] | None = None

    def __init__(self, args: Any = None, **kwargs: Any) -> None:
        """``args`` is ms-swift's GRPO config (unused; accepted because swift passes it)."""
        self.args = args
        self.scorer = BatchScorer(self.settings)
        self.references = ColumnReferences(
            exclude=SWIFT_KEYWORDS, include=self.reference_columns, owner=self.scorer.name
        )


class RemoteORM(_SwiftORM):
    """A synchronous ORM: one blocking RPC per batch."""

    def __call__(self, completions: Sequence[str], **kwargs: Any) -> list[float | None]:
        samples = swift_samples(completions, kwargs, self.references)
        return [score_or_none(result) for result in self.scorer.score(samples)]


class AsyncRemoteORM(_SwiftORM):
    """An asynchronous ORM: ms-swift awaits it alongside its other async rewards.

    ms-swift runs each batch in a fresh ``asyncio.run`` loop, so each call opens and
    closes its own channel (one connection per batch, not per sample).
    """

    async def __call__(self, completions: Sequence[str], **kwargs: Any) -> list[float | None]:
        samples = swift_samples(completions, kwargs, self.references)
        return [score_or_none(result) for result in await self.scorer.ascore(samples, fresh_channel=True)]


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


def swift_samples(completions: Sequence[str], columns: dict[str, Any], references: ColumnReferences) -> Samples:
    """Prompts are each conversation without its final (completion) message; references are the columns."""
    messages = columns.get("messages")
    prompts: list[Any] | None = None
    if isinstance(messages, list | tuple) and len(messages) == len(completions):
        prompts = [conversation_prompt(conversation) for conversation in messages]
    return Samples(completions, prompts, references(len(completions), columns))
