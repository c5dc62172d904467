"""Comparing a program's output with the expected output, in the server (outside the candidate's reach)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Checker = Callable[[str, str], bool]


def exact(output: str, expected: str) -> bool:
    """Byte-for-byte, except a missing or extra final newline (every judge forgives that)."""
    return output.rstrip("\n") == expected.rstrip("\n")


def whitespace(output: str, expected: str) -> bool:
    """Same lines after trimming trailing spaces on each line and blank lines at the end."""
    return _lines(output) == _lines(expected)


def token(output: str, expected: str) -> bool:
    """Same whitespace-separated tokens (the usual competitive-programming judge)."""
    return output.split() == expected.split()


def make_float(rel_tol: float, abs_tol: float) -> Checker:
    """Tokens equal, numeric tokens within tolerance (answers like 0.3333333 vs 0.333333333)."""

    def check(output: str, expected: str) -> bool:
        got, want = output.split(), expected.split()
        if len(got) != len(want):
            return False
        return all(_token_close(g, w, rel_tol, abs_tol) for g, w in zip(got, want, strict=True))

    return check


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


def builtin_checker(name: str, rel_tol: float = 1e-6, abs_tol: float = 1e-6) -> Checker:
    if name == "exact":
        return exact
    if name == "whitespace":
        return whitespace
    if name == "token":
        return token
    if name == "float":
        return make_float(rel_tol, abs_tol)
    raise KeyError(name)


def values_equal(got: Any, expected: Any, rel_tol: float | None) -> bool:
    """Function-call results: plain data from the sandbox vs the dataset's JSON.

    Tuples compare as lists (JSON has no tuples); APPS wraps many expected returns in a
    one-element list, so `[x]` also accepts `x`, as APPS's own harness does.
    """
    if _equal(got, expected, rel_tol):
        return True
    return isinstance(expected, list) and len(expected) == 1 and _equal(got, expected[0], rel_tol)


def _equal(a: Any, b: Any, rel_tol: float | None) -> bool:
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y, rel_tol) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], rel_tol) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if rel_tol is not None and isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=rel_tol, abs_tol=rel_tol)
    return (type(a) is type(b) and a == b) or (isinstance(a, int | float) and isinstance(b, int | float) and a == b)
