"""Finding the final answer in a completion (and the answer inside a gold solution).

Pure string scanning, linear in the input, no sympy: it runs on the server's event
loop for every completion so that identical answers written in different reasoning
can be deduplicated *before* any expensive work. Strategies are tried in priority
order and the first that finds something wins; inside a strategy the *last*
occurrence counts, because models restate intermediate results before concluding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

STRATEGIES: tuple[str, ...] = (
    "boxed",
    "answer_tag",
    "the_answer_is",
    "final_answer",
    "bold",
    "last_line",
    "last_number",
)
"""Every strategy, in the default priority order."""

STRICT_STRATEGIES: tuple[str, ...] = ("boxed", "answer_tag", "the_answer_is", "final_answer")
"""Strategies that read only an explicitly marked final answer (``strict`` mode)."""

_TAIL_CHARS = 4000
"""Heuristic strategies (bold, last line, last number) only look at the tail: the final
answer is at the end, and scanning 100 KB of reasoning for numbers buys nothing."""

_MAX_ANSWER_CHARS = 2000
_MAX_BOX_TRIES = 20
"""Boxes tried from the end: a hostile text with thousands of unclosed boxes must stay linear."""


@dataclass(frozen=True, slots=True)
class Extraction:
    """An answer found in a text and the strategy that found it."""

    text: str
    strategy: str


def extract_answer(text: str, strategies: Sequence[str] = STRATEGIES) -> Extraction | None:
    """The final answer in ``text`` by the first strategy (in ``strategies`` order) that finds one."""
    if not text or not text.strip():
        return None
    for name in strategies:
        found = _STRATEGY_FUNCS[name](text)
        if found is not None and found.strip():
            return Extraction(found.strip()[:_MAX_ANSWER_CHARS], name)
    return None


def extract_gold(text: str) -> str:
    """The answer part of a gold: a boxed answer inside a solution, GSM8K's ``#### 72``, or the text itself."""
    boxed = last_boxed(text)
    if boxed is not None and boxed.strip():
        return boxed.strip()
    if "####" in text:
        return text.rsplit("####", 1)[1].strip()
    tagged = _answer_tag(text)
    if tagged is not None and tagged.strip():
        return tagged.strip()
    return text.strip()


# ---------------------------------------------------------------------------
# boxed
# ---------------------------------------------------------------------------

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces), or None.

    A box whose braces never close (a truncated completion) is skipped in favour of
    an earlier complete one.
    """
    starts = [m.end() for m in _BOX_RE.finditer(text)]
    for start in reversed(starts[-_MAX_BOX_TRIES:]):
        content = _braced(text, start)
        if content is not None:
            return content
        # `\boxed 5` (no braces): take the next token.
        token = re.match(r"([^\s$\\{}]+)", text[start:])
        if token and text[start - 1 : start] != "{":
            return token.group(1)
    return None


def _braced(text: str, start: int) -> str | None:
    """Content of the brace group opening at ``start``; None when it is not a closed group."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, min(len(text), start + _MAX_ANSWER_CHARS)):
        ch = text[i]
        if ch == "{" and text[i - 1 : i] != "\\":
            depth += 1
        elif ch == "}" and text[i - 1 : i] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    return None


# ---------------------------------------------------------------------------
# explicit markers
# ---------------------------------------------------------------------------


def _answer_tag(text: str) -> str | None:
    """The last complete ``<answer>...</answer>``: found with rfind, linear even for hostile input."""
    lowered = text.lower()
    close = lowered.rfind("</answer>")
    if close == -1:
        return None
    open_ = lowered.rfind("<answer>", 0, close)
    if open_ == -1:
        return None
    inner = text[open_ + len("<answer>") : close]
    boxed = last_boxed(inner)
    return boxed if boxed is not None else _strip_math_delims(inner)


_ANSWER_IS_RE = re.compile(
    r"(?:the\s+)?(?:final\s+)?answers?\s+(?:is|are|would\s+be|should\s+be)\s*:?\s*", re.IGNORECASE
)
_FINAL_ANSWER_RE = re.compile(r"final\s+answer\s*[:：]\s*", re.IGNORECASE)


def _the_answer_is(text: str) -> str | None:
    return _after_last(_ANSWER_IS_RE, text)


def _final_answer(text: str) -> str | None:
    return _after_last(_FINAL_ANSWER_RE, text)


def _after_last(pattern: re.Pattern[str], text: str) -> str | None:
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - we want the last match
        pass
    if last is None:
        return None
    rest = text[last.end() : last.end() + _MAX_ANSWER_CHARS]
    boxed = last_boxed(rest)
    if boxed is not None:
        return boxed
    return _first_statement(rest)


def _first_statement(rest: str) -> str:
    """The answer statement after a marker: a math span if it opens one, else up to the sentence end."""
    rest = rest.lstrip()
    for open_, close in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if rest.startswith(open_):
            end = rest.find(close, len(open_))
            if end != -1:
                return rest[len(open_) : end]
    line = rest.split("\n", 1)[0]
    # A period ends the sentence unless it is a decimal point.
    sentence = re.split(r"\.(?!\d)", line, maxsplit=1)[0]
    return _strip_math_delims(sentence)


# ---------------------------------------------------------------------------
# heuristics over the tail
# ---------------------------------------------------------------------------

_BOLD_RE = re.compile(r"\*\*([^*\n]{1,300})\*\*")


def _bold(text: str) -> str | None:
    matches = _BOLD_RE.findall(text[-_TAIL_CHARS:])
    if not matches:
        return None
    inner: str = matches[-1]
    marker = _ANSWER_IS_RE.search(inner) or _FINAL_ANSWER_RE.search(inner)
    if marker is not None:
        inner = inner[marker.end() :]
    return _strip_math_delims(inner.strip().rstrip("."))


_LINE_CHARS = 500
_MATH_SPAN_RE = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]")
_PROSE_RE = re.compile(r"(?<!\\)\b[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")


def _last_line(text: str) -> str | None:
    """The last non-empty line if it reads as math: its last math span, or the line when it is not prose."""
    for line in reversed(text[-_TAIL_CHARS:].splitlines()):
        line = line.strip()[-_LINE_CHARS:]
        if not line:
            continue
        spans = _MATH_SPAN_RE.findall(line)
        if spans:
            return next(part for part in spans[-1] if part)
        if _PROSE_RE.search(line):
            return None
        return _strip_math_delims(line.rstrip("."))
    return None


_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def _last_number(text: str) -> str | None:
    matches = _NUMBER_RE.findall(text[-_TAIL_CHARS:])
    return matches[-1].rstrip(",") if matches else None


def _strip_math_delims(text: str) -> str:
    text = text.strip()
    for open_, close in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(open_) and text.endswith(close) and len(text) >= len(open_) + len(close):
            return text[len(open_) : len(text) - len(close)].strip()
    return text


_STRATEGY_FUNCS: dict[str, Callable[[str], str | None]] = {
    "boxed": last_boxed,
    "answer_tag": _answer_tag,
    "the_answer_is": _the_answer_is,
    "final_answer": _final_answer,
    "bold": _bold,
    "last_line": _last_line,
    "last_number": _last_number,
}
