"""Test styles, one grader each, in one table: how a sample's tests are run and judged.

A grader is built with the compiled spec and the shared sandbox and has one method,
`grade(code, language, suite) -> Graded | ScoreResult` (a ScoreResult when the sample gets
no verdict: our error, or its own invalid input). `stdio` runs the program once per test
in any language; `function`, `assert` and `script` need Python and the in-sandbox harness.
Adding a style is one module here and one entry in `GRADERS` (and its reference shapes in
tests_model.py).
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from verifier_server.domain import ScoreResult
from verifier_server.kinds.code.config import CodeConfig
from verifier_server.kinds.code.styles.asserts import AssertGrader
from verifier_server.kinds.code.styles.function import FunctionGrader
from verifier_server.kinds.code.styles.script import ScriptGrader
from verifier_server.kinds.code.styles.stdio import StdioGrader
from verifier_server.kinds.code.tests_model import TestSuite
from verifier_server.kinds.code.verdict import Graded
from verifier_server.kinds.sandboxed.access import SharedSandbox


class Grader(Protocol):
    style: ClassVar[str]
    python_only: ClassVar[bool]
    """The style's test code calls into the candidate's process: Python candidates only."""

    def __init__(self, config: CodeConfig, sandbox: SharedSandbox) -> None: ...

    async def grade(self, code: str, language: str, suite: TestSuite) -> Graded | ScoreResult: ...


GRADERS: dict[str, type[Grader]] = {
    grader.style: grader for grader in (StdioGrader, FunctionGrader, AssertGrader, ScriptGrader)
}
