"""Every IFEval instruction type and every RLVR constraint function: one response that follows it, one that does not.

Scored through a real server with the built-in ``ifeval`` verifier, with references
shaped as the datasets store them: Google IFEval's ``instruction_id_list`` + ``kwargs``
(every key present, unused ones null, as on the Hugging Face hub) and AllenAI's
RLVR-IFeval ``ground_truth`` JSON text.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk import Outcome, VerifierClient

# (instruction id, kwargs, follows, does not follow)
GOOGLE_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("keywords:existence", {"keywords": ["sunrise", "harbor"]},
     "The sunrise over the Harbor was red.", "The sunset over the bay was red."),
    ("keywords:frequency", {"keyword": "river", "frequency": 3, "relation": "at least"},
     "A river, a River and one more river.", "Only one river here."),
    ("keywords:frequency", {"keyword": "river", "frequency": 2, "relation": "less than"},
     "Only one river here.", "A river and a river."),
    ("keywords:forbidden_words", {"forbidden_words": ["cat", "dog"]},
     "We concatenate strings in the catalog.", "My Dog sleeps all day."),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 3, "let_relation": "at least"},
     "Zebras zigzag around the zoo.", "No such letter in this line."),
    ("language:response_language", {"language": "fr"},
     "Le chat dort sur le canapé pendant que la pluie tombe doucement dehors.",
     "The cat sleeps on the sofa while the rain falls softly outside."),
    ("length_constraints:number_sentences", {"num_sentences": 3, "relation": "less than"},
     "Dr. Smith arrived at 3 p.m. sharp. He left soon after.",
     "One sentence here. Two sentences here. Three sentences here. Four."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 3},
     "First part.\n***\nSecond part.\n***\nThird part.", "First part.\n***\nSecond part."),
    ("length_constraints:number_words", {"num_words": 6, "relation": "at least"},
     "one two three four five six seven", "far too short"),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "however"},
     "The plan looked simple.\n\n\"However, it failed.\"", "The plan looked simple.\n\nBut it failed."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     "Dear [name], we ship to [address] soon.", "Dear [name], we ship soon."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."},
     "See you on Monday.\n\nP.S. Bring the charts.", "See you on Monday."),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"},
     "Thanks.\nP. P. S. One more thing.", "Thanks.\nP.S. One thing."),
    ("detectable_format:number_bullet_lists", {"num_bullets": 3},
     "Plan:\n* buy flour\n* bake\n- eat", "Plan:\n* buy flour\n* bake"),
    ("detectable_format:constrained_response", {},
     "After some thought: My answer is maybe.", "Probably yes."),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "This is *important* and **urgent**.", "Only *one* highlight and an empty ** pair."),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "Section 1\nIntro text.\nSection 2\nBody text.", "Section 1\nOnly one section."),
    ("detectable_format:json_format", {}, '```json\n{"city": "Oslo", "days": [1, 2]}\n```', "{city: Oslo}"),
    ("detectable_format:title", {}, "<<A Winter Walk>>\nSnow fell.", "<<   >> Snow fell without a title."),
    ("combination:two_responses", {},
     "Paris is the capital.\n******\nThe capital is Paris.", "Paris.\n******\nParis."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a short poem about rain."},
     "Write a short poem about rain. Drops tap the glass.", "Drops tap the glass."),
    ("startend:end_checker", {"end_phrase": "Any other questions?"},
     "That is all. Any other questions?", "Any other questions? That is all."),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "This is VERY IMPORTANT news.", "This is Very important news."),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "less than"},
     "Only ONE shouted word here.", "THREE SHOUTED WORDS here."),
    ("change_case:english_capital", {},
     "THE WEATHER TODAY IS COLD AND WINDY, SO WEAR A WARM COAT.", "The weather today is cold and windy."),
    ("change_case:english_lowercase", {},
     "the weather today is cold and windy, so wear a warm coat.", "the weather today is Cold and windy."),
    ("punctuation:no_comma", {}, "No commas appear in this line.", "Well, there is one."),
    ("startend:quotation", {}, '"The whole answer is quoted."', 'The answer is "partly" quoted.'),
]  # fmt: skip

HF_KWARG_KEYS = sorted({key for _, kwargs, _, _ in GOOGLE_CASES for key in kwargs} | {"num_sentences", "relation"})


def google_row(instruction_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """A google/IFEval row: every kwargs key present, unused ones null (how the hub stores them)."""
    full = {key: kwargs.get(key) for key in HF_KWARG_KEYS}
    return {"key": 1000, "prompt": "(prompt)", "instruction_id_list": [instruction_id], "kwargs": [full]}


def test_every_ifeval_instruction_type_is_covered():
    from verifier_server.kinds.ifeval.google import INSTRUCTIONS

    assert {case[0] for case in GOOGLE_CASES} == set(INSTRUCTIONS)
    assert len(INSTRUCTIONS) == 25


@pytest.mark.parametrize(
    ("instruction_id", "kwargs", "follows", "breaks"),
    GOOGLE_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(GOOGLE_CASES)],
)
def test_google_instruction(client: VerifierClient, instruction_id: str, kwargs: dict, follows: str, breaks: str):
    row = google_row(instruction_id, kwargs)
    good, bad = client.score("ifeval", [follows, breaks], references=[row, row])
    assert good.outcome is Outcome.OK and bad.outcome is Outcome.OK, (good.reason, bad.reason)
    assert (good.score, bad.score) == (1.0, 0.0), (good.reason, bad.reason)
    assert good.details["instructions"] == [{"id": instruction_id, "followed": True, "kwargs": kwargs}]
    assert bad.details["instructions"][0]["followed"] is False and instruction_id in bad.reason


# (func_name, arguments, follows, does not follow)
RLVR_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("verify_keywords", {"keyword_list": ["apple", "pie"]}, "Apple PIE for dessert.", "An apple tart."),
    ("verify_keyword_frequency", {"word": "moon", "N": 2}, "The moon, then the Moon.", "moon moon moon"),
    ("validate_forbidden_words", {"forbidden_words": ["rain"]}, "A sunny day.", "My brain hurts."),
    ("verify_letter_frequency", {"letter": "q", "N": 2}, "quick quiet", "Quick quiet"),
    ("validate_response_language", {"language": "de"},
     "Die Katze schläft auf dem Sofa, während draußen der Regen fällt.",
     "The cat sleeps on the sofa while the rain falls outside."),
    ("verify_paragraph_count", {"N": 2}, "First.\n * * * \nSecond.", "First.\n\nSecond."),
    ("validate_word_constraint", {"N": 10, "quantifier": "around"},
     "one two three four five six seven eight nine ten eleven", "one two three"),
    ("verify_sentence_constraint", {"N": 2, "quantifier": "at most"}, "One here. Two here.", "One. Two. Three."),
    ("validate_paragraphs", {"N": 2, "first_word": "Second", "i": 2}, "First.\n\nSecond part.", "First.\n\nThird."),
    ("verify_postscript", {"postscript_marker": "P.S."}, "Hi.\nP.S. Bye now.", "Hi. P.S."),
    ("validate_placeholders", {"N": 1}, "Send it to [address].", "Send it home."),
    ("verify_bullet_points", {"N": 2}, "* first\n- second", "* only one"),
    ("validate_title", {}, "<<Notes>>\nText.", "Notes\nText."),
    ("validate_choice", {"options": "('My answer is yes.', 'My answer is no.', 'My answer is maybe.')"},
     "My answer is no.", "Maybe, maybe not."),
    ("validate_highlighted_sections", {"N": 2}, "*one* and *two*", "*just one*"),
    ("validate_sections", {"N": 2, "section_splitter": "SECTION"},
     "Section 1 intro. section 2 body.", "SECTION 1 only."),
    ("validate_json_format", {}, '{"a": [1, 2]}', '```json\n{"a": 1}\n```'),
    ("validate_repeat_prompt", {"original_prompt": "Say hi to Ana."},
     "Say hi to Ana. Hi, Ana!", "Hi, Ana! Say hi to Ana."),
    ("validate_two_responses", {}, "Answer A.\n******\nAnswer B.", "A\n******\nB\n******\nC"),
    ("validate_uppercase", {}, "ALL CAPS 123!", "Not all caps."),
    ("validate_lowercase", {}, "all lowercase 123!", "Not lowercase."),
    ("validate_frequency_capital_words", {"N": 2, "quantifier": "at least"}, "NASA and ESA agree.", "Only NASA."),
    ("validate_end", {"end_phrase": "The end."}, "A short story. The end.", "The end. Or is it?"),
    ("validate_quotation", {}, '"All of it quoted."', "Not quoted."),
    ("validate_no_commas", {}, "No commas at all.", "One, comma."),
]  # fmt: skip

RLVR_KEYS = ("N", "quantifier", "end_phrase", "keyword_list", "word", "forbidden_words", "letter", "i", "first_word",
             "postscript_marker", "options", "section_splitter", "original_prompt", "language")  # fmt: skip


def rlvr_row(func_name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """An allenai/RLVR-IFeval row: ``ground_truth`` is JSON text naming the function, unused arguments null."""
    truth = {"func_name": func_name, **{key: arguments.get(key) for key in RLVR_KEYS}}
    return {"ground_truth": json.dumps(truth), "dataset": "ifeval", "constraint_type": func_name, "constraint": "(c)"}


def test_every_rlvr_function_is_covered():
    from verifier_server.kinds.ifeval.open_instruct import FUNCTIONS

    assert {case[0] for case in RLVR_CASES} == set(FUNCTIONS)


@pytest.mark.parametrize(("func_name", "arguments", "follows", "breaks"), RLVR_CASES, ids=[c[0] for c in RLVR_CASES])
def test_rlvr_function(client: VerifierClient, func_name: str, arguments: dict, follows: str, breaks: str):
    row = rlvr_row(func_name, arguments)
    good, bad = client.score("ifeval", [follows, breaks], references=[row, row])
    assert (good.outcome, bad.outcome) == (Outcome.OK, Outcome.OK), (good.reason, bad.reason)
    assert (good.score, bad.score) == (1.0, 0.0), (good.reason, bad.reason)
    assert good.details["format"] == "open_instruct" and good.details["instructions"][0]["id"] == func_name


# -- arguments IFEval would replace by a random draw, or refuses: ours must refuse them too ------------------


def bind(instruction_id: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """In process, as ``constraints`` binds a row's kwargs (no server needed)."""
    from verifier_server.kinds.ifeval.google import INSTRUCTIONS

    instruction = INSTRUCTIONS[instruction_id]
    args = instruction.signature.bind(kwargs, "kwargs")
    if instruction.validate is not None:
        instruction.validate(args, "kwargs")
    return args


def check(instruction_id: str, kwargs: dict[str, Any], response: str) -> bool:
    from verifier_server.kinds.ifeval.google import INSTRUCTIONS

    return INSTRUCTIONS[instruction_id].check(response, bind(instruction_id, kwargs))


# (instruction id, kwargs with a negative count): IFEval draws a random count instead.
NEGATIVE_COUNTS: list[tuple[str, dict[str, Any]]] = [
    ("keywords:frequency", {"keyword": "river", "frequency": -1, "relation": "at least"}),
    ("keywords:letter_frequency", {"letter": "a", "let_frequency": -2, "let_relation": "less than"}),
    ("length_constraints:number_sentences", {"num_sentences": -1, "relation": "less than"}),
    ("length_constraints:number_paragraphs", {"num_paragraphs": -3}),
    ("length_constraints:number_words", {"num_words": -5, "relation": "at least"}),
    ("length_constraints:nth_paragraph_first_word", {"num_paragraphs": -1, "nth_paragraph": 1, "first_word": "x"}),
    ("detectable_content:number_placeholders", {"num_placeholders": -1}),
    ("detectable_format:number_bullet_lists", {"num_bullets": -1}),
    ("detectable_format:number_highlighted_sections", {"num_highlights": -4}),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": -1}),
]  # fmt: skip


@pytest.mark.parametrize(("instruction_id", "kwargs"), NEGATIVE_COUNTS, ids=[c[0] for c in NEGATIVE_COUNTS])
def test_a_negative_count_is_refused_and_zero_is_a_count(instruction_id: str, kwargs: dict[str, Any]):
    from verifier_server.kinds.ifeval.params import ConstraintError

    name = next(k for k, v in kwargs.items() if isinstance(v, int) and v < 0)
    with pytest.raises(ConstraintError, match=f"kwargs.{name}: must be at least 0"):
        bind(instruction_id, kwargs)
    if instruction_id != "length_constraints:nth_paragraph_first_word":  # there nth_paragraph must fit in
        bind(instruction_id, {**kwargs, name: 0})


def test_zero_thresholds_keep_their_meaning():
    assert check("detectable_content:number_placeholders", {"num_placeholders": 0}, "no brackets")
    assert check("detectable_format:number_bullet_lists", {"num_bullets": 0}, "no list here")
    assert not check("detectable_format:number_bullet_lists", {"num_bullets": 0}, "* one")
    assert not check("keywords:frequency", {"keyword": "x", "frequency": 0, "relation": "less than"}, "no")


def test_capital_word_frequency_takes_any_integer_as_ifeval_does():
    """IFEval keeps a negative capital_frequency (no random draw there): "less than -1" is never followed."""
    assert not check("change_case:capital_word_frequency", {"capital_frequency": -1, "capital_relation": "less than"},
                     "NO WAY")  # fmt: skip


@pytest.mark.parametrize(
    ("instruction_id", "kwargs"),
    [
        ("keywords:frequency", {"keyword": "", "frequency": 1, "relation": "at least"}),  # IFEval: random keyword
        ("keywords:frequency", {"keyword": " \t", "frequency": 1, "relation": "at least"}),  # IFEval: matches anywhere
        ("combination:repeat_prompt", {"prompt_to_repeat": ""}),  # IFEval: ValueError
        ("combination:repeat_prompt", {"prompt_to_repeat": "  \n"}),  # IFEval: every response repeats it
    ],
)
def test_a_blank_keyword_or_prompt_is_refused(instruction_id: str, kwargs: dict[str, Any]):
    from verifier_server.kinds.ifeval.params import ConstraintError

    with pytest.raises(ConstraintError, match="must not be blank"):
        bind(instruction_id, kwargs)


@pytest.mark.parametrize("letter", ["", "ab", " a", "a ", "é", "1", "?", "ß"])
def test_letter_frequency_takes_one_ascii_letter(letter: str):
    """IFEval draws a random letter for anything but one ASCII letter, checked before any stripping."""
    from verifier_server.kinds.ifeval.params import ConstraintError

    with pytest.raises(ConstraintError, match="single ASCII letter"):
        bind("keywords:letter_frequency", {"letter": letter, "let_frequency": 1, "let_relation": "at least"})


def test_an_upper_case_letter_counts_both_cases():
    kwargs = {"letter": "Q", "let_frequency": 3, "let_relation": "at least"}
    assert check("keywords:letter_frequency", kwargs, "Quick quiet Queen")
    assert not check("keywords:letter_frequency", kwargs, "Quick quiet")


def test_json_nested_past_the_parsers_limit_is_not_json():
    """IFEval's check raises RecursionError here (it catches only ValueError); a verdict must come back."""
    deep = "[" * 5000 + "]" * 5000
    assert check("detectable_format:json_format", {}, deep) is False
    assert check("detectable_format:json_format", {}, "```json\n" + "[" * 50 + "]" * 50 + "\n```")


def test_chinese_is_a_language_although_ifeval_lists_none():
    """IFEval's table of 30 languages lacks Chinese (it raises KeyError); langdetect names two scripts."""
    assert check("language:response_language", {"language": "zh"}, "今天天气很好，我们要去公园散步很长时间。")
    assert not check("language:response_language", {"language": "zh"}, "The weather is lovely today.")
