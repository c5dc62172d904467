"""The ``script`` style: a test script's own test functions and TestCase classes, importing the candidate as
`solution` (proxies into its process); the harness collects and names the tests, and reports each one's word."""

from __future__ import annotations

from typing import ClassVar

from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.report import HarnessReport
from verifier_server.kinds.code.styles.harnessed import HarnessGrader
from verifier_server.kinds.code.tests_model import Case, TestSuite
from verifier_server.kinds.code.verdict import TestVerdict


class ScriptGrader(HarnessGrader):
    style: ClassVar[str] = protocol.SCRIPT

    def request(self, suite: TestSuite) -> protocol.Request:
        return {"tests": [], "script": suite.script}

    def verdicts(self, suite: TestSuite, report: HarnessReport) -> list[TestVerdict]:
        """The tests are the script's, named by the harness; none reported is one failed `script` test."""
        lines = enumerate(report.results())
        tests = [self.line(Case(name=str(line.get("name", f"test {i}"))), line) for i, line in lines]
        if tests:
            return tests
        stopped = self.config.stop_on_failure and report.harness_error is None
        error = self.config.snippets.tail(report.harness_error or "not run")
        return [TestVerdict("script", protocol.SKIPPED if stopped else protocol.RUNTIME_ERROR, error)]
