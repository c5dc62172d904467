"""The ``function`` style (APPS/LeetCode `fn_name`): call the candidate's function with each test's arguments.

The harness calls the function (or `Solution().<fn_name>`) in a candidate process and
sends back the returned value as plain data (protocol.enc); the server compares it with
the expected value under the spec's checker (strictly by default, see checkers.py).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.report import ReportGarbled
from verifier_server.kinds.code.styles.harnessed import HarnessGrader
from verifier_server.kinds.code.tests_model import Case, TestSuite
from verifier_server.kinds.code.verdict import CheckItem, TestVerdict


class FunctionGrader(HarnessGrader):
    style: ClassVar[str] = protocol.FUNCTION

    def request(self, suite: TestSuite) -> protocol.Request:
        return {"tests": [{"args": protocol.enc(list(c.args))} for c in suite.cases], "fn_name": suite.fn_name or ""}

    def line(self, case: Case, line: dict[str, Any]) -> TestVerdict:
        if line.get("status") != protocol.RETURNED:
            return super().line(case, line)
        cfg, snip = self.config, self.config.snippets
        try:
            value = protocol.dec(line.get("value"))
        except (ValueError, TypeError, KeyError):
            raise ReportGarbled(f"{case.name}: the returned value does not decode") from None
        test = super().line(case, {**line, "status": protocol.PASSED})
        test.expected, test.returned = snip.head(json.dumps(case.expected)), snip.head(repr(value))
        if cfg.judge.in_sandbox:
            test.check = CheckItem(list(case.args), value, case.expected)
        elif not cfg.judge.value(value, case.expected, cfg.check_options):
            test.verdict = protocol.WRONG_ANSWER
        return test
