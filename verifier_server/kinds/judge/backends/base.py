"""What a judge backend does: four batched model operations, answers in input order.

Backends return a ``JudgeFailure`` in place of an answer for an input that failed
on its own (an over-long prompt, one HTTP request out of several) and raise it
when the whole call failed. They never block the event loop: in-process backends
run the model on their own worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from verifier_server.domain import Message
from verifier_server.kinds.judge.config import RequestPolicy
from verifier_server.kinds.judge.failures import JudgeFailure
from verifier_server.kinds.judge.limits import CallLimits

Prompt = str | tuple[Message, ...]
"""Raw text (sent as is) or chat messages (rendered with the model's chat template)."""


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """How to generate; part of the cache key, so ``attempt`` separates retries."""

    max_new_tokens: int
    temperature: float = 0.0
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class CallPolicy:
    """The calling verifier's own limits, for backends that apply them per request (HTTP).

    In-process backends ignore it: the runner applies the verifier's limits to whole batches.
    """

    limits: CallLimits | None = None
    request: RequestPolicy = field(default_factory=RequestPolicy)


DEFAULT_POLICY = CallPolicy()


class Backend(Protocol):
    """One loaded model (or one endpoint) shared by every verifier that names it."""

    name: str
    limits_per_request: bool
    """True when the backend applies concurrency/rate limits per HTTP request itself."""

    async def generate(
        self, prompts: Sequence[Prompt], params: GenerationParams, policy: CallPolicy = DEFAULT_POLICY
    ) -> list[str | JudgeFailure]: ...

    async def label_logprobs(
        self, prompts: Sequence[Prompt], labels: tuple[str, ...], policy: CallPolicy = DEFAULT_POLICY
    ) -> list[dict[str, float] | JudgeFailure]:
        """Log-probability of each label as the answer's continuation (``-inf`` when impossible)."""
        ...

    async def classify(
        self, conversations: Sequence[Prompt], policy: CallPolicy = DEFAULT_POLICY
    ) -> list[list[float] | JudgeFailure]:
        """A sequence-classification head's logits for each conversation."""
        ...

    async def embed(
        self, texts: Sequence[str], pooling: str, policy: CallPolicy = DEFAULT_POLICY
    ) -> list[list[float] | JudgeFailure]:
        """L2-normalized embeddings."""
        ...

    async def aclose(self) -> None: ...
