"""Equivalence of a gold and an answer: our rules where they are certain, math-verify for the rest.

Runs only inside worker processes (it may take unbounded time in sympy; the pool
kills it). math-verify is called with its signal-based timeouts disabled
(``timeout_seconds=None``) because the pool enforces time.

The design rule (docs/decisions.md): a rule here decides only when it is *certain*.
Numbers compare exactly at 60 digits, or by relative tolerance when one side is
inexact (math-verify's ``evalf(chop=True)`` calls ``1/2^99`` and ``1/2^98`` equal);
equations compare as proportional polynomials; inequalities and intervals compare as
sets; tuples, sets and matrices compare element by element; expressions by expansion
and evaluation at fixed points. Anything no rule is sure of (and any rule that
raises) goes to ``math_verify.verify``, so the service is never less able than
math-verify to see an equality, and never trusts math-verify where we know it errs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy
from math_verify import verify
from sympy import MatrixBase
from sympy.core.function import AppliedUndef

from verifier_server.kinds.math.numeric import (
    Tolerance,
    gold_is_a_rounding,
    never_terminates,
    parse_simple,
    values_close,
)
from verifier_server.kinds.math.parsing import Reading, read, reads_everything, with_imaginary_unit

_PRECISION = 60
_MAX_SET_SIZE = 64


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """What the worker needs to judge equivalence; pickled once per chunk."""

    tolerance: Tolerance = field(default_factory=Tolerance)
    equation_as_value: bool = True
    """``x=3`` equals ``3`` (and the other way round) when one side is a single-variable assignment."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """A worker's answer for one (gold, answer) pair."""

    match: bool
    method: str
    reason: str = ""
    parsed_gold: str = ""
    parsed_answer: str = ""


Parsed = Reading
"""What a worker keeps per gold."""


def parse_math(norm: str) -> Reading | None:
    """A normalized answer or gold as a ``Reading``; None when it is empty or cannot be read at all."""
    return read(norm)


def judge(gold: Reading, answer_norm: str, options: CompareOptions) -> Verdict:
    """Compare a parsed gold with one normalized answer; ``method`` names the rule that decided."""
    answer = read(answer_norm)
    if answer is None:
        return Verdict(False, "unparseable", "answer could not be parsed", _show(gold.value), "")
    if gold.is_text or answer.is_text:
        same = _text(gold.value) == _text(answer.value)
        reason = "" if same else "not equal (compared as text)"
        return Verdict(same, "text", reason, _show(gold.value), _show(answer.value))
    gold_value, answer_value = _same_case(gold, answer)
    try:
        answer_value = _listed_in_order(gold_value, answer_value, answer_norm)
        gold_value = _listed_in_order(answer_value, gold_value, gold.text)
        if gold.complex_unit:  # "i is the imaginary unit where the gold is complex"
            gold_value, answer_value = with_imaginary_unit(gold_value), with_imaginary_unit(answer_value)
        same, method = equivalent(gold_value, answer_value, options)
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:  # a rule that cannot handle these objects is not sure: math-verify decides
        same, method = _math_verify(gold_value, answer_value), f"math_verify (after {type(exc).__name__})"
    if not same and _rounds_to_gold(gold.text, answer_value):
        same, method = True, "rounded_gold"
    if same and not reads_everything(answer, answer_norm):
        return Verdict(
            False, "partial_parse", "not equal (only part of the answer could be read)", _show(gold_value), ""
        )
    if gold.how == "generous" or answer.how == "generous":
        method += " (generous parse)"
    return Verdict(same, method, "" if same else "not equal", _show(gold_value), _show(answer_value))


def _rounds_to_gold(gold_text: str, answer: Any) -> bool:
    """A decimal gold facing an exact answer no terminating decimal equals (``4\\pi`` for 12.57): see
    ``numeric.gold_is_a_rounding``, which decides plain fractions on the fast path."""
    gold = parse_simple(gold_text)
    if gold is None:
        return False
    if isinstance(answer, sympy.Eq):
        answer = _assigned_value(answer)  # "A = 4\\pi"
    if not _is_number(answer) or answer.has(sympy.Float) or answer.is_real is not True:
        return False
    if answer.is_Rational:
        value = Fraction(int(answer.p), int(answer.q))
        return never_terminates(value) and gold_is_a_rounding(gold, value)
    if answer.is_rational is not False:
        return False  # not known to be irrational (``\\log_8 2`` is 1/3)
    return gold_is_a_rounding(gold, Fraction(str(sympy.N(answer, _PRECISION))), cut_off=False)


def _same_case(gold: Reading, answer: Reading) -> tuple[Any, Any]:
    """Both values with their letters cased alike: the LaTeX grammar lower-cases every name (``1.5x+C`` has a
    ``c``) and ``lite`` keeps it (``C``), so facing a LaTeX reading a lite reading's names are lower-cased too,
    unless that would merge two of its names (``A`` and ``a``)."""
    if (gold.how == "lite") == (answer.how == "lite"):
        return gold.value, answer.value
    if gold.how == "lite":
        return _lowered(gold), answer.value
    return gold.value, _lowered(answer)


def _lowered(reading: Reading) -> Any:
    symbols: set[Any] = getattr(reading.value, "free_symbols", set())
    upper = {symbol for symbol in symbols if isinstance(symbol, sympy.Symbol) and symbol.name != symbol.name.lower()}
    if not upper or len({symbol.name.lower() for symbol in symbols}) != len(symbols):
        return reading.value
    return reading.value.xreplace(
        {symbol: sympy.Symbol(symbol.name.lower(), **symbol.assumptions0) for symbol in upper}
    )


def _listed_in_order(other: Any, listed: Any, listed_text: str) -> Any:
    """A bare list (``1,3``, ``x=1,y=2``) facing a tuple (``(1,3)``) is read in the order written, as a tuple.

    Parsed alone, a bare list is a set and its order is lost; against an ordered pair (or
    the open interval the same notation denotes) the order is the answer.
    """
    if not isinstance(listed, sympy.FiniteSet) or not listed_text or listed_text[0] in "([{\\":
        return listed
    if not (isinstance(other, sympy.Tuple) or _open_interval(other)):
        return listed
    reread = read(f"({listed_text})")
    ordered = reread.value if reread is not None else None
    return ordered if isinstance(ordered, sympy.Tuple) or _open_interval(ordered) else listed


def _open_interval(x: Any) -> bool:
    return isinstance(x, sympy.Interval) and bool(x.left_open and x.right_open)


def equivalent(gold: Any, answer: Any, options: CompareOptions) -> tuple[bool, str]:
    """Whether two parsed objects are the same mathematical answer, and which rule decided."""
    if _undefined(gold) or _undefined(answer):
        return False, "undefined"  # zoo, nan: "1/0" is not equal to "2/0"
    gold, answer = _evaluated(gold), _evaluated(answer)
    if gold == answer:
        return True, "structural"
    if options.equation_as_value and isinstance(gold, sympy.Eq) != isinstance(answer, sympy.Eq):
        gold_value, answer_value = _assigned_value(gold), _assigned_value(answer)
        listed = gold if gold_value is None else answer
        if (gold_value is not None) != (answer_value is not None) and _common_value(listed) is None:
            return equivalent(
                gold if gold_value is None else gold_value, answer if answer_value is None else answer_value, options
            )
    if options.equation_as_value and _is_expr(gold) != _is_expr(answer):
        gold_common, answer_common = _common_value(gold), _common_value(answer)
        if (gold_common is None) != (answer_common is None):  # "x=y=5" (x=5, y=5) states the value 5
            return equivalent(
                gold if gold_common is None else gold_common,
                answer if answer_common is None else answer_common,
                options,
            )
    if _is_number(gold) and _is_number(answer):
        return _numbers_equal(gold, answer, options.tolerance), "numeric"
    if isinstance(gold, sympy.Eq) and isinstance(answer, sympy.Eq):
        return _equations_equal(gold, answer, options), "equation"
    if _is_relational(gold) or _is_relational(answer):
        return _as_set_equal(gold, answer, options)
    if isinstance(gold, sympy.Set) and isinstance(answer, sympy.Set):
        gold, answer = _roots_named_alike(gold, answer), _roots_named_alike(answer, gold)
        return _sets_equal(gold, answer, options), "set"
    if _is_vector(gold) and isinstance(answer, sympy.Tuple | sympy.Interval):
        return _sequence_equal(list(gold), _tuple_args(answer), options), "tuple"
    if isinstance(gold, sympy.Tuple | sympy.Interval) and _is_vector(answer):
        return _sequence_equal(_tuple_args(gold), list(answer), options), "tuple"
    if isinstance(gold, sympy.Tuple) and isinstance(answer, sympy.Tuple | sympy.Interval):
        return _sequence_equal(gold.args, _tuple_args(answer), options), "tuple"
    if isinstance(gold, sympy.Interval) and isinstance(answer, sympy.Tuple):
        return _sequence_equal(_tuple_args(gold), answer.args, options), "tuple"
    if isinstance(gold, MatrixBase) and isinstance(answer, MatrixBase):
        return _matrices_equal(gold, answer, options), "matrix"
    if _is_expr(gold) and _is_expr(answer):
        return _expressions_equal(gold, answer, options)
    return _math_verify(gold, answer), "math_verify"


def _math_verify(gold: Any, answer: Any) -> bool:
    """math-verify's verdict; where even it cannot compare the two objects, they are not shown equal."""
    try:
        return bool(verify(gold, answer, timeout_seconds=None))
    except (RecursionError, MemoryError):
        raise
    except Exception:
        return False


def _undefined(x: Any) -> bool:
    try:
        return bool(isinstance(x, sympy.Basic) and x.has(sympy.zoo, sympy.nan))
    except Exception:
        return False


def _evaluated(x: Any) -> Any:
    """Matrix sums, products and scalar multiples as explicit matrices: ``2\\begin{pmatrix}3\\\\-4\\end{pmatrix}``."""
    if isinstance(x, sympy.MatrixExpr) or (
        isinstance(x, sympy.Basic) and not isinstance(x, MatrixBase) and x.has(sympy.MatrixBase)
    ):
        try:
            done = x.doit()
        except Exception:
            return x
        if isinstance(done, sympy.MatrixExpr) and not isinstance(done, MatrixBase):
            try:
                return done.as_explicit()
            except Exception:
                return done
        return done
    return x


# ---------------------------------------------------------------------------
# numbers
# ---------------------------------------------------------------------------


def _is_number(x: Any) -> bool:
    return isinstance(x, sympy.Expr) and not x.free_symbols and bool(x.is_number)


def _numbers_equal(gold: sympy.Expr, answer: sympy.Expr, tol: Tolerance) -> bool:
    if gold.has(sympy.zoo, sympy.nan) or answer.has(sympy.zoo, sympy.nan):
        return False
    if gold.is_infinite or answer.is_infinite:
        return bool(sympy.simplify(gold - answer) == 0) if gold.is_infinite and answer.is_infinite else False
    g_value, a_value = sympy.N(gold, _PRECISION), sympy.N(answer, _PRECISION)
    inexact = gold.has(sympy.Float) or answer.has(sympy.Float) or _is_percent(gold) or _is_percent(answer)
    if inexact:
        g, a = complex(g_value), complex(a_value)
        return values_close(g.real, a.real, tol) and values_close(g.imag, a.imag, tol)
    # Both exact: compare at 60 significant digits, relative to their size (never absolute:
    # 2^-99 and 2^-98 differ by a factor of two however small both are).
    diff = abs(sympy.N(gold - answer, _PRECISION))
    scale = max(abs(g_value), abs(a_value))
    if diff == 0 or (scale != 0 and diff <= scale * sympy.Float("1e-45")):
        return True
    if diff > scale * sympy.Float("1e-30"):
        return False
    return bool(sympy.simplify(gold - answer) == 0)


def _is_percent(x: sympy.Expr) -> bool:
    return any(isinstance(a, sympy.Rational) and a == sympy.Rational(1, 100) for a in sympy.preorder_traversal(x))


def _expressions_equal(gold: sympy.Expr, answer: sympy.Expr, options: CompareOptions) -> tuple[bool, str]:
    """Cheap certain checks first: expansion, then evaluation at fixed points; then ``simplify``; else math-verify."""
    diff = gold - answer
    if sympy.expand(diff) == 0:
        return True, "symbolic"
    if gold.has(sympy.Float) or answer.has(sympy.Float):
        return _math_verify(gold, answer), "math_verify"
    samples, gold_values, answer_values = _sample_values(diff), _sample_values(gold), _sample_values(answer)
    if samples is not None and gold_values is not None and answer_values is not None:
        scale = [max(abs(g), abs(a), 1.0) for g, a in zip(gold_values, answer_values, strict=True)]
        if all(abs(d) <= 1e-12 * s for d, s in zip(samples, scale, strict=True)):
            return True, "symbolic"
        if any(abs(d) > 1e-9 * s for d, s in zip(samples, scale, strict=True)):
            return False, "symbolic"
    if sympy.simplify(diff) == 0:
        return True, "symbolic"
    return _math_verify(gold, answer), "math_verify"


_POINTS = (
    (sympy.Rational(7, 13), sympy.Rational(11, 17), sympy.Rational(5, 19)),
    (sympy.Rational(23, 7), sympy.Rational(-13, 11), sympy.Rational(17, 3)),
    (sympy.Rational(-31, 29), sympy.Rational(37, 23), sympy.Rational(41, 43)),
)
"""Fixed, 'random-looking' rational points: deterministic verdicts, and a nonzero polynomial of
modest degree vanishing at all three is vanishingly unlikely."""


def _sample_values(expr: sympy.Expr) -> list[complex] | None:
    """``expr`` evaluated at the sample points (symbols in sorted order), or None when it cannot be."""
    symbols = sorted(expr.free_symbols, key=str)
    if len(symbols) > len(_POINTS[0]):
        return None
    values = []
    for point in _POINTS:
        try:
            value = complex(expr.xreplace(dict(zip(symbols, point, strict=False))).evalf(30))
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        if value != value or abs(value) == float("inf"):  # nan / inf: a pole at this point
            return None
        values.append(value)
    return values


def _is_expr(x: Any) -> bool:
    return isinstance(x, sympy.Expr)


# ---------------------------------------------------------------------------
# equations and inequalities
# ---------------------------------------------------------------------------


def _assigned_value(x: Any) -> Any:
    """``x = 3`` -> ``3``, ``f(x) = x^2`` -> ``x^2``: the value assigned to a name, else None."""
    if not isinstance(x, sympy.Eq):
        return None
    if isinstance(x.lhs, sympy.Symbol) and x.lhs not in x.rhs.free_symbols:
        return x.rhs
    if isinstance(x.lhs, AppliedUndef) and not x.rhs.has(x.lhs.func):
        return x.rhs
    return None


def _common_value(x: Any) -> Any:
    """The one value a list of assignments gives every name (``x=5, y=5``), else None."""
    if not isinstance(x, sympy.FiniteSet | sympy.Tuple) or len(x.args) < 2:
        return None
    values = {_assigned_value(item) if isinstance(item, sympy.Eq) else None for item in x.args}
    if len(values) != 1 or None in values:
        return None
    return values.pop()


def _roots_named_alike(indexed: Any, named: Any) -> Any:
    """``x_1 = 2, x_2 = 3`` facing ``x = 2, x = 3``: the numbered names are the roots of that one name, renamed
    to it; anything else is returned as it is (``x_1, x_2`` facing ``x_1, x_2`` stay two unknowns)."""
    names = _assigned_names(named)
    if names is None or len(set(names)) != 1:
        return indexed
    own = _assigned_names(indexed)
    name = names[0]
    if own is None or len(set(own)) != len(own):
        return indexed
    if not all(re.fullmatch(rf"{re.escape(name.name)}_\{{?\d+\}}?", symbol.name) for symbol in own):
        return indexed
    return sympy.FiniteSet(*(sympy.Eq(name, item.rhs) for item in indexed.args))


def _assigned_names(x: Any) -> list[sympy.Symbol] | None:
    """The names a set of assignments (``x = 2, y = 3``) assigns, in order, or None when it is something else."""
    if not isinstance(x, sympy.FiniteSet) or len(x.args) < 2:
        return None
    if not all(isinstance(item, sympy.Eq) and isinstance(item.lhs, sympy.Symbol) for item in x.args):
        return None
    return [item.lhs for item in x.args]


def _equations_equal(gold: sympy.Eq, answer: sympy.Eq, options: CompareOptions) -> bool:
    """Same solution set: ``lhs - rhs`` of one is a nonzero constant multiple of the other's.

    An equation whose right side is not an expression (``n = \\{1,2,3\\}``, ``D = (0,1)``)
    is an assignment: the names must match and the values be equivalent.
    """
    if not all(isinstance(side, sympy.Expr) for side in (gold.lhs, gold.rhs, answer.lhs, answer.rhs)):
        return bool(gold.lhs == answer.lhs) and equivalent(gold.rhs, answer.rhs, options)[0]
    g = sympy.expand(gold.lhs - gold.rhs)
    a = sympy.expand(answer.lhs - answer.rhs)
    if g == 0 or a == 0:
        return bool(g == a)
    if g.free_symbols != a.free_symbols:
        return False
    g_values, a_values = _sample_values(g), _sample_values(a)
    if g_values is not None and a_values is not None and all(abs(v) > 1e-12 for v in a_values):
        ratios = [gv / av for gv, av in zip(g_values, a_values, strict=True)]
        if any(abs(r - ratios[0]) > 1e-9 * max(1.0, abs(ratios[0])) for r in ratios):
            return False
        if abs(ratios[0]) > 1e-12:
            return True
    ratio = sympy.simplify(g / a)
    return bool(ratio.free_symbols == set() and ratio != 0 and ratio.is_finite)


def _is_relational(x: Any) -> bool:
    return isinstance(x, sympy.Rel | sympy.And | sympy.Or) and not isinstance(x, sympy.Eq)


def _as_set(x: Any) -> Any:
    if isinstance(x, sympy.Set):
        return x
    if not isinstance(x, sympy.Rel | sympy.And | sympy.Or):
        return None
    if len(x.free_symbols) == 1:
        try:
            found = x.as_set()
        except (NotImplementedError, TypeError, ValueError):
            found = None
        if found is not None and not found.has(sympy.ConditionSet):
            return found
    return _subject_set(x)


def _subject_set(x: Any) -> Any:
    """``0 < f(x) < 1`` as the interval its subject ``f(x)`` ranges over: the bounds are what is being stated."""
    relations = list(x.args) if isinstance(x, sympy.And) else [x]
    if not all(isinstance(r, sympy.Rel) and not isinstance(r, sympy.Eq | sympy.Ne) for r in relations):
        return None
    subjects = {side for r in relations for side in (r.lhs, r.rhs) if not _is_number(side)}
    if len(subjects) != 1:
        return None
    dummy = sympy.Dummy("t", real=True)
    try:
        return x.xreplace({subjects.pop(): dummy}).as_set()
    except (NotImplementedError, TypeError, ValueError):
        return None


def _as_set_equal(gold: Any, answer: Any, options: CompareOptions) -> tuple[bool, str]:
    gold_set, answer_set = _as_set(gold), _as_set(answer)
    if gold_set is None or answer_set is None:
        return _math_verify(gold, answer), "math_verify"
    if _is_relational(gold) and _is_relational(answer) and gold.free_symbols != answer.free_symbols:
        return False, "inequality"
    return _sets_equal(gold_set, answer_set, options), "inequality"


# ---------------------------------------------------------------------------
# sets, intervals, tuples, matrices
# ---------------------------------------------------------------------------


def _sets_equal(gold: sympy.Set, answer: sympy.Set, options: CompareOptions) -> bool:
    if isinstance(gold, sympy.Interval) and isinstance(answer, sympy.Interval):
        return (
            gold.left_open == answer.left_open
            and gold.right_open == answer.right_open
            and equivalent(gold.start, answer.start, options)[0]
            and equivalent(gold.end, answer.end, options)[0]
        )
    if isinstance(gold, sympy.FiniteSet) and isinstance(answer, sympy.FiniteSet):
        return _unordered_equal(list(gold.args), list(answer.args), options)
    if isinstance(gold, sympy.Union) and isinstance(answer, sympy.Union):
        return _unordered_equal(list(gold.args), list(answer.args), options)
    try:
        return bool(gold.symmetric_difference(answer) == sympy.S.EmptySet)
    except (TypeError, ValueError, NotImplementedError):
        return False


def _unordered_equal(gold: list[Any], answer: list[Any], options: CompareOptions) -> bool:
    """Every gold element matched by exactly one answer element: all required, none extra."""
    if len(gold) != len(answer) or len(gold) > _MAX_SET_SIZE:
        return False
    remaining = list(answer)
    for g in gold:
        for i, a in enumerate(remaining):
            if equivalent(g, a, options)[0]:
                del remaining[i]
                break
        else:
            return False
    return True


def _sequence_equal(gold: Any, answer: Any, options: CompareOptions) -> bool:
    if gold is None or answer is None or len(gold) != len(answer):
        return False
    return all(equivalent(g, a, options)[0] for g, a in zip(gold, answer, strict=True))


def _tuple_args(x: Any) -> tuple[Any, ...] | None:
    """An open interval ``(a, b)`` read as the pair it may also denote (the notation is ambiguous)."""
    if isinstance(x, sympy.Tuple):
        return tuple(x.args)
    if isinstance(x, sympy.Interval) and x.left_open and x.right_open:
        return (x.start, x.end)
    return None


def _is_vector(x: Any) -> bool:
    """A one-column or one-row matrix: the same vector as the tuple of its entries, in order."""
    return isinstance(x, MatrixBase) and 1 in x.shape


def _matrices_equal(gold: MatrixBase, answer: MatrixBase, options: CompareOptions) -> bool:
    if gold.shape != answer.shape:
        return False
    return all(equivalent(g, a, options)[0] for g, a in zip(gold, answer, strict=True))


# ---------------------------------------------------------------------------
# display
# ---------------------------------------------------------------------------


def _text(x: Parsed) -> str:
    return x if isinstance(x, str) else str(x)


def _show(x: Parsed | None, limit: int = 200) -> str:
    if x is None:
        return ""
    try:
        text = x if isinstance(x, str) else sympy.sstr(x)
    except Exception:  # printing huge expressions can itself fail
        return "<unprintable>"
    return text if len(text) <= limit else text[:limit] + "…"
