"""Reading a sample's test cases from the dataset shapes people actually have (APPS, HumanEval, MBPP, ...).

Everything here is pure data handling: the result is a `TestSuite` the kind turns into a
harness request. A reference without usable tests is the sample's problem, so it raises
`TestsError` (-> invalid_input naming the field), never a spec error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Reference keys we look at, in order, when the spec does not name one.
#: ``public_test_cases`` is a LiveCodeBench row (public + private cases, read by ``livecodebench``).
KNOWN_FIELDS: tuple[str, ...] = ("input_output", "test_script", "test", "test_list", "tests", "test_cases", "inputs")
KNOWN_FIELDS += ("public_test_cases",)
STYLES = ("auto", "stdio", "function", "assert", "script")


class TestsError(ValueError):
    """The reference has no usable tests; the message names the field."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True, slots=True)
class Case:
    """One test. stdio: `stdin`/`expected`; function: `args`/`expected`; assert: `code`."""

    stdin: str = ""
    expected: Any = None
    args: Sequence[Any] = ()
    code: str = ""
    weight: float = 1.0
    name: str = ""


@dataclass(frozen=True, slots=True)
class TestSuite:
    """What to run: a style (stdio, function, assert, script) and its cases."""

    __test__ = False

    style: str
    cases: tuple[Case, ...]
    fn_name: str | None = None
    setup: str = ""
    script: str = ""
    entry_point: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_tests(
    reference: Mapping[str, Any],
    *,
    style: str = "auto",
    field_name: str | None = None,
    fn_name: str | None = None,
    max_tests: int | None = None,
) -> TestSuite:
    """The sample's tests; `field_name` forces where to look, `style` what they must be."""
    keys = (field_name,) if field_name else KNOWN_FIELDS
    for key in keys:
        value = reference.get(key)
        if value is None:
            continue
        suite = _parse_field(key, value, reference, fn_name)
        if style != "auto" and suite.style != style:
            raise TestsError(f"reference.{key}: holds {suite.style} tests but the verifier expects {style} tests")
        if not suite.cases and suite.style != "script":
            raise TestsError(f"reference.{key}: contains no test cases")
        if max_tests is not None:
            suite = TestSuite(
                suite.style, suite.cases[:max_tests], suite.fn_name, suite.setup, suite.script, suite.entry_point
            )
        return suite
    where = f"reference.{field_name}" if field_name else "reference.tests"
    also = "" if field_name else f" (looked for {', '.join(KNOWN_FIELDS)})"
    raise TestsError(f"{where}: missing{also}")


def _parse_field(key: str, value: Any, reference: Mapping[str, Any], fn_name: str | None) -> TestSuite:
    if key in ("public_test_cases", "private_test_cases"):
        from verifier_server.kinds.code.livecodebench import livecodebench_suite

        return livecodebench_suite(reference)
    if key == "test_script":
        return TestSuite("script", (), script=_text(key, value))
    if key == "test":
        return _humaneval(value, reference)
    if key == "test_list":
        return _mbpp(value, reference)
    if key == "inputs":
        return _io_lists(
            key, {"inputs": value, "outputs": reference.get("outputs"), "fn_name": reference.get("fn_name")}, fn_name
        )
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise TestsError(f"reference.{key}: not valid JSON") from None
    if isinstance(value, Mapping):
        return _io_lists(key, {**value, "fn_name": value.get("fn_name") or reference.get("fn_name")}, fn_name)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return _mbpp(value, reference, key)
    if isinstance(value, list):
        return _case_list(key, value, fn_name or reference.get("fn_name"))
    raise TestsError(f"reference.{key}: expected a list or an object of test cases, got {type(value).__name__}")


def _humaneval(value: Any, reference: Mapping[str, Any]) -> TestSuite:
    code = _text("test", value)
    entry = reference.get("entry_point")
    if "def check" not in code:  # a plain assert block
        return TestSuite("assert", (Case(code=code, name="test"),))
    if not isinstance(entry, str) or not entry:
        raise TestsError("reference.entry_point: missing (HumanEval-style tests call check(entry_point))")
    return TestSuite("assert", (Case(code=code, name=f"check({entry})"),), entry_point=entry)


def _mbpp(value: Any, reference: Mapping[str, Any], key: str = "test_list") -> TestSuite:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TestsError(f"reference.{key}: must be a list of assert statements")
    setup = reference.get("test_setup_code") or ""
    if not isinstance(setup, str):
        raise TestsError("reference.test_setup_code: must be a string")
    imports = reference.get("test_imports") or []
    if isinstance(imports, list):
        setup = "\n".join([*(str(i) for i in imports), setup])
    return TestSuite("assert", tuple(Case(code=v, name=f"assert {i}") for i, v in enumerate(value)), setup=setup)


def _io_lists(key: str, value: Mapping[str, Any], fn_name: str | None) -> TestSuite:
    inputs, outputs = value.get("inputs"), value.get("outputs")
    if not isinstance(inputs, list) or not isinstance(outputs, list):
        raise TestsError(f"reference.{key}: needs 'inputs' and 'outputs' lists")
    if len(inputs) != len(outputs):
        raise TestsError(f"reference.{key}: {len(inputs)} inputs but {len(outputs)} outputs")
    name = fn_name or value.get("fn_name")
    cases = [{"input": i, "output": o} for i, o in zip(inputs, outputs, strict=True)]
    return _case_list(key, cases, name if isinstance(name, str) and name else None)


def _case_list(key: str, value: list[Any], fn_name: str | None) -> TestSuite:
    cases = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise TestsError(f"reference.{key}[{i}]: must be an object with input and output")
        given = _first(item, ("input", "stdin", "inputs", "args"))
        wanted = _first(item, ("output", "expected_output", "stdout", "outputs", "expected"))
        if given is _MISSING or wanted is _MISSING:
            raise TestsError(f"reference.{key}[{i}]: needs 'input' and 'output'")
        weight = item.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            raise TestsError(f"reference.{key}[{i}].weight: must be a non-negative number")
        if fn_name:
            args = given if isinstance(given, list) else [given]
            cases.append(Case(args=args, expected=wanted, weight=float(weight), name=f"{fn_name} #{i}"))
        else:
            cases.append(Case(stdin=_lines(given), expected=_lines(wanted), weight=float(weight), name=f"case {i}"))
    return TestSuite("function" if fn_name else "stdio", tuple(cases), fn_name=fn_name)


_MISSING = object()


def _first(item: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        if key in item:
            return item[key]
    return _MISSING


def _lines(value: Any) -> str:
    if isinstance(value, list):
        return "\n".join(str(v) for v in value) + "\n"
    return value if isinstance(value, str) else json.dumps(value)


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TestsError(f"reference.{key}: must be non-empty source text")
    return value
