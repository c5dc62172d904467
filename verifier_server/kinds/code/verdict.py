"""One test's verdict, typed, and what a grader hands the kind: the per-test entries of a code result's details."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from verifier_server.kinds.code.protocol import PASSED, SKIPPED, VERDICTS


@dataclass(slots=True)
class CheckItem:
    """What a checker program gets for one test: its input, the candidate's answer and the expected answer."""

    given: Any
    answer: Any
    expected: Any


@dataclass(slots=True)
class TestVerdict:
    """One test: its verdict (a word of protocol.VERDICTS) and what explains it."""

    __test__ = False  # not a pytest class

    name: str
    verdict: str
    error: str | None = None
    time_s: float | None = None
    stdout: str | None = None
    """stdio: the head of the program's output."""
    expected: str | None = None
    """The head of the expected output (stdio) or of the expected value's JSON (function)."""
    returned: str | None = None
    """function: the head of the returned value's repr."""
    check: CheckItem | None = None
    """For a checker program, until it has decided; never part of the details."""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    @property
    def passed(self) -> bool:
        return self.verdict == PASSED

    def details(self) -> dict[str, Any]:
        """The JSON form in a result's details (absent fields left out)."""
        entry: dict[str, Any] = {"name": self.name}
        for key in ("time_s", "stdout", "expected", "returned"):
            value = getattr(self, key)
            if value is not None:
                entry[key] = value
        entry["verdict"] = self.verdict
        if self.error is not None:
            entry["error"] = self.error
        return entry


@dataclass(slots=True)
class Graded:
    """A grader's work for one sample: a verdict per test, and what the compile step printed."""

    tests: list[TestVerdict] = field(default_factory=list)
    compile_output: str = ""
    answered: bool = True
    """False: the candidate stopped the harness before any verdict (every test failed alike)."""

    def skip_after_first_failure(self) -> None:
        """stop_on_failure: tests after the first failure do not count (skipping never raises the reward)."""
        failed = False
        for test in self.tests:
            if failed:
                test.verdict, test.error = SKIPPED, "not counted: an earlier test failed (stop_on_failure)"
            failed = failed or not test.passed


@dataclass(frozen=True, slots=True)
class Snippets:
    """How much of outputs (their head) and errors (their tail: the exception line) details keep."""

    chars: int

    def head(self, text: str) -> str:
        n = self.chars
        return text if len(text) <= n else text[:n] + f"... [{len(text) - n} more chars]"

    def tail(self, text: str) -> str:
        n = self.chars
        return text if len(text) <= n else f"[{len(text) - n} earlier chars] ..." + text[len(text) - n :]
