"""Benchmark: do the ``ifeval`` kind's Google IFEval checks agree with the reference implementation?

The reference is ``instruction_following_eval/instructions.py`` as lm-eval ships it
(``lm_eval/tasks/ifeval``, a copy of Google's), run in its own interpreter so none of it
(nor NLTK's download-on-import) touches this environment. Set it up once, outside the
repository::

    python3.11 -m venv /tmp/ifref && /tmp/ifref/bin/pip install lm-eval==0.4.13 langdetect immutabledict

and point ``--reference-python`` (or ``IFEVAL_REFERENCE_PYTHON``) at its interpreter; when
it is missing the bench prints a skip line and exits 0 (CI does not install it).

Cases are written here, not taken from any data set: for each instruction id a grid of
arguments times responses probing its edges (count boundaries, case, punctuation,
markdown, empty text, unicode, fences, ...), each response also in a few framings (a
chatty first line, a closing line, padding, ``**`` around it, upper case, CRLF), plus
seeded random texts of the characters the format checks scan for. Both
sides are judged the way IFEval's ``evaluation_lib`` judges: strict (the response as is,
a blank response follows nothing) and loose (its eight variants without first/last line
and ``*``). The reference's language detector is seeded as ours is (langdetect is random
otherwise).

Verdict per case: both give the same strict and loose verdicts; or, where the reference
would replace an argument by a random draw (it does for missing or out-of-range ones) or
raise while building the instruction, ours must reject the arguments (``invalid_input``).
Ids whose reference needs NLTK's Punkt data (not downloadable offline) are skipped.

Run: ``.venv/bin/python bench/ifeval_agreement.py [--reference-python PATH] [--show N]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from verifier_server.kinds.ifeval.google import INSTRUCTIONS  # noqa: E402
from verifier_server.kinds.ifeval.kind import loose_variants  # noqa: E402
from verifier_server.kinds.ifeval.params import ConstraintError  # noqa: E402

DEFAULT_REFERENCE_PYTHON = "/tmp/ifref/bin/python"
NEEDS_PUNKT = {
    "length_constraints:number_sentences": "Punkt sentence splitter (nltk data)",
    "change_case:capital_word_frequency": "nltk.word_tokenize, which runs Punkt first (nltk data)",
}

# The reference side: reads [[id, kwargs, response], ...] on stdin, writes one verdict per case.
REFERENCE_DRIVER = r"""
import json, logging, random, sys
logging.disable(logging.CRITICAL)
from langdetect import DetectorFactory
DetectorFactory.seed = 0
from lm_eval.tasks.ifeval import instructions_registry as registry

def loose(response):
    lines = response.split("\n")
    first, last = "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip()
    both = "\n".join(lines[1:-1]).strip()
    bases = [response, first, last, both]
    return bases + [b.replace("*", "") for b in bases]

def judge(instruction, responses):
    return any(r.strip() and instruction.check_following(r) for r in responses)

def one(instruction_id, kwargs, response):
    cls = registry.INSTRUCTION_DICT[instruction_id]
    built = []
    try:
        for seed in range(8):
            random.seed(seed)
            instruction = cls(instruction_id)
            instruction.build_description(**kwargs)
            built.append(repr(instruction.get_instruction_args()))
    except Exception as exc:
        return {"build_error": f"{type(exc).__name__}: {exc}"[:200]}
    if len(set(built)) > 1:
        return {"random": True}
    out = {}
    for mode, responses in (("strict", [response]), ("loose", loose(response))):
        try:
            out[mode] = bool(judge(instruction, responses))
        except Exception as exc:
            out[mode + "_error"] = f"{type(exc).__name__}: {exc}"[:200]
    return out

cases = json.load(sys.stdin)
json.dump([one(*case) for case in cases], sys.stdout)
"""


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    kwargs: dict[str, Any]
    response: str


# ---------------------------------------------------------------------------
# cases
# ---------------------------------------------------------------------------

COMMON = [
    "",
    " ",
    "\n\n",
    "ok",
    "Hello world.",
    "Ünïcödé naïve café — “curly quotes” and ‘single’ ones…",
    "这是一个测试。我们看看会发生什么。",
    "Привет, мир! Как у тебя дела сегодня?",
    "🙂🙂 emoji 🚀",
    "# Heading\n\n* one\n* two\n- three\n\n**bold** and *italic*",
    '```json\n{"a": 1}\n```',
    '{"a": [1, 2, {"b": null}]}',
    '"The whole answer is quoted."',
    "Section 1\nalpha\nSECTION 2\nbeta",
    "Thanks for reading.\n\nP.S. See you soon.",
    "<<A Title>>\nThe body text follows here.",
    "Line one\r\nLine two\r\n",
    "A\u00a0non-breaking\u2003space\u2028and a line separator",
    "My answer is yes.",
    "First answer.\n******\nSecond answer.",
    "PARIS IS THE CAPITAL OF FRANCE AND IT IS BEAUTIFUL.",
    "paris is the capital of france and it is beautiful.",
    "Dear [name], your order [number] ships today.",
    "Part one.\n***\nPart two.\n***\nPart three.",
    "Intro.\n\nHowever, the middle.\n\nThe end.",
]

FRAMINGS: list[Callable[[str], str]] = [
    lambda s: s,
    lambda s: "Sure, here it is:\n" + s,
    lambda s: s + "\nHope this helps!",
    lambda s: "  " + s + "  \n",
    lambda s: "**" + s + "**",
    lambda s: s.upper(),
    lambda s: s.replace("\n", "\r\n"),
]


def framed(responses: Iterable[str], framings: int = len(FRAMINGS)) -> list[str]:
    """Each response in the first ``framings`` framings, duplicates dropped (order kept)."""
    out = dict.fromkeys(frame(r) for r in responses for frame in FRAMINGS[:framings])
    return list(out)


def grid(instruction_id: str, kwargs_list: Iterable[dict[str, Any]], responses: Iterable[str]) -> Iterator[Case]:
    responses = list(responses)
    for kwargs in kwargs_list:
        for response in responses:
            yield Case(instruction_id, kwargs, response)


def relations_grid(**values: Iterable[Any]) -> list[dict[str, Any]]:
    keys = list(values)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values.values())]


def keyword_cases() -> Iterator[Case]:
    keywords = [["sunrise"], ["Sunrise", "HARBOR"], ["naïve"], ["straße"], ["co-op"], ["c++"], ["a.b"], [" sun "], [""]]
    responses = ["sunrise", "SUNRISE at the harbor", "sunrises", "sun rise", "naive", "NAÏVE", "STRASSE", "Straße",
                 "co-op", "coop", "c++", "cc", "a.b", "axb", " sun ", "sun", "harbor", "Sunrise\nHarbor"]  # fmt: skip
    yield from grid("keywords:existence", [{"keywords": k} for k in keywords], framed(responses, 3))
    yield from grid("keywords:existence", [{"keywords": ["sunrise"]}], COMMON)

    freq = relations_grid(keyword=["river", "River ", "aa", "new york", "c++"], frequency=[0, 1, 2, 3],
                          relation=["less than", "at least"])  # fmt: skip
    texts = ["", "river", "River RIVER", "river, river and river", "riverside rivers", "aaaa", "aaa aa",
             "New York and new york", "new  york", "c++ c++", "no match"]  # fmt: skip
    yield from grid("keywords:frequency", freq, texts)
    blank = relations_grid(keyword=["", "  "], frequency=[0, 1], relation=["less than", "at least"])
    yield from grid("keywords:frequency", blank, ["river", ""])
    yield from grid("keywords:frequency", [{"keyword": "river", "frequency": -1, "relation": "at least"}], ["x"])

    forbidden = [["cat"], ["Cat", "dog"], ["ice cream"], ["co-op"], ["naïve"], ["don't"], ["_x"], ["c++"], ["-x"]]
    responses = ["cat", "Cat.", "concatenate", "cat's toy", "cats", "my_cat", "dog", "ice cream", "ice  cream",
                 "co-op", "co-opted", "naïve", "naïveté", "don't", "dont", "_x", "a_x", "-x", "a-x", "c++",
                 "café"]  # fmt: skip
    yield from grid("keywords:forbidden_words", [{"forbidden_words": f} for f in forbidden], framed(responses, 2))
    yield from grid("keywords:forbidden_words", [{"forbidden_words": ["the"]}], COMMON)

    letters = relations_grid(letter=["a", "A", " a", "z", "é", "1", ""], let_frequency=[0, 1, 3],
                             let_relation=["less than", "at least"])  # fmt: skip
    yield from grid("keywords:letter_frequency", letters, ["", "a", "aA", "banana", "ÀàA", "zzz", "ééé", "111"])


LANGUAGE_TEXTS = [
    "The weather is lovely today and we are going for a long walk in the park.",
    "Le temps est magnifique aujourd'hui et nous allons faire une longue promenade.",
    "Das Wetter ist heute herrlich und wir machen einen langen Spaziergang im Park.",
    "Hoy hace un tiempo estupendo y vamos a dar un largo paseo por el parque.",
    "今日はとても良い天気なので、公園を長く散歩します。",
    "今天天气很好，我们要去公园散步很长时间。",
    "오늘은 날씨가 아주 좋아서 공원에서 오래 산책할 거예요.",
    "Сегодня прекрасная погода, и мы идём на долгую прогулку в парк.",
    "आज मौसम बहुत अच्छा है और हम पार्क में लंबी सैर के लिए जा रहे हैं।",
    "الطقس جميل اليوم وسنذهب في نزهة طويلة في الحديقة.",
    "Tänään on kaunis sää ja menemme pitkälle kävelylle puistoon.",
    "12345 67890",
    "🙂🙂🙂",
    "def f(x):\n    return x + 1",
    "ok",
    "Bonjour! The meeting is at noon, merci beaucoup.",
]


def language_cases() -> Iterator[Case]:
    languages = ["en", "fr", "de", "es", "ja", "ko", "ru", "hi", "ar", "fi", "zh", "zh-cn", "nl", "xx"]
    yield from grid("language:response_language", [{"language": c} for c in languages], framed(LANGUAGE_TEXTS, 2))
    yield from grid("language:response_language", [{"language": "en"}], framed(COMMON, 3))


def length_cases() -> Iterator[Case]:
    paragraphs = ["a***b", "a\n***\nb", "a *** b", "a\n\n***\n\nb", "***a***", "a\n***\n\n***\nb", "a****b", "* * *",
                  "a\n******\nb", "a", "a\n***\nb\n***\n", "\n***\na\n***\nb", "a\n***\nb\n***\nc", "a  ***  b",
                  "a\n\nb\n\nc", "a\n***\n \n***\nb"]  # fmt: skip
    yield from grid("length_constraints:number_paragraphs", [{"num_paragraphs": n} for n in (0, 1, 2, 3)],
                    framed(paragraphs, 5))  # fmt: skip
    yield from grid("length_constraints:number_paragraphs", [{"num_paragraphs": 3}], COMMON)

    words = ["one two three", "it's co-op", "naïve café", "北京欢迎你", "3.14", "_under_score", "émoji 🙂 test",
             "a\u00a0b", "one, two; three: four! five", "x" * 50, " ".join(["w"] * 10), ""]  # fmt: skip
    word_args = relations_grid(num_words=[0, 1, 2, 3, 5, 10], relation=["less than", "at least"])
    yield from grid("length_constraints:number_words", word_args, framed(words, 2))
    yield from grid("length_constraints:number_words", [{"num_words": -1, "relation": "less than"}], ["a"])

    first = ["However, it rained.\n\nNext.", "Intro.\n\n\"However\" he said.", "Intro.\n\n'however' then",
             "Intro.\n\nHOWEVER! yes", "Intro.\n\nHowever-ish", "\n\nHowever\n\nx", "a\n\n\n\nHowever",
             "a\n\n \n\nHowever", "a\n\nHowever\n\n", "Intro.\r\n\r\nHowever", "Intro.\n\n  However, indented",
             "Intro.\n\n**However**, bold", "Intro.\n\nHowever's", "Intro.\n\nhowever?", "It's fine.\n\nIt's me.",
             "Intro.\n\nco-op first", "Intro.\n\n\u201cHowever\u201d curly"]  # fmt: skip
    first_words = ("however", "However", "it's", "co-op", "")
    first_args = [{"num_paragraphs": n, "nth_paragraph": k, "first_word": w}
                  for n in (1, 2, 3) for k in (1, 2, 3) for w in first_words]  # fmt: skip
    yield from grid("length_constraints:nth_paragraph_first_word", first_args, first)
    second = [{"num_paragraphs": 3, "nth_paragraph": 2, "first_word": "however"}]
    yield from grid("length_constraints:nth_paragraph_first_word", second, framed(COMMON, 2))


def content_cases() -> Iterator[Case]:
    placeholders = ["[a]", "[a] [b]", "[]", "[[a]]", "[a\nb]", "[a][b]", "]a[", "[name] and [", "[ ]", "［a］",
                    "[a] [b] [c]", "x [y] z\n[w]"]  # fmt: skip
    yield from grid("detectable_content:number_placeholders", [{"num_placeholders": n} for n in (-1, 0, 1, 2, 3)],
                    framed(placeholders, 4))  # fmt: skip
    yield from grid("detectable_content:number_placeholders", [{"num_placeholders": 1}], COMMON)

    markers = ["P.S.", "P.P.S", "p.s.", "PS", "P.S", "Note:", " P.S. ", "P.P.S.", "", "N.B."]
    texts = ["Hi.\nP.S. x", "Hi.\np.s. x", "Hi.\nP. S. x", "Hi. P.  S. x", "Hi.\nPS: x", "Hi.\nP.P.S x",
             "Hi.\nP. P. S x", "xP.S.", "Hi.\nNote: x", "note", "Hi.\nP\n.S. x", "Hi.\nP.\nS. x", "Hi.\nPAS x",
             "Hi.\nN.B. x", "NxBx", "Hi."]  # fmt: skip
    yield from grid("detectable_content:postscript", [{"postscript_marker": m} for m in markers], framed(texts, 2))


def format_cases() -> Iterator[Case]:
    bullets = ["* a\n* b", "- a\n- b", "+ a", "1. a", "** bold", "*a*", "  * indented", "\t- tab", "-- dash", "---",
               "*\n* b", "• a", "* a\n\n* b", "text * not bullet", "\n\n* a", "*", "*\n", "* a\n*\n- c",
               "-"]  # fmt: skip
    yield from grid("detectable_format:number_bullet_lists", [{"num_bullets": n} for n in (-1, 0, 1, 2, 3)],
                    framed(bullets, 5))  # fmt: skip
    yield from grid("detectable_format:number_bullet_lists", [{"num_bullets": 2}], COMMON)

    constrained = ["My answer is yes.", "my answer is yes.", "My answer is yes", "My answer is no.  ",
                   "Well... My answer is maybe. Because", "My answer is Yes.", "My  answer is no.", "Yes."]  # fmt: skip
    yield from grid("detectable_format:constrained_response", [{}], framed(constrained + COMMON))

    highlights = ["*a*", "**a**", "***a***", "* a *", "**", "****", "*a\nb*", "*a* *b*", "**a** *b*", "*a**b*",
                  "_a_", "`a`", "* *", "*  a  *"]  # fmt: skip
    yield from grid("detectable_format:number_highlighted_sections", [{"num_highlights": n} for n in (-1, 0, 1, 2, 3)],
                    framed(highlights, 4))  # fmt: skip

    splitters = ["Section", "SECTION", "section", "Section ", "Chapter", "§", "Day", ""]
    sections = ["Section 1\na\nSection 2\nb", "SECTION 1 a SECTION 2 b", "section 1", "Section1 x Section2 y",
                "Section  1", "Section one", "Section 1.5", "Sections 12", "§ 1 a § 2 b", "Day 1 Day 2 Day 3",
                "Chapter 1\nChapter 2", "In 1999 and 2000", "Section ١"]  # fmt: skip
    section_args = relations_grid(section_spliter=splitters, num_sections=[-1, 1, 2, 3])
    yield from grid("detectable_format:multiple_sections", section_args, framed(sections, 2))

    jsons = ['{"a":1}', "```json\n{}\n```", "```JSON\n[1]\n```", "```Json\n{}\n```", "```jsonc\n{}\n```",
             "```\n{}\n```", "``` json\n{}\n```", "{'a': 1}", "NaN", "Infinity", "1", '"str"', "null", "true",
             "{} {}", "```json\n{}\n``` trailing", "```json\n{}\n```\n```", "\ufeff{}", "[" * 3000 + "]" * 3000,
             "{\"a\": 1,}", "```json{}```"]  # fmt: skip
    yield from grid("detectable_format:json_format", [{}], framed(jsons + COMMON))

    titles = ["<<T>>", "<<>>", "<< >>", "<<<T>>>", "<<T>> and <<>>", "<<a\nb>>", "<T>", "《T》", "<<T>", "x <<T>> y",
              "<<  >> <<T>>", "<<>><<>>", "<<\u00a0>>", "<<T>>>>"]  # fmt: skip
    yield from grid("detectable_format:title", [{}], framed(titles + COMMON))


def combination_cases() -> Iterator[Case]:
    two = ["a\n******\nb", "a******a", "a\n******\n******\nb", "******\na\n******\nb\n******",
           "a ****** b ****** c", "a\n*******\nb", "a\n***\nb", "A\n******\na", " a \n******\na", "******",
           "a\n******\n \n******\nb"]  # fmt: skip
    yield from grid("combination:two_responses", [{}], framed(two + COMMON))

    prompts = ["Write a poem.", "  Write a poem.  ", "Write a POEM.", "Ünï prompt", "", "   "]
    answers = ["Write a poem. Roses are red.", "write a poem. x", "  Write a poem.", "Write a poem",
               "Prompt: Write a poem.", '"Write a poem." x', "Ünï prompt then", "ÜNÏ PROMPT", "x"]  # fmt: skip
    yield from grid("combination:repeat_prompt", [{"prompt_to_repeat": p} for p in prompts], framed(answers, 4))

    phrases = ["Any other questions?", "any other questions? ", '"The end."', "The end", "", "end."]
    endings = ["That is all. Any other questions?", "That is all. Any other questions?  \n",
               'That is all. any other questions?"', '"That is all. Any other questions?"',
               "That is all. Any other questions?.", "That is all. Any other questions?**",
               "Any other questions? 🙂", 'The end"""', "The end.", '"The end."', "the END", "no"]  # fmt: skip
    yield from grid("startend:end_checker", [{"end_phrase": p} for p in phrases], framed(endings, 5))


def case_cases() -> Iterator[Case]:
    capital = ["HELLO WORLD THIS IS ENGLISH TEXT FOR THE TEST", "HELLO WORLD, 123 AND MORE WORDS HERE",
               "BONJOUR TOUT LE MONDE COMMENT ALLEZ VOUS", "123", "ÉCOLE EST FERMÉE", "HELLO world this is",
               "!!!", "ΚΑΛΗΜΕΡΑ ΣΑΣ"]  # fmt: skip
    yield from grid("change_case:english_capital", [{}], framed(capital + COMMON, 4))
    lower = [c.lower() for c in capital] + ["hello World this is", "straße und ß"]
    yield from grid("change_case:english_lowercase", [{}], framed(lower + COMMON, 4))

    commas = ["a,b", "a，b", "a\u201ab", "no comma", "a\u066bb", "a\u060cb", "1,000"]
    yield from grid("punctuation:no_comma", [{}], framed(commas + COMMON))

    quotes = ['"a"', '"', '""', "“a”", "'a'", ' "a" ', '"a"\n', '"a" b "c"', '"a', '"""']
    yield from grid("startend:quotation", [{}], framed(quotes + COMMON))


def argument_cases() -> Iterator[Case]:
    """Arguments of the wrong type or out of range: the reference randomizes or raises, ours must refuse."""
    texts = ["one two three", "a river and a river", ""]
    words: list[dict[str, Any]] = [{"num_words": 3.0, "relation": "at least"},
                                   {"num_words": 2.5, "relation": "at least"},
                                   {"num_words": "3", "relation": "at least"},
                                   {"num_words": 3, "relation": "more than"},
                                   {"num_words": 3, "relation": "At least"}]  # fmt: skip
    yield from grid("length_constraints:number_words", words, texts)
    frequency = [{"keyword": "river", "frequency": 2, "relation": "at most"},
                 {"keyword": "river", "frequency": -2, "relation": "less than"}]  # fmt: skip
    yield from grid("keywords:frequency", frequency, texts)
    yield from grid("keywords:letter_frequency", [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}],
                    texts)  # fmt: skip
    yield from grid("length_constraints:number_paragraphs", [{"num_paragraphs": -1}], ["a\n***\nb"])
    yield from grid("length_constraints:nth_paragraph_first_word",
                    [{"num_paragraphs": 2, "nth_paragraph": 0, "first_word": "a"},
                     {"num_paragraphs": -1, "nth_paragraph": 1, "first_word": "a"}], ["a\n\nb"])  # fmt: skip


FUZZ_PIECES = ["*", "**", "***", "******", "-", " ", "\n", "\n\n", "\t", "a", "B", "[", "]", "<<", ">>", "P.", "S.",
               "p. s.", "Section", " 1", "2", '"', ",", "{", "}", "However"]  # fmt: skip
FUZZ_ARGS: dict[str, list[dict[str, Any]]] = {
    "detectable_format:number_bullet_lists": [{"num_bullets": n} for n in (1, 2)],
    "detectable_content:number_placeholders": [{"num_placeholders": n} for n in (1, 2)],
    "detectable_format:title": [{}],
    "detectable_content:postscript": [{"postscript_marker": m} for m in ("P.S.", "P.P.S")],
    "detectable_format:number_highlighted_sections": [{"num_highlights": n} for n in (1, 2)],
    "length_constraints:number_paragraphs": [{"num_paragraphs": n} for n in (1, 2)],
    "combination:two_responses": [{}],
    "detectable_format:multiple_sections": [{"section_spliter": "Section", "num_sections": n} for n in (1, 2)],
    "length_constraints:nth_paragraph_first_word": [{"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"}],
    "startend:quotation": [{}],
}


def fuzz_cases(per_id: int = 150) -> Iterator[Case]:
    """Seeded random texts from the characters the scans and splits care about."""
    rng = random.Random(0)
    for instruction_id, kwargs_list in FUZZ_ARGS.items():
        texts = ["".join(rng.choices(FUZZ_PIECES, k=rng.randint(1, 14))) for _ in range(per_id)]
        yield from grid(instruction_id, kwargs_list, texts)


def all_cases() -> list[Case]:
    generators = [keyword_cases, language_cases, length_cases, content_cases, format_cases, combination_cases,
                  case_cases, argument_cases, fuzz_cases]  # fmt: skip
    return [case for generate in generators for case in generate()]


# ---------------------------------------------------------------------------
# judging
# ---------------------------------------------------------------------------


def ours(case: Case) -> dict[str, Any]:
    instruction = INSTRUCTIONS[case.id]
    try:
        args = instruction.signature.bind(case.kwargs, "kwargs")
        if instruction.validate is not None:
            instruction.validate(args, "kwargs")
    except ConstraintError as exc:
        return {"invalid": str(exc)}

    def judge(responses: list[str]) -> bool:
        return any(r.strip() and instruction.check(r, args) for r in responses)

    return {"strict": judge([case.response]), "loose": judge(loose_variants(case.response))}


def reference(python: str, cases: list[Case]) -> list[dict[str, Any]]:
    payload = json.dumps([[c.id, c.kwargs, c.response] for c in cases])
    env = {**os.environ, "LOCAL_RANK": "1"}  # lm-eval tries to download Punkt on rank 0 at import
    done = subprocess.run(
        [python, "-c", REFERENCE_DRIVER], input=payload, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"reference driver failed:\n{done.stderr[-3000:]}")
    verdicts: list[dict[str, Any]] = json.loads(done.stdout)
    return verdicts


def reference_available(python: str) -> str | None:
    """None when usable, else why not."""
    if not Path(python).exists():
        return f"{python} does not exist"
    probe = subprocess.run(
        [python, "-c", "import lm_eval.tasks.ifeval.instructions_registry"],
        capture_output=True,
        text=True,
        env={**os.environ, "LOCAL_RANK": "1"},
        check=False,
    )
    return None if probe.returncode == 0 else f"cannot import lm_eval's ifeval there: {probe.stderr.strip()[-300:]}"


REGEX_SPECIAL = set(".^$*+?{}[]\\|()")
USER_PATTERNS = ("keywords", "keyword", "forbidden_words", "section_spliter", "postscript_marker")
SPECIAL_MARKERS = ("P.S.", "P.P.S")  # the reference has its own patterns for these two


def has_regex_pattern(kwargs: dict[str, Any]) -> bool:
    """Whether a user-given text the reference compiles as a regex has a regex metacharacter."""
    for name in USER_PATTERNS:
        value = kwargs.get(name)
        values = value if isinstance(value, list) else [value]
        for text in values:
            if not isinstance(text, str) or (name == "postscript_marker" and text.strip() in SPECIAL_MARKERS):
                continue
            if REGEX_SPECIAL & set(text):
                return True
    return False


# Disagreements google.py documents as deliberate (see its docstring), then the others.
DELIBERATE = {
    "doc:literal": "user text matched literally; the reference compiles it as a regex",
    "doc:language": "a language outside the reference's table of 30 (it raises KeyError)",
    "doc:ref-crash": "the reference's check raises (deep JSON: RecursionError); ours gives a verdict",
    "doc:strict-args": "ours refuses a blank keyword/prompt or a non-integer count the reference still uses",
}
STRICT_ARG_ERRORS = ("must not be blank", "must be an integer")
UNEXPLAINED = ("strict", "loose", "ours-rejects", "ref-random", "ref-raises-on-args")


def classify(case: Case, mine: dict[str, Any], theirs: dict[str, Any]) -> str:
    """``agree``, a documented difference (``doc:...``) or the kind of disagreement."""
    if "build_error" in theirs or theirs.get("random"):
        if "invalid" in mine:
            return "agree"
        if theirs.get("random"):
            return "ref-random"
        language = "language" in case.kwargs and theirs["build_error"].startswith("KeyError")
        return "doc:language" if language else "ref-raises-on-args"
    if "invalid" in mine:
        return "doc:strict-args" if any(e in mine["invalid"] for e in STRICT_ARG_ERRORS) else "ours-rejects"
    if "strict_error" in theirs or "loose_error" in theirs:
        return "doc:ref-crash" if "RecursionError" in str(theirs) else "ref-raises"
    if mine["strict"] == theirs["strict"] and mine["loose"] == theirs["loose"]:
        return "agree"
    if has_regex_pattern(case.kwargs):
        return "doc:literal"
    return "strict" if mine["strict"] != theirs["strict"] else "loose"


def shorten(text: str, limit: int = 100) -> str:
    shown = repr(text)
    return shown if len(shown) <= limit else f"{shown[:limit]}... ({len(text)} chars)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--reference-python", default=os.environ.get("IFEVAL_REFERENCE_PYTHON", DEFAULT_REFERENCE_PYTHON)
    )
    parser.add_argument("--show", type=int, default=8, help="disagreeing examples shown per instruction id")
    parser.add_argument("--only", default="", help="only instruction ids containing this text")
    options = parser.parse_args()

    missing = reference_available(options.reference_python)
    if missing:
        print(f"SKIP ifeval_agreement: reference implementation not installed ({missing})")
        return 0

    cases = [c for c in all_cases() if options.only in c.id]
    theirs = reference(options.reference_python, cases)
    by_id: dict[str, Counter[str]] = defaultdict(Counter)
    examples: dict[str, list[str]] = defaultdict(list)
    for case, their in zip(cases, theirs, strict=True):
        mine = ours(case)
        verdict = classify(case, mine, their)
        by_id[case.id][verdict] += 1
        if verdict != "agree":
            examples[case.id].append(
                f"[{verdict}] kwargs={case.kwargs} response={shorten(case.response)}\n      ours={mine} ref={their}"
            )

    kinds = [*UNEXPLAINED, "ref-raises", *DELIBERATE]
    print("agree: same strict and loose verdicts, or ours rejects arguments the reference would randomize or refuse")
    for name, meaning in DELIBERATE.items():
        print(f"{name}: documented deliberate difference: {meaning}")
    print()
    header = f"{'instruction id':46} {'cases':>6} {'agree':>7}  " + " ".join(f"{k:>{max(len(k), 6)}}" for k in kinds)
    print(header)
    print("-" * len(header))
    total: Counter[str] = Counter()
    for instruction_id in sorted(INSTRUCTIONS):
        if instruction_id in NEEDS_PUNKT:
            print(f"{instruction_id:46} skipped: the reference needs {NEEDS_PUNKT[instruction_id]}")
            continue
        tally = by_id.get(instruction_id, Counter())
        n = sum(tally.values())
        if not n:
            continue
        total += tally
        share = f"{100 * tally['agree'] / n:6.1f}%"
        print(f"{instruction_id:46} {n:6d} {share:>7}  " + " ".join(f"{tally[k]:>{max(len(k), 6)}d}" for k in kinds))
    n = sum(total.values())
    print("-" * len(header))
    unexplained = sum(total[k] for k in (*UNEXPLAINED, "ref-raises"))
    print(
        f"{'all compared':46} {n:6d} {100 * total['agree'] / max(n, 1):6.1f}%  "
        + " ".join(f"{total[k]:>{max(len(k), 6)}d}" for k in kinds)
    )
    print(f"unexplained disagreements: {unexplained}")
    for instruction_id in sorted(examples):
        shown = examples[instruction_id][: options.show]
        print(f"\n{instruction_id}: {len(examples[instruction_id])} disagreements (showing {len(shown)})")
        for line in shown:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
