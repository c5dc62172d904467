"""A small, fast parser for the everyday subset of answer LaTeX; math-verify parses the rest.

math-verify's ANTLR grammar costs milliseconds per answer (full-context prediction),
which dominated worker time on GRPO batches. Most non-trivial answers are
polynomials, fractions, radicals, powers, line equations and simple intervals, and
a recursive-descent parser handles those in tens of microseconds. It returns None
for anything outside its subset (decimals, ``e``, ``i``, words, functions,
matrices, sets), so semantics stay math-verify's there. Symbols are created
``real=True``, as math-verify creates them, so objects from both parsers compare.
"""

from __future__ import annotations

import re
from typing import Any

import sympy

_TOKEN_RE = re.compile(
    r"\s*(?:(?P<num>\d+)|(?P<cmd>\\(?:frac|sqrt|pi|cdot|times|infty))|(?P<var>[a-zA-Z])|(?P<op>[-+*^(){}\[\],=]))"
)
_ALLOWED_RE = re.compile(r"^(?:\\(?:frac|sqrt|pi|cdot|times|infty)|[0-9a-zA-Z+\-*^(){}\[\],=\s])*$")
_EXCLUDED_LETTERS = frozenset("eiEI")
_WORD_RE = re.compile(r"(?<!\\)[a-zA-Z]{3,}")
_MAX_LENGTH = 200


class _Unsupported(Exception):
    """Outside the subset: fall back to math-verify."""


def parse_lite(text: str) -> Any | None:
    """A sympy object for ``text`` if it is in the subset, else None."""
    if len(text) > _MAX_LENGTH or not _ALLOWED_RE.match(text) or "/" in text:
        return None
    stripped = re.sub(r"\\(?:frac|sqrt|pi|cdot|times|infty)", "", text)
    if _WORD_RE.search(stripped) or any(ch in _EXCLUDED_LETTERS for ch in stripped):
        return None
    try:
        tokens = _tokenize(text)
        return _Parser(tokens).top()
    except (_Unsupported, RecursionError, ZeroDivisionError, TypeError, ValueError):
        return None


def _tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(text):
        match = _TOKEN_RE.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise _Unsupported(text[position:])
        tokens.append(match.group(match.lastgroup or "op"))
        position = match.end()
    return tokens


_STARTS_FACTOR = re.compile(r"^(?:\d+|[a-zA-Z]|\(|\\frac|\\sqrt|\\pi|\\infty)$")


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Unsupported(f"expected {expected!r}, got {token!r}")
        self.position += 1
        return token

    def top(self) -> Any:
        if self.peek() in ("[", "(") and "," in self.tokens:
            return self.interval()
        left = self.expr()
        if self.peek() == "=":
            self.take("=")
            right = self.expr()
            result: Any = sympy.Eq(left, right)
        else:
            result = left
        if self.peek() is not None:
            raise _Unsupported("trailing tokens")
        return result

    def interval(self) -> Any:
        opening = self.take()
        start = self.expr()
        self.take(",")
        end = self.expr()
        closing = self.take()
        if closing not in (")", "]") or self.peek() is not None:
            raise _Unsupported("not an interval")
        if not (start.is_number and end.is_number) or not bool(start < end):
            raise _Unsupported("interval ends must be increasing numbers")
        return sympy.Interval(start, end, left_open=opening == "(", right_open=closing == ")")

    def expr(self) -> Any:
        value = self.term()
        while self.peek() in ("+", "-"):
            sign = 1 if self.take() == "+" else -1
            value = value + sign * self.term()
        return value

    def term(self) -> Any:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "\\cdot", "\\times"):
                self.take()
                value = value * self.unary()
            elif token is not None and _STARTS_FACTOR.match(token):
                value = value * self.power()
            else:
                return value

    def unary(self) -> Any:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        if self.peek() == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Any:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            exponent = self.group() if self.peek() == "{" else self.exponent_token()
            return sympy.Pow(base, exponent)
        return base

    def exponent_token(self) -> Any:
        token = self.take()
        if token.isdigit() and len(token) == 1:  # `x^23` is x^2 * 3 in LaTeX: leave that to math-verify
            return sympy.Integer(token)
        if len(token) == 1 and token.isalpha():
            return sympy.Symbol(token, real=True)
        raise _Unsupported("exponent")

    def group(self) -> Any:
        self.take("{")
        value = self.expr()
        self.take("}")
        return value

    def atom(self) -> Any:
        token = self.take()
        if token.isdigit():
            return sympy.Integer(token)
        if len(token) == 1 and token.isalpha():
            return sympy.Symbol(token, real=True)
        if token == "(":
            value = self.expr()
            self.take(")")
            return value
        if token == "{":
            self.position -= 1
            return self.group()
        if token == "\\pi":
            return sympy.pi
        if token == "\\infty":
            return sympy.oo
        if token == "\\frac":
            return self.group() / self.group()
        if token == "\\sqrt":
            if self.peek() == "[":
                raise _Unsupported("nth root")
            return sympy.sqrt(self.group())
        raise _Unsupported(token)
