"""The judge's configuration, read once at registration: model identity, per-verifier limits, policy.

Model identity (backend, weights, dtype, device; for HTTP the endpoint, key variable and API
flavour) decides which shared model instance a verifier uses. Limits (batching, concurrency,
rate, timeouts, retries) belong to each verifier, capped by the server's ``cap_*`` settings;
the shared instance has only server-set limits. What a spec may reach (endpoints, key
variables, model paths, downloads, remote code) is ``policy.py``'s call.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.caps import Cap, capped_float, capped_int, read_cap
from verifier_server.kinds.judge.builtins import builtin_model_dirs
from verifier_server.kinds.judge.policy import AllowedEndpoint, JudgePolicy

BACKENDS = ("transformers", "vllm", "openai")
DTYPES = ("auto", "float32", "float16", "bfloat16")
BATCHING_KEYS = (
    "max_batch_size",
    "max_wait_ms",
    "max_concurrency",
    "max_requests_per_second",
    "timeout_s",
    "cache_size",
)
CAP_DEFAULTS: dict[str, float] = {
    "timeout_s": 600.0,
    "max_batch_size": 256,
    "max_wait_ms": 1000.0,
    "max_concurrency": 64,
    "request_timeout_s": 300.0,
    "max_retries": 10,
    "retry_backoff_s": 30.0,
    "max_new_tokens": 4096,
    "gpu_memory_utilization": 0.95,
    "tensor_parallel_size": 8,
}
"""``[kinds.judge] cap_<field>`` when the server sets none: the most a spec may ask for."""


def judge_cap(settings: Mapping[str, Any], field: str) -> Cap:
    return read_cap({"judge": settings}, "judge", field, CAP_DEFAULTS[field])


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


_DEFAULTS = BatchingConfig()


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


@dataclass(frozen=True, slots=True)
class VLLMConfig:
    """vLLM engine memory settings (GPU only)."""

    gpu_memory_utilization: float = 0.5
    max_model_len: int | None = None
    tensor_parallel_size: int = 1


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
    model: str
    task: str
    """``causal_lm``, ``classification`` or ``embedding``: which model head to load."""
    dtype: str = "auto"
    device: str = "auto"
    allow_download: bool = False
    trust_remote_code: bool = False
    openai: OpenAIConfig | None = None
    vllm: VLLMConfig = VLLMConfig()
    instance: InstanceConfig = InstanceConfig()

    @property
    def resource_key(self) -> str:
        """One shared instance per backend + weights + dtype (+ endpoint, key and API for HTTP)."""
        if self.openai is not None:
            api = self.openai
            return f"judge:openai:{api.base_url}:{self.model}:{api.api_key_env}:{api.endpoint}"
        engine = f":{self.vllm}" if self.backend == "vllm" else ""
        loader = f"{self.model}:{self.dtype}:{self.device}:{self.trust_remote_code}"
        return f"judge:{self.backend}:{self.task}:{loader}{engine}"


def read_backend_config(reader: ConfigReader, task: str, settings: Mapping[str, Any]) -> BackendConfig:
    """Read ``backend``, ``model`` and their options; ``settings`` is the server's ``judge`` section."""
    policy = JudgePolicy.from_settings(settings)
    backend = reader.str("backend", "transformers", choices=BACKENDS)
    model = reader.str("model")
    if not model:
        raise reader.error("model", "must name a model (a local path, or the served name for openai)")
    dtype = reader.str("dtype", "auto", choices=DTYPES)
    device = reader.str("device", "auto")
    allow_download = reader.bool("allow_download", False)
    trust_remote_code = reader.bool("trust_remote_code", False)
    openai = _read_openai(reader, policy) if backend == "openai" else None
    vllm = _read_vllm(reader, settings) if backend == "vllm" else VLLMConfig()
    if backend != "openai":
        _check_libraries(reader, backend)
        policy.check_remote_code(reader, trust_remote_code)
        policy.check_model(reader, model, allow_download, builtin_model_dirs())
    return BackendConfig(
        backend=backend,
        model=model,
        task=task,
        dtype=dtype,
        device=device,
        allow_download=allow_download,
        trust_remote_code=trust_remote_code,
        openai=openai,
        vllm=vllm,
        instance=_read_instance(settings),
    )


def read_verifier_limits(reader: ConfigReader, backend: BackendConfig, settings: Mapping[str, Any]) -> VerifierLimits:
    """This verifier's own batching, limits and (HTTP) retry policy, each within the server's caps."""
    defaults = ConfigReader({k: v for k, v in settings.items() if k in BATCHING_KEYS}, "settings.judge")
    concurrency_default = 8 if backend.openai is not None else 1

    def cap(field: str) -> Cap:
        return judge_cap(settings, field)

    batching = BatchingConfig(
        max_batch_size=capped_int(
            reader,
            "max_batch_size",
            defaults.int("max_batch_size", _DEFAULTS.max_batch_size, minimum=1),
            cap("max_batch_size"),
            minimum=1,
        ),
        max_wait_ms=capped_float(
            reader, "max_wait_ms", defaults.float("max_wait_ms", _DEFAULTS.max_wait_ms), cap("max_wait_ms"), minimum=0
        ),
        max_concurrency=capped_int(
            reader,
            "max_concurrency",
            defaults.int("max_concurrency", concurrency_default, minimum=1),
            cap("max_concurrency"),
            minimum=1,
        ),
        max_requests_per_second=reader.optional_float("max_requests_per_second", minimum=1e-6)
        or defaults.optional_float("max_requests_per_second", minimum=1e-6),
        timeout_s=capped_float(
            reader,
            "timeout_s",
            defaults.float("timeout_s", _DEFAULTS.timeout_s, minimum=1e-3),
            cap("timeout_s"),
            minimum=1e-3,
        ),
        cache_size=reader.int("cache_size", defaults.int("cache_size", _DEFAULTS.cache_size, minimum=0), minimum=0),
    )
    request = RequestPolicy()
    if backend.openai is not None:
        request = RequestPolicy(
            request_timeout_s=capped_float(reader, "request_timeout_s", 60.0, cap("request_timeout_s"), minimum=1e-3),
            max_retries=capped_int(reader, "max_retries", 3, cap("max_retries"), minimum=0),
            retry_backoff_s=capped_float(reader, "retry_backoff_s", 0.5, cap("retry_backoff_s"), minimum=0),
        )
    return VerifierLimits(batching, request)


def _read_instance(settings: Mapping[str, Any]) -> InstanceConfig:
    server = ConfigReader(
        {k: v for k, v in settings.items() if k in ("model_max_concurrency", "cache_size")}, "settings.judge"
    )
    return InstanceConfig(
        max_concurrency=server.int("model_max_concurrency", 1, minimum=1),
        max_batch_size=int(judge_cap(settings, "max_batch_size").value),
        cache_size=server.int("cache_size", _DEFAULTS.cache_size, minimum=0),
    )


def _read_openai(reader: ConfigReader, policy: JudgePolicy) -> OpenAIConfig:
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


def _read_vllm(reader: ConfigReader, settings: Mapping[str, Any]) -> VLLMConfig:
    return VLLMConfig(
        gpu_memory_utilization=capped_float(
            reader, "gpu_memory_utilization", 0.5, judge_cap(settings, "gpu_memory_utilization"), minimum=0.01
        ),
        max_model_len=reader.optional_int("max_model_len", minimum=1),
        tensor_parallel_size=capped_int(
            reader, "tensor_parallel_size", 1, judge_cap(settings, "tensor_parallel_size"), minimum=1
        ),
    )


def _check_libraries(reader: ConfigReader, backend: str) -> None:
    """Fail at registration, not at the first score, when the backend cannot possibly load."""
    needed = ("vllm",) if backend == "vllm" else ("torch", "transformers")
    for module in needed:
        if importlib.util.find_spec(module) is None:
            hint = "pip install 'verifier-service[vllm]' on a GPU machine" if backend == "vllm" else "install extra ml"
            raise reader.error("backend", f"backend {backend!r} needs {module!r}, which this server lacks ({hint})")


def available_backends() -> list[str]:
    """Backends whose libraries this server has (checked without importing them)."""
    needs = {"transformers": ("torch", "transformers"), "vllm": ("vllm",), "openai": ("aiohttp",)}
    return [name for name in BACKENDS if all(importlib.util.find_spec(module) for module in needs[name])]
