"""Plain numbers without sympy: parsing them exactly and comparing them with tolerance.

Most GRPO answers are integers, decimals or simple fractions; deciding those with
``fractions.Fraction`` in microseconds (both "equal" and "not equal") is the fast
path that keeps sympy, and the worker hop, off the common case. The tolerance rule
lives here once and the worker uses it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_INT_OR_DEC = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_PLAIN_RE = re.compile(rf"^(?P<num>{_INT_OR_DEC})$")
_SLASH_RE = re.compile(r"^(?P<sign>[+-]?)(?P<p>\d+)/(?P<q>\d+)$")
_FRAC_RE = re.compile(r"^(?P<sign>[+-]?)\\frac\{(?P<ps>-?)(?P<p>\d+)\}\{(?P<q>\d+)\}$")
_SCI_RE = re.compile(rf"^(?P<num>{_INT_OR_DEC})(?:\\times|\\cdot|\*)10\^(?:\{{(?P<e1>[+-]?\d+)\}}|(?P<e2>\d))$")
_MAX_DIGITS = 400


@dataclass(frozen=True, slots=True)
class SimpleNumber:
    """A number read exactly; ``decimals`` is set when it was written as a decimal (inexact)."""

    value: Fraction
    decimals: int | None = None
    percent: bool = False
    significant_digits: int = 0

    @property
    def inexact(self) -> bool:
        return self.decimals is not None


@dataclass(frozen=True, slots=True)
class Tolerance:
    """When two numbers count as equal; applies only when one side is written inexactly."""

    rel: float = 1e-6
    abs: float = 0.0
    percent_as_fraction: bool = True


def parse_simple(norm: str) -> SimpleNumber | None:
    """A normalized answer as an exact number, or None when it is anything more than a number."""
    if len(norm) > _MAX_DIGITS:
        return None
    percent = norm.endswith("%")
    body = norm[:-1] if percent else norm
    number = _parse_body(body)
    if number is None:
        return None
    return SimpleNumber(number.value, number.decimals, percent, number.significant_digits)


def _parse_body(body: str) -> SimpleNumber | None:
    m = _PLAIN_RE.match(body)
    if m:
        return _decimal(m.group("num"), 0)
    m = _SLASH_RE.match(body) or _FRAC_RE.match(body)
    if m:
        if int(m.group("q")) == 0:
            return None
        negative = (m.group("sign") == "-") != (m.groupdict().get("ps") == "-")
        value = Fraction(int(m.group("p")), int(m.group("q")))
        return SimpleNumber(-value if negative else value)
    m = _SCI_RE.match(body)
    if m:
        exponent = int(m.group("e1") or m.group("e2"))
        if abs(exponent) > _MAX_DIGITS:
            return None
        return _decimal(m.group("num"), exponent)
    return None


def _decimal(text: str, exponent: int) -> SimpleNumber:
    value = Fraction(text) * Fraction(10) ** exponent
    if "." not in text:
        return SimpleNumber(value)
    digits = text.lstrip("+-").replace(".", "").lstrip("0")
    decimals = len(text.split(".", 1)[1]) - exponent
    return SimpleNumber(value, decimals, significant_digits=len(digits))


def numbers_close(gold: SimpleNumber, answer: SimpleNumber, tol: Tolerance) -> bool:
    """Equal, allowing percent forms (50% = 50 = 0.5) and tolerance for decimals."""
    for g, a in _percent_readings(gold, answer, tol):
        if _close(g, a, gold.inexact or answer.inexact, answer, tol):
            return True
    return not answer.inexact and never_terminates(answer.value) and gold_is_a_rounding(gold, answer.value)


def never_terminates(value: Fraction) -> bool:
    """No decimal with finitely many digits equals it: its denominator has a prime other than 2 and 5 (1/3)."""
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator != 1


def gold_is_a_rounding(gold: SimpleNumber, answer: Fraction, *, cut_off: bool = True) -> bool:
    """A decimal gold facing an exact answer that no terminating decimal equals (``\\frac13`` for 0.333, or an
    irrational): that gold can only be a rounding, and the answer is right when it rounds to the gold at the
    gold's precision, or when the gold cuts it there (``cut_off``: a fraction's repeating digits).

    Only for golds of three significant digits or more whose last digit is not 0: a shorter gold, or one
    written out to a 0 (``2.00``, a price or a probability in full), would let values it never meant round
    to it."""
    if gold.decimals is None or gold.decimals < 1 or gold.significant_digits < 3 or gold.percent:
        return False
    scaled = gold.value * 10**gold.decimals
    if scaled.denominator != 1 or scaled.numerator % 10 == 0:
        return False
    step = Fraction(1, 10**gold.decimals)
    if abs(answer - gold.value) <= step / 2:
        return True
    # A repeating decimal is as often cut as rounded (0.1666 for 1/6); an irrational only rounded.
    return cut_off and (answer > 0) == (gold.value > 0) and 0 <= abs(answer) - abs(gold.value) < step


def _percent_readings(gold: SimpleNumber, answer: SimpleNumber, tol: Tolerance) -> list[tuple[Fraction, Fraction]]:
    readings = [(gold.value, answer.value)]
    if tol.percent_as_fraction and gold.percent != answer.percent:
        if gold.percent:
            readings.append((gold.value / 100, answer.value))
        else:
            readings.append((gold.value, answer.value / 100))
    return readings


def _close(gold: Fraction, answer: Fraction, inexact: bool, written: SimpleNumber, tol: Tolerance) -> bool:
    if gold == answer:
        return True
    if not inexact:
        return False
    return values_close(float(gold), float(answer), tol) or _rounds_to(gold, written)


def values_close(gold: float, answer: float, tol: Tolerance) -> bool:
    """The one tolerance rule: within ``abs`` or within ``rel`` of the larger magnitude."""
    diff = abs(gold - answer)
    return diff <= tol.abs or diff <= tol.rel * max(abs(gold), abs(answer))


def _rounds_to(gold: Fraction, written: SimpleNumber) -> bool:
    """A decimal with at least six significant digits that is the gold correctly rounded
    (``0.333333`` for 1/3) is right even where it misses the relative tolerance."""
    if written.decimals is None or written.significant_digits < 6 or written.percent:
        return False
    half_ulp = Fraction(1, 2 * 10**written.decimals) if written.decimals >= 0 else Fraction(10**-written.decimals, 2)
    return abs(gold - written.value) <= half_ulp
