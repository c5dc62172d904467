"""Text measurements the instruction checks share: words, sentences, language, and linear-time scans.

Libraries, all working offline (nothing is downloaded at run time):

- language: ``langdetect``, the detector IFEval itself uses; its profiles ship in the
  wheel. Detection is seeded, so a verdict never changes between calls.
- sentences: ``sentencex`` (Wikimedia's rule-based segmenter, rules compiled into the
  wheel). IFEval counts sentences with NLTK's Punkt English model, a data file NLTK
  would have to download; sentencex splits the same way on ordinary prose
  (abbreviations like "Mr.", "e.g.", "U.S.", decimals, ellipses) and also at paragraph
  breaks, which Punkt ignores.
- words for the capital-word count: NLTK's Treebank word tokenizer (the one behind
  ``nltk.word_tokenize``; it needs no data), applied per sentence as word_tokenize does.

Some IFEval checks are regular expressions that backtrack quadratically on adversarial
text (``\\[.*?\\]`` over a line of ``[``, ``^\\s*\\*`` over a run of blank lines); the
scans below give the same counts in one pass, and a property test compares them with
the original expressions.
"""

from __future__ import annotations

import re
import threading
from functools import cache
from typing import Any

_WORD = re.compile(r"\w+")
_detector_lock = threading.Lock()


class Undetectable(Exception):
    """The text has nothing a language can be detected from (no letters)."""


def count_words(text: str) -> int:
    """IFEval's word count: runs of word characters (NLTK's ``RegexpTokenizer(r"\\w+")``)."""
    return sum(1 for _ in _WORD.finditer(text))


def sentences(text: str) -> list[str]:
    """Non-blank sentences of ``text`` (English rules)."""
    import sentencex

    return [s for s in (part.strip() for part in sentencex.segment("en", text)) if s]


def count_sentences(text: str) -> int:
    return len(sentences(text))


def word_tokens(text: str) -> list[str]:
    """Treebank word tokens, sentence by sentence (as ``nltk.word_tokenize``)."""
    tokenizer = _word_tokenizer()
    return [token for sentence in sentences(text) for token in tokenizer.tokenize(sentence)]


@cache
def _word_tokenizer() -> Any:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


def detect_language(text: str) -> str:
    """The ISO 639-1 code langdetect assigns (``zh-cn``/``zh-tw`` for Chinese); ``Undetectable`` if none."""
    from langdetect.lang_detect_exception import LangDetectException

    factory = _language_factory()
    with _detector_lock:  # a detector draws from the factory's seeded generator
        detector = factory.create()
        detector.append(text)
        try:
            return str(detector.detect())
        except LangDetectException as exc:
            raise Undetectable(str(exc)) from None


def known_languages() -> frozenset[str]:
    codes = set(_language_factory().get_lang_list())
    return frozenset(codes | {"zh"})


@cache
def _language_factory() -> Any:
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    factory.set_seed(0)
    return factory


def language_matches(detected: str, wanted: str) -> bool:
    return detected == wanted or (wanted == "zh" and detected.startswith("zh-"))


# -- linear scans with the semantics of IFEval's regular expressions -------------------------


def count_bracketed(text: str) -> int:
    """Matches of ``\\[.*?\\]``: a ``[`` and the next ``]`` on the same line, non-overlapping."""
    count = 0
    for line in text.split("\n"):
        start = line.find("[")
        while start != -1:
            end = line.find("]", start + 1)
            if end == -1:
                break
            count += 1
            start = line.find("[", end + 1)
    return count


def has_double_angle_title(text: str, *, allow_empty: bool) -> bool:
    """A ``<<title>>`` on one line. IFEval (``<<[^\\n]+>>``, greedy) takes the first ``<<`` to the
    last ``>>`` of a line and needs something left after stripping ``<``, ``>`` and spaces;
    ``allow_empty`` is open-instruct's ``<<(.*?)>>`` (any ``<<`` followed later by ``>>``)."""
    for line in text.split("\n"):
        start = line.find("<<")
        if start == -1:
            continue
        if allow_empty:
            if line.find(">>", start + 2) != -1:
                return True
            continue
        end = line.rfind(">>")
        if end >= start + 3 and line[start : end + 2].lstrip("<").rstrip(">").strip():
            return True
    return False


def count_star_bullets(text: str) -> int:
    """Matches of ``^\\s*\\*[^\\*].*$`` (multiline): lines whose first non-space character is a
    single ``*``. A line holding only ``*`` matches through its newline and swallows the next
    line (``[^\\*]`` matches the newline) — the expression's own quirk, kept for fidelity."""
    lines = text.split("\n")
    count, index = 0, 0
    while index < len(lines):
        stripped = lines[index].lstrip()
        if stripped.startswith("*"):
            rest = stripped[1:]
            if rest and rest[0] != "*":
                count += 1
            elif not rest and index + 1 < len(lines):
                count += 1
                index += 1
        index += 1
    return count


def count_dash_bullets(text: str) -> int:
    """Matches of ``^\\s*-.*$`` (multiline): lines whose first non-space character is ``-``."""
    return sum(1 for line in text.split("\n") if line.lstrip().startswith("-"))


def contains_postscript(text: str, marker: str) -> bool:
    """IFEval's postscript patterns, which hold exactly when the marker occurs anywhere
    (``P.S.`` and ``P.P.S`` allowing one space after each dot), case-insensitively."""
    lowered = text.lower()
    if marker == "P.P.S":
        return re.search(r"p\.\s?p\.\s?s", lowered) is not None
    if marker == "P.S.":
        return re.search(r"p\.\s?s\.", lowered) is not None
    return marker.lower() in lowered
