"""Reading the answer out of a statement: what follows a marker, a last line, a gold written as a sentence.

"Final Answer: The volume of $ABCD$ is 120." states 120; "Réponse: Janeth aura encore
220 $ à payer d'ici 12 mois" states 220; "每份应该是 (\\frac{2}{5}) 吨" states 2/5. The rule,
in order: a statement that opens with math is that math (several spans joined only by
list words are one listed answer); a statement without prose is itself; in prose, the
math right after the last copula ("is", "=", "est", "是") is the answer; else the first
piece of math in it; a sentence with no math at all is returned as it is (a word answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifier_server.kinds.math.boxes import is_list_gap
from verifier_server.kinds.math.markers import last_copula

_SPAN_RE = re.compile(
    r"\$\$(?P<d>.+?)\$\$|(?<!\\)\$(?P<i>(?!\d)(?:\\\$|[^$\n])+?|\d(?:\\\$|[^$\n])*?[^\s$\\]|\d)(?<!\\)\$(?!\d)"
    r"|\\\((?P<p>.+?)\\\)|\\\[(?P<b>.+?)\\\]",
    re.DOTALL,
)
"""Math spans. A ``$`` that is a price is no delimiter: one followed by a digit never closes inline math, and
one opening on a digit needs a closing ``$`` right after the math (``$5 an hour, leaving him with $\\$20$``)."""
_LETTER = r"A-Za-zÀ-ÖØ-öø-ÿ"
_SCRIPT_RE = re.compile(r"[\u0600-\u06ff\u0900-\u097f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u0400-\u04ff]")
"""Scripts written without Latin letters (Arabic, Devanagari, kana, CJK, Hangul, Cyrillic): always prose."""
_WORDS_RE = re.compile(rf"(?<![\\{_LETTER}])[{_LETTER}]{{2,}}[\s,;]+[{_LETTER}]{{2,}}(?![{_LETTER}])")
_SENTENCE_END_RE = re.compile(r"\.(?!\d)\s|\.$|[。！？!?](?:\s|$)")
_DECORATION = " \t\r\n*_#>:：\"'“”«»`"


@dataclass(frozen=True, slots=True)
class Span:
    """A math span (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) and its place in the text."""

    content: str
    start: int
    end: int


def math_spans(text: str) -> list[Span]:
    spans = []
    for match in _SPAN_RE.finditer(text):
        content = next(group for group in match.groups() if group is not None)
        spans.append(Span(content.strip(), match.start(), match.end()))
    return spans


def strip_math_delims(text: str) -> str:
    text = text.strip()
    for open_, close in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if text.startswith(open_) and text.endswith(close) and len(text) >= len(open_) + len(close):
            return text[len(open_) : len(text) - len(close)].strip()
    return text


def is_prose(text: str) -> bool:
    """Words outside math: two Latin words in a row, or any letter of a non-Latin script."""
    outside = _SPAN_RE.sub(" ", text)
    outside = re.sub(r"\\(?:text|textbf|mathrm|mbox)\s*\{[^{}]*\}", " ", outside)
    return bool(_WORDS_RE.search(outside) or _SCRIPT_RE.search(outside))


_LEADING_DECORATION_RE = re.compile(r'^(?:[\s*_#>:："\'“”«»`]|\\["\'])+')


def statement_answer(rest: str) -> str:
    """The answer stated by the text right after a marker (up to its sentence end).

    A hedge in the same sentence (``The answer is $3$ (or 4).``, ``3, or maybe 4``) adds its value,
    so the answer is the list of both: one of two values is not the answer, and a reward that took
    the first would teach a policy to hedge."""
    rest = _LEADING_DECORATION_RE.sub("", rest)
    line = rest.split("\n", 1)[0]
    end = _SENTENCE_END_RE.search(line)
    sentence = line[: end.start()] if end else line
    opening = _opening_spans(rest)
    answer = opening if opening is not None else reduce_sentence(sentence)
    hedge = _HEDGE_RE.search(sentence)
    if hedge is None:
        return answer
    alternative = strip_math_delims(hedge.group("alt")).strip()
    offered = [item.strip() for item in answer.split(",")]
    if hedge.group() in answer or alternative in offered or _same_number(alternative, answer):
        return answer  # "$3$, or possibly $4$" already lists both; "12, or 12.0" is one value
    return f"{answer}, {alternative}"


def _same_number(a: str, b: str) -> bool:
    try:
        return float(a.replace(",", "")) == float(b.replace(",", ""))
    except ValueError:
        return False


_HEDGE_RE = re.compile(
    r"(?:\(|[,;])\s*or\s+(?:else\s+|maybe\s+|possibly\s+|perhaps\s+|alternatively\s+)?"
    r"(?P<alt>\$[^$\n]{1,200}\$|\\\((?:(?!\\\)).){1,200}\\\)|[+-]?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?![\w.]))"
)
"""``(or 4``, ``, or maybe $4$``: a second value offered beside the answer. ``or equivalently``, ``or about``
and other words before the value are not a hedge and do not match (only the hedging adverbs may stand there)."""


def reduce_sentence(sentence: str, *, labelled: bool = True) -> str:
    """The answer a single sentence states (see the module docstring).

    Without a copula, a *labelled* statement ("Réponse: 220 $ à payer d'ici 12 mois")
    gives its first piece of math (the label introduces it); an unlabelled sentence
    (a last line) its last, where a conclusion stands.
    """
    text = _LEADING_DECORATION_RE.sub("", sentence.strip()).rstrip(".。").strip().strip(_DECORATION)
    if not is_prose(text):
        return strip_math_delims(text)
    opening = _opening_spans(text)
    if opening is not None and not is_prose(_SPAN_RE.sub(" ", text)):
        return opening  # "$1$ and $2$ and $3$": spans joined by list words only
    copula = _copula_outside_math(text)
    if copula is not None:
        found = _first_math(text[copula:])
        if found is not None:
            return found
    found = _first_math(text) if labelled else _last_math(text)
    if found is not None:
        return found
    if copula is not None:
        tail = text[copula:].strip(_DECORATION + ".")
        if tail and len(tail.split()) <= 3 and not _SCRIPT_RE.search(tail):
            return tail  # a word answer: "the winner is Evelyn"
    return text


def last_sentence_with_math(line: str) -> str | None:
    """The last sentence of ``line`` that holds math (a span or a digit), reduced to its answer."""
    sentences = [part for part in _SENTENCE_SPLIT_RE.split(line) if part.strip()]
    for sentence in reversed(sentences):
        if math_spans(sentence) or re.search(r"\d", sentence):
            return reduce_sentence(sentence, labelled=False)
    return None


_SENTENCE_SPLIT_RE = re.compile(r"(?<=[^\d\s][.!?])\s+|(?<=\d[.!?])\s+(?=\D)|(?<=[。！？])|(?<=\$\$|\\\])\s+(?=[A-Z])")


def _opening_spans(rest: str) -> str | None:
    """When ``rest`` opens with a math span: it, joined with the spans listed right after it."""
    spans = math_spans(rest[:4000])
    if not spans or spans[0].start != 0:
        return None
    group = [spans[0]]
    for span in spans[1:]:
        if not is_list_gap(rest[group[-1].end : span.start]) or not rest[group[-1].end : span.start].strip():
            break
        group.append(span)
    return ", ".join(span.content for span in group if span.content)


def _copula_outside_math(text: str) -> int | None:
    """Offset just after the last copula that is not inside a math span."""
    masked = _SPAN_RE.sub(lambda m: "$" + " " * (len(m.group()) - 2) + "$", text)
    match = last_copula(masked)
    return match.end() if match else None


_TOKEN_RE = re.compile(
    rf"(?P<cmd>\\[A-Za-z]+)|(?P<esc>\\.)|(?P<num>\d+(?:[.,]\d+)*)|(?P<op>[{{}}()\[\]^_+\-*/=<>|!%])"
    rf"|(?P<word>[{_LETTER}]+['’][{_LETTER}]+|[{_LETTER}]{{2,}})|(?P<letter>[A-Za-z])|(?P<space>[ \t]+)|(?P<other>.)",
    re.DOTALL,
)
_MATH_TOKENS = frozenset({"cmd", "esc", "num", "op", "letter", "space"})


def _first_math(text: str) -> str | None:
    """The first math span or run of math tokens holding a digit or a command."""
    candidates = _math_candidates(text)
    return min(candidates)[1] if candidates else None


def _last_math(text: str) -> str | None:
    candidates = _math_candidates(text)
    return max(candidates)[1] if candidates else None


def _math_candidates(text: str) -> list[tuple[int, str]]:
    spans = math_spans(text)
    runs = _math_runs(_SPAN_RE.sub(lambda m: "\x00" * len(m.group()), text))
    return [(span.start, span.content) for span in spans if span.content] + runs


def _math_runs(text: str) -> list[tuple[int, str]]:
    runs: list[tuple[int, str]] = []
    start: int | None = None
    parts: list[str] = []
    for match in _TOKEN_RE.finditer(text):
        token = match.group()
        is_math = match.lastgroup in _MATH_TOKENS and not token.startswith(("\\text", "\\$"))
        if is_math:
            if start is None:
                start = match.start()
            parts.append(token)
            continue
        if start is not None:
            runs.append((start, "".join(parts)))
        start, parts = None, []
    if start is not None:
        runs.append((start, "".join(parts)))
    return [(offset, cleaned) for offset, run in runs if (cleaned := _clean_run(run))]


def _clean_run(run: str) -> str:
    run = run.strip(" \t=,:")
    if not re.search(r"\d|\\[A-Za-z]", run):
        return ""
    run = _balance(run)
    if run.startswith("(") and run.endswith(")") and "=" in run and _balanced(run[1:-1]):
        run = run[1:-1].strip()
    return run.strip(" \t=,:")


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def _balance(run: str) -> str:
    """Cut a run at its first bracket that never closes (``\\text{`` cut the math off mid-group)."""
    stack: list[int] = []
    pairs = {")": "(", "}": "{", "]": "["}
    for i, ch in enumerate(run):
        if ch in "({[":
            stack.append(i)
        elif ch in pairs:
            if not stack or run[stack[-1]] != pairs[ch]:
                return run[:i].rstrip() if not stack else run[: stack[0]].rstrip()
            stack.pop()
    return run[: stack[0]].rstrip() if stack else run
