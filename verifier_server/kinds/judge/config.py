"""The judge's backend and batching configuration, read once at registration.

Model identity (which backend, which weights, which dtype) decides which shared
model instance a verifier uses; batching and limits belong to that instance, so
the first verifier that names a model sets them (server settings give defaults).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier_server.kinds.base import ConfigReader

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


@dataclass(frozen=True, slots=True)
class BatchingConfig:
    """How calls from concurrent requests are gathered and limited."""

    max_batch_size: int = 32
    """Most judge inputs in one model call (one HTTP request for ``/v1/completions``)."""
    max_wait_ms: float = 10.0
    """How long the first queued input waits for others to fill its batch."""
    max_concurrency: int = 1
    """Model calls in flight at once (HTTP requests for ``openai``)."""
    max_requests_per_second: float | None = None
    """Token-bucket limit on model calls / HTTP requests; ``None`` is unlimited."""
    timeout_s: float = 120.0
    """Deadline for one model call, including HTTP retries."""
    cache_size: int = 4096
    """Identical judge inputs remembered (LRU); 0 disables the cache."""


_DEFAULTS = BatchingConfig()


@dataclass(frozen=True, slots=True)
class OpenAIConfig:
    """Where an OpenAI-compatible endpoint lives and how to talk to it."""

    base_url: str
    """Up to and including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key_env: str | None
    """Name of the environment variable holding the API key (never the key itself)."""
    endpoint: str
    """``chat`` (``/chat/completions``) or ``completions`` (``/completions``)."""
    request_timeout_s: float
    max_retries: int
    retry_backoff_s: float
    """First retry delay; doubles per attempt (a ``Retry-After`` header wins)."""

    def api_key(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env else None


@dataclass(frozen=True, slots=True)
class VLLMConfig:
    """vLLM engine memory settings (GPU only)."""

    gpu_memory_utilization: float = 0.5
    max_model_len: int | None = None
    tensor_parallel_size: int = 1


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """Which model, where it runs, and how calls to it are batched."""

    backend: str
    model: str
    task: str
    """``causal_lm``, ``classification`` or ``embedding``: which model head to load."""
    dtype: str = "auto"
    device: str = "auto"
    allow_download: bool = False
    trust_remote_code: bool = False
    batching: BatchingConfig = BatchingConfig()
    openai: OpenAIConfig | None = None
    vllm: VLLMConfig = VLLMConfig()

    @property
    def resource_key(self) -> str:
        """One shared instance per backend + weights + dtype (+ endpoint for HTTP)."""
        if self.openai is not None:
            return f"judge:openai:{self.openai.base_url}:{self.model}:{self.openai.api_key_env}"
        return f"judge:{self.backend}:{self.task}:{self.model}:{self.dtype}:{self.device}"


def read_backend_config(reader: ConfigReader, task: str, settings: Mapping[str, Any]) -> BackendConfig:
    """Read ``backend``, ``model`` and their options; ``settings`` is the server's ``judge`` section."""
    backend = reader.str("backend", "transformers", choices=BACKENDS)
    model = reader.str("model")
    if not model:
        raise reader.error("model", "must name a model (a local path, or the served name for openai)")
    dtype = reader.str("dtype", "auto", choices=DTYPES)
    device = reader.str("device", "auto")
    allow_download = reader.bool("allow_download", False)
    if allow_download and settings.get("allow_download") is False:
        raise reader.error("allow_download", "this server forbids model downloads (settings judge.allow_download)")
    trust_remote_code = reader.bool("trust_remote_code", False)
    batching = _read_batching(reader, backend, settings)
    openai = _read_openai(reader) if backend == "openai" else None
    vllm = _read_vllm(reader) if backend == "vllm" else VLLMConfig()
    if backend != "openai":
        _check_local_backend(reader, backend, model, allow_download)
    return BackendConfig(
        backend=backend,
        model=model,
        task=task,
        dtype=dtype,
        device=device,
        allow_download=allow_download,
        trust_remote_code=trust_remote_code,
        batching=batching,
        openai=openai,
        vllm=vllm,
    )


def _read_batching(reader: ConfigReader, backend: str, settings: Mapping[str, Any]) -> BatchingConfig:
    defaults = ConfigReader({k: v for k, v in settings.items() if k in BATCHING_KEYS}, "settings.judge")
    concurrency_default = 8 if backend == "openai" else 1
    return BatchingConfig(
        max_batch_size=reader.int(
            "max_batch_size", defaults.int("max_batch_size", _DEFAULTS.max_batch_size, minimum=1), minimum=1
        ),
        max_wait_ms=reader.float("max_wait_ms", defaults.float("max_wait_ms", _DEFAULTS.max_wait_ms), minimum=0),
        max_concurrency=reader.int(
            "max_concurrency", defaults.int("max_concurrency", concurrency_default, minimum=1), minimum=1
        ),
        max_requests_per_second=reader.optional_float("max_requests_per_second", minimum=1e-6)
        or defaults.optional_float("max_requests_per_second", minimum=1e-6),
        timeout_s=reader.float(
            "timeout_s", defaults.float("timeout_s", _DEFAULTS.timeout_s, minimum=1e-3), minimum=1e-3
        ),
        cache_size=reader.int("cache_size", defaults.int("cache_size", _DEFAULTS.cache_size, minimum=0), minimum=0),
    )


def _read_openai(reader: ConfigReader) -> OpenAIConfig:
    base_url = reader.str("base_url")
    if not base_url.startswith(("http://", "https://")):
        raise reader.error("base_url", f"must be an http(s) URL ending in /v1, got {base_url!r}")
    api_key_env = reader.optional_str("api_key_env")
    if api_key_env is not None and not api_key_env.replace("_", "").isalnum():
        raise reader.error("api_key_env", "must be the NAME of an environment variable, not the key itself")
    return OpenAIConfig(
        base_url=base_url.rstrip("/"),
        api_key_env=api_key_env,
        endpoint=reader.str("endpoint", "chat", choices=("chat", "completions")),
        request_timeout_s=reader.float("request_timeout_s", 60.0, minimum=1e-3),
        max_retries=reader.int("max_retries", 3, minimum=0, maximum=20),
        retry_backoff_s=reader.float("retry_backoff_s", 0.5, minimum=0),
    )


def _read_vllm(reader: ConfigReader) -> VLLMConfig:
    return VLLMConfig(
        gpu_memory_utilization=reader.float("gpu_memory_utilization", 0.5, minimum=0.01, maximum=1.0),
        max_model_len=reader.optional_int("max_model_len", minimum=1),
        tensor_parallel_size=reader.int("tensor_parallel_size", 1, minimum=1),
    )


def _check_local_backend(reader: ConfigReader, backend: str, model: str, allow_download: bool) -> None:
    """Fail at registration, not at the first score, when the model cannot possibly load."""
    needed = ("vllm",) if backend == "vllm" else ("torch", "transformers")
    for module in needed:
        if importlib.util.find_spec(module) is None:
            hint = "pip install 'verifier-service[vllm]' on a GPU machine" if backend == "vllm" else "install extra ml"
            raise reader.error("backend", f"backend {backend!r} needs {module!r}, which this server lacks ({hint})")
    if not allow_download and not (Path(model) / "config.json").is_file():
        raise reader.error(
            "model",
            f"{model!r} is not a local model directory (no config.json); models load from local paths "
            "unless allow_download is true",
        )


def available_backends() -> list[str]:
    """Backends whose libraries this server has (checked without importing them)."""
    needs = {"transformers": ("torch", "transformers"), "vllm": ("vllm",), "openai": ("aiohttp",)}
    return [name for name in BACKENDS if all(importlib.util.find_spec(module) for module in needs[name])]
