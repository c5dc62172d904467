"""Warming a math worker: parse and compare a spread of typical answers once, before real work.

ANTLR's LaTeX parser builds its prediction tables lazily and sympy fills caches on
first use, so a cold worker is several times slower for its first few hundred
answers. Warming once in the forkserver (``preload``) means every worker forked
from it, including replacements for killed ones, starts warm.
"""

from __future__ import annotations

from verifier_server.kinds.math.compare import CompareOptions, judge, parse_math

_CORPUS: tuple[tuple[str, str], ...] = (
    ("\\frac{3}{4}", "\\frac{6}{8}"),
    ("x^2+2x+1", "(x+1)^2"),
    ("x^2+4x+4", "(x-2)^2"),
    ("3\\sqrt{2}", "\\sqrt{18}"),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"),
    ("[1,5)", "(1,5)"),
    ("(-\\infty,2]\\cup[3,\\infty)", "(-\\infty,2]\\cup[3,\\infty)"),
    ("y=2x+3", "2x-y+3=0"),
    ("y=2x+3", "y=3x+2"),
    ("x>2", "(2,\\infty)"),
    ("\\{1,2,3\\}", "\\{3,2,1\\}"),
    ("(1,2)", "(2,1)"),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{bmatrix}1&2\\\\3&4\\end{bmatrix}"),
    ("3+4i", "4i+3"),
    ("\\frac{\\pi}{4}", "\\frac{\\pi}{3}"),
    ("2^{10}", "1024"),
    ("\\frac{1}{2^{9}}", "2^{-9}"),
    ("e^{2}", "e^2"),
    ("\\sin\\left(\\frac{\\pi}{6}\\right)", "\\frac{1}{2}"),
    ("\\log_{2} 8", "3"),
    ("\\binom{5}{2}", "10"),
    ("\\frac{x+1}{x-1}", "\\frac{x-1}{x+1}"),
    ("a+b", "b+a"),
    ("\\infty", "-\\infty"),
)


def warm_up() -> None:
    """Run every corpus pair through the real parse and compare path; errors are irrelevant here."""
    options = CompareOptions()
    for gold_text, answer_text in _CORPUS:
        try:
            gold = parse_math(gold_text)
            if gold is not None:
                judge(gold, answer_text, options)
        except Exception:
            continue
