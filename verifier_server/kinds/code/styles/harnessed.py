"""What the function, assert and script styles share: one harness job per sample, and reading its report.

Those styles need a trusted party next to the candidate (test code calling into it), so
their job runs the in-sandbox harness (harness/runner.py) with a `protocol.Request`;
each style adds its own request fields and judges its own test lines. Whose failure:
a sandbox error, or a harness that failed by no doing of the candidate, is the sample's
error (score None); what the candidate did (crash, time out, kill the harness) is its 0.
The report is read and judged in a worker thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from sandboxes import LANGUAGES, ExecStatus, Execution, Job, Limits
from verifier_server.domain import Outcome, ScoreResult
from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.config import CodeConfig
from verifier_server.kinds.code.harness import runner_files
from verifier_server.kinds.code.report import HarnessReport, ReportGarbled, read_harness_report
from verifier_server.kinds.code.tests_model import Case, TestSuite
from verifier_server.kinds.code.verdict import Graded, TestVerdict
from verifier_server.kinds.sandboxed.access import SharedSandbox, new_nonce

MiB = 1024 * 1024
HARNESS_OVERHEAD_BYTES = 192 * MiB
#: Bytes a test's line may add beside its output (status, error tails JSON-escaped): the job's stdout cap.
LINE_OVERHEAD_BYTES = 16 * 1024
AttachedRun = Callable[[protocol.Request, Limits], Awaitable[Execution]]
"""Runs the harness on a request against a candidate already running, within the limits (see `grade_attached`)."""


class HarnessGrader:
    """A style that runs its tests through the harness; subclasses add `request` fields and judge `line`s."""

    style: ClassVar[str]
    python_only: ClassVar[bool] = True

    def __init__(self, config: CodeConfig, sandbox: SharedSandbox) -> None:
        self.config, self.sandbox = config, sandbox

    def request(self, suite: TestSuite) -> protocol.Request:
        """This style's fields of the harness request (tests and whatever its test code needs)."""
        raise NotImplementedError

    def line(self, case: Case, line: dict[str, Any]) -> TestVerdict:
        """One test's verdict from its line: the harness's word, with its error for a failure."""
        status = str(line.get("status", protocol.RUNTIME_ERROR))
        verdict = status if status in protocol.VERDICTS else protocol.RUNTIME_ERROR
        test = TestVerdict(case.name, verdict, time_s=_time(line))
        if verdict != protocol.PASSED:
            test.error = self.config.snippets.tail(str(line.get("error", "")))
        return test

    async def grade(self, code: str, language: str, suite: TestSuite) -> Graded | ScoreResult:
        nonce = new_nonce()
        return await self.judged(suite, await self.sandbox.run(self.job(code, suite, nonce)), nonce)

    async def grade_attached(self, suite: TestSuite, run: AttachedRun) -> Graded | ScoreResult:
        """Grade a candidate that is already running (see `CodeVerifier.score_attached`): `run` runs the harness."""
        nonce = new_nonce()
        request = self.harness_request(suite, nonce)
        request["isolation"] = "shared"  # one live candidate, never started again
        wall, output_bytes = self.job_bounds(request)
        request["job_wall_s"] = wall
        limits = Limits(wall_time_s=wall, cpu_time_s=wall, output_bytes=output_bytes)
        return await self.judged(suite, await run(request, limits), nonce)

    async def judged(self, suite: TestSuite, execution: Execution, nonce: str) -> Graded | ScoreResult:
        if execution.status is ExecStatus.SANDBOX_ERROR:
            return ScoreResult.failed(Outcome.ERROR, f"sandbox error: {execution.reason}")
        return await asyncio.to_thread(self.read, suite, execution, nonce)

    def harness_request(self, suite: TestSuite, nonce: str) -> protocol.Request:
        """The harness's whole request for `suite`: the sample's limits and options, then this style's fields."""
        cfg, settings = self.config, self.config.settings
        request: protocol.Request = {
            "nonce": nonce,
            "style": self.style,
            "limits": {
                "wall_time_s": cfg.time_limit_s,
                "cpu_time_s": cfg.time_limit_s,
                "memory_bytes": cfg.memory_bytes,
                "output_bytes": cfg.output_limit_bytes,
            },
            "stop_on_failure": cfg.stop_on_failure,
            "isolation": cfg.isolation,
            "report_budget": settings.max_report_bytes,
            "max_tests": settings.cap_max_tests,
            "rlimit_as": not LANGUAGES["python"].reserves_address_space,
            **self.request(suite),
        }
        if suite.entry_point:
            request["names"] = [suite.entry_point]
        return request

    def job_bounds(self, request: protocol.Request) -> tuple[float, int]:
        """(wall time, stdout bytes) of the whole harness run: every test at its limit plus room for the harness;
        the harness keeps its lines within the report budget, so the output bound only stops a broken one."""
        cfg, settings = self.config, self.config.settings
        n = max(1, len(request.get("tests", [])))
        wall = min(n * (cfg.time_limit_s + 0.5) + 5.0, settings.max_job_wall_s)
        return wall, settings.max_report_bytes + (n + 1) * LINE_OVERHEAD_BYTES + MiB

    def job(self, code: str, suite: TestSuite, nonce: str) -> Job:
        cfg, settings = self.config, self.config.settings
        request = self.harness_request(suite, nonce)
        wall, output_bytes = self.job_bounds(request)
        request["job_wall_s"] = wall
        limits = Limits(
            wall_time_s=wall,
            cpu_time_s=wall,
            memory_bytes=cfg.memory_bytes + HARNESS_OVERHEAD_BYTES,
            processes=settings.processes,
            open_files=256,
            output_bytes=output_bytes,
            workdir_bytes=64 * MiB,
        )
        files: dict[str, str | bytes] = {**runner_files(), protocol.CANDIDATE_FILE: code}
        env = {protocol.EAGER_ZYGOTE_ENV: "1"} if request["isolation"] == "per_test" else {}
        return Job(language="python", files=files, stdin=json.dumps(request), limits=limits, env=env)

    def read(self, suite: TestSuite, execution: Execution, nonce: str) -> Graded | ScoreResult:
        """In a worker thread: read the harness's report, decide whose failure any failure is, judge each test."""
        snip = self.config.snippets
        try:
            report = read_harness_report(execution.stdout, nonce)
            if report is None:
                if ended_on_its_own(execution):
                    tail = snip.tail(execution.stderr.decode("utf-8", "replace"))
                    why = execution.reason or "exit code 0"
                    return ScoreResult.failed(
                        Outcome.ERROR, f"the test harness failed: it ended ({why}) without a verdict; {tail}"
                    )
                return Graded(self.unanswered(suite, execution), answered=False)
            if report.harness_failed:
                return ScoreResult.failed(Outcome.ERROR, f"the test harness failed: {snip.tail(report.harness_failed)}")
            if report.invalid:
                return ScoreResult.invalid(report.invalid)
            return Graded(self.verdicts(suite, report))
        except ReportGarbled as exc:
            return ScoreResult.failed(Outcome.ERROR, f"the test harness failed: its reply is garbled ({exc})")

    def unanswered(self, suite: TestSuite, execution: Execution) -> list[TestVerdict]:
        """The harness was stopped before its verdict, by the candidate's doing: every test failed."""
        verdict = protocol.FROM_SANDBOX.get(execution.status.value, protocol.RUNTIME_ERROR)
        if verdict == protocol.COMPILE_ERROR:
            verdict = protocol.RUNTIME_ERROR
        tail = execution.stderr[-300:].decode("utf-8", "replace")
        why = f"the test harness gave no verdict (run ended: {execution.reason or execution.status.value}) {tail}"
        return [TestVerdict(c.name, verdict, why) for c in suite.cases or (Case(name="script"),)]

    def verdicts(self, suite: TestSuite, report: HarnessReport) -> list[TestVerdict]:
        """One per test; anything the harness did not vouch for is a failure, never a pass."""
        cases = suite.cases
        if len(report) > len(cases):
            raise ReportGarbled(f"{len(report)} test lines for {len(cases)} tests")
        tests = [self.line(case, line) for case, line in zip(cases, report.results(), strict=False)]
        stopped = self.config.stop_on_failure and report.harness_error is None
        error = self.config.snippets.tail(report.harness_error or "not run")
        for case in cases[len(tests) :]:
            tests.append(TestVerdict(case.name, protocol.SKIPPED if stopped else protocol.RUNTIME_ERROR, error))
        return tests


def ended_on_its_own(execution: Execution) -> bool:
    """The harness exited with a status of its own (an exit code, no signal, no limit, no timeout).

    The candidate can kill the harness (a signal), exhaust the job's limits or stop it until
    the wall time runs out, but it cannot make the harness exit with a code: a harness that
    did so without its verdict failed by itself.
    """
    return execution.signal is None and execution.status in (ExecStatus.OK, ExecStatus.NONZERO_EXIT)


def _time(line: dict[str, Any]) -> float | None:
    value = line.get("time_s")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
