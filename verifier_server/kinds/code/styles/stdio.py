"""The ``stdio`` style: the program reads each test's input and its output is compared, in any language.

No harness: the sandbox compiles the program once and runs it once per test, each run a
fresh process in a fresh work dir (`Sandbox.run_many`); each run's status is the test's
verdict unless it is ok, then the spec's checker judges the output here, in the server.
Runs are judged as they come and their output dropped, so the server holds one run's
output at a time (plus what a checker program still needs).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import ClassVar

from sandboxes import DEFAULT_COMPILE_LIMITS, LANGUAGES, ExecStatus, Execution, Job, Limits, Recipe
from verifier_server.domain import Outcome, ScoreResult
from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.config import CodeConfig
from verifier_server.kinds.code.tests_model import Case, TestSuite
from verifier_server.kinds.code.verdict import CheckItem, Graded, TestVerdict
from verifier_server.kinds.sandboxed.access import SharedSandbox

MiB = 1024 * 1024
#: Outputs up to this size are judged on the event loop; larger ones in a worker thread.
INLINE_JUDGE_BYTES = 64 * 1024


class StdioGrader:
    """One compiled program, one run per test; see the module docstring."""

    style: ClassVar[str] = "stdio"
    python_only: ClassVar[bool] = False

    def __init__(self, config: CodeConfig, sandbox: SharedSandbox) -> None:
        self.config, self.sandbox = config, sandbox

    async def grade(self, code: str, language: str, suite: TestSuite) -> Graded | ScoreResult:
        cfg = self.config
        recipe = LANGUAGES[language]
        files = {recipe.default_entrypoint: code}
        job = Job(language, files, limits=self.limits(), compile_limits=self.compile(recipe))
        graded = Graded()
        budget = cfg.settings.max_report_bytes
        used = ran_s = 0.0
        cases = iter(suite.cases)
        runs = self.sandbox.run_many(job, [case.stdin for case in suite.cases])
        async with contextlib.aclosing(runs):
            async for execution in runs:
                if execution.status is ExecStatus.SANDBOX_ERROR:
                    return ScoreResult.failed(Outcome.ERROR, f"sandbox error: {execution.reason}")
                graded.compile_output = execution.compile_output
                if execution.status is ExecStatus.COMPILE_ERROR:
                    error = cfg.snippets.head(execution.compile_output or execution.reason)
                    graded.tests = [TestVerdict(c.name, protocol.COMPILE_ERROR, error) for c in suite.cases]
                    return graded
                case = next(cases)
                fits = used + len(execution.stdout) <= budget
                used += len(execution.stdout) if fits else 0
                ran_s += execution.wall_time_s
                if len(execution.stdout) + len(execution.stderr) > INLINE_JUDGE_BYTES:
                    test = await asyncio.to_thread(self.judge, case, execution, fits)
                else:
                    test = self.judge(case, execution, fits)
                del execution  # one run's output at a time
                graded.tests.append(test)
                if (cfg.stop_on_failure and not test.passed) or ran_s > cfg.settings.max_job_wall_s:
                    break
        self._not_run(graded, suite, ran_s)
        return graded

    def judge(self, case: Case, execution: Execution, fits: bool) -> TestVerdict:
        """One run's verdict: its status, else the checker on its output (a checker program decides later)."""
        cfg, snip = self.config, self.config.snippets
        output, expected = execution.stdout.decode("utf-8", "replace"), str(case.expected)
        test = TestVerdict(case.name, protocol.PASSED, time_s=round(execution.wall_time_s, 4))
        test.expected = snip.head(expected)
        if not fits:
            test.verdict = protocol.OUTPUT_LIMIT
            test.error = (
                f"this sample's outputs passed the server's report budget ({cfg.settings.max_report_bytes} bytes)"
            )
            return test
        test.stdout = snip.head(output)
        if execution.status is not ExecStatus.OK:
            test.verdict = protocol.FROM_SANDBOX.get(execution.status.value, protocol.RUNTIME_ERROR)
            test.error = snip.tail(execution.stderr.decode("utf-8", "replace") or execution.reason)
        elif cfg.judge.in_sandbox:
            test.check = CheckItem(case.stdin, output, expected)
        elif not cfg.judge.text(output, expected, cfg.check_options):
            test.verdict = protocol.WRONG_ANSWER
        return test

    def limits(self) -> Limits:
        """Each run's: the spec's time, memory and output per test; the server's process bound."""
        cfg = self.config
        return Limits(
            wall_time_s=cfg.time_limit_s,
            cpu_time_s=cfg.time_limit_s,
            memory_bytes=cfg.memory_bytes,
            processes=cfg.settings.processes,
            open_files=256,
            output_bytes=cfg.output_limit_bytes,
            workdir_bytes=64 * MiB,
        )

    def compile(self, recipe: Recipe) -> Limits:
        time_s = self.config.compile_time_limit_s
        return dataclasses.replace(
            DEFAULT_COMPILE_LIMITS, wall_time_s=time_s, cpu_time_s=time_s, memory_bytes=recipe.compile_memory_bytes
        )

    def _not_run(self, graded: Graded, suite: TestSuite, ran_s: float) -> None:
        """Tests after a stop: skipped under stop_on_failure, else the sample's time bound ran out on them."""
        for case in suite.cases[len(graded.tests) :]:
            if self.config.stop_on_failure and graded.tests and not graded.tests[-1].passed:
                graded.tests.append(TestVerdict(case.name, protocol.SKIPPED, "not run: an earlier test failed"))
            else:
                bound = self.config.settings.max_job_wall_s
                why = f"not run: the sample's tests ran {ran_s:.1f}s, past [kinds.code] max_job_wall_s ({bound:g}s)"
                graded.tests.append(TestVerdict(case.name, protocol.TIMEOUT, why))
