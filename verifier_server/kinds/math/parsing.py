"""Reading a normalized answer as a mathematical object, and how sure that reading is.

Three readers, tried in order:

1. ``lite``: our small recursive-descent parser for the everyday subset (exact, fast);
2. ``latex``: a *strict* LaTeX parse (math-verify's own grammar, ``latex2sympy2``, with
   its normalization but without its repairs of malformed input): it either reads the
   whole text or fails;
3. ``generous``: math-verify's ``parse``, which repairs and may read only part of the
   text (``4\\sqrt(2)`` came back as 4). A generous reading may *refuse* a match, but
   a match it makes is accepted only when the part it read is the whole answer.

Text that is not math (``12:00``, a long word) is kept as lower-cased text.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import sympy
from latex2sympy2_extended.latex2sympy2 import latex2sympy
from latex2sympy2_extended.math_normalization import NormalizationConfig, normalize_latex
from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse
from math_verify.grader import should_treat_as_complex
from sympy import Basic, MatrixBase

from verifier_server.kinds.math.lite import parse_lite

logging.getLogger("math_verify").setLevel(logging.ERROR)
logging.getLogger("latex2sympy2_extended").setLevel(logging.ERROR)

_STRICT_NORMALIZATION = NormalizationConfig(
    basic_latex=True, units=False, malformed_operators=False, nits=True, boxed="all", equations=False
)
_LATEX_CONFIG = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]
_EXPR_CONFIG = [ExprExtractionConfig()]

_COLON_RE = re.compile(r"^-?\d+(?:\.\d+)?(?::-?\d+(?:\.\d+)?)+$")
"""``12:00``, ``3:2``: a time or a ratio, compared part by part (never a division by zero)."""
_IMAGINARY_RE = re.compile(r"(?<![A-Za-z_\\])(?<!_\{)i(?![A-Za-z])")
"""A lone ``i`` (``2i``, ``\\frac{1}{i}``), not part of a name, a command or a subscript (``x_i``)."""
_LONG_WORD_RE = re.compile(r"(?<!\\)[A-Za-z]{25,}")
"""25 letters in a row are a word, never a product of 25 variables."""


@dataclass(frozen=True, slots=True)
class Reading:
    """A parsed answer (or gold): a sympy object, or lower-cased text when it is not math."""

    value: Any
    how: str
    """Which reader made it: ``lite``, ``latex``, ``generous`` or ``text``."""
    complex_unit: bool = False
    """The text uses a lone ``i`` (math-verify's test, or ``2i``): in a gold, it is the imaginary unit."""
    covered: str = ""
    """For a generous reading: the text math-verify actually read (normalized), to check it is all of it."""
    text: str = ""
    """The normalized text that was read (a bare list's written order lives only here)."""

    @property
    def is_text(self) -> bool:
        return isinstance(self.value, str)


def read(norm: str) -> Reading | None:
    """``norm`` read by the first reader that accepts it; None when it is empty or malformed beyond reading."""
    if not norm.strip() or norm.count("{") != norm.count("}"):
        return None
    return replace(_read(norm), text=norm)


def _read(norm: str) -> Reading:
    if _COLON_RE.match(norm) or _LONG_WORD_RE.search(norm):
        return Reading(norm.lower(), "text")
    complex_unit = should_treat_as_complex(norm) or bool(_IMAGINARY_RE.search(norm))
    logic = _logic(norm)
    if logic is not None:
        return Reading(logic, "latex", complex_unit)
    quick = parse_lite(norm)
    if quick is not None:
        return Reading(quick, "lite", complex_unit)
    strict = _strict_latex(norm)
    if strict is not None:
        return Reading(strict, "latex", complex_unit)
    found = _math_verify(f"\\boxed{{{norm}}}", _LATEX_CONFIG) or _math_verify(norm, _EXPR_CONFIG)
    if found is not None:
        return Reading(found[0], "generous", complex_unit, found[1])
    return Reading(norm.lower(), "text")


def _logic(norm: str) -> Any | None:
    """``x<0 \\lor x>1`` as ``Or`` of its relations (the LaTeX grammar has no logic operators)."""
    for token, combine in (("\\lor", sympy.Or), ("\\land", sympy.And)):
        if token in norm:
            parts = [_strict_latex(part) for part in norm.split(token)]
            if all(isinstance(part, sympy.Rel | sympy.And | sympy.Or) for part in parts):
                return combine(*parts)
            return None
    return None


def _strict_latex(norm: str) -> Any | None:
    try:
        latex = normalize_latex(norm, _STRICT_NORMALIZATION)
        value = latex2sympy(latex, is_real=not should_treat_as_complex(latex), convert_degrees=False)
    except Exception:  # the grammar raises many types; any of them means "not read strictly"
        return None
    return value if isinstance(value, Basic | MatrixBase) else None


def _math_verify(text: str, config: list[Any]) -> tuple[Any, str] | None:
    try:
        found = parse(text, config, fallback_mode="first_match", parsing_timeout=None)
    except (RecursionError, MemoryError):
        raise
    except Exception:  # math-verify catches its own parse errors; anything else means no reading
        return None
    value = next((item for item in found if isinstance(item, Basic | MatrixBase)), None)
    if value is None:
        return None
    covered = next((item for item in found if isinstance(item, str)), "")
    return value, covered


def reads_everything(reading: Reading, norm: str) -> bool:
    """Whether a generous reading used the whole answer, not a fragment of it.

    math-verify reports the text it parsed; when, stripped of spacing, it is not the
    whole normalized answer (it dropped ``\\sqrt(2)`` from ``4\\sqrt(2)``), a match it
    makes is not trusted.
    """
    if reading.how != "generous":
        return True
    covered = re.sub(r"\s+|\\[,;:! ]|\\left|\\right", "", reading.covered)
    whole = re.sub(r"\s+|\\[,;:! ]|\\left|\\right", "", norm)
    return bool(covered) and (covered == whole or covered == f"\\boxed{{{whole}}}")


def with_imaginary_unit(value: Any) -> Any:
    """``value`` with every symbol named ``i`` replaced by the imaginary unit."""
    units = {symbol: sympy.I for symbol in getattr(value, "free_symbols", ()) if str(symbol) == "i"}
    return value.xreplace(units) if units else value
