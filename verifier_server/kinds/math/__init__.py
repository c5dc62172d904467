"""The ``math`` verifier kind: final-answer extraction and symbolic equivalence in worker processes.

Modules, each owning one thing: ``extraction`` (finding the answer), ``normalize``
(canonical text), ``numeric`` (plain numbers and tolerance), ``fastpath`` (cases
decided without sympy), ``compare`` (sympy/math-verify equivalence, workers only),
``worker`` and ``pool`` (processes with hard deadlines), ``cache`` (verdict LRU),
``config`` (the spec) and ``kind`` (the batch flow).
"""

from __future__ import annotations

from typing import Any

from verifier_server.kinds.math.config import MathConfig
from verifier_server.kinds.math.kind import MathKind, MathVerifier


def builtin_specs() -> list[dict[str, Any]]:
    """The ``math`` verifier every fresh server has."""
    return [
        {
            "name": "math",
            "kind": "math",
            "config": {},
            "description": (
                "Final-answer math accuracy: 1.0 if the completion's final answer (last \\boxed{}, <answer> tags, "
                "'the answer is', 'Final Answer:', bold, last line, last number) equals the reference's "
                "answer/solution/ground_truth/gold field symbolically, else 0.0."
            ),
        },
        {
            "name": "math-strict",
            "kind": "math",
            "config": {"strict": True},
            "description": (
                "Like 'math' but reads only an explicitly marked final answer (\\boxed{}, <answer> tags, "
                "'the answer is', 'Final Answer:'); no last-line or last-number guessing."
            ),
        },
    ]


__all__ = ["MathConfig", "MathKind", "MathVerifier", "builtin_specs"]
