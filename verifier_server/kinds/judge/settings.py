"""The ``[kinds.judge]`` server settings: what specs may reach, the shared instances' limits, defaults and caps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.judge.policy import AllowedEndpoint, read_endpoint
from verifier_server.kinds.settings import KindSettings, cap, setting


def _read_endpoints(reader: ConfigReader, key: str, default: Any) -> tuple[AllowedEndpoint, ...]:
    raw = reader.raw(key)
    if raw is None:
        return tuple(default)
    if not isinstance(raw, list | tuple):
        raise reader.error(key, "must be a list of base URLs or {base_url, api_key_envs, ...} tables")
    return tuple(read_endpoint(item, f"{reader.path(key)}[{i}]") for i, item in enumerate(raw))


@dataclass(frozen=True, slots=True)
class JudgeSettings(KindSettings):
    """What the server's operator decides for every judge (``policy.py`` says why each exists)."""

    kind: ClassVar[str] = "judge"

    # -- what a spec may reach (``JudgePolicy``) -------------------------------------------
    model_roots: tuple[str, ...] = setting(())
    """Directories local models may be loaded from (symlinks resolved); the built-in models are always allowed."""
    openai_endpoints: tuple[AllowedEndpoint, ...] = setting((), read=_read_endpoints)
    """Where judges may send requests: base URLs, or ``{base_url, api_key_envs = [...], max_concurrency = 64,
    max_requests_per_second}`` tables naming the key variables each may receive and its limits."""
    allow_download: bool = setting(False)
    """Whether a spec may ask for a Hub download (``allow_download: true``)."""
    trust_remote_code: bool = setting(False)
    """Whether a spec may run a model's own Python code (``trust_remote_code: true``)."""

    # -- the shared model instance ---------------------------------------------------------
    model_max_concurrency: int = setting(1, minimum=1)
    """Model calls in flight on one in-process model, from all its verifiers together."""
    cache_size: int = setting(4096, minimum=0)
    """Answers remembered per model instance (and the default of the spec field)."""

    # -- defaults of spec fields -----------------------------------------------------------
    max_batch_size: int = setting(32, minimum=1)
    """Default of the spec's ``max_batch_size``."""
    max_wait_ms: float = setting(10.0, minimum=0)
    """Default of the spec's ``max_wait_ms``."""
    max_concurrency: int | None = setting(None, minimum=1)
    """Default of the spec's ``max_concurrency``; unset: the backend's own default (1 in-process, 8 HTTP)."""
    max_requests_per_second: float | None = setting(None, minimum=1e-6)
    """Default of the spec's ``max_requests_per_second``; unset: unlimited."""
    timeout_s: float = setting(120.0, minimum=1e-3)
    """Default of the spec's ``timeout_s``."""

    # -- caps: the most a spec may ask for -------------------------------------------------
    cap_timeout_s: float = cap(600.0)
    cap_max_batch_size: float = cap(256)
    """Also the most rows an in-process backend runs in one forward pass."""
    cap_max_wait_ms: float = cap(1000.0)
    cap_max_concurrency: float = cap(64)
    cap_request_timeout_s: float = cap(300.0)
    cap_max_retries: float = cap(10)
    cap_retry_backoff_s: float = cap(30.0)
    cap_max_new_tokens: float = cap(4096)
    cap_gpu_memory_utilization: float = cap(0.95)
    cap_tensor_parallel_size: float = cap(8)
