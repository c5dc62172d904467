"""Result and spec dataclasses the SDK returns and accepts; no protobuf past this layer."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Outcome(enum.StrEnum):
    """How scoring one sample ended. Compares equal to its string (``result.outcome == "ok"``)."""

    OK = "ok"
    INVALID_INPUT = "invalid_input"
    ERROR = "error"
    TIMEOUT = "timeout"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """One sample's verdict. ``score`` is None unless ``outcome`` is ``ok``."""

    score: float | None
    outcome: Outcome
    reason: str = ""
    components: Mapping[str, float] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True, slots=True)
class VerifierSpec:
    """A verifier definition: a kind and that kind's config. Build with ``sdk.specs``."""

    name: str
    kind: str
    config: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "config": dict(self.config), "description": self.description}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> VerifierSpec:
        from sdk._errors import InputError

        fields = ("name", "kind", "config", "description")
        unknown = sorted(set(map(str, data)) - set(fields))
        if unknown:
            import difflib

            named = [
                f"{key!r}"
                + (f" (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(key, fields, 1)) else "")
                for key in unknown
            ]
            raise InputError(f"unknown spec field(s): {', '.join(named)}; a spec has {', '.join(fields)}")
        if not isinstance(data.get("kind"), str):
            raise InputError("a spec needs a 'kind' (format, composite, math, code, python, judge)")
        config = data.get("config") or {}
        if not isinstance(config, Mapping):
            raise InputError("a spec's 'config' must be a mapping")
        return cls(
            name=str(data.get("name", "")),
            kind=data["kind"],
            config=dict(config),
            description=str(data.get("description", "")),
        )


@dataclass(frozen=True, slots=True)
class VerifierInfo:
    """A registered verifier: its spec and version (``ref`` is ``name@version``)."""

    spec: VerifierSpec
    version: int
    created_at_unix_s: float = 0.0
    builtin: bool = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def ref(self) -> str:
        return f"{self.spec.name}@{self.version}"


@dataclass(frozen=True, slots=True)
class Capabilities:
    server_version: str
    kinds: tuple[str, ...]
    languages: tuple[str, ...]
    sandbox_backends: tuple[str, ...]
    judge_backends: tuple[str, ...]
    max_samples_per_request: int
    max_message_bytes: int
    builtin_verifiers: tuple[str, ...]
    sandbox_python_packages: tuple[str, ...] = ()
    """Packages sandboxed Python can import beyond the standard library (``name==version``)."""
