"""How much work an answer may cause: magnitude checks on the text, before sympy sees it.

sympy evaluates integer powers and factorials eagerly and exactly: parsing
``9^{9^{9}}`` alone computes a 370-million-digit integer (gigabytes, minutes). A
completion must not be able to buy that with a dozen characters, so before parsing
we estimate, in floating-point logarithms, the size of every numeric power tower and
factorial in the normalized text. Past the bounds the answer is *too large to
evaluate*: a wrong answer (score 0.0, with the reason), not a timeout, because the
answer caused it; a gold past the bounds is the caller's invalid input.

The estimate is an upper bound on digits, linear in the text, and never evaluates
anything exactly.
"""

from __future__ import annotations

import math
import re

MAX_RESULT_DIGITS = 100_000
"""Largest exact integer an answer may make sympy build (``2^{2^{16}}`` has 19,729 digits)."""
MAX_SYMBOLIC_EXPONENT = 10_000
"""Largest exponent on a bracketed base (``(x+1)^{n}`` expands to n+1 terms)."""

_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def too_large(norm: str) -> str | None:
    """Why evaluating ``norm`` could exceed the bounds, or None when it cannot."""
    for index, char in enumerate(norm):
        if char == "^":
            reason = _power(norm, index)
        elif char == "!" and norm[index + 1 : index + 2] != "=":
            reason = _factorial(norm, index)
        else:
            continue
        if reason is not None:
            return reason
    return None


def _power(text: str, caret: int) -> str | None:
    exponent_text, _ = _operand_after(text, caret + 1)
    exponent = _log_magnitude_value(exponent_text)
    if exponent is None:
        return None  # a symbolic exponent (x^n): sympy keeps it symbolic
    base_text = _base_text(text, caret)
    base = _log_magnitude_value(base_text) if base_text is not None else None
    if base is None:
        if _bracketed_before(text, caret) and exponent >= math.log10(MAX_SYMBOLIC_EXPONENT):
            return f"a power with an exponent of about 10^{exponent:.0f} on a bracketed base"
        return None  # x^{1000}, e^{100}, \\pi^{9}: kept symbolic
    if base <= 0:
        return None  # |base| <= 1 written as an integer or decimal: 0, 1, 0.5 (a float) stay small
    digits_log = exponent + math.log10(base)
    if digits_log > math.log10(MAX_RESULT_DIGITS):
        return f"a power of about 10^{digits_log:.0f} digits"
    return None


def _factorial(text: str, bang: int) -> str | None:
    start = bang
    while start > 0 and text[start - 1].isdigit():
        start -= 1
    if start == bang:
        operand, _ = _operand_before_group(text, bang)
        value_log = _log_magnitude_value(operand) if operand is not None else None
    else:
        value_log = math.log10(float(text[start:bang])) if bang - start < 300 else float(bang - start)
    if value_log is None or value_log < 3:
        return None
    if value_log > 15:
        return "a factorial of a number with more than 15 digits"
    value = 10**value_log
    digits = math.lgamma(value + 1) / math.log(10)
    if digits > MAX_RESULT_DIGITS:
        return f"a factorial of about {digits:.0f} digits"
    return None


def _operand_after(text: str, start: int) -> tuple[str, int]:
    """The exponent after ``^``: a braced group, or a single character."""
    if start < len(text) and text[start] == "{":
        depth = 0
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[start + 1 : i], i + 1
        return text[start + 1 :], len(text)
    return text[start : start + 1], start + 1


def _operand_before_group(text: str, end: int) -> tuple[str | None, int]:
    """The bracketed group ending just before ``end`` (``(10^9)!``), if any."""
    if end == 0 or text[end - 1] not in ")}":
        return None, end
    closing = text[end - 1]
    opening = "(" if closing == ")" else "{"
    depth = 0
    for i in range(end - 1, -1, -1):
        depth += {closing: 1, opening: -1}.get(text[i], 0)
        if depth == 0:
            return text[i + 1 : end - 1], i
    return None, end


def _base_text(text: str, caret: int) -> str | None:
    """The base right before ``^``: a numeric literal or a bracketed group; None for a name or command."""
    if caret > 0 and text[caret - 1] in ")}":
        group, _ = _operand_before_group(text, caret)
        return group
    start = caret
    while start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
        start -= 1
    if start == caret or (start > 0 and (text[start - 1].isalpha() or text[start - 1] == "_")):
        return None  # no number, or a subscript or a name: x_2^..., a2^...
    return text[start:caret]


def _bracketed_before(text: str, caret: int) -> bool:
    return caret > 0 and text[caret - 1] in ")}]"


def _log_magnitude_value(expression: str) -> float | None:
    """log10 of an upper bound on |value| of a numeric exponent expression, or None if it is not numeric.

    Handles digits, + - * \\cdot \\times, braces and parentheses, and nested powers, all in logs.
    """
    cleaned = expression.replace("\\cdot", "*").replace("\\times", "*").replace("\\left", "").replace("\\right", "")
    if not cleaned or re.search(r"[^0-9.+\-*^{}() ]", cleaned):
        return None
    try:
        value, rest = _sum(cleaned.replace(" ", ""), 0)
    except (ValueError, IndexError, OverflowError):
        return None
    return value if rest == len(cleaned.replace(" ", "")) else None


# A tiny evaluator over log10 magnitudes: a sum's bound is its largest term's (+ log10 of the
# number of terms), a product's is the sum of logs, a power's is exponent * log(base).


def _sum(text: str, index: int) -> tuple[float, int]:
    logs = []
    value, index = _product(text, index)
    logs.append(value)
    while index < len(text) and text[index] in "+-":
        value, index = _product(text, index + 1)
        logs.append(value)
    return max(logs) + math.log10(len(logs)), index


def _product(text: str, index: int) -> tuple[float, int]:
    total, index = _power_term(text, index)
    while index < len(text) and text[index] == "*":
        value, index = _power_term(text, index + 1)
        total += value
    return total, index


def _power_term(text: str, index: int) -> tuple[float, int]:
    base, index = _atom(text, index)
    if index < len(text) and text[index] == "^":
        exponent, index = _power_term(text, index + 1)
        exponent_value = 10**exponent if exponent < 300 else math.inf
        if base <= 0:
            return 0.0, index
        return exponent_value * base, index
    return base, index


def _atom(text: str, index: int) -> tuple[float, int]:
    """log10 of |atom| (floored at 0: a bound, and |x| < 1 never makes anything bigger)."""
    if text[index] in "+-":
        return _atom(text, index + 1)
    if text[index] in "({":
        closing = ")" if text[index] == "(" else "}"
        value, index = _sum(text, index + 1)
        if text[index] != closing:
            raise ValueError("unbalanced")
        return value, index + 1
    match = _NUMBER_RE.match(text, index)
    if match is None:
        raise ValueError("not a number")
    number = float(match.group())
    return (math.log10(number) if number > 1 else 0.0), match.end()
