"""Canonical text for a math answer: the same answer written differently becomes one string.

Runs on the event loop (pure regex, no sympy), so its output is what batches are
deduplicated and cached on, what the fast path compares, and what worker processes
parse. Every rewrite here must preserve meaning: dropping ``\\text{ cm}`` after a
number does, dropping the ``x`` in ``2x`` would not.
"""

from __future__ import annotations

import functools
import re
from fractions import Fraction

_WRAPPER_RE = re.compile(
    r"\\(?:text|textbf|textit|textrm|textsf|texttt|textup|textnormal|emph|mathrm|mathbf|mathit|mathsf|mathtt"
    r"|mathcal|mathscr|mathfrak|mbox|boldsymbol|bm)\s*\{([^{}]*)\}"
)
_SPACING_RE = re.compile(
    r"\\\\|\\[,;:! ]|\\q?quad|\\displaystyle|\\left(?![a-z])|\\right(?![a-z])|\\big[lr]?\b|\\Big[lr]?\b|~"
)
"""Spacing and sizing commands. ``\\\\`` (a row break) is matched first so it is kept, never read as ``\\ ``."""
_SCRIPT_BEFORE_SPACE_RE = re.compile(r"([_^])([0-9A-Za-z])\s+")
"""``\\log_2 3``: a one-character script before a space keeps its braces, so removing the space
cannot make it ``\\log_23``."""
_DEGREE_RE = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\circ\b|\\degree\b|\s*\bdegrees?\b")
_DEGREE_VALUE_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:\^\s*\{?\s*\\circ\s*\}?|°|\\degree\b)")
_TRIG_RE = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)\b")
_THOUSANDS_LATEX_RE = re.compile(r"(\d)(?:\{,\}|\\,|\\ |\s)(?=\d{3}(?!\d))")
_DIGIT_GROUP_RE = re.compile(r"(\d),\\!\s*(?=\d)")
"""``56,\\!01,\\!78`` : a typeset digit group (any group size), never a list."""
_THOUSANDS_RE = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?%?$")
_SCI_RE = re.compile(r"(?<![\w.\\])(\d+(?:\.\d+)?)[eE]([+-]?\d+)(?![\w.])")
_OVERLINE_RE = re.compile(r"(?<![\d.])(\d*)\.(\d*)\\overline\{(\d+)\}")  # starts where a number starts: linear
_FRAC_SHORT_RE = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF_RE = re.compile(r"\\frac\s*\{([^{}]+)\}\s*(\d)")
_FRAC_HALF2_RE = re.compile(r"\\frac\s*(\d)\s*\{([^{}]+)\}")
_SQRT_SHORT_RE = re.compile(r"\\sqrt\s*(\d+|[a-zA-Z](?![a-zA-Z]))")
_SQRT_PAREN_RE = re.compile(r"\\sqrt\s*\(([^()]*)\)")
"""``\\sqrt(2)`` means the square root of 2; read it so rather than dropping the root."""
_PLAIN_FUNCTION_RE = re.compile(
    r"(?<![\\A-Za-z])(sqrt|sin|cos|tan|cot|sec|csc|log|ln|exp)(?=\s*\()|(?<![\\A-Za-z])(pi)(?![A-Za-z])"
)
"""Plain-text function names (``sqrt(2)``, ``log(8)``, ``2pi``) as the LaTeX commands they name."""
_MIXED_LATEX_RE = re.compile(r"(?<![\w.}^_\\])(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}")
_MIXED_PLAIN_RE = re.compile(r"(?<![\w./])(\d+)\s+(\d+)/(\d+)(?![\w./])")
_ANSWER_PREFIX_RE = re.compile(r"^(?:final\s+)?(?:answer|ans)\s*[:：]\s*", re.IGNORECASE)
_WHITESPACE_RUN_RE = re.compile(r"\s{2,}")
"""Runs of whitespace are one space (they are everywhere below): the patterns that allow spaces then stay linear."""
_TEXT_CMD = r"\\(?:text|textrm|textnormal|mbox|mathrm)\s*"
_PROSE_HEAD_RE = re.compile(
    rf"^{_TEXT_CMD}\{{\s*(?:the\s+)?(?:final\s+)?answer\s+(?:is|=)\s*:?\s*\}}\s*", re.IGNORECASE
)
"""``\\text{The answer is } 7``: the sentence around the answer, not part of it."""
_PROSE_TAIL_RE = re.compile(
    rf"\s?,?\s?{_TEXT_CMD}\{{\s*(?:\((?P<remark>[^{{}}()]*)\)"
    rf"|(?:is|are)\s+the\s+(?:only\s+)?(?:final\s+)?(?:answer|solution|value|root)s?\s*\.?)\s*\}}\s*$",
    re.IGNORECASE,
)
"""A remark after the answer: ``7 \\text{ (since x > 0)}``, ``x = 7 \\text{ is the only solution}``."""
_REMARK_OPENERS = frozenset(
    "since because as where when for from by using rounded which that this double simplified exact exactly".split()
)
"""How a parenthesized remark that only explains the answer starts; any other remark stays part of the answer."""
_VALUE_CHANGING_WORDS = frozenset(
    (
        "or and also nor not no but except maybe possibly perhaps alternatively else actually wait wrong incorrect"
        " invalid extraneous reject rejected false times squared cubed inverse reciprocal negative plus minus over"
        " half double twice triple thousand thousands million millions billion billions"
        " trillion hundred hundreds dozen dozens lakh crore k kilo mega giga milli micro nano"
    ).split()
)
"""Words that hedge, negate or scale a value: a remark or unit holding one is never dropped (``7 \\text{ (or 8)}``,
``5 \\text{ thousand}``), so what it says stays part of the answer."""
_QUANTIFIER_TAIL_RE = re.compile(
    rf"\s?,?\s?(?:{_TEXT_CMD}\{{\s*for\s+(?:all|every|any)(?:\s+real)?\s*\}}|\\forall(?![a-zA-Z]))\s*"
    r"[a-z](?:\s*\\in\s*\\mathbb\s*\{?[RZNQ]\}?(?:\^\{?\+\}?|_\{?\+\}?)?)?\s*$"
)
"""``f(x)=2x \\text{ for all } x \\in \\mathbb{R}``: the quantifier says where the answer holds, not what it is."""
_UNIT_WORD = (
    r"(?:cm|mm|km|m|kg|g|mg|s|secs?|seconds?|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?|ml|l"
    r"|lit(?:er|re)s?|in|inch(?:es)?|ft|foot|feet|yds?|yards?|mi|miles?|mph|units?|sq|lbs?|pounds?|oz|ounces?"
    r"|cents?|dollars?|met(?:er|re)s?|j|kj|joules?|n|newtons?|w|kw|watts?|v|volts?|pa|kpa|hz|rad|radians?"
    r"|degrees?)\.?"
)
_UNIT_TEXT_TAIL_RE = re.compile(
    r"(?:(?<=[\d}])|(?<=\\pi))(?:\s|\\[ ,;:!])*\\(?:text|textrm|mbox|mathrm)\s*\{\s*"
    rf"(?:(?:square|sq\.?|cubic)\s+)?{_UNIT_WORD}(?:\s*/\s*{_UNIT_WORD})?\s*\}}(?:\^\{{?\d\}}?)?$",
    re.IGNORECASE,
)
"""A unit word closing an answer that is more than a plain number: ``6.4\\times10^5 \\text{ J}``,
``5\\sqrt{2}\\text{ cm}``."""
_ELLIPSIS_DECIMAL_RE = re.compile(r"(?<![\d.])(\d+)\.(\d{1,40})\s*(?:\.{3}|…|\\[lc]?dots(?![a-zA-Z]))")
"""``0.1666\\ldots``: a decimal whose digits repeat then trail off is that repeating decimal."""
_WORD_VALUES = {
    "does not exist": "DNE",
    "doesn't exist": "DNE",
    "no solution": "\\emptyset",
    "no solutions": "\\emptyset",
    "no real solutions": "\\emptyset",
    "all real numbers": "(-\\infty,\\infty)",
    "infinitely many": "\\infty",
}
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen"
    " seventeen eighteen nineteen twenty"
).split()
_WORD_VALUES.update({word: str(value) for value, word in enumerate(_NUMBER_WORDS)})
"""Words a grader reads as a value: "no solution" is the empty solution set, "five" is 5."""
_CURRENCY_RE = re.compile(
    r"^(?:[€£¥₹]|\\(?:euro|pounds|yen)(?![a-zA-Z])|Rs\.?|INR|USD|EUR|GBP)\s*(?=[+-]?\d)"
    r"|(?<=\d)\s*(?:[€£¥₹]|USD|EUR|GBP|INR)$"
)
"""Currency marks before or after an amount: a unit, like ``\\$`` (between digits, ``1 € 50``, they stay)."""
_SET_BUILDER_RE = re.compile(
    r"^\\\{\s*([a-z])\s*(?:\\in\s*\\mathbb\s*\{?R\}?\s*)?(?:\\mid|\\vert|\||:)\s*(.*?)\s*\\\}$"
)
"""``\\{x \\mid 1 < x < 3\\}``: the set of the ``x`` that satisfy the relation, compared as the relation is."""
_SET_RELATION_RE = re.compile(r"[<>≤≥]|\\[lg]e")
_ANGLE_VECTOR_RE = re.compile(r"\\langle(?![a-zA-Z])(.*?)\\rangle(?![a-zA-Z])")
"""``\\langle 1, 2 \\rangle`` is the vector (1, 2); ``\\langle g \\rangle`` (a generated group) stays."""
_PLUS_MINUS_RE = re.compile(r"\\(pm|mp)(?![a-zA-Z])|±|∓")
_CONJUNCTION_RE = re.compile(
    r"\s+(and|or)\s+|\\(?:text|mbox|mathrm)\{\s*(and|or)\s*\}|\\(lor|vee|land|wedge)(?![a-zA-Z])", re.IGNORECASE
)
_RELATION_RE = re.compile(r"[<>]|\\[lg]eq?(?![a-zA-Z])|\\neq|≤|≥")
_UNIT_TAIL_RE = re.compile(
    r"^(?P<num>[+-]?(?:\d[\d,]*(?:\.\d+)?|\.\d+)(?:/\d+)?|[+-]?\\frac\{\d+\}\{\d+\})%?"
    r"\s+[^\W\d_]+\.?(?:\^\{?\d\}?)?(?:(?:\s+|\s*/\s*)[^\W\d_]+\.?(?:\^\{?\d\}?)?)*\s*$"
)
_KNOWN_UNITS = (
    "cm|mm|km|m|kg|g|mg|s|sec|min|h|hr|hrs|hours|ml|l|in|ft|yd|mi|mph|units|sq|lb|lbs|oz"
    "|cents|dollars|meters|inches|feet"
)
_UNIT_NOSPACE_RE = re.compile(rf"^(?P<num>[+-]?\d[\d,]*(?:\.\d+)?)(?:{_KNOWN_UNITS})(?:\^\{{?\d\}}?)?$")
_SPACE_RE = re.compile(r"(?<![A-Za-z]) (?!(?<=\d, )\d{3}(?!\d))|(?<=[A-Za-z]) (?![A-Za-z])")
"""Spaces go, except between letters (``\\cdot x``) and in ``32, 349``: a list of two numbers that
would otherwise read as the thousands-separated 32349."""
_RELATION_WORDS = (
    (r"\\leqslant", r"\\leq "),
    (r"\\geqslant", r"\\geq "),
    (r"\\le(?![a-zA-Z])", r"\\leq "),
    (r"\\ge(?![a-zA-Z])", r"\\geq "),
    (r"\\ne(?![a-zA-Z])", r"\\neq "),
    (r"<=", r"\\leq "),
    (r">=", r"\\geq "),
    (r"≤", r"\\leq "),
    (r"≥", r"\\geq "),
    (r"≠", r"\\neq "),
)
_RELATION_RES = tuple((re.compile(pattern), repl) for pattern, repl in _RELATION_WORDS)


@functools.lru_cache(maxsize=65_536)
def normalize(text: str) -> str:
    """The canonical form of one answer (or gold) string (cached: GRPO groups repeat their answers)."""
    s = _WHITESPACE_RUN_RE.sub(" ", text.strip())  # first: long runs would slow the patterns below
    s = _strip_delims(s)
    s = _ANSWER_PREFIX_RE.sub("", s)
    s = _PROSE_TAIL_RE.sub(_drop_remark, _PROSE_HEAD_RE.sub("", s))
    s = _QUANTIFIER_TAIL_RE.sub("", s)
    s = _UNIT_TEXT_TAIL_RE.sub("", s)
    s = _ELLIPSIS_DECIMAL_RE.sub(_trailing_off, s)
    s = _SET_BUILDER_RE.sub(_set_builder, s)
    s = _ANGLE_VECTOR_RE.sub(_angle_vector, s).replace("\\colon", ":")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("\\cfrac", "\\frac")
    s = s.replace("\\$", "").replace("$", "")
    s = s.replace("\\lt", "<").replace("\\gt", ">").replace("−", "-").replace("\\infinity", "\\infty")
    s = s.replace("\\varnothing", "\\emptyset").replace("\\{\\}", "\\emptyset").replace("∅", "\\emptyset")
    for pattern, repl in _RELATION_RES:
        s = pattern.sub(repl, s)
    s = _DIGIT_GROUP_RE.sub(r"\1", s)
    s = _THOUSANDS_LATEX_RE.sub(r"\1", s)
    s = _conjunctions(s)
    for _ in range(3):  # nested wrappers: \text{\textbf{B}}
        s = _WRAPPER_RE.sub(lambda m: m.group(1), s)
    s = _SPACING_RE.sub(lambda m: m.group() if m.group() == "\\\\" else " ", s)
    s = _WHITESPACE_RUN_RE.sub(" ", s)  # "\,\,\," became a run of spaces
    s = _SCRIPT_BEFORE_SPACE_RE.sub(r"\1{\2} ", s)
    s = _degrees(s)
    s = s.replace("\\%", "%").replace("\\percent", "%")
    s = re.sub(r"\s+", " ", s).strip()
    s = _CURRENCY_RE.sub("", s).strip()
    s = s.rstrip(".").strip()
    if s.endswith("\\") and not s.endswith("\\\\"):
        s = s[:-1].rstrip()  # "185\\": a stray backslash left where a quote or a box was cut
    s = _approximately(s)
    s = _top_level_semicolons(s)
    s = _OVERLINE_RE.sub(_repeating_decimal, s)
    s = _FRAC_SHORT_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_RE.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF2_RE.sub(r"\\frac{\1}{\2}", s)
    s = _SQRT_SHORT_RE.sub(r"\\sqrt{\1}", s)
    s = _PLAIN_FUNCTION_RE.sub(lambda m: "\\" + (m.group(1) or m.group(2)), s)
    s = _SQRT_PAREN_RE.sub(r"\\sqrt{\1}", s)
    s = _MIXED_LATEX_RE.sub(_mixed_number, s)
    s = _MIXED_PLAIN_RE.sub(_mixed_number, s)
    s = _SCI_RE.sub(r"\1\\times10^{\2}", s)
    unit = _UNIT_TAIL_RE.match(s) or _UNIT_NOSPACE_RE.match(s)
    if unit is not None and not _VALUE_CHANGING_WORDS.intersection(re.findall(r"[a-z]+", s[unit.end("num") :].lower())):
        s = unit.group("num") + ("%" if "%" in s[unit.end("num") : unit.end("num") + 1] else "")
    if _THOUSANDS_RE.match(s):
        s = s.replace(",", "")
    s = _SPACE_RE.sub("", s)
    s = _strip_grouping_braces(s)
    s = _last_of_chain(s)
    s = _WORD_VALUES.get(s.lower(), s)
    return _plus_minus(s)


def _drop_remark(match: re.Match[str]) -> str:
    """Drop a remark that only explains the answer; keep one that could change it (see _VALUE_CHANGING_WORDS)."""
    remark = match.group("remark")
    if remark is None:
        return ""  # "is the only solution", with nothing after it
    words = re.findall(r"[a-z]+", remark.lower())
    if not words or words[0] not in _REMARK_OPENERS or _VALUE_CHANGING_WORDS.intersection(words):
        return match.group()
    return ""


def _angle_vector(match: re.Match[str]) -> str:
    inner = match.group(1)
    return f"({inner})" if len(_top_level_split(inner, ",")) >= 2 else match.group()


def _set_builder(match: re.Match[str]) -> str:
    """The condition of ``\\{x \\mid ...\\}`` when it is a relation on that ``x``; else the set as written."""
    name, condition = match.group(1), match.group(2)
    return condition if name in condition and _SET_RELATION_RE.search(condition) else match.group()


def _trailing_off(match: re.Match[str]) -> str:
    """``0.1666...`` -> ``0.1\\overline{6}``: the shortest period repeated to the end (at least twice and three
    digits, so the trailing-off digits of ``3.14159...`` are just a decimal, read as written)."""
    whole, digits = match.group(1), match.group(2)
    for fixed in range(len(digits)):
        rest = digits[fixed:]
        for size in range(1, len(rest) // 2 + 1):
            if len(rest) >= 3 and len(rest) % size == 0 and rest == rest[:size] * (len(rest) // size):
                return f"{whole}.{digits[:fixed]}\\overline{{{rest[:size]}}}"
    return f"{whole}.{digits}"


def _plus_minus(s: str) -> str:
    """``\\frac{-1\\pm\\sqrt{5}}{2}`` is its two values: each listed item with one ``\\pm`` (or ``\\mp``)
    becomes the item with ``+`` and the item with ``-``, so the sign may sit anywhere, not only in front."""
    if not _PLUS_MINUS_RE.search(s):
        return s
    items = _top_level_split(s, ",")
    if any(len(_PLUS_MINUS_RE.findall(item)) > 1 for item in items):
        return s
    expanded = []
    for item in items:
        sign = _PLUS_MINUS_RE.search(item)
        if sign is None:
            expanded.append(item)
            continue
        first, second = ("+", "-") if sign.group() in ("\\pm", "±") else ("-", "+")
        before, after = item[: sign.start()], item[sign.end() :].lstrip(" ")
        expanded += [before + first + after, before + second + after]
    return ",".join(expanded)


def _conjunctions(s: str) -> str:
    """Between listed answers "and"/"or" make a list; between inequalities they are logic
    (``x<0 \\text{ or } x>1`` is a union, never the set of two relations)."""
    logic = bool(_RELATION_RE.search(s))
    separator = "; " if not logic and _solution_groups(_CONJUNCTION_RE.split(s)[::4]) else ", "

    def replace(match: re.Match[str]) -> str:
        word = next(group for group in match.groups() if group).lower()
        if not logic:
            return separator
        return " \\lor " if word in ("or", "lor", "vee") else " \\land "

    return re.sub(r",\s*(?=[,;]|\\lor|\\land)", "", _CONJUNCTION_RE.sub(replace, s))  # "1, 2, and 3"


_ASSIGNED_NAME_RE = re.compile(r"^\s*(\\?[A-Za-z]+(?:_\{?\w+\}?)?)\s*=\s*[^=\s]")


def _solution_groups(parts: list[str]) -> bool:
    """Whether "and"/"or" join whole solutions, each assigning the same names: ``p=5, q=2 \\text{ and } p=7, q=2``
    is the two solutions ``(p=5,q=2)`` and ``(p=7,q=2)`` (grouped as ``;`` would group them), never the flat
    list ``p=5,q=2,p=7,q=2``, which would also equal ``p=5,q=2 \\text{ and } p=7,q=5`` swapped around."""
    names: set[str] | None = None
    for part in parts:
        items = [item for item in _top_level_split(_SPACING_RE.sub(" ", part), ",") if item.strip()]
        assigned = [_ASSIGNED_NAME_RE.match(item) for item in items]
        if len(items) < 2 or not all(assigned):
            return False
        these = {match.group(1) for match in assigned if match}
        if len(these) != len(items) or names not in (None, these):
            return False
        names = these
    return len(parts) >= 2


def _degrees(s: str) -> str:
    """Degree signs: dropped from a plain angle (30° is 30), read as pi/180 inside a trig function."""
    if _TRIG_RE.search(s):
        s = _DEGREE_VALUE_RE.sub(lambda m: f"\\frac{{{m.group(1)}\\pi}}{{180}}", s)
    return _DEGREE_RE.sub("", s)


def _mixed_number(match: re.Match[str]) -> str:
    """``2\\frac{1}{4}`` and ``3128 1/2`` are mixed numbers (whole + proper fraction), never products."""
    whole, numerator, denominator = match.group(1), int(match.group(2)), int(match.group(3))
    if not 0 < numerator < denominator:
        return match.group()
    improper = int(whole) * denominator + numerator
    return f"\\frac{{{improper}}}{{{denominator}}}"


def _approximately(s: str) -> str:
    """``A \\approx B``: the exact value A when it is math, else (``x \\approx 3.01``) the value B."""
    if "\\approx" not in s:
        return s
    left, _, right = s.partition("\\approx")
    left, right = left.strip(), right.strip()
    if re.search(r"\d|\\[a-zA-Z]", left) and "=" not in left:
        return left
    return right or left


def _strip_grouping_braces(s: str) -> str:
    """``{1,3}`` is a TeX group around ``1,3``, not a set (a set is written ``\\{1,3\\}``)."""
    while len(s) >= 2 and s[0] == "{" and s[-1] == "}" and _closes_at_end(s):
        s = s[1:-1]
    return s


def _closes_at_end(s: str) -> bool:
    depth = 0
    for i, ch in enumerate(s):
        if ch == "{" and s[i - 1 : i] != "\\":
            depth += 1
        elif ch == "}" and s[i - 1 : i] != "\\":
            depth -= 1
            if depth == 0 and i != len(s) - 1:
                return False
    return depth == 0


def _top_level_semicolons(s: str) -> str:
    """A top-level ``;`` separates groups: ``p=5,q=2;p=7,q=2`` is the two solutions ``(p=5,q=2),(p=7,q=2)``."""
    if ";" not in s:
        return s
    parts = [part.strip() for part in _top_level_split(s, ";")]
    if len(parts) < 2 or not all(parts):
        return s
    return ",".join(f"({part})" if _top_level_split(part, ",")[1:] else part for part in parts)


def _last_of_chain(s: str) -> str:
    """A worked computation ends in its value: ``5\\times6\\times4=120`` is 120; ``x=2+3=5`` is ``x=5``.

    Only top-level ``=`` outside brackets count, and never in a list (``x=1,y=2``).
    """
    sides = _top_level_split(s, "=")
    if len(sides) < 2 or any(not side for side in sides) or _top_level_split(s, ",")[1:]:
        return s
    first, last = sides[0], sides[-1]
    if len(sides) > 2 and all(_NAME_RE.match(side) for side in sides[:-1]) and not _has_letters(last):
        return ",".join(f"{name}={last}" for name in sides[:-1])  # a=b=c=2: each name is 2
    if not _has_letters(first) and (len(sides) > 2 or not _has_letters(last)):
        return last  # a computation and its value (5\\times6\\times4=120): the value
    return s if len(sides) == 2 else f"{first}={last}"


_NAME_RE = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?$")


def _has_letters(side: str) -> bool:
    return bool(re.search(r"[a-zA-Z]", re.sub(r"\\(?:frac|sqrt|times|cdot|div|pi|left|right)", "", side)))


def _top_level_split(s: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == sep and depth == 0 and s[i - 1 : i] not in ("\\", "<", ">", "!"):
            parts.append(s[start:i])
            start = i + 1
    parts.append(s[start:])
    return parts


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
