"""The ``math`` verifiers every fresh server has."""

from __future__ import annotations

from typing import Any


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
