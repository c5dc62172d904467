"""Checkers: how an answer is judged right, one self-describing entry each in `CHECKERS`, applied in the server.

A checker judges a stdio program's output against the expected text (`text`) and a returned
value against the expected value (`value`). The text checkers compare returned values
strictly (see `values_equal`); `float` widens every number by its tolerances; `program` is
decided afterwards by the spec's own `check(input, output, expected)` in the sandbox
(checker_program.py). Adding a checker is adding one `Checker` entry here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """What a spec sets for its checker: the float tolerances, and APPS's singleton leniency."""

    rel_tol: float = 1e-6
    abs_tol: float = 1e-6
    unwrap_singleton: bool = False


@dataclass(frozen=True, slots=True)
class Checker:
    """One way of judging answers; every fact about it in one place."""

    name: str
    description: str
    text: Callable[[str, str, CheckOptions], bool]
    """A program's output vs the expected output."""
    value: Callable[[Any, Any, CheckOptions], bool]
    """A returned value (plain data from the sandbox) vs the expected value (the dataset's JSON)."""
    in_sandbox: bool = False
    """Decided afterwards by the spec's checker program (`checker_source`), not by `text`/`value`."""


def exact(output: str, expected: str) -> bool:
    """Byte-for-byte, except a missing or extra final newline (every judge forgives that)."""
    return output.rstrip("\n") == expected.rstrip("\n")


def whitespace(output: str, expected: str) -> bool:
    """Same lines after trimming trailing spaces on each line and blank lines at the end."""
    return _lines(output) == _lines(expected)


def token(output: str, expected: str) -> bool:
    """Same whitespace-separated tokens (the usual competitive-programming judge)."""
    return output.split() == expected.split()


def float_tokens(output: str, expected: str, options: CheckOptions) -> bool:
    """Tokens equal, numeric tokens within tolerance (answers like 0.3333333 vs 0.333333333)."""
    got, want = output.split(), expected.split()
    if len(got) != len(want):
        return False
    return all(_token_close(g, w, options.rel_tol, options.abs_tol) for g, w in zip(got, want, strict=True))


def _token_close(got: str, want: str, rel_tol: float, abs_tol: float) -> bool:
    if got == want:
        return True
    try:
        g, w = float(got), float(want)
    except ValueError:
        return False
    if math.isnan(g) or math.isnan(w):
        return False
    return math.isclose(g, w, rel_tol=rel_tol, abs_tol=abs_tol)


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


@dataclass(frozen=True, slots=True)
class Tolerance:
    """The `float` checker's tolerances, applied to every number inside a returned value."""

    rel: float
    abs: float


def values_equal(got: Any, expected: Any, tolerance: Tolerance | None = None, unwrap_singleton: bool = False) -> bool:
    """Function-call results: plain data from the sandbox vs the dataset's JSON, strictly.

    Strict means: `[7]` is not `7`; `True` is not `1` (a bool equals only a bool); a string
    equals only the same string. Two representation gaps of JSON are not errors of the
    candidate, so they are bridged: a tuple equals the list of its items (JSON has no
    tuples), and numbers compare by value (`1 == 1.0`: JSON writers disagree on `1.0`).
    `tolerance` (the float checker) widens number equality; `unwrap_singleton` lets an
    expected one-element list `[x]` also accept `x`, the convention of APPS's harness.
    """
    if _equal(got, expected, tolerance):
        return True
    return (
        unwrap_singleton and isinstance(expected, list) and len(expected) == 1 and _equal(got, expected[0], tolerance)
    )


def _equal(a: Any, b: Any, tolerance: Tolerance | None) -> bool:
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y, tolerance) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], tolerance) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        if tolerance is not None:
            try:
                return math.isclose(a, b, rel_tol=tolerance.rel, abs_tol=tolerance.abs)
            except OverflowError:  # an int beyond float range: only exact equality is meaningful
                return a == b
        return a == b
    return type(a) is type(b) and a == b


def _text(compare: Callable[[str, str], bool]) -> Callable[[str, str, CheckOptions], bool]:
    return lambda output, expected, _options: compare(output, expected)


def _strict(got: Any, expected: Any, options: CheckOptions) -> bool:
    return values_equal(got, expected, None, options.unwrap_singleton)


def _close(got: Any, expected: Any, options: CheckOptions) -> bool:
    return values_equal(got, expected, Tolerance(options.rel_tol, options.abs_tol), options.unwrap_singleton)


def _later(_got: Any, _expected: Any, _options: CheckOptions) -> bool:
    return True  # provisional: the checker program decides (checker_program.py)


CHECKERS: dict[str, Checker] = {
    checker.name: checker
    for checker in (
        Checker("exact", "output byte for byte (a final newline aside); values strictly", _text(exact), _strict),
        Checker(
            "whitespace",
            "the same lines, trailing spaces and blank lines at the end aside; values strictly",
            _text(whitespace),
            _strict,
        ),
        Checker("token", "the same whitespace-separated tokens; values strictly", _text(token), _strict),
        Checker(
            "float",
            "tokens equal, numbers within float_rel_tol / float_abs_tol; the same for every number in a value",
            float_tokens,
            _close,
        ),
        Checker(
            "program",
            "the spec's checker_source defines check(input, output, expected), run in the sandbox",
            _later,
            _later,
            in_sandbox=True,
        ),
    )
}
