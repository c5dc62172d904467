"""The ``math`` verifier kind: final-answer extraction and symbolic equivalence in worker processes.

Modules, each owning one thing: ``extraction`` (finding the answer), with ``boxes``
(boxes and listed boxes), ``markers`` (answer words in many languages) and ``statement``
(the answer a sentence states); ``normalize`` (canonical text), ``numeric`` (plain
numbers and tolerance), ``bounds`` (how much work an answer may cause), ``fastpath``
(cases certain without sympy), ``lite`` and ``parsing`` (reading answers as sympy
objects), ``compare`` (our equivalence rules, math-verify for the rest; workers only),
``worker`` and ``pool`` (memory-capped processes with hard deadlines), ``cache``
(verdict LRU), ``config`` (the spec) and ``kind`` (the batch flow).
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
                "Final-answer math accuracy: 1.0 if the completion's final answer (its last \\boxed{} or listed "
                "boxes, <answer> tags, 'the answer is' or an answer label in many languages, else bold, last line, "
                "last number; never inside <think>) equals the reference's answer/solution/ground_truth/gold "
                "field symbolically, else 0.0."
            ),
        },
        {
            "name": "math-strict",
            "kind": "math",
            "config": {"strict": True},
            "description": (
                "Like 'math' but reads only an explicitly marked final answer (\\boxed{}, <answer> tags, "
                "'the answer is', an answer label); no bold, last-line or last-number guessing. Equality is "
                "judged exactly as by 'math'."
            ),
        },
    ]


__all__ = ["MathConfig", "MathKind", "MathVerifier", "builtin_specs"]
