"""What a judge backend does: four batched model operations, answers in input order.

Backends return a ``JudgeFailure`` in place of an answer for an input that failed
on its own (an over-long prompt, one HTTP request out of several) and raise it
when the whole call failed. They never block the event loop: in-process backends
run the model on their own worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from verifier_server.domain import Message
from verifier_server.kinds.judge.failures import JudgeFailure

Prompt = str | tuple[Message, ...]
"""Raw text (sent as is) or chat messages (rendered with the model's chat template)."""


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """How to generate; part of the cache key, so ``attempt`` separates retries."""

    max_new_tokens: int
    temperature: float = 0.0
    attempt: int = 0


class Backend(Protocol):
    """One loaded model (or one endpoint) shared by every verifier that names it."""

    name: str
    limits_per_request: bool
    """True when the backend applies concurrency/rate limits per HTTP request itself."""

    async def generate(self, prompts: Sequence[Prompt], params: GenerationParams) -> list[str | JudgeFailure]: ...

    async def label_logprobs(
        self, prompts: Sequence[Prompt], labels: tuple[str, ...]
    ) -> list[dict[str, float] | JudgeFailure]:
        """Log-probability of each label as the answer's continuation (``-inf`` when impossible)."""
        ...

    async def classify(self, conversations: Sequence[Prompt]) -> list[list[float] | JudgeFailure]:
        """A sequence-classification head's logits for each conversation."""
        ...

    async def embed(self, texts: Sequence[str], pooling: str) -> list[list[float] | JudgeFailure]:
        """L2-normalized embeddings."""
        ...

    async def aclose(self) -> None: ...
