"""Finding the final answer in a completion (and the answer inside a gold solution).

Pure string scanning, linear in the input, no sympy: it runs on the server's event
loop for every completion so that identical answers written in different reasoning
can be deduplicated *before* any expensive work.

The rules, in order:

1. Only what the reader sees counts: reasoning inside ``<think>…</think>`` is dropped
   (an answer only there is no answer), and so is a next turn the model ran into. A
   completion whose last box is empty, or cut off inside it, has no final answer.
2. *Explicit* markers: a box (several listed boxes are one answer, see ``boxes``),
   ``<answer>`` tags, "the answer is …" and labels such as "Final Answer:" in the
   languages of ``markers``. Among the enabled explicit strategies the one whose
   answer ends *last* wins, so ``\\boxed{255} … Final Answer: $10,455$`` reads 10,455;
   a later marker must state math to override a box ("the answer is correct" does not).
3. Otherwise the *heuristic* strategies, in priority order: bold, the last line, the
   last number.

Inside a strategy the *last* occurrence counts, because models restate intermediate
results before concluding.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from verifier_server.kinds.math.boxes import MAX_ANSWER_CHARS, final_box_is_void, last_box_group, last_boxed
from verifier_server.kinds.math.markers import (
    ANSWER_LABEL_RE,
    ANSWER_PHRASE_RE,
    FINAL_LABEL_RE,
    last_answer_label,
    last_final_label,
    last_match,
    last_phrase,
)
from verifier_server.kinds.math.statement import (
    is_prose,
    last_sentence_with_math,
    math_spans,
    reduce_sentence,
    statement_answer,
    strip_math_delims,
)

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


@dataclass(frozen=True, slots=True)
class Extraction:
    """An answer found in a text and the strategy that found it."""

    text: str
    strategy: str


@dataclass(frozen=True, slots=True)
class _Found:
    text: str
    end: int
    """Offset in the text where the answer ends: the latest explicit answer wins."""


def extract_answer(text: str, strategies: Sequence[str] = STRATEGIES) -> Extraction | None:
    """The final answer in ``text`` (see the module docstring for the rules)."""
    text = visible_text(text or "")
    if not text.strip() or final_box_is_void(text):
        return None  # nothing visible, an empty final box, or cut off inside it: no final answer
    explicit: list[tuple[int, int, str, str]] = []
    box = _boxed(text) if "boxed" in strategies else None
    # Only a marker after the last box can override it, so with a box only the text after it is searched.
    after = box.end if box is not None else 0
    for priority, name in enumerate(strategies):
        if name == "boxed" and box is not None:
            explicit.append((box.end, -priority, name, box.text))
        elif name in STRICT_STRATEGIES and name != "boxed":
            found = _EXPLICIT[name](text[after:])
            if found is not None and found.text.strip():
                explicit.append((after + found.end, -priority, name, found.text))
    for _, _, name, answer in sorted(explicit, reverse=True):
        if box is None or name == "boxed" or _states_math(answer):
            return Extraction(answer.strip()[:MAX_ANSWER_CHARS], name)
    for name in strategies:
        if name in STRICT_STRATEGIES:
            continue
        heuristic = _HEURISTIC[name](text)
        if heuristic is not None and heuristic.strip():
            return Extraction(heuristic.strip()[:MAX_ANSWER_CHARS], name)
    return None


def extract_gold(text: str) -> str:
    """The answer part of a gold: its boxes, GSM8K's ``#### 72``, an answer sentence, or the text itself."""
    boxed = last_box_group(text)
    if boxed is not None and boxed[0].strip():
        return boxed[0].strip()
    if "####" in text:
        return text.rsplit("####", 1)[1].strip()
    tagged = _answer_tag(text)
    if tagged is not None and tagged.text.strip():
        return tagged.text.strip()
    if is_prose(text):
        found = extract_answer(text, STRICT_STRATEGIES)
        if found is not None:
            return found.text
        if "\n" not in text.strip():
            return statement_answer(text)
    return text.strip()


_THINK_CLOSE_RE = re.compile(r"</think\s*>", re.IGNORECASE)
_THINK_OPEN_RE = re.compile(r"<think\s*>", re.IGNORECASE)


_SPECIAL_TOKEN_RE = re.compile(r"<\|(?:im_start|im_end|endoftext|eot_id|end_of_text|start_header_id|end)\|>|</s>")


def visible_text(text: str) -> str:
    """What the reader sees: no ``<think>`` reasoning, nothing after the turn ended.

    After the last ``</think>``, or before an unclosed ``<think>``; and up to the first
    chat-template token (``<|im_start|>``, ``<|eot_id|>``) after some content, where a
    model that ran past its turn starts writing the next one.
    """
    close = last_match(_THINK_CLOSE_RE, text)
    if close is not None:
        text = text[close.end() :]
    else:
        opening = _THINK_OPEN_RE.search(text)
        if opening is not None:
            text = text[: opening.start()]
    for token in _SPECIAL_TOKEN_RE.finditer(text):
        if text[: token.start()].strip():
            return text[: token.start()]
    return text


# ---------------------------------------------------------------------------
# explicit markers
# ---------------------------------------------------------------------------


def _boxed(text: str) -> _Found | None:
    group = last_box_group(text)
    return _Found(group[0], group[1]) if group is not None else None


def _answer_tag(text: str) -> _Found | None:
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
    answer = boxed if boxed is not None else strip_math_delims(inner)
    if is_prose(answer):
        answer = reduce_sentence(answer)
    return _Found(answer, close)


def _the_answer_is(text: str) -> _Found | None:
    return _after(last_phrase(text), text)


def _final_answer(text: str) -> _Found | None:
    final = _after(last_final_label(text), text)
    plain = _after(last_answer_label(text), text)
    candidates = [found for found in (final, plain, _gsm8k_answer(text)) if found is not None]
    return max(candidates, key=lambda found: found.end) if candidates else None


_GSM8K_VALUE_RE = re.compile(r"\$?\s?[+-]?\$?\s?\d[\d,]*(?:\.\d+)?(?:/\d+)?\s?%?\s?\.?")
"""A plain number, as GSM8K writes its answers: ``72``, ``-3``, ``$1,200``, ``2.5``, ``1/2``, ``40%``."""


def _gsm8k_answer(text: str) -> _Found | None:
    """GSM8K's closing ``#### 72``: the last non-blank line, outside a code fence, holding a plain number.

    Only there: a ``####`` line mid-text is a markdown heading (``#### 2.``), a section number or a
    retracted answer, and one in a code block is code."""
    if "####" not in text:
        return None
    body = text.rstrip()
    start = body.rfind("\n") + 1
    line = body[start:].strip()
    if not line.startswith("####") or body.count("```", 0, start) % 2:
        return None
    value = line[4:].strip()
    if len(value) > 40 or not _GSM8K_VALUE_RE.fullmatch(value):
        return None
    return _Found(strip_math_delims(value.rstrip(".")), len(body))


def _after(marker: re.Match[str] | None, text: str) -> _Found | None:
    """The answer stated right after ``marker``: a box in its paragraph, else the statement."""
    if marker is None:
        return None
    rest = text[marker.end() : marker.end() + MAX_ANSWER_CHARS]
    rest = rest.split("</answer>", 1)[0]  # "<answer>The answer is 5</answer>": the tag ends the statement
    sentence_end = _sentence_end(rest)
    boxed = last_box_group(rest[:sentence_end])
    if boxed is not None:
        return _Found(boxed[0], marker.end() + boxed[1])
    answer = statement_answer(rest)
    return _Found(answer, marker.end() + min(len(rest), max(1, len(answer))))


def _sentence_end(rest: str) -> int:
    """Where the statement after a marker ends: a blank line, or the end of the scanned text."""
    blank = re.search(r"\n\s*\n", rest)
    return blank.start() if blank else len(rest)


_NEGATION_RE = re.compile(r"^\s*(?:not|no|never|wrong|incorrect|correct|right)\b", re.IGNORECASE)


def _states_math(answer: str) -> bool:
    """Whether a marker's answer states a value (a digit or LaTeX), so it may override an earlier box."""
    return bool(re.search(r"\d|\\[A-Za-z]", answer)) and not _NEGATION_RE.match(answer)


# ---------------------------------------------------------------------------
# heuristics over the tail
# ---------------------------------------------------------------------------

_BOLD_RE = re.compile(r"\*\*([^*\n]{1,300})\*\*(\s*[:：])?")


def _bold(text: str) -> str | None:
    matches = list(_BOLD_RE.finditer(text[-_TAIL_CHARS:]))
    if not matches:
        return None
    last = matches[-1]
    inner = last.group(1).strip()
    if last.group(2) or inner.endswith((":", "：")):
        return None  # a label ("**Step 2:**", "**结论**："), not an answer
    marker = ANSWER_PHRASE_RE.search(inner) or FINAL_LABEL_RE.search(inner) or ANSWER_LABEL_RE.search(inner)
    if marker is not None:
        inner = inner[marker.end() :]
    inner = strip_math_delims(inner.strip().rstrip("."))
    return reduce_sentence(inner) if is_prose(inner) else inner


_LINE_CHARS = 500


def _last_line(text: str) -> str | None:
    """The last line if it reads as math: a display block ending the text, its last math span, or the line."""
    tail = text[-_TAIL_CHARS:].rstrip()
    spans = math_spans(tail)
    if spans and not tail[spans[-1].end :].strip(" \t.,;!。"):
        return _span_answer(spans[-1].content)
    for line in reversed(tail.splitlines()):
        line = line.strip()[-_LINE_CHARS:]
        if not line:
            continue
        line_spans = math_spans(line)
        if line_spans and not is_prose(line[line_spans[-1].end :]):
            return _span_answer(line_spans[-1].content)
        if is_prose(line):
            return last_sentence_with_math(line)
        labelled = _LINE_LABEL_RE.match(line)
        if labelled is not None and labelled.group("label").lower() in _VALUE_LABELS:
            line = labelled.group("value")  # "Total: $40": the label names the value that follows it
        return strip_math_delims(line.rstrip("."))
    return None


_LINE_LABEL_RE = re.compile(r"^[*_]*(?P<label>[A-Za-z]{2,})[*_]*\s*[:：][\s*_]*(?P<value>\S.*?)[*_]*$")
_VALUE_LABELS = frozenset(
    (
        "total result sum cost price amount value answer solution difference product quotient area perimeter"
        " volume length distance speed time profit change remaining balance count number average mean"
        " therefore thus hence so"
    ).split()
)
"""Labels that name the quantity after them; any other (``Wrong: 7``, ``Counterexample: 7``) is no answer line."""


def _span_answer(content: str) -> str:
    return reduce_sentence(content) if is_prose(content) else content


_NUMBER_RE = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?|-?\.\d+")


def _last_number(text: str) -> str | None:
    matches = _NUMBER_RE.findall(text[-_TAIL_CHARS:])
    return matches[-1].rstrip(",") if matches else None


_EXPLICIT: dict[str, Callable[[str], _Found | None]] = {
    "answer_tag": _answer_tag,
    "the_answer_is": _the_answer_is,
    "final_answer": _final_answer,
}
_HEURISTIC: dict[str, Callable[[str], str | None]] = {
    "bold": _bold,
    "last_line": _last_line,
    "last_number": _last_number,
}
