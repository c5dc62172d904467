"""Domain types that every verifier kind, the registry and the servicer share.

Nothing here knows about protobuf or gRPC: the servicer translates wire messages
into these dataclasses and back, so kinds can be tested without a server.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.Enum):
    """How scoring one sample ended; only ``OK`` carries a meaningful score."""

    OK = "ok"
    INVALID_INPUT = "invalid_input"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message; conversational prompts and completions are tuples of these."""

    role: str
    content: str


Content = str | tuple[Message, ...]
"""Text, or chat messages (TRL's conversational format)."""


def content_text(content: Content | None) -> str | None:
    """The text a verifier should read: the string itself, or the last message's content.

    TRL hands conversational completions as ``[{"role": "assistant", "content": ...}]``;
    the answer to verify is what the assistant said last.
    """
    if content is None or isinstance(content, str):
        return content
    if not content:
        return ""
    return content[-1].content


@dataclass(frozen=True, slots=True)
class Sample:
    """One (prompt, completion, reference) triple to score.

    ``reference`` holds the dataset columns (gold answer, test cases, rubric variables);
    ``completion_ids`` are the generated token ids when the trainer has them, so
    length checks can count tokens instead of characters.
    """

    completion: Content | None
    prompt: Content | None = None
    reference: Mapping[str, Any] = field(default_factory=dict)
    completion_ids: tuple[int, ...] | None = None
    input_error: str = ""
    """Why the sample could not be decoded from the wire (e.g. reference not a JSON object)."""

    @property
    def completion_text(self) -> str | None:
        return content_text(self.completion)

    @property
    def prompt_text(self) -> str | None:
        return content_text(self.prompt)


@dataclass(slots=True)
class ScoreResult:
    """What a verifier says about one sample.

    ``score`` is ``None`` unless ``outcome`` is ``OK``: a failure to score must never
    look like a legitimate zero reward.
    """

    score: float | None
    outcome: Outcome = Outcome.OK
    reason: str = ""
    components: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    latency_s: float = 0.0

    @classmethod
    def ok(cls, score: float, reason: str = "", **details: Any) -> ScoreResult:
        return cls(score=float(score), outcome=Outcome.OK, reason=reason, details=details)

    @classmethod
    def failed(cls, outcome: Outcome, reason: str, **details: Any) -> ScoreResult:
        return cls(score=None, outcome=outcome, reason=reason, details=details)

    @classmethod
    def invalid(cls, reason: str, **details: Any) -> ScoreResult:
        return cls.failed(Outcome.INVALID_INPUT, reason, **details)

    @classmethod
    def not_applicable(cls, reason: str, **details: Any) -> ScoreResult:
        return cls.failed(Outcome.NOT_APPLICABLE, reason, **details)


@dataclass(frozen=True, slots=True)
class VerifierSpec:
    """A verifier as users register it: a kind plus that kind's configuration."""

    name: str
    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass(frozen=True, slots=True)
class VerifierRecord:
    """A registered, versioned spec as the registry stores it."""

    spec: VerifierSpec
    version: int
    created_at_unix_s: float = field(default_factory=time.time)
    builtin: bool = False

    @property
    def ref(self) -> str:
        return f"{self.spec.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class VerifierRef:
    """A parsed ``name[@version]`` reference; ``version`` None means the latest."""

    name: str
    version: int | None = None

    @classmethod
    def parse(cls, text: str) -> VerifierRef:
        from verifier_server.errors import InvalidArgument

        name, sep, version = text.strip().partition("@")
        if not name:
            raise InvalidArgument("verifier", f"empty verifier name in {text[:200]!r}")
        if not sep:
            return cls(name)
        # ASCII digits only ("٣".isdigit() is true) and below 2^63, which every registry can store
        if not (version.isascii() and version.isdigit() and len(version) <= 18 and int(version) >= 1):
            raise InvalidArgument("verifier", f"version in {text[:200]!r} must be a positive integer below 10^18")
        return cls(name, int(version))

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@{self.version}"
