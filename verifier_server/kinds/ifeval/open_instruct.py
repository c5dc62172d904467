"""The constraint functions of AllenAI's RLVR instruction-following data (Tülu 3's ``RLVR-IFeval``).

Those rows carry a ``ground_truth`` like ``{"func_name": "verify_keywords", "keyword_list":
["x"], "N": null, ...}``: the name of one function in open-instruct's ``if_functions.py``
and its arguments, every unused key null. The functions are the 25 IFEval constraint
types rewritten more simply (often differently: ``validate_lowercase`` checks no
language, paragraphs are separated by ``* * *``), and the data's prompts were written
for them, so each is reproduced here with its own semantics rather than mapped onto
IFEval's. Deviations, on purpose: ``options`` given as the text of a tuple (as the data
stores it) is read as that tuple, not as characters; an undetectable language is not
followed (open-instruct raises); ``validate_paragraphs`` with ``i`` out of range is not
followed (open-instruct raises).
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from typing import Any

from verifier_server.kinds.ifeval import text
from verifier_server.kinds.ifeval.google import Check, Instruction
from verifier_server.kinds.ifeval.params import QUANTIFIERS, ConstraintError, Param, Signature


def _quantified(count: int, quantifier: str, n: int, around: int) -> bool:
    if quantifier == "at least":
        return count >= n
    if quantifier == "at most":
        return count <= n
    return abs(count - n) <= around


def _ten_percent(n: int) -> int:
    return max(round(n * 0.1), 1)


def verify_keywords(value: str, args: Mapping[str, Any]) -> bool:
    lowered = value.lower()
    return all(keyword.lower() in lowered for keyword in args["keyword_list"])


def verify_keyword_frequency(value: str, args: Mapping[str, Any]) -> bool:
    word = args["word"].lower()
    return sum(1 for w in re.findall(r"\b\w+\b", value.lower()) if w == word) == args["N"]


def validate_forbidden_words(value: str, args: Mapping[str, Any]) -> bool:
    lowered = value.lower()
    return not any(word.lower() in lowered for word in args["forbidden_words"])


def verify_letter_frequency(value: str, args: Mapping[str, Any]) -> bool:
    return value.count(args["letter"]) == args["N"]


def _single_letter(args: dict[str, Any], where: str) -> None:
    if len(args["letter"]) != 1:
        raise ConstraintError(f"{where}.letter: must be a single character, got {args['letter']!r}")


def validate_response_language(value: str, args: Mapping[str, Any]) -> bool:
    try:
        return text.language_matches(text.detect_language(value), args["language"])
    except text.Undetectable:
        return False


def verify_paragraph_count(value: str, args: Mapping[str, Any]) -> bool:
    cleaned = "\n".join(line.strip() for line in value.splitlines()).strip()
    paragraphs = cleaned.split("* * *")
    return all(p.strip() for p in paragraphs) and len(paragraphs) == args["N"]


def validate_word_constraint(value: str, args: Mapping[str, Any]) -> bool:
    n = args["N"]
    return _quantified(len(value.strip().split()), args["quantifier"], n, _ten_percent(n))


_SENTENCE_END = re.compile(r"(?<!\w\.\w.)(?<![A-Z][a-z]\.)(?<=\.|\?|!)\s")


def verify_sentence_constraint(value: str, args: Mapping[str, Any]) -> bool:
    return _quantified(len(_SENTENCE_END.split(value)), args["quantifier"], args["N"], 1)


def validate_paragraphs(value: str, args: Mapping[str, Any]) -> bool:
    paragraphs = value.split("\n\n")
    i = args["i"]
    if len(paragraphs) != args["N"] or not 1 <= i <= len(paragraphs):
        return False
    return paragraphs[i - 1].strip().startswith(args["first_word"])


def verify_postscript(value: str, args: Mapping[str, Any]) -> bool:
    marker = args["postscript_marker"]
    index = value.find(marker)
    return index != -1 and len(value[index:].strip()) > len(marker)


def validate_placeholders(value: str, args: Mapping[str, Any]) -> bool:
    return text.count_bracketed(value) >= args["N"]


def verify_bullet_points(value: str, args: Mapping[str, Any]) -> bool:
    return sum(1 for line in value.split("\n") if line.strip().startswith(("*", "-"))) == args["N"]


def validate_title(value: str, args: Mapping[str, Any]) -> bool:
    return text.has_double_angle_title(value, allow_empty=True)


def validate_choice(value: str, args: Mapping[str, Any]) -> bool:
    return any(option in value for option in args["options"])


def _options_list(args: dict[str, Any], where: str) -> None:
    options = args["options"]
    if isinstance(options, str):
        try:
            parsed = ast.literal_eval(options) if options.lstrip()[:1] in "([" else options
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            parsed = options
        options = [parsed] if isinstance(parsed, str) else parsed
    if not isinstance(options, list | tuple) or not options or not all(isinstance(o, str) for o in options):
        raise ConstraintError(f"{where}.options: must be a list of strings, got {args['options']!r}")
    args["options"] = list(options)


def validate_highlighted_sections(value: str, args: Mapping[str, Any]) -> bool:
    return len(re.findall(r"\*(.*?)\*", value)) >= args["N"]


def validate_sections(value: str, args: Mapping[str, Any]) -> bool:
    pattern = r"\s?" + re.escape(args["section_splitter"]) + r"\s?\d+\s?"
    return len(re.split(pattern, value, flags=re.IGNORECASE)) - 1 >= args["N"]


def validate_json_format(value: str, args: Mapping[str, Any]) -> bool:
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


def validate_repeat_prompt(value: str, args: Mapping[str, Any]) -> bool:
    return value.startswith(args["original_prompt"])


def validate_two_responses(value: str, args: Mapping[str, Any]) -> bool:
    if value.count("******") != 1:
        return False
    first, second = value.split("******")
    return first.strip() != second.strip()


def validate_uppercase(value: str, args: Mapping[str, Any]) -> bool:
    return value == value.upper()


def validate_lowercase(value: str, args: Mapping[str, Any]) -> bool:
    return value == value.lower()


def validate_frequency_capital_words(value: str, args: Mapping[str, Any]) -> bool:
    n = args["N"]
    return _quantified(len(re.findall(r"\b[A-Z]+\b", value)), args["quantifier"], n, _ten_percent(n))


def validate_end(value: str, args: Mapping[str, Any]) -> bool:
    return value.endswith(args["end_phrase"])


def validate_quotation(value: str, args: Mapping[str, Any]) -> bool:
    return value.startswith('"') and value.endswith('"')


def validate_no_commas(value: str, args: Mapping[str, Any]) -> bool:
    return "," not in value


def _n(*params: Param) -> Signature:
    return Signature((Param("N", "int"), *params))


_QUANTIFIER = Param("quantifier", "str", choices=QUANTIFIERS)
_ENTRIES: tuple[tuple[Check, Signature, Any], ...] = (
    (verify_keywords, Signature((Param("keyword_list", "list"),)), None),
    (verify_keyword_frequency, _n(Param("word", "str")), None),
    (validate_forbidden_words, Signature((Param("forbidden_words", "list"),)), None),
    (verify_letter_frequency, _n(Param("letter", "str")), _single_letter),
    (validate_response_language, Signature((Param("language", "str"),)), None),
    (verify_paragraph_count, _n(), None),
    (validate_word_constraint, _n(_QUANTIFIER), None),
    (verify_sentence_constraint, _n(_QUANTIFIER), None),
    (validate_paragraphs, _n(Param("first_word", "str"), Param("i", "int")), None),
    (verify_postscript, Signature((Param("postscript_marker", "str"),)), None),
    (validate_placeholders, _n(), None),
    (verify_bullet_points, _n(), None),
    (validate_title, Signature(), None),
    (validate_choice, Signature((Param("options", "any"),)), _options_list),
    (validate_highlighted_sections, _n(), None),
    (validate_sections, _n(Param("section_splitter", "str")), None),
    (validate_json_format, Signature(), None),
    (validate_repeat_prompt, Signature((Param("original_prompt", "str"),)), None),
    (validate_two_responses, Signature(), None),
    (validate_uppercase, Signature(), None),
    (validate_lowercase, Signature(), None),
    (validate_frequency_capital_words, _n(_QUANTIFIER), None),
    (validate_end, Signature((Param("end_phrase", "str"),)), None),
    (validate_quotation, Signature(), None),
    (validate_no_commas, Signature(), None),
)

FUNCTIONS: dict[str, Instruction] = {
    check.__name__: Instruction(check.__name__, signature, check, validate)  # type: ignore[attr-defined]
    for check, signature, validate in _ENTRIES
}
