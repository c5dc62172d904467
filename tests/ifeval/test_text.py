"""The linear scans count exactly what IFEval's (and open-instruct's) regular expressions count.

IFEval's expressions backtrack quadratically on some texts, so the kind uses one-pass
scans instead; hypothesis compares both on texts built from the characters that matter.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from verifier_server.kinds.ifeval import text

PIECES = st.lists(st.sampled_from(["*", "-", " ", "\n", "\t", "a", "[", "]", "<", ">", "**", "<<", ">>", "\r"]))
TEXTS = PIECES.map("".join)


@settings(max_examples=3000, deadline=None)
@given(TEXTS)
def test_bullets_match_ifevals_expressions(value: str):
    assert text.count_star_bullets(value) == len(re.findall(r"^\s*\*[^\*].*$", value, flags=re.MULTILINE))
    assert text.count_dash_bullets(value) == len(re.findall(r"^\s*-.*$", value, flags=re.MULTILINE))


@settings(max_examples=3000, deadline=None)
@given(TEXTS)
def test_placeholders_and_titles_match_the_expressions(value: str):
    assert text.count_bracketed(value) == len(re.findall(r"\[.*?\]", value))
    titles = re.findall(r"<<[^\n]+>>", value)
    assert text.has_double_angle_title(value, allow_empty=False) == any(
        t.lstrip("<").rstrip(">").strip() for t in titles
    )
    assert text.has_double_angle_title(value, allow_empty=True) == bool(re.findall(r"<<(.*?)>>", value))


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.sampled_from(["p", "P", ".", "s", "S", " ", "\n", "x"])).map("".join))
def test_postscript_matches_the_expressions(value: str):
    lowered = value.lower()
    assert text.contains_postscript(value, "P.S.") == bool(re.findall(r"\s*p\.\s?s\..*$", lowered, flags=re.M))
    assert text.contains_postscript(value, "P.P.S") == bool(re.findall(r"\s*p\.\s?p\.\s?s.*$", lowered, flags=re.M))


def test_sentences_and_words_work_offline():
    assert text.count_sentences("Mr. Smith arrived at 3 p.m. on Monday. Was he late? No!") == 3
    assert text.count_words("Hello, world -- it's 2024.") == 5
    assert text.word_tokens("STATE-OF-THE-ART work. WOW!") == ["STATE-OF-THE-ART", "work", ".", "WOW", "!"]
    assert text.detect_language("Das ist ein ganz normaler deutscher Satz über das Wetter.") == "de"
