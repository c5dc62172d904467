"""Finding ``\\boxed{}`` answers, and the run of boxes that together list a final answer.

A "find all" answer is often written as several boxes (``\\boxed{-2}`` and
``\\boxed{1}``); reading only the last one would lose the rest. Boxes belong to one
answer only when nothing but list punctuation, connectives ("and", "et", "和"),
spacing, math delimiters, variable labels (``x_2 =``) or a unit word lies between
them: "\\boxed{4}. Wait, that is wrong: \\boxed{5}" stays one answer, 5. Every scan
here is linear in the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_ANSWER_CHARS = 2000
_MAX_BOX_TRIES = 20
"""Boxes looked at from the end: a hostile text with thousands of unclosed boxes must stay linear."""
_MAX_GROUP = 12
"""At most this many boxes form one listed answer."""

_BOX_RE = re.compile(r"\\(?:boxed|fbox)\s*")


@dataclass(frozen=True, slots=True)
class Box:
    """One closed box: its content and where it sits in the text."""

    content: str
    start: int
    end: int


def boxes(text: str) -> list[Box]:
    """The last closed boxes in ``text`` (at most ``_MAX_BOX_TRIES``), in text order.

    A box whose braces never close is left out. ``\\boxed 5`` (no braces) is a box of the
    next token. A box inside a box counts once, as the outer one.
    """
    return _scan(text)[0]


def _scan(text: str) -> tuple[list[Box], int]:
    """Closed boxes, and where the last box that never closes starts (-1 when none)."""
    found: list[Box] = []
    unclosed = -1
    for match in list(_BOX_RE.finditer(text))[-_MAX_BOX_TRIES:]:
        begin = match.end()
        content = braced(text, begin)
        if content is not None:
            found.append(Box(content, match.start(), begin + len(content) + 2))
            continue
        if begin < len(text) and text[begin] == "{":
            unclosed = match.start()
            continue
        token = re.match(r"([^\s$\\{}]+)", text[begin:])
        if token:
            found.append(Box(token.group(1), match.start(), begin + token.end()))
    outer: list[Box] = []
    for box in found:
        if outer and box.start < outer[-1].end:
            continue
        outer.append(box)
    return outer, unclosed


def final_box_is_void(text: str) -> bool:
    """Whether the last box in ``text`` is empty or never closes (the completion was cut off mid-answer)."""
    found, unclosed = _scan(text)
    if unclosed >= 0 and (not found or unclosed > found[-1].start):
        return True
    return bool(found) and not found[-1].content.strip()


def last_boxed(text: str) -> str | None:
    """Content of the last closed box, or None."""
    found = boxes(text)
    return found[-1].content if found else None


def last_box_group(text: str) -> tuple[str, int] | None:
    """The final answer read from boxes: the last box, joined with the boxes listed before it.

    Returns the answer (``"a, b"`` for a listed answer) and the end offset of the last box;
    None when there is no box, when the last box is empty, or when a box opened after it
    never closes (a truncated completion has no final answer).
    """
    found, unclosed = _scan(text)
    if not found or not found[-1].content.strip() or unclosed > found[-1].start:
        return None
    group = [found[-1]]
    for box in reversed(found[:-1]):
        if len(group) >= _MAX_GROUP or not box.content.strip() or not is_list_gap(text[box.end : group[0].start]):
            break
        group.insert(0, box)
    if len(group) == 1:
        return group[0].content, group[0].end
    return ", ".join(box.content.strip() for box in group), group[-1].end


def braced(text: str, start: int) -> str | None:
    """Content of the brace group opening at ``start``; None when it is not a closed group."""
    if start >= len(text) or text[start] != "{":
        return None
    depth = 0
    for i in range(start, min(len(text), start + MAX_ANSWER_CHARS)):
        ch = text[i]
        if ch == "{" and text[i - 1 : i] != "\\":
            depth += 1
        elif ch == "}" and text[i - 1 : i] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1 : i]
    return None


# ---------------------------------------------------------------------------
# what may separate the items of one listed answer
# ---------------------------------------------------------------------------

_MAX_GAP_CHARS = 80
_GAP_NOISE_RE = re.compile(
    r"\\(?:text|textbf|mathrm|mbox|textrm)\s*\{([^{}]*)\}"  # \text{ and }: keep the words
)
_GAP_DROP_RE = re.compile(
    r"\$\$|\$|\\\(|\\\)|\\\[|\\\]|\\q?quad|\\[,;:! ]|\\\\|~|&"  # delimiters and spacing
    r"|(?<![A-Za-z])[A-Za-z](?:_\{?[A-Za-z0-9]+\}?)?\s*(?:=|:)"  # a variable label: x =, y_2 =, x_{1}=
    r"|\((?:[a-z]|i{1,3}|iv|v|vi{0,3})\)"  # part labels (a), (ii)
)
_CONNECTIVES = frozenset(
    [*"and or as well et ou und oder y o e ed и или و أو और या 和 与 與 及 以及 或 、 ， ；".split(), "for", "part"]
)
_DISCOURSE = frozenset(
    "not no wait but however actually instead so then thus hence therefore answer final correct wrong "
    "because since check again mais aber pero nicht pas".split()
)


def is_list_gap(gap: str) -> bool:
    """Whether the text between two boxes only separates items of one listed answer."""
    if len(gap) > _MAX_GAP_CHARS or re.search(r"[.!?。！？]\s|[.!?。！？]$|\n\s*\n|:\s*$", gap):
        return False
    text = _GAP_NOISE_RE.sub(lambda m: f" {m.group(1)} ", gap)
    text = _GAP_DROP_RE.sub(" ", text)
    words = re.findall(r"[^\s,;]+", text)
    if any(word.lower().strip("()") in _DISCOURSE for word in words):
        return False
    others = [word for word in words if word.lower() not in _CONNECTIVES]
    if not others:
        return True
    # A unit or counted noun after a number ("\boxed{1} papers and \boxed{2} bins"): one short
    # word, and a connective must still separate the items.
    has_connective = len(others) < len(words) or "," in gap or ";" in gap
    return has_connective and len(others) <= 2 and all(w.isalpha() and len(w) <= 12 for w in others)
