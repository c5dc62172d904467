"""The ``code`` kind's flow: extract a program from each completion, grade its tests in the sandbox, score.

Per sample: read the reference's tests (tests_model.py), find the program (extraction.py),
hand both to the grader of the tests' style (styles/: stdio runs the program once per test
through the sandbox; function, assert and script go through the in-sandbox harness, whose
protocol is protocol.py), let a checker program decide what it must (checker_program.py),
and turn the per-test verdicts into one score (scoring.py).

Whose failure: a sandbox error, or a harness that failed by no doing of the candidate, is
the sample's `error` (score None); what the candidate did (crash, time out, kill the
harness) is its 0. A candidate that is already running (a session's end state) is graded
the same way through `CodeVerifier.score_attached`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from verifier_server.domain import Sample, ScoreResult
from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader
from verifier_server.kinds.code import checker_program, harness, scoring
from verifier_server.kinds.code.builtins import builtin_specs
from verifier_server.kinds.code.config import CodeConfig, read_config
from verifier_server.kinds.code.extraction import extract_code
from verifier_server.kinds.code.settings import CodeSettings
from verifier_server.kinds.code.styles import GRADERS, Grader
from verifier_server.kinds.code.styles.harnessed import AttachedRun, HarnessGrader
from verifier_server.kinds.code.tests_model import TestsError, TestSuite, parse_tests
from verifier_server.kinds.code.verdict import Graded
from verifier_server.kinds.sandboxed.access import SharedSandbox, shared_sandbox
from verifier_server.kinds.settings import kind_settings


class CodeKind(BaseKind):
    name: ClassVar[str] = "code"
    settings_type = CodeSettings

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> CodeVerifier:
        reader = ConfigReader(config)
        cfg = read_config(reader, kind_settings(context.resources, CodeSettings))
        reader.finish()
        return CodeVerifier(cfg, shared_sandbox(context, "code"))

    @classmethod
    def builtin_specs(cls) -> list[dict[str, Any]]:
        return builtin_specs()

    @classmethod
    def shipped_modules(cls) -> Mapping[str, Path]:
        return harness.MODULES


class CodeVerifier:
    def __init__(self, config: CodeConfig, sandbox: SharedSandbox) -> None:
        self.config, self.sandbox = config, sandbox
        self.graders: dict[str, Grader] = {style: grader(config, sandbox) for style, grader in GRADERS.items()}

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        """Samples run concurrently (the sandbox bounds parallelism); cancellation reaches every run."""
        return list(await asyncio.gather(*(self._score(s) for s in samples)))

    async def _score(self, sample: Sample) -> ScoreResult:
        cfg = self.config
        if sample.input_error:
            return ScoreResult.invalid(sample.input_error)
        try:
            suite = parse_tests(
                sample.reference,
                style=cfg.style,
                field_name=cfg.tests_field,
                fn_name=cfg.fn_name,
                max_tests=cfg.max_tests,
            )
        except TestsError as exc:
            return ScoreResult.invalid(str(exc))
        too_big = self._beyond_server_caps(suite)
        if too_big:
            return ScoreResult.invalid(too_big)
        found = extract_code(
            sample.completion_text or "", block=cfg.block, require_fence=cfg.require_fence, language=cfg.language
        )
        if found is None:
            return ScoreResult.ok(cfg.no_code_score, "no code found in the completion", tests=[])
        language = cfg.language or found.tag_language or "python"
        if language not in self.sandbox.languages():
            return ScoreResult.invalid(
                f"language {language!r} is not available on this server (have: {', '.join(self.sandbox.languages())})"
            )
        grader = self.graders[suite.style]
        if grader.python_only and language != "python":
            return ScoreResult.invalid(f"{suite.style} tests need Python code, got {language}")
        graded = await grader.grade(self._with_prompt(found.code, sample, suite), language, suite)
        return await self._decided(suite, graded, language)

    async def score_attached(self, reference: Mapping[str, Any], run: AttachedRun) -> ScoreResult:
        """Score a Python candidate that is already running (a session's end state) with this verifier's tests.

        The one entry point for live candidates (verifier_server/kinds/code/live.py); its contract:

        - `reference` is read exactly as a sample's reference in `score_batch` (`tests_field`,
          style, `fn_name`, `max_tests`, the server's caps), so a verifier scores a session and
          a completion alike. Only the styles whose tests call into a candidate apply (function,
          assert and script: the harness styles); stdio tests (a program to start) are the
          sample's `invalid_input`.
        - `run(request, limits)` must run the in-sandbox harness (harness/runner.py, with the
          modules it imports: protocol.py, sandboxes/exits.py) on `request` (a `protocol.Request`)
          as its `main` would, except that the candidate is not started but attached: `z` is a
          stand-in for the runner's Zygote that hands out the one live candidate (fault None,
          `candidates` 1, `failed()`, `spawn()` returning its (request, reply, set-up) fds,
          `wait_exit()`; see harness/session_runner.py), the report channel is
          `runner.Report(fd, request["nonce"], request["report_budget"])` and the trailer
          `report.finish(runner.run(z, request, report))`. It returns the Execution whose stdout
          is that channel, run within `limits.wall_time_s` and capped at `limits.output_bytes`.
          A run the sandbox could not make is SANDBOX_ERROR.
        - `request["isolation"]` is always "shared": there is one candidate, and it cannot be
          started again; the verifier's own isolation setting does not apply.
        - Verdicts, whose failure a failure is (an error with score None vs the candidate's 0),
          `checker: program`, `stop_on_failure` and scoring are decided exactly as for a program.
        """
        cfg = self.config
        try:
            suite = parse_tests(
                reference, style=cfg.style, field_name=cfg.tests_field, fn_name=cfg.fn_name, max_tests=cfg.max_tests
            )
        except TestsError as exc:
            return ScoreResult.invalid(str(exc))
        grader = self.graders[suite.style]
        if not isinstance(grader, HarnessGrader):
            return ScoreResult.invalid(
                "stdin/stdout tests need a program to run; a live candidate is scored with assert, "
                "function-call or script tests"
            )
        too_big = self._beyond_server_caps(suite)
        if too_big:
            return ScoreResult.invalid(too_big)
        return await self._decided(suite, await grader.grade_attached(suite, run), "python")

    async def _decided(self, suite: TestSuite, graded: Graded | ScoreResult, language: str) -> ScoreResult:
        """A grader's verdicts made final (the checker program, stop_on_failure) and scored."""
        if isinstance(graded, ScoreResult):
            return graded
        failure = await checker_program.decide(self.config, self.sandbox, graded.tests)
        if failure is not None:
            return failure
        if self.config.stop_on_failure and graded.answered:
            graded.skip_after_first_failure()
        return self._result(suite, graded, language)

    def _beyond_server_caps(self, suite: TestSuite) -> str:
        """Why this sample's tests need more than the server allows one sample, or ''."""
        settings = self.config.settings
        if len(suite.cases) > settings.cap_max_tests:
            return (
                f"the reference has {len(suite.cases)} tests; this server runs at most "
                f"{settings.cap_max_tests} per sample ([kinds.code] cap_max_tests)"
            )
        if suite.style in ("stdio", "function"):
            # Right answers are about as long as the expected ones: leave them room in the report budget.
            expected = sum(len(json.dumps(c.expected)) for c in suite.cases)
            if expected > settings.max_report_bytes // 2:
                return (
                    f"the expected outputs total {expected} bytes; this server holds at most "
                    f"{settings.max_report_bytes} bytes of results per sample, half of it for expected-sized "
                    f"answers ([kinds.code] max_report_bytes)"
                )
        return ""

    def _with_prompt(self, code: str, sample: Sample, suite: TestSuite) -> str:
        """HumanEval completions are often only the function body: prepend the prompt's signature."""
        mode, prompt = self.config.prepend_prompt, sample.prompt_text
        if mode == "never" or not prompt or not isinstance(sample.prompt, str):
            return code
        if mode == "always" or (
            suite.entry_point and f"def {suite.entry_point}" not in code and f"def {suite.entry_point}" in prompt
        ):
            return prompt + code
        return code

    def _result(self, suite: TestSuite, graded: Graded, language: str) -> ScoreResult:
        tests = graded.tests
        verdicts = [t.verdict for t in tests]
        weights = [c.weight for c in suite.cases] if suite.cases else [1.0] * len(tests)
        value = scoring.score(verdicts, weights + [1.0] * (len(tests) - len(weights)), self.config.scoring)
        details: dict[str, Any] = {
            "language": language,
            "style": suite.style,
            "passed": verdicts.count("passed"),
            "total": len(tests),
            "tests": [t.details() for t in tests[:100]],
        }
        if graded.compile_output:
            details["compile_output"] = self.config.snippets.head(graded.compile_output)
        return ScoreResult.ok(value, scoring.summary(verdicts), **details)
