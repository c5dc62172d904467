"""The verifiable instructions of Google's IFEval (Zhou et al., 2023), one table entry per id.

Each entry carries its keyword arguments and its check, with the semantics of
``google-research/instruction_following_eval/instructions.py``. Where we differ it is on
purpose, and said here: user-given keywords, markers and splitters are matched as
literal text (IFEval compiles them as regular expressions, so ``c++`` would crash it),
sentences are split with sentencex rather than Punkt (see ``text``), and missing
arguments are an error rather than a random choice (see ``params``), as are the values
IFEval would also replace by a random one (a negative count, an empty keyword, a letter
that is not one ASCII letter) or refuses (an empty prompt to repeat); a blank keyword or
prompt, which IFEval would take as matching everywhere, is an error too. Two more, where
IFEval itself fails: JSON nested deeper than the parser's recursion limit is not JSON
(IFEval's check raises ``RecursionError``), and ``language`` may be any language
langdetect knows, ``zh`` matching both Chinese scripts (IFEval's table has 30 and raises
``KeyError`` on any other).
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from verifier_server.kinds.ifeval import text
from verifier_server.kinds.ifeval.params import RELATIONS, ConstraintError, Param, Signature

Check = Callable[[str, Mapping[str, Any]], bool]
CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


@dataclass(frozen=True, slots=True)
class Instruction:
    id: str
    signature: Signature
    check: Check
    validate: Callable[[dict[str, Any], str], None] | None = None
    """Extra checks of the bound arguments (raise ``ConstraintError``)."""


def _compare(count: int, relation: str, threshold: int) -> bool:
    return count < threshold if relation == "less than" else count >= threshold


def _keywords_exist(value: str, args: Mapping[str, Any]) -> bool:
    return all(re.search(re.escape(k), value, flags=re.IGNORECASE) for k in args["keywords"])


def _keyword_frequency(value: str, args: Mapping[str, Any]) -> bool:
    found = len(re.findall(re.escape(args["keyword"].strip()), value, flags=re.IGNORECASE))
    return _compare(found, args["relation"], args["frequency"])


def _forbidden_words(value: str, args: Mapping[str, Any]) -> bool:
    return not any(
        re.search(r"\b" + re.escape(word) + r"\b", value, flags=re.IGNORECASE) for word in args["forbidden_words"]
    )


def _letter_frequency(value: str, args: Mapping[str, Any]) -> bool:
    letters = collections.Counter(value.lower())
    return _compare(letters[args["letter"].lower()], args["let_relation"], args["let_frequency"])


def _one_letter(args: dict[str, Any], where: str) -> None:
    """IFEval takes one ASCII letter as given (either case) and draws a random one for anything else."""
    letter = args["letter"]
    if len(letter) != 1 or not "a" <= letter.lower() <= "z":
        raise ConstraintError(f"{where}.letter: must be a single ASCII letter, got {letter!r}")


def _response_language(value: str, args: Mapping[str, Any]) -> bool:
    try:
        return text.language_matches(text.detect_language(value), args["language"])
    except text.Undetectable:
        return True  # IFEval counts an undetectable language as followed


def _known_language(args: dict[str, Any], where: str) -> None:
    if args["language"] not in text.known_languages():
        known = ", ".join(sorted(text.known_languages()))
        raise ConstraintError(f"{where}.language: {args['language']!r} is not a language we detect ({known})")


def _number_sentences(value: str, args: Mapping[str, Any]) -> bool:
    return _compare(text.count_sentences(value), args["relation"], args["num_sentences"])


def _number_paragraphs(value: str, args: Mapping[str, Any]) -> bool:
    paragraphs = re.split(r"\s?\*\*\*\s?", value)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index in (0, len(paragraphs) - 1):
                count -= 1
            else:
                return False
    return count == args["num_paragraphs"]


def _number_words(value: str, args: Mapping[str, Any]) -> bool:
    return _compare(text.count_words(value), args["relation"], args["num_words"])


def _nth_paragraph_first_word(value: str, args: Mapping[str, Any]) -> bool:
    paragraphs = value.split("\n\n")
    count = sum(1 for p in paragraphs if p.strip())
    nth = args["nth_paragraph"]
    if nth > count:
        return False
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first = ""
    for letter in word:
        if letter in {".", ",", "?", "!", "'", '"'}:
            break
        first += letter.lower()
    return count == args["num_paragraphs"] and first == args["first_word"].lower()


def _nth_in_range(args: dict[str, Any], where: str) -> None:
    if not 1 <= args["nth_paragraph"] <= args["num_paragraphs"]:
        raise ConstraintError(f"{where}.nth_paragraph: must be between 1 and num_paragraphs")


def _placeholders(value: str, args: Mapping[str, Any]) -> bool:
    return text.count_bracketed(value) >= args["num_placeholders"]


def _postscript(value: str, args: Mapping[str, Any]) -> bool:
    return text.contains_postscript(value, args["postscript_marker"].strip())


def _bullet_lists(value: str, args: Mapping[str, Any]) -> bool:
    return text.count_star_bullets(value) + text.count_dash_bullets(value) == args["num_bullets"]


def _constrained_response(value: str, args: Mapping[str, Any]) -> bool:
    stripped = value.strip()
    return any(option in stripped for option in CONSTRAINED_RESPONSES)


def _highlighted_sections(value: str, args: Mapping[str, Any]) -> bool:
    count = sum(1 for h in re.findall(r"\*[^\n\*]*\*", value) if h.strip("*").strip())
    count += sum(1 for h in re.findall(r"\*\*[^\n\*]*\*\*", value) if h.removeprefix("**").removesuffix("**").strip())
    return count >= args["num_highlights"]


def _multiple_sections(value: str, args: Mapping[str, Any]) -> bool:
    splitter = re.escape(args["section_spliter"].strip())
    return len(re.split(r"\s?" + splitter + r"\s?\d+\s?", value)) - 1 >= args["num_sections"]


def _json_format(value: str, args: Mapping[str, Any]) -> bool:
    body = value.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        body = body.removeprefix(fence)
    body = body.removesuffix("```").strip()
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def _title(value: str, args: Mapping[str, Any]) -> bool:
    return text.has_double_angle_title(value, allow_empty=False)


def _two_responses(value: str, args: Mapping[str, Any]) -> bool:
    responses = value.split("******")
    valid = []
    for index, response in enumerate(responses):
        if response.strip():
            valid.append(response)
        elif index not in (0, len(responses) - 1):
            return False
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def _repeat_prompt(value: str, args: Mapping[str, Any]) -> bool:
    return value.strip().lower().startswith(args["prompt_to_repeat"].strip().lower())


def _end_checker(value: str, args: Mapping[str, Any]) -> bool:
    return value.strip().strip('"').lower().endswith(args["end_phrase"].strip().lower())


def _capital_word_frequency(value: str, args: Mapping[str, Any]) -> bool:
    capitals = sum(1 for word in text.word_tokens(value) if word.isupper())
    return _compare(capitals, args["capital_relation"], args["capital_frequency"])


def _english_and(value: str, case_ok: bool) -> bool:
    try:
        return case_ok and text.detect_language(value) == "en"
    except text.Undetectable:
        return True  # as IFEval


def _english_capital(value: str, args: Mapping[str, Any]) -> bool:
    return _english_and(value, value.isupper())


def _english_lowercase(value: str, args: Mapping[str, Any]) -> bool:
    return _english_and(value, value.islower())


def _no_comma(value: str, args: Mapping[str, Any]) -> bool:
    return "," not in value


def _quotation(value: str, args: Mapping[str, Any]) -> bool:
    stripped = value.strip()
    return len(stripped) > 1 and stripped[0] == '"' and stripped[-1] == '"'


def _relation(name: str = "relation") -> Param:
    return Param(name, "str", choices=RELATIONS)


def _count(name: str) -> Param:
    """A count threshold: IFEval replaces a negative one by a random draw, so we refuse it."""
    return Param(name, "int", minimum=0)


def _sig(*params: Param, **aliases: str) -> Signature:
    return Signature(tuple(params), aliases)


INSTRUCTIONS: dict[str, Instruction] = {
    entry.id: entry
    for entry in (
        Instruction("keywords:existence", _sig(Param("keywords", "list")), _keywords_exist),
        Instruction(
            "keywords:frequency",
            _sig(Param("keyword", "str", nonblank=True), _count("frequency"), _relation()),
            _keyword_frequency,
        ),
        Instruction("keywords:forbidden_words", _sig(Param("forbidden_words", "list")), _forbidden_words),
        Instruction(
            "keywords:letter_frequency",
            _sig(Param("letter", "str"), _count("let_frequency"), _relation("let_relation")),
            _letter_frequency,
            _one_letter,
        ),
        Instruction("language:response_language", _sig(Param("language", "str")), _response_language, _known_language),
        Instruction(
            "length_constraints:number_sentences",
            _sig(_count("num_sentences"), _relation()),
            _number_sentences,
        ),
        Instruction("length_constraints:number_paragraphs", _sig(_count("num_paragraphs")), _number_paragraphs),
        Instruction("length_constraints:number_words", _sig(_count("num_words"), _relation()), _number_words),
        Instruction(
            "length_constraints:nth_paragraph_first_word",
            _sig(_count("num_paragraphs"), Param("nth_paragraph", "int"), Param("first_word", "str")),
            _nth_paragraph_first_word,
            _nth_in_range,
        ),
        Instruction("detectable_content:number_placeholders", _sig(_count("num_placeholders")), _placeholders),
        Instruction("detectable_content:postscript", _sig(Param("postscript_marker", "str")), _postscript),
        Instruction("detectable_format:number_bullet_lists", _sig(_count("num_bullets")), _bullet_lists),
        Instruction("detectable_format:constrained_response", _sig(), _constrained_response),
        Instruction(
            "detectable_format:number_highlighted_sections",
            _sig(_count("num_highlights")),
            _highlighted_sections,
        ),
        Instruction(
            "detectable_format:multiple_sections",
            _sig(Param("section_spliter", "str"), _count("num_sections"), section_splitter="section_spliter"),
            _multiple_sections,
        ),
        Instruction("detectable_format:json_format", _sig(), _json_format),
        Instruction("detectable_format:title", _sig(), _title),
        Instruction("combination:two_responses", _sig(), _two_responses),
        Instruction("combination:repeat_prompt", _sig(Param("prompt_to_repeat", "str", nonblank=True)), _repeat_prompt),
        Instruction("startend:end_checker", _sig(Param("end_phrase", "str")), _end_checker),
        Instruction(
            "change_case:capital_word_frequency",
            _sig(Param("capital_frequency", "int"), _relation("capital_relation")),
            _capital_word_frequency,
        ),
        Instruction("change_case:english_capital", _sig(), _english_capital),
        Instruction("change_case:english_lowercase", _sig(), _english_lowercase),
        Instruction("punctuation:no_comma", _sig(), _no_comma),
        Instruction("startend:quotation", _sig(), _quotation),
    )
}
