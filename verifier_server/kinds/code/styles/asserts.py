"""The ``assert`` style (HumanEval `check(candidate)`, MBPP `test_list` after `test_setup_code`): trusted
assert code calls the candidate's functions through proxies into its process; the harness reports each
test's word."""

from __future__ import annotations

from typing import ClassVar

from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.styles.harnessed import HarnessGrader
from verifier_server.kinds.code.tests_model import TestSuite


class AssertGrader(HarnessGrader):
    style: ClassVar[str] = protocol.ASSERT

    def request(self, suite: TestSuite) -> protocol.Request:
        if suite.entry_point:
            tests = [{"check": True, "code": c.code, "entry_point": suite.entry_point} for c in suite.cases]
        else:
            tests = [{"code": c.code} for c in suite.cases]
        request: protocol.Request = {"tests": tests}
        if suite.setup:
            request["setup"] = suite.setup
        return request
