"""The code kind's parts describe themselves: the protocol's words against the sandbox's statuses, the checker
table against what specs accept and what docs/kinds.md lists, the style table against the reference shapes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sandboxes import ExecStatus, exits
from sdk import InvalidArgumentError, VerifierClient
from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.checkers import CHECKERS, CheckOptions
from verifier_server.kinds.code.styles import GRADERS
from verifier_server.kinds.code.tests_model import STYLES
from verifier_server.kinds.code.verdict import TestVerdict

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kinds.md"


def test_the_protocols_words_are_stated_against_the_sandboxes_statuses() -> None:
    statuses = {status.value for status in ExecStatus}
    assert set(protocol.FROM_SANDBOX) <= statuses - {exits.OK, exits.SANDBOX_ERROR}
    assert set(protocol.FROM_SANDBOX.values()) <= set(protocol.VERDICTS)
    table = protocol.__doc__ or ""
    for word in (protocol.PASSED, protocol.RETURNED, protocol.WRONG_ANSWER, protocol.RUNTIME_ERROR,
                 protocol.TIMEOUT, protocol.MEMORY, protocol.OUTPUT_LIMIT):
        assert f"| `{word}` |" in table, word
    with pytest.raises(ValueError, match="unknown verdict"):
        TestVerdict("t", "fine")


def test_values_cross_the_boundary_as_plain_data_only() -> None:
    value = {"a": (1, 2.5, {3}), "b": [b"x", 2**70, float("inf"), None, True, frozenset({1j})]}
    assert protocol.dec(protocol.enc(value)) == value
    with pytest.raises(TypeError):
        protocol.enc(object())
    with pytest.raises(ValueError):
        protocol.dec({"$eval": "1"})


def test_every_style_has_one_grader() -> None:
    assert set(GRADERS) == set(STYLES) - {"auto"}
    assert {style for style, grader in GRADERS.items() if not grader.python_only} == {"stdio"}
    assert set(protocol.HARNESS_STYLES) == {style for style, grader in GRADERS.items() if grader.python_only}


def test_every_checker_is_described_accepted_and_documented(client: VerifierClient) -> None:
    code_section = DOCS.read_text().split("## code", 1)[1].split("\n## ", 1)[0]
    options = CheckOptions()
    for name, checker in CHECKERS.items():
        assert checker.description and f"`{name}`" in code_section, name
        config = {"tests": "stdio", "checker": name}
        if checker.in_sandbox:
            config["checker_source"] = "def check(given, output, expected):\n    return output.strip() == expected\n"
        else:
            assert checker.text("1 2\n", "1 2", options) and not checker.text("1 3", "1 2", options), name
            assert checker.value([1, 2], (1, 2), options) and not checker.value([1], 1, options), name
        result = client.score({"kind": "code", "config": config}, completions=["```python\nprint(1, 2)\n```"],
                              references=[{"tests": [{"input": "", "output": "1 2"}]}])[0]
        assert (result.outcome, result.score) == ("ok", 1.0), (name, result.reason)
    with pytest.raises(InvalidArgumentError, match=re.escape(", ".join(CHECKERS))):
        client.score({"kind": "code", "config": {"checker": "fuzzy"}}, completions=["x"], references=[{}])


def test_capabilities_list_what_this_machine_can_run(client: VerifierClient) -> None:
    """Not every recipe there is: the languages the server's sandbox has toolchains for here."""
    from sandboxes import LANGUAGES, available_languages

    languages = client.capabilities().languages
    assert "python" in languages and list(languages) == sorted(languages)
    assert set(languages) == set(available_languages("bwrap"))
    missing = [name for name, recipe in LANGUAGES.items() if recipe.toolchain() is None]
    assert not set(missing) & set(languages)
