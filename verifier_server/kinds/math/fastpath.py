"""Deciding, on the event loop and without sympy, the pairs whose verdict is certain from the text.

Certain both ways: identical normalized strings, plain numbers (integers, decimals,
fractions, scientific notation, percents), multiple-choice letters, word answers,
times and ratios (``12:00`` is not ``1:00``). Certain "no": answers whose decorations
differ (``E'`` is not ``E``), and answers too large to evaluate within ``bounds``
(scored 0 with the reason; a gold past the bounds is the caller's invalid input).
Anything else returns None and goes to a worker.
"""

from __future__ import annotations

import re
from collections import Counter
from fractions import Fraction

from verifier_server.kinds.math.bounds import too_large
from verifier_server.kinds.math.compare import CompareOptions, Verdict
from verifier_server.kinds.math.normalize import answer_choice, gold_choice
from verifier_server.kinds.math.numeric import numbers_close, parse_simple

_WORDS_RE = re.compile(r"^[A-Za-z]{2,}(?: [A-Za-z]+)*$")
"""A word answer (``yes``, ``East``): compared as text, case-insensitively, never as a product of symbols."""
_COLON_RE = re.compile(r"^-?\d+(?:\.\d+)?(?::-?\d+(?:\.\d+)?)+$")
_NAME_RE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?'*(?:\([A-Za-z]\))?$")
"""A name on the left of an assignment: ``x``, ``y_1``, ``f'(x)``."""
_DECORATION_RE = re.compile(
    r"'|\\prime\b|\\(?:bar|hat|vec|tilde|dot|ddot|check|breve|overline|underline|widehat|widetilde"
    r"|overrightarrow|overleftarrow)\b"
)


def fast_verdict(gold_norm: str, answer_norm: str, options: CompareOptions) -> Verdict | None:
    """A definitive verdict when the pair is simple enough, else None."""
    letter = gold_choice(gold_norm)
    if letter is not None:
        picked = answer_choice(answer_norm)
        if picked is None:
            return Verdict(False, "choice", f"expected a choice letter ({letter}); the answer names none")
        same = picked == letter
        return Verdict(same, "choice", "" if same else "not equal", letter, picked)
    if gold_norm == answer_norm:
        return Verdict(True, "exact", "", gold_norm, answer_norm)
    bounded = _beyond_bounds(gold_norm, answer_norm)
    if bounded is not None:
        return bounded
    if _decorations(gold_norm) != _decorations(answer_norm):
        return Verdict(False, "decoration", "not equal (primes or accents differ)", gold_norm, answer_norm)
    if _WORDS_RE.match(gold_norm) and _WORDS_RE.match(answer_norm):
        same = gold_norm.lower() == answer_norm.lower()
        return Verdict(same, "text", "" if same else "not equal (compared as text)", gold_norm, answer_norm)
    gold_ratio, answer_ratio = _ratio(gold_norm), _ratio(answer_norm)
    if gold_ratio is not None and answer_ratio is not None:
        same = _colon_parts(gold_ratio) == _colon_parts(answer_ratio)
        return Verdict(same, "ratio", "" if same else "not equal (compared part by part)", gold_ratio, answer_ratio)
    gold_number = parse_simple(gold_norm)
    if gold_number is None:
        return None
    answer_number = parse_simple(_unassigned(answer_norm) if options.equation_as_value else answer_norm)
    if answer_number is None:
        return None
    same = numbers_close(gold_number, answer_number, options.tolerance)
    return Verdict(same, "numeric_fast", "" if same else "not equal", str(gold_number.value), str(answer_number.value))


def _beyond_bounds(gold_norm: str, answer_norm: str) -> Verdict | None:
    gold_reason = too_large(gold_norm)
    if gold_reason is not None:
        return Verdict(False, "gold_too_large", f"gold too large to evaluate: {gold_reason}")
    answer_reason = too_large(answer_norm)
    if answer_reason is not None:
        return Verdict(False, "too_large", f"answer too large to evaluate: {answer_reason}", gold_norm, "")
    return None


def _decorations(norm: str) -> Counter[str]:
    """The primes and accents of an answer's value (``f'(x)=2x`` states ``2x``: the prime names the function)."""
    name, equals, value = norm.partition("=")
    if equals and "=" not in value and _NAME_RE.match(name):
        norm = value
    return Counter(_DECORATION_RE.findall(norm))


def _ratio(norm: str) -> str | None:
    """A time or ratio (``12:00``, ``7:32``), also when named: ``V_1:V_2=11:21`` states ``11:21``."""
    if _COLON_RE.match(norm):
        return norm
    name, equals, value = norm.rpartition("=")
    if equals and name and "=" not in name and _COLON_RE.match(value):
        return value
    return None


def _colon_parts(norm: str) -> list[Fraction]:
    return [Fraction(part) for part in norm.split(":")]


def _unassigned(norm: str) -> str:
    """``x=3`` -> ``3``: a single-letter assignment around a plain number."""
    if len(norm) > 2 and norm[0].isalpha() and norm[1] == "=":
        return norm[2:]
    return norm
