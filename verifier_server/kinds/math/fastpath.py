"""Deciding the common cases on the event loop, without sympy or a worker hop.

Identical normalized strings, plain numbers (integers, decimals, fractions,
scientific notation, percents) and multiple-choice letters are decided here, both
ways. Anything else returns None and goes to a worker.
"""

from __future__ import annotations

import re

from verifier_server.kinds.math.compare import CompareOptions, Verdict
from verifier_server.kinds.math.normalize import answer_choice, gold_choice
from verifier_server.kinds.math.numeric import numbers_close, parse_simple

_WORDS_RE = re.compile(r"^[A-Za-z]{2,}(?: [A-Za-z]+)*$")
"""A word answer (``yes``, ``East``): compared as text, case-insensitively, never as a product of symbols."""


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
    if _WORDS_RE.match(gold_norm) and _WORDS_RE.match(answer_norm):
        same = gold_norm.lower() == answer_norm.lower()
        return Verdict(same, "text", "" if same else "not equal (compared as text)", gold_norm, answer_norm)
    gold_number = parse_simple(gold_norm)
    if gold_number is None:
        return None
    answer_number = parse_simple(_unassigned(answer_norm) if options.equation_as_value else answer_norm)
    if answer_number is None:
        return None
    same = numbers_close(gold_number, answer_number, options.tolerance)
    return Verdict(same, "numeric_fast", "" if same else "not equal", str(gold_number.value), str(answer_number.value))


def _unassigned(norm: str) -> str:
    """``x=3`` -> ``3``: a single-letter assignment around a plain number."""
    if len(norm) > 2 and norm[0].isalpha() and norm[1] == "=":
        return norm[2:]
    return norm
