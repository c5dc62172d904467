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
    sessions: SessionCapabilities | None = None
    """What sessions the server offers (``client.session(...)``); None when it offers none."""


class CellStatus(enum.StrEnum):
    """How a session cell ended. Compares equal to its string."""

    OK = "ok"
    ERROR = "error"
    """The cell raised (Python) or exited non-zero (bash); the session keeps its state."""
    TIMEOUT = "timeout"
    """The cell ran past its time; ``session_lost`` says whether the state survived."""
    LOST = "lost"
    """The session ended during the cell (out of memory, killed, exited); its state is gone."""


@dataclass(frozen=True, slots=True)
class CellResult:
    """What one cell did. ``result`` is the repr of a Python cell's last expression ("" if none)."""

    status: CellStatus
    stdout: str = ""
    stderr: str = ""
    error: str = ""
    result: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    session_lost: bool = False
    """The session is gone after this cell: further calls on it raise ``SessionLostError``."""

    @property
    def ok(self) -> bool:
        return self.status is CellStatus.OK

    @property
    def output(self) -> str:
        """Everything the cell showed, as a notebook would: stdout, stderr, then the last expression's value."""
        parts = [self.stdout, self.stderr, self.result + "\n" if self.result else ""]
        if self.status is not CellStatus.OK and self.error and self.error not in self.stderr:
            parts.append(f"[{self.status.value}] {self.error}\n")
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Limits to ask for when opening a session; 0 means the server's default. The server may grant less."""

    cell_wall_time_s: float = 0.0
    cell_cpu_time_s: float = 0.0
    memory_bytes: int = 0
    """Memory of the whole session (its processes and its files)."""
    processes: int = 0
    disk_bytes: int = 0
    """Size of each private tmpfs (/work; /tmp and /dev/shm)."""
    output_bytes: int = 0
    """Output kept per stream per cell."""
    idle_ttl_s: float = 0.0
    """The session closes after this long without a call."""
    max_lifetime_s: float = 0.0
    """The session closes after this long in any case."""


@dataclass(frozen=True, slots=True)
class SessionCapabilities:
    """Sessions a server offers: languages, caps, and the most a session may ask for."""

    languages: tuple[str, ...]
    max_sessions: int
    """Sessions (opened and forked) one replica holds at once."""
    max_sessions_per_client: int
    max_fork: int
    """Copies one ``fork`` makes at most."""
    max_session_trees: int
    """Opened sessions (each with all its forks: a tree) one replica holds at once."""
    max_limits: SessionLimits
    """Ceilings: asking for more is granted these (``idle_ttl_s`` and ``max_lifetime_s`` are also the defaults)."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as the server describes it (times are Unix seconds)."""

    session_id: str
    language: str
    parent_id: str
    replica_id: str
    client_id: str
    created_at_unix_s: float
    idle_expires_at_unix_s: float
    lifetime_ends_at_unix_s: float
    limits: SessionLimits
    cells_run: int = 0
    setup_result: CellResult | None = None
