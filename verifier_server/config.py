"""Server configuration: defaults, then a TOML file, then ``VERIFIER_*`` variables, then flags.

Every server-wide setting has a field here with its unit in the name; errors name the
source (the file key or the environment variable) so a typo is found in one read. The
per-kind ``[kinds.NAME]`` tables are kept as written here (file only, no variables or
flags) and read into each kind's typed settings when the server starts
(``kinds.read_server_settings``), where an unknown kind or key stops it.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier_server.errors import InvalidArgument

ENV_PREFIX = "VERIFIER_"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    """Interface to listen on; ``0.0.0.0`` to accept remote clients (use auth and TLS then)."""
    port: int = 50051
    """gRPC port; 0 picks a free one (printed at start and written to ``port_file``)."""
    http_port: int = -1
    """HTTP/JSON port (the same service for curl, OpenRLHF and JSON trainers); -1 disables, 0 picks a
    free one (written to ``port_file`` + ``.http``)."""
    data_dir: str = ".state"
    """Where the SQLite registry and sandbox caches live."""
    registry_url: str = ""
    """``sqlite:///PATH`` or ``postgresql://...``; empty means SQLite under ``data_dir``."""
    max_message_bytes: int = 64 * 1024 * 1024
    """Largest request or response; the SDK chunks batches below it."""
    max_samples_per_request: int = 100_000
    """A request with more samples is refused with INVALID_ARGUMENT."""
    max_spec_bytes: int = 1024 * 1024
    """Largest verifier spec (its config JSON), inline or registered, over gRPC or HTTP; larger is
    INVALID_ARGUMENT (over gRPC before it is parsed). Kinds bound what a spec may ask for
    (``[kinds.NAME] cap_*`` settings)."""
    drain_notice_s: float = 1.0
    """On SIGTERM: how long the health status says NOT_SERVING before new calls are refused,
    so health-checking clients route new work elsewhere first."""
    drain_timeout_s: float = 30.0
    """On SIGTERM: how long in-flight requests may take to finish before the server stops."""
    log_level: str = "INFO"
    log_format: str = "json"
    """``json`` (one object per line) or ``text``."""
    port_file: str = ""
    """If set, the bound port is written here once the server is ready (tests and scripts use it)."""
    sandbox_backend: str = "bwrap"
    """``bwrap`` (default), ``docker``, or ``unsafe-local`` (development only; runs code unsandboxed)."""
    sandbox_uid_base: int = 60000
    sandbox_uid_range_size: int = 4096
    """The host uids bwrap slots run as (root only): each server claims one per concurrent run
    from this range, exclusively, at start, and refuses to start when other live servers hold too many."""
    allow_unsafe_weak_sandbox: bool = False
    """Start even when the bwrap sandbox cannot run its full design (not root, no cgroups, bwrap's
    namespaces refused): runs then share one uid and the disk, bounded by rlimits only. Development only."""
    workers: int = 0
    """Worker processes for CPU-bound kinds (math); 0 means one per core."""
    metrics_port: int = -1
    """Prometheus metrics HTTP port; -1 disables, 0 picks a free one."""
    auth_tokens_file: str = ""
    """A file of ``token role`` lines (roles: ``score``, ``admin``); empty disables auth."""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    """When set with the cert and key, clients must present a certificate signed by this CA."""
    max_inflight_samples: int = 0
    """Admission control: samples in flight per kind before RESOURCE_EXHAUSTED; 0 is unbounded.
    A kind's own bound goes in ``[kinds.NAME] max_inflight_samples``."""
    per_client_fraction: float = 1.0
    """Fairness: the share of a kind's bound one client may hold while other clients are active."""
    retry_after_s: float = 0.5
    """The retry-after hint sent with RESOURCE_EXHAUSTED."""
    max_sessions: int = 256
    """Sessions (stateful sandboxes, see docs/sessions.md), opened and forked, this replica holds at once;
    0 turns sessions off."""
    max_session_trees: int = 64
    """Root sessions (each opened session, with all its forks, is one tree) this replica holds at once. Each tree
    runs as two uids of its own, claimed at start from the sandbox uid range (``sandbox_uid_base``), exclusively:
    2 x min(max_session_trees, max_sessions) of them."""
    max_sessions_per_client: int = 64
    """Sessions one client may hold at once on this replica (its token with auth on, else the SDK's client id)."""
    session_idle_ttl_s: float = 300.0
    """A session unused this long is closed (a client may ask for less)."""
    session_max_lifetime_s: float = 3600.0
    """A session is closed this long after it was opened or forked, used or not (a client may ask for less)."""
    session_max_cell_time_s: float = 300.0
    """Ceiling on a cell's wall and CPU time."""
    session_max_memory_mb: int = 4096
    """Ceiling on a session's memory (processes and files together)."""
    session_max_processes: int = 256
    """Ceiling on a session's processes and threads."""
    session_max_disk_mb: int = 1024
    """Ceiling on each of a session's private tmpfs (/work; /tmp and /dev/shm)."""
    kinds: Mapping[str, Any] = field(default_factory=dict)
    """Per-kind tables (``[kinds.math] cap_timeout_s = 30``), checked at start against each kind's
    settings dataclass; every key is listed in ``docs/kinds.md``."""

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def resolved_registry_url(self) -> str:
        return self.registry_url or f"sqlite://{Path(self.data_dir).resolve() / 'registry.db'}"


_FIELDS = {f.name: f for f in dataclasses.fields(ServerConfig)}


def load_config(
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ServerConfig:
    """Merge the sources in precedence order: defaults < file < environment < overrides."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get(f"{ENV_PREFIX}CONFIG") or None
    if config_file:
        from_file = _from_toml(Path(config_file))
        values.update(from_file)
        sources.update({key: f"{config_file}: {key}" for key in from_file})
    from_env = _from_environment(environ)
    values.update(from_env)
    sources.update({key: ENV_PREFIX + key.upper() for key in from_env})
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    values.update(given)
    sources.update({key: "--" + key.replace("_", "-") for key in given})
    _check_values(values, sources)
    return ServerConfig(**values)


_CHOICES: dict[str, tuple[str, ...]] = {
    "sandbox_backend": ("bwrap", "docker", "unsafe-local"),
    "log_format": ("json", "text"),
    "log_level": ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
}


def _check_values(values: Mapping[str, Any], sources: Mapping[str, str]) -> None:
    """Refuse at startup what would only fail later (a misspelt backend, a port out of range), naming its source."""
    for key, choices in _CHOICES.items():
        value = values.get(key)
        if value is None or (value.upper() if key == "log_level" else value) in choices:
            continue
        close = difflib.get_close_matches(str(value), choices, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InvalidArgument(sources[key], f"must be one of {', '.join(choices)}; got {value!r}{hint}")
    for key in ("port", "metrics_port"):
        port = values.get(key)
        if port is not None and not (-1 if key == "metrics_port" else 0) <= port <= 65535:
            raise InvalidArgument(sources[key], f"must be a port number (0 picks a free one), got {port}")


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgument("config_file", f"cannot read {path}: {exc}") from None
    section = data.get("server", data)
    values: dict[str, Any] = {}
    for key, value in section.items():
        if key == "kinds" or key not in _FIELDS:
            if key != "kinds" and key != "server":
                raise InvalidArgument(f"{path}: {key}", f"unknown setting (known: {', '.join(sorted(_FIELDS))})")
            continue
        values[key] = _coerce(key, value, f"{path}: {key}")
    if "kinds" in data or "kinds" in section:
        values["kinds"] = data.get("kinds", section.get("kinds"))
    return values


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, field_info in _FIELDS.items():
        if name == "kinds":
            continue
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            values[name] = _coerce(field_info.name, environ[variable], variable)
    return values


def _coerce(name: str, value: Any, source: str) -> Any:
    default = _FIELDS[name].default
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InvalidArgument(source, f"expected {type(default).__name__}, got {value!r}") from None
