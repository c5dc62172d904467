"""Judge backends, imported only when a spec names them so torch and vLLM stay unloaded otherwise."""

from __future__ import annotations

from verifier_server.kinds.judge.backends.base import Backend, GenerationParams, Prompt
from verifier_server.kinds.judge.config import BackendConfig

__all__ = ["Backend", "GenerationParams", "Prompt", "create_backend"]


def create_backend(config: BackendConfig) -> Backend:
    """A backend for ``config``; nothing heavy is imported or loaded until its first call."""
    if config.backend == "openai":
        from verifier_server.kinds.judge.backends.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "vllm":
        from verifier_server.kinds.judge.backends.vllm_backend import VLLMBackend

        return VLLMBackend(config)
    from verifier_server.kinds.judge.backends.transformers_backend import TransformersBackend

    return TransformersBackend(config)
