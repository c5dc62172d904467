"""Canonical text for a math answer: the same answer written differently becomes one string.

Runs on the event loop (pure regex, no sympy), so its output is what batches are
deduplicated and cached on, what the fast path compares, and what worker processes
parse. Every rewrite here must preserve meaning: dropping ``\\text{ cm}`` after a
number does, dropping the ``x`` in ``2x`` would not.
"""

from __future__ import annotations

import re
from fractions import Fraction

_WRAPPER_RE = re.compile(r"\\(?:text|textbf|textit|mathrm|mathbf|mbox|textrm|boldsymbol)\s*\{([^{}]*)\}")
_SPACING_RE = re.compile(r"\\[,;:! ]|\\q?quad\b|\\displaystyle|\\left\b|\\right\b|\\big[lr]?\b|\\Big[lr]?\b|~")
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\circ\b|\\degree\b|\s*\bdegrees?\b")
_THOUSANDS_LATEX_RE = re.compile(r"(\d)(?:\{,\}|\\,|\\ |\s)(?=\d{3}(?!\d))")
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")
_SCI_RE = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_OVERLINE_RE = re.compile(r"(\d*)\.(\d*)\\overline\{(\d+)\}")
_FRAC_SHORT_RE = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF_RE = re.compile(r"\\frac\s*\{([^{}]+)\}\s*(\d)")
_FRAC_HALF2_RE = re.compile(r"\\frac\s*(\d)\s*\{([^{}]+)\}")
_SQRT_SHORT_RE = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z](?![a-zA-Z]))")
_ANSWER_PREFIX_RE = re.compile(r"^(?:final\s+)?(?:answer|ans)\s*[:：]\s*", re.IGNORECASE)
_CONJUNCTION_RE = re.compile(r"\s+(?:and|or)\s+|\\(?:text\{\s*(?:and|or)\s*\})", re.IGNORECASE)
_UNIT_TAIL_RE = re.compile(
    r"^(?P<num>[+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:/\d+)?|[+-]?\\frac\{\d+\}\{\d+\})%?"
    r"\s+[a-zA-Z]+\.?(?:\^\{?\d\}?)?(?:(?:\s+|\s*/\s*)[a-zA-Z]+\.?(?:\^\{?\d\}?)?)*\s*$"
)
_KNOWN_UNITS = (
    "cm|mm|km|m|kg|g|mg|s|sec|min|h|hr|hrs|hours|ml|l|in|ft|yd|mi|mph|units|sq|lb|lbs|oz"
    "|cents|dollars|meters|inches|feet"
)
_UNIT_NOSPACE_RE = re.compile(rf"^(?P<num>[+-]?\d+(?:\.\d+)?)(?:{_KNOWN_UNITS})(?:\^\{{?\d\}}?)?$")


def normalize(text: str) -> str:
    """The canonical form of one answer (or gold) string."""
    s = text.strip()
    s = _strip_delims(s)
    s = _ANSWER_PREFIX_RE.sub("", s)
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\$", "").replace("$", "")
    s = s.replace("\\lt", "<").replace("\\gt", ">").replace("\\le ", "\\leq ").replace("\\ge ", "\\geq ")
    s = s.replace("≤", "\\leq ").replace("≥", "\\geq ").replace("−", "-").replace("\\infinity", "\\infty")
    s = _THOUSANDS_LATEX_RE.sub(r"\1", s)
    s = _CONJUNCTION_RE.sub(", ", s)
    for _ in range(3):  # nested wrappers: \text{\textbf{B}}
        s = _WRAPPER_RE.sub(lambda m: m.group(1), s)
    s = _SPACING_RE.sub(" ", s)
    s = _DEGREE_RE.sub("", s)
    s = s.replace("\\%", "%").replace("\\percent", "%")
    s = re.sub(r"\s+", " ", s).strip()
    s = s.rstrip(".").strip()
    s = _OVERLINE_RE.sub(_repeating_decimal, s)
    s = _FRAC_SHORT_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF2_RE.sub(r"\\frac{\1}{\2}", s)
    s = _SQRT_SHORT_RE.sub(r"\\sqrt{\1}", s)
    s = _SCI_RE.sub(r"\1\\times10^{\2}", s)
    unit = _UNIT_TAIL_RE.match(s) or _UNIT_NOSPACE_RE.match(s)
    if unit is not None:
        s = unit.group("num") + ("%" if "%" in s[unit.end("num") : unit.end("num") + 1] else "")
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = re.sub(r"(?<=[^A-Za-z]) | (?=[^A-Za-z])", "", s)
    return s


def _strip_delims(s: str) -> str:
    changed = True
    while changed:
        changed = False
        for open_, close in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
            if s.startswith(open_) and s.endswith(close) and len(s) >= len(open_) + len(close):
                s = s[len(open_) : len(s) - len(close)].strip()
                changed = True
    return s


def _repeating_decimal(match: re.Match[str]) -> str:
    """``0.1\\overline{6}`` -> ``\\frac{1}{6}``: math-verify leaves it as an unparseable string."""
    whole, fixed, period = match.group(1) or "0", match.group(2), match.group(3)
    value = Fraction(int(whole)) + Fraction(int(fixed or "0"), 10 ** len(fixed))
    value += Fraction(int(period), (10 ** len(period) - 1) * 10 ** len(fixed))
    return f"\\frac{{{value.numerator}}}{{{value.denominator}}}"


# ---------------------------------------------------------------------------
# multiple choice
# ---------------------------------------------------------------------------

_CHOICE_RE = re.compile(r"^\(?([A-J])\)?$")
_CHOICE_ANSWER_RE = re.compile(r"^(?:option\s+|choice\s+)?\(?([A-Ja-j])\)?(?:[.:)]|\s|$)", re.IGNORECASE)


def gold_choice(norm_gold: str) -> str | None:
    """The letter when a gold is a multiple-choice letter (``B``, ``(B)``)."""
    m = _CHOICE_RE.match(norm_gold)
    return m.group(1) if m else None


def answer_choice(norm_answer: str) -> str | None:
    """The letter an answer picks: ``B``, ``(B)``, ``B) 12``, ``Option B``."""
    m = _CHOICE_ANSWER_RE.match(norm_answer.strip())
    return m.group(1).upper() if m else None
