"""The table of judge backends: one entry per backend, carrying every fact about it.

An entry says which Python modules the backend needs (a server without them neither offers it
in ``GetCapabilities`` nor accepts a spec naming it), which judge types it can serve, its
default concurrency, whether it is an HTTP endpoint or loads weights into the server (which
decides the policy checks and the retry policy), how to read its own spec options (its config
type) and how to create it. Implementations are imported only when a spec's model is first
used, so torch and vLLM stay unloaded otherwise.

Adding a backend: a module here with its ``Backend`` class (``base.py``; in-process ones
build on ``inprocess.py``), one ``JudgeBackend`` entry below, and, if it has spec options of
its own, their dataclass and reader in ``config.py``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.judge.backends.base import Backend, CallPolicy, GenerationParams, Prompt
from verifier_server.kinds.judge.builtins import builtin_model_dirs
from verifier_server.kinds.judge.config import (
    DTYPES,
    BackendConfig,
    BackendOptions,
    read_instance,
    read_openai_options,
    read_vllm_options,
)
from verifier_server.kinds.judge.limits import CallLimits
from verifier_server.kinds.judge.policy import JudgePolicy
from verifier_server.kinds.judge.settings import JudgeSettings

__all__ = [
    "BACKENDS",
    "Backend",
    "CallPolicy",
    "GenerationParams",
    "JudgeBackend",
    "Prompt",
    "available_backends",
    "backend_named",
    "create_backend",
    "read_backend_config",
]

ReadOptions = Callable[[ConfigReader, JudgeSettings, JudgePolicy], BackendOptions | None]
Create = Callable[[BackendConfig, CallLimits | None], Backend]
"""``(config, endpoint_limits) -> Backend``; ``endpoint_limits`` bound every request to an HTTP endpoint."""


@dataclass(frozen=True, slots=True)
class JudgeBackend:
    name: str
    """What a spec's ``backend`` says."""
    modules: tuple[str, ...]
    """Python modules it needs (checked without importing them)."""
    install_hint: str
    """How an operator gets those modules."""
    judge_types: frozenset[str]
    """The judge ``type``s it can serve: ``llm``, ``reward_model``, ``similarity``."""
    default_max_concurrency: int
    """A verifier's calls in flight when neither its spec nor the server's settings say."""
    remote: bool
    """An HTTP endpoint (requests are retried, the allow-list is its policy) rather than weights
    loaded into the server (model path, downloads and remote code go through the policy)."""
    read_options: ReadOptions
    """Reads the spec fields only this backend has into its config type."""
    create: Create

    def missing_modules(self) -> list[str]:
        return [module for module in self.modules if importlib.util.find_spec(module) is None]


def _no_options(reader: ConfigReader, settings: JudgeSettings, policy: JudgePolicy) -> None:
    return None


def _create_transformers(config: BackendConfig, endpoint_limits: CallLimits | None) -> Backend:
    from verifier_server.kinds.judge.backends.transformers_backend import TransformersBackend

    return TransformersBackend(config)


def _create_vllm(config: BackendConfig, endpoint_limits: CallLimits | None) -> Backend:
    from verifier_server.kinds.judge.backends.vllm_backend import VLLMBackend

    return VLLMBackend(config)


def _create_openai(config: BackendConfig, endpoint_limits: CallLimits | None) -> Backend:
    from verifier_server.kinds.judge.backends.openai_backend import OpenAIBackend

    return OpenAIBackend(config, endpoint_limits)


_ALL_TYPES = frozenset({"llm", "reward_model", "similarity"})

BACKENDS: dict[str, JudgeBackend] = {
    entry.name: entry
    for entry in (
        JudgeBackend(
            name="transformers",
            modules=("torch", "transformers"),
            install_hint="install extra ml",
            judge_types=_ALL_TYPES,
            default_max_concurrency=1,
            remote=False,
            read_options=_no_options,
            create=_create_transformers,
        ),
        JudgeBackend(
            name="vllm",
            modules=("vllm",),
            install_hint="pip install 'verifier-service[vllm]' on a GPU machine",
            judge_types=_ALL_TYPES,
            default_max_concurrency=1,
            remote=False,
            read_options=read_vllm_options,
            create=_create_vllm,
        ),
        JudgeBackend(
            name="openai",
            modules=("aiohttp",),
            install_hint="pip install aiohttp",
            judge_types=frozenset({"llm", "similarity"}),
            default_max_concurrency=8,
            remote=True,
            read_options=read_openai_options,
            create=_create_openai,
        ),
    )
}


def backend_named(name: str) -> JudgeBackend:
    return BACKENDS[name]


def available_backends() -> list[str]:
    """Backends whose libraries this server has (checked without importing them)."""
    return [name for name, entry in BACKENDS.items() if not entry.missing_modules()]


def create_backend(config: BackendConfig, endpoint_limits: CallLimits | None = None) -> Backend:
    """A backend for ``config``; nothing heavy is imported or loaded until its first call."""
    return BACKENDS[config.backend].create(config, endpoint_limits)


def read_backend_config(reader: ConfigReader, judge_type: str, task: str, settings: JudgeSettings) -> BackendConfig:
    """Read ``backend``, ``model`` and their options, with the checks the backend's entry calls for."""
    policy = JudgePolicy.from_settings(settings)
    entry = BACKENDS[reader.str("backend", "transformers", choices=tuple(BACKENDS))]
    if judge_type not in entry.judge_types:
        serving = ", ".join(name for name, other in BACKENDS.items() if judge_type in other.judge_types)
        refusal = f"{entry.name!r} does not serve {judge_type} judges (backends that do: {serving})"
        raise reader.error("backend", refusal)
    model = reader.str("model")
    if not model:
        raise reader.error("model", "must name a model (a local path, or the served name for an endpoint)")
    dtype = reader.str("dtype", "auto", choices=DTYPES)
    device = reader.str("device", "auto")
    allow_download = reader.bool("allow_download", False)
    trust_remote_code = reader.bool("trust_remote_code", False)
    options = entry.read_options(reader, settings, policy)
    missing = entry.missing_modules()  # at registration, not at the first score
    if missing:
        needs = f"backend {entry.name!r} needs {missing[0]!r}, which this server lacks ({entry.install_hint})"
        raise reader.error("backend", needs)
    if not entry.remote:
        policy.check_remote_code(reader, trust_remote_code)
        policy.check_model(reader, model, allow_download, builtin_model_dirs())
    return BackendConfig(
        backend=entry.name,
        model=model,
        task=task,
        remote=entry.remote,
        dtype=dtype,
        device=device,
        allow_download=allow_download,
        trust_remote_code=trust_remote_code,
        options=options,
        instance=read_instance(settings),
    )
