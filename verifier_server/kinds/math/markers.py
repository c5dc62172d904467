"""Answer markers: the words that label a final answer, in the languages models answer in.

Two shapes, each a regex over the whole text (matches are scanned, the last one wins):

- a *phrase* that introduces the answer: "the answer is", "la réponse est",
  "die Antwort lautet", "答案是", "答えは", "الإجابة هي";
- a *label* followed by a colon: "Final Answer:", "Answer:", "Réponse :", "答案：",
  "Ответ:", "उत्तर:", with the markdown models wrap labels in (``**Final answer:**``,
  ``## Final Answer``). A bare "Answer:" counts only at the start of a line or sentence,
  so "let me answer: first, ..." in the middle of reasoning is not a label.

Unknown languages still fall back to the last number, as before.
"""

from __future__ import annotations

import re

_MD = r"(?:\*\*|__|\*|_)?"
"""Markdown emphasis around a label."""

_FINAL_WORDS = (
    r"final\s+answer|réponse\s+finale|endgültige\s+antwort|respuesta\s+final|resposta\s+final|risposta\s+finale"
    r"|最终答案|最終答案|最终结果|окончательный\s+ответ|الإجابة\s+النهائية|अंतिम\s+उत्तर"
)
_ANSWER_WORDS = (
    r"answer|ans|réponse|reponse|antwort|respuesta|resposta|risposta|ответ|答案|答|解答|答え|정답|답"
    r"|الإجابة|الجواب|उत्तर|jawaban|cevap|odpowiedź|antwoord|svar|vastaus|đáp\s+án|คำตอบ"
)

FINAL_LABEL_RE = re.compile(
    rf"{_MD}(?:the\s+)?(?:{_FINAL_WORDS}){_MD}\s*[:：]\s*{_MD}\s*"
    rf"|(?:^|(?<=\n))[ \t#>*_]*(?:the\s+)?(?:{_FINAL_WORDS})[ \t*_:：]*\n\s*",
    re.IGNORECASE,
)
"""A "final answer" label anywhere in the text (``Final Answer:``, ``**Final answer:**``, ``## Final Answer\\n``)."""

ANSWER_LABEL_RE = re.compile(
    rf"(?:^|(?<=[\n.!?。！？]))[ \t#>*_-]*{_MD}(?:{_ANSWER_WORDS}){_MD}\s*[:：]\s*{_MD}\s*", re.IGNORECASE
)
"""A plain answer label, only at the start of a line or sentence (``Answer: 12``, ``答案：12``)."""

_IS = (
    r"is|are|would\s+be|should\s+be|will\s+be|was|equals|est|sera|ist|lautet|beträgt|es|será|é|è|sono"
    r"|является|равен|равна|равно|—"
)
ANSWER_PHRASE_RE = re.compile(
    rf"(?:the\s+)?(?:final\s+)?answers?\s+(?:{_IS})\s*:?\s*"
    rf"|(?:the\s+)?(?:correct|right)\s+(?:answer|choice|option)s?\s+(?:{_IS})\s*:?\s*"
    rf"|(?:la\s+|le\s+|die\s+|el\s+|a\s+|o\s+)?(?:réponse|antwort|respuesta|resposta|risposta|ответ)"
    rf"(?:\s+(?:finale|final|endgültige))?\s+(?:{_IS})\s*:?\s*"
    r"|(?:最终)?答案(?:是|为|為|應為|应为)\s*[:：]?\s*|答えは\s*|정답은\s*"
    r"|(?:الإجابة|الجواب)\s+(?:هي|هو)\s*[:：]?\s*",
    re.IGNORECASE,
)
"""A phrase that introduces the answer ("the answer is", "the correct option is", "la réponse est", "答案是")."""

_COPULA_RE = re.compile(
    r"(?<![A-Za-zÀ-ÿ])(?:is|are|was|equals|be|becomes|est|sont|vaut|égale|ist|sind|beträgt|lautet|es|son|será"
    r"|é|são|è|sono|равно|равен|равна|составляет|هو|هي|يساوي)(?![A-Za-zÀ-ÿ])"
    r"|=|是|为|為|等于|等於|は",
    re.IGNORECASE,
)


def last_copula(text: str) -> re.Match[str] | None:
    """The last "is"/"=" (in any of the marker languages) in a sentence: what follows it is its value."""
    return last_match(_COPULA_RE, text)


def last_match(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    last = None
    for last in pattern.finditer(text):  # noqa: B007 - we want the last match
        pass
    return last


_PHRASE_KEYWORDS = (
    "answer", "choice", "option", "réponse", "reponse", "antwort", "respuesta", "resposta", "risposta", "ответ",
    "答案", "答え", "정답", "الإجابة", "الجواب",
)  # fmt: skip
_FINAL_KEYWORDS = ("final", "endgültige", "最终", "最終", "окончательный", "النهائية", "अंतिम")
_LABEL_KEYWORDS = (
    *_PHRASE_KEYWORDS, "ans", "答", "답", "उत्तर", "jawaban", "cevap", "odpowiedź", "antwoord", "svar",
    "vastaus", "đáp", "คำตอบ",
)  # fmt: skip
_WINDOW_BEFORE, _WINDOW_AFTER = 48, 96
_MAX_HITS = 128
"""Keyword occurrences tried from the end: the last marker is among the last few; a text repeating a
keyword thousands of times must not hold the event loop."""


def last_phrase(text: str) -> re.Match[str] | None:
    """The last "the answer is" phrase (``ANSWER_PHRASE_RE``)."""
    return _last_marker(ANSWER_PHRASE_RE, _PHRASE_KEYWORDS, text)


def last_final_label(text: str) -> re.Match[str] | None:
    """The last "Final Answer:" label (``FINAL_LABEL_RE``)."""
    return _last_marker(FINAL_LABEL_RE, _FINAL_KEYWORDS, text)


def last_answer_label(text: str) -> re.Match[str] | None:
    """The last plain "Answer:" label (``ANSWER_LABEL_RE``)."""
    return _last_marker(ANSWER_LABEL_RE, _LABEL_KEYWORDS, text)


def _last_marker(pattern: re.Pattern[str], keywords: tuple[str, ...], text: str) -> re.Match[str] | None:
    """The last match of ``pattern``, found by checking small windows around its keywords, last first.

    Every marker contains one of its keywords, so the last match holds one of the
    keyword occurrences; finding those with ``str.find`` on the lower-cased text is
    about a thousand times cheaper than running the marker regex over 100 KB of
    reasoning, which would dominate a GRPO batch's cost.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # a character whose lower case is longer: offsets differ, scan it all
        return last_match(pattern, text)
    hits = sorted({(i, len(k)) for k in keywords for i in _occurrences(lowered, k)}, reverse=True)
    for index, size in hits[:_MAX_HITS]:
        window_end = min(len(text), index + size + _WINDOW_AFTER)
        found = [
            match
            for match in pattern.finditer(text, max(0, index - _WINDOW_BEFORE), window_end)
            if match.start() <= index < match.end()
        ]
        if found:
            return max(found, key=lambda match: match.end())
    return None


def _occurrences(lowered: str, keyword: str) -> list[int]:
    """Where ``keyword`` starts a word ("ans" in "ans:", not in "means")."""
    found = []
    wordlike = keyword[0].isascii() and keyword[0].isalpha()
    start = lowered.find(keyword)
    while start != -1:
        if not (wordlike and start > 0 and lowered[start - 1].isalpha()):
            found.append(start)
        start = lowered.find(keyword, start + 1)
    return found
