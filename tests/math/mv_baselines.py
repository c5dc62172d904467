"""math-verify used the way training code uses it today, to measure our verifier against.

``openr1_reward`` is open-r1's ``accuracy_reward`` (the config TRL examples copy):
gold parsed with math-verify defaults, the completion with a boxed-first LaTeX
config and no anchorless extraction. ``tuned_reward`` is the best math-verify
configuration we found on ``math_cases``: bare golds wrapped in ``$...$``, boxed
first, anchorless LaTeX and plain expressions, and a string target for choice letters.
Both run in-process and sequentially, with math-verify's own (signal) timeouts,
exactly as a training process would. ``anchor_verdict`` is math-verify called the way
each public grader's test suite calls it (the external-accuracy bench's baseline).
"""

from __future__ import annotations

import re
from typing import Any

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


# ---------------------------------------------------------------------------
# math-verify as each public suite calls it (the ``anchor`` / ``anchor_kw`` fields of
# ../shared/data/math_external/cases.jsonl): the baseline bench/math_accuracy.py compares against
# ---------------------------------------------------------------------------


def _targets(match_types: tuple[str, ...]) -> list[LatexExtractionConfig | ExprExtractionConfig]:
    latex = LatexExtractionConfig(boxed_match_priority=0)
    return [latex if t == "latex" else ExprExtractionConfig() for t in match_types]


def mv_compare_strings(
    gold: str,
    prediction: str,
    match_types: tuple[str, ...] = ("latex", "expr"),
    precision: int = 6,
    strict: bool = True,
) -> bool:
    """Math-Verify's own test helper: both sides parsed with the same targets, ``verify`` at ``precision``."""
    targets = _targets(tuple(match_types))
    return bool(
        verify(parse(gold, targets), parse(prediction, targets), float_rounding=precision, strict=strict)  # type: ignore[arg-type]
    )


def mv_default(gold: str, prediction: str) -> bool:
    """``verify(parse(gold), parse(prediction))`` with every default."""
    return bool(verify(parse(gold), parse(prediction)))


_DELIMITED_RE = re.compile(r"\$.*\$|\\\(.*\\\)|\\\[.*\\\]|\\boxed\{", re.DOTALL)


def _in_math_mode(text: str) -> str:
    return text if _DELIMITED_RE.search(text) else f"${text}$"


def nemo_math_equal(gold: str, prediction: str) -> bool:
    """NeMo-Skills' ``math_equal``: choice letters as strings, else both sides put in math mode and
    parsed as LaTeX, then ``verify``."""
    letters = tuple("ABCDEFGHIJ")
    if gold.strip() in letters:
        choice = [StringExtractionConfig(strings=letters)]
        if verify(parse(gold, choice), parse(prediction, choice)):  # type: ignore[arg-type]
            return True
    latex = [LatexExtractionConfig()]
    return bool(verify(parse(_in_math_mode(gold), latex), parse(_in_math_mode(prediction), latex)))  # type: ignore[arg-type]


def generic_math_verify(gold: str, prediction: str) -> bool:
    """For suites with their own (non-math-verify) grader: math-verify's defaults, the gold put in math mode."""
    return bool(verify(parse(_in_math_mode(gold)), parse(prediction)))


def anchor_verdict(anchor: str, anchor_kw: dict[str, Any], gold: str, completion: str) -> bool:
    """Stock math-verify, called the way the suite named by ``anchor`` calls it."""
    if anchor in ("mv_compare_strings", "lighteval_like"):
        kw = dict(anchor_kw)
        kw["match_types"] = tuple(kw.get("match_types", ("latex", "expr")))
        return mv_compare_strings(gold, completion, **kw)
    if anchor == "mv_default":
        return mv_default(gold, completion)
    if anchor == "nemo_math_equal":
        return nemo_math_equal(gold, completion)
    if anchor == "openr1":
        return openr1_reward(completion, gold)
    if anchor == "generic":
        return generic_math_verify(gold, completion)
    raise ValueError(f"unknown anchor {anchor!r}")
