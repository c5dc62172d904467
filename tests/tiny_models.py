"""The tiny offline model tests train and judge with: a thin wrapper over ``trainers.tiny``.

    from tests.tiny_models import build_tiny_causal_lm
    path = build_tiny_causal_lm(tmp_path / "model", chat=True)
"""

from __future__ import annotations

from pathlib import Path

from trainers.tiny import build_tiny_model


def build_tiny_causal_lm(path: str | Path, *, chat: bool = False, seed: int = 0) -> Path:
    """A random-weight Qwen2 and a byte-level BPE tokenizer trained offline, saved into ``path``."""
    return build_tiny_model(path, seed=seed, chat=chat)
