"""The ``code`` kind's flow: extract a program from each completion, grade its tests in the sandbox, score.

Per sample: read the reference's tests (tests_model.py), find the program (extraction.py),
hand both to the grader of the tests' style (styles/: stdio runs the program once per test
through the sandbox; function, assert and script go through the in-sandbox harness, whose
protocol is protocol.py), let a checker program decide what it must (checker_program.py),
and turn the per-test verdicts into one score (scoring.py).

Whose failure: a sandbox error, or a harness that failed by no doing of the candidate, is
the sample's `error` (score None); what the candidate did (crash, time out, kill the
harness) is its 0.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from verifier_server.domain import Sample, ScoreResult
from verifier_server.kinds.base import BuildContext, ConfigReader
from verifier_server.kinds.code import checker_program, scoring
from verifier_server.kinds.code.config import CodeConfig, read_config
from verifier_server.kinds.code.extraction import extract_code
from verifier_server.kinds.code.settings import CodeSettings
from verifier_server.kinds.code.styles import GRADERS, Grader
from verifier_server.kinds.code.tests_model import TestsError, TestSuite, parse_tests
from verifier_server.kinds.code.verdict import Graded
from verifier_server.kinds.sandboxed.access import SharedSandbox, shared_sandbox


class CodeKind:
    name: ClassVar[str] = "code"

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> CodeVerifier:
        reader = ConfigReader(config)
        settings = CodeSettings.from_settings(context.resources.settings.get("code", {}) or {})
        cfg = read_config(reader, settings)
        reader.finish()
        return CodeVerifier(cfg, shared_sandbox(context, "code"))


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
        if isinstance(graded, ScoreResult):
            return graded
        failure = await checker_program.decide(cfg, self.sandbox, graded.tests)
        if failure is not None:
            return failure
        if cfg.stop_on_failure and graded.answered:
            graded.skip_after_first_failure()
        return self._result(suite, graded, language)

    def _beyond_server_caps(self, suite: TestSuite) -> str:
        """Why this sample's tests need more than the server allows one sample, or ''."""
        settings = self.config.settings
        if len(suite.cases) > settings.max_tests_per_sample:
            return (
                f"the reference has {len(suite.cases)} tests; this server runs at most "
                f"{settings.max_tests_per_sample} per sample ([kinds.code] max_tests_per_sample)"
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
