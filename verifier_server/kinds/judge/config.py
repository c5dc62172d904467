"""The judge's configuration, read once at registration: model identity, per-verifier limits.

Model identity (backend, weights, dtype, device; a backend's own options, such as the HTTP
endpoint, key variable and API flavour of ``openai``) decides which shared model instance a
verifier uses. Limits (batching, concurrency, rate, timeouts, retries) belong to each verifier,
capped by the server's ``cap_*`` settings (``settings.py``); the shared instance has only
server-set limits. Which backends exist and what each needs is the backend table's
(``backends/__init__.py``); what a spec may reach is ``policy.py``'s call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.caps import capped_float, capped_int
from verifier_server.kinds.judge.policy import AllowedEndpoint, JudgePolicy

if TYPE_CHECKING:
    from verifier_server.kinds.judge.backends import JudgeBackend
    from verifier_server.kinds.judge.settings import JudgeSettings

DTYPES = ("auto", "float32", "float16", "bfloat16")


@dataclass(frozen=True, slots=True)
class BatchingConfig:
    """How one verifier's judge calls are gathered and limited (its own, whoever shares the model)."""

    max_batch_size: int = 32
    """Most judge inputs in one model call (one HTTP request for ``/v1/completions``)."""
    max_wait_ms: float = 10.0
    """How long the first queued input waits for others to fill its batch."""
    max_concurrency: int = 1
    """This verifier's model calls in flight at once (HTTP requests for ``openai``)."""
    max_requests_per_second: float | None = None
    """Spacing of this verifier's model calls / HTTP requests; ``None`` is unlimited."""
    timeout_s: float = 120.0
    """Deadline for one model call, including HTTP retries."""
    cache_size: int = 4096
    """0 keeps this verifier out of the model's shared answer cache (sized by the server)."""


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """How one verifier's HTTP requests are timed and retried (``openai`` backend)."""

    request_timeout_s: float = 60.0
    max_retries: int = 3
    retry_backoff_s: float = 0.5
    """First retry delay; doubles per attempt (a ``Retry-After`` header wins, up to the cap)."""


@dataclass(frozen=True, slots=True)
class VerifierLimits:
    batching: BatchingConfig = BatchingConfig()
    request: RequestPolicy = RequestPolicy()


@dataclass(frozen=True, slots=True)
class OpenAIConfig:
    """Where an OpenAI-compatible endpoint lives and how to talk to it."""

    base_url: str
    """Up to and including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key_env: str | None
    """Name of the environment variable holding the API key (never the key itself)."""
    endpoint: str
    """``chat`` (``/chat/completions``) or ``completions`` (``/completions``)."""
    allowed: AllowedEndpoint
    """The server's allow-list entry this URL falls under (its limits cover every verifier)."""

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None

    @property
    def identity(self) -> str:
        """What makes two verifiers' endpoints one shared instance."""
        return f"{self.base_url}:{self.api_key_env}:{self.endpoint}"


@dataclass(frozen=True, slots=True)
class VLLMConfig:
    """vLLM engine memory settings (GPU only)."""

    gpu_memory_utilization: float = 0.5
    max_model_len: int | None = None
    tensor_parallel_size: int = 1

    @property
    def identity(self) -> str:
        """Engines with other memory settings are other instances."""
        return repr(self)


BackendOptions = OpenAIConfig | VLLMConfig
"""A backend's own spec options (its table entry's ``read_options`` reads them)."""


@dataclass(frozen=True, slots=True)
class InstanceConfig:
    """Limits of one shared model instance, from server settings only (never from a spec)."""

    max_concurrency: int = 1
    """In-process: model calls in flight on this model at once, from every verifier together."""
    max_batch_size: int = 256
    """Most rows an in-process backend runs in one forward pass."""
    cache_size: int = 4096
    """Identical judge inputs remembered (LRU), shared by the verifiers of this model."""


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Which model, where it runs, and the server's limits on the shared instance."""

    backend: str
    """The backend table's name for it (``backends.BACKENDS``)."""
    model: str
    task: str
    """``causal_lm``, ``classification`` or ``embedding``: which model head to load."""
    remote: bool = False
    """An HTTP endpoint rather than weights in the server (from the backend's table entry)."""
    dtype: str = "auto"
    device: str = "auto"
    allow_download: bool = False
    trust_remote_code: bool = False
    options: BackendOptions | None = None
    """What only this backend has (its table entry's config type), or None."""
    instance: InstanceConfig = InstanceConfig()

    @property
    def openai(self) -> OpenAIConfig | None:
        return self.options if isinstance(self.options, OpenAIConfig) else None

    @property
    def vllm(self) -> VLLMConfig:
        return self.options if isinstance(self.options, VLLMConfig) else VLLMConfig()

    @property
    def resource_key(self) -> str:
        """One shared instance per backend + weights + how they load (+ the backend's own options);
        for an endpoint, per backend + served model + its options (endpoint, key, API)."""
        own = self.options.identity if self.options is not None else ""
        if self.remote:
            return f"judge:{self.backend}:{self.model}:{own}"
        loader = f"{self.model}:{self.dtype}:{self.device}:{self.trust_remote_code}"
        return f"judge:{self.backend}:{self.task}:{loader}:{own}"


def read_verifier_limits(reader: ConfigReader, backend: JudgeBackend, settings: JudgeSettings) -> VerifierLimits:
    """This verifier's own batching, limits and (HTTP) retry policy, each within the server's caps."""
    batching = BatchingConfig(
        max_batch_size=capped_int(
            reader, "max_batch_size", settings.max_batch_size, settings.cap("max_batch_size"), minimum=1
        ),
        max_wait_ms=capped_float(reader, "max_wait_ms", settings.max_wait_ms, settings.cap("max_wait_ms"), minimum=0),
        max_concurrency=capped_int(
            reader,
            "max_concurrency",
            settings.max_concurrency or backend.default_max_concurrency,
            settings.cap("max_concurrency"),
            minimum=1,
        ),
        max_requests_per_second=reader.optional_float("max_requests_per_second", minimum=1e-6)
        or settings.max_requests_per_second,
        timeout_s=capped_float(reader, "timeout_s", settings.timeout_s, settings.cap("timeout_s"), minimum=1e-3),
        cache_size=reader.int("cache_size", settings.cache_size, minimum=0),
    )
    request = RequestPolicy()
    if backend.remote:
        request = RequestPolicy(
            request_timeout_s=capped_float(
                reader, "request_timeout_s", 60.0, settings.cap("request_timeout_s"), minimum=1e-3
            ),
            max_retries=capped_int(reader, "max_retries", 3, settings.cap("max_retries"), minimum=0),
            retry_backoff_s=capped_float(reader, "retry_backoff_s", 0.5, settings.cap("retry_backoff_s"), minimum=0),
        )
    return VerifierLimits(batching, request)


def read_instance(settings: JudgeSettings) -> InstanceConfig:
    return InstanceConfig(
        max_concurrency=settings.model_max_concurrency,
        max_batch_size=int(settings.cap_max_batch_size),
        cache_size=settings.cache_size,
    )


def read_openai_options(reader: ConfigReader, settings: JudgeSettings, policy: JudgePolicy) -> OpenAIConfig:
    base_url = reader.str("base_url")
    allowed = policy.endpoint_for(reader, base_url)
    api_key_env = reader.optional_str("api_key_env")
    if api_key_env is not None:
        policy.check_api_key_env(reader, allowed, api_key_env)
    return OpenAIConfig(
        base_url=base_url.rstrip("/"),
        api_key_env=api_key_env,
        endpoint=reader.str("endpoint", "chat", choices=("chat", "completions")),
        allowed=allowed,
    )


def read_vllm_options(reader: ConfigReader, settings: JudgeSettings, policy: JudgePolicy) -> VLLMConfig:
    return VLLMConfig(
        gpu_memory_utilization=capped_float(
            reader, "gpu_memory_utilization", 0.5, settings.cap("gpu_memory_utilization"), minimum=0.01
        ),
        max_model_len=reader.optional_int("max_model_len", minimum=1),
        tensor_parallel_size=capped_int(
            reader, "tensor_parallel_size", 1, settings.cap("tensor_parallel_size"), minimum=1
        ),
    )
