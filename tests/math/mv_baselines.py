"""math-verify used the way training code uses it today, to measure our verifier against.

``openr1_reward`` is open-r1's ``accuracy_reward`` (the config TRL examples copy):
gold parsed with math-verify defaults, the completion with a boxed-first LaTeX
config and no anchorless extraction. ``tuned_reward`` is the best math-verify
configuration we found on ``math_cases``: bare golds wrapped in ``$...$``, boxed
first, anchorless LaTeX and plain expressions, and a string target for choice letters.
Both run in-process and sequentially, with math-verify's own (signal) timeouts,
exactly as a training process would.
"""

from __future__ import annotations

from math_verify import (
    ExprExtractionConfig,
    LatexExtractionConfig,
    StringExtractionConfig,
    parse,
    verify,
)
from math_verify.parser import NormalizationConfig

_OPENR1_ANSWER_CONFIG = [
    LatexExtractionConfig(
        normalization_config=NormalizationConfig(
            nits=False, malformed_operators=False, basic_latex=True, equations=True, boxed="all", units=True
        ),
        boxed_match_priority=0,
        try_extract_without_anchor=False,
    )
]


def openr1_reward(completion: str, gold: str) -> bool:
    """open-r1 ``accuracy_reward``; a gold it cannot parse (reward None) counts as not judged right."""
    gold_parsed = parse(gold, extraction_mode="first_match")
    if not gold_parsed:
        return False
    answer_parsed = parse(completion, extraction_config=_OPENR1_ANSWER_CONFIG, extraction_mode="first_match")
    return bool(verify(gold_parsed, answer_parsed))


_TUNED_CONFIG = [
    LatexExtractionConfig(boxed_match_priority=0),
    ExprExtractionConfig(),
    StringExtractionConfig(strings=tuple("ABCDE")),
]


def tuned_reward(completion: str, gold: str) -> bool:
    """The best math-verify setup we found: bare LaTeX and plain-text golds made parseable."""
    text = gold if ("$" in gold or "\\boxed" in gold) else f"${gold}$"
    gold_parsed = parse(text, _TUNED_CONFIG) or parse(gold, _TUNED_CONFIG)
    if not gold_parsed:
        return False
    answer_parsed = parse(completion, _TUNED_CONFIG)
    return bool(verify(gold_parsed, answer_parsed))
