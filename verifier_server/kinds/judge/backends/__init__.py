"""Judge backends, imported only when a spec names them so torch and vLLM stay unloaded otherwise."""

from __future__ import annotations

from verifier_server.kinds.judge.backends.base import Backend, CallPolicy, GenerationParams, Prompt
from verifier_server.kinds.judge.config import BackendConfig
from verifier_server.kinds.judge.limits import CallLimits

__all__ = ["Backend", "CallPolicy", "GenerationParams", "Prompt", "create_backend"]


def create_backend(config: BackendConfig, endpoint_limits: CallLimits | None = None) -> Backend:
    """A backend for ``config``; nothing heavy is imported or loaded until its first call.

    ``endpoint_limits`` bound every request to an HTTP endpoint, from every verifier together.
    """
    if config.backend == "openai":
        from verifier_server.kinds.judge.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(config, endpoint_limits)
    if config.backend == "vllm":
        from verifier_server.kinds.judge.backends.vllm_backend import VLLMBackend

        return VLLMBackend(config)
    from verifier_server.kinds.judge.backends.transformers_backend import TransformersBackend

    return TransformersBackend(config)
