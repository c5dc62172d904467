"""The ``code`` kind: extract a program from each completion, run its tests in the sandbox, score.

One sandbox job per sample runs every test (compile once, then each test in a fresh
candidate process) through the in-sandbox runner (harness/runner.py); the server then
decides each verdict from plain data: stdout compared here, return values compared here,
assert verdicts only from the runner's nonce-tagged reply. See the runner's docstring
for why the candidate cannot forge a pass.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sandboxes import LANGUAGES, ExecStatus, Execution, Job, Limits
from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.kinds.base import BuildContext, ConfigReader
from verifier_server.kinds.code import checkers, harness, scoring
from verifier_server.kinds.code.extraction import extract_code
from verifier_server.kinds.code.harness import runner as codec
from verifier_server.kinds.code.sandbox_access import SharedSandbox, new_nonce, read_report, shared_sandbox
from verifier_server.kinds.code.tests_model import STYLES, Case, TestsError, TestSuite, parse_tests

MiB = 1024 * 1024
#: Runtimes that reserve far more address space than they use (RLIMIT_AS would break them).
NO_RLIMIT_AS = frozenset({"javascript", "java", "go", "rust"})
HARNESS_OVERHEAD_BYTES = 192 * MiB
MODES = {"stdio": "stdio", "function": "call", "assert": "assert", "script": "script"}


@dataclass(frozen=True, slots=True)
class CodeConfig:
    """A compiled ``code`` spec; see `CodeKind.from_spec` for each field's meaning."""

    language: str | None
    block: str
    require_fence: bool
    no_code_score: float
    style: str
    tests_field: str | None
    fn_name: str | None
    checker: str
    checker_source: str | None
    float_rel_tol: float
    float_abs_tol: float
    scoring: str
    stop_on_failure: bool
    time_limit_s: float
    memory_bytes: int
    output_limit_bytes: int
    compile_time_limit_s: float
    max_tests: int | None
    prepend_prompt: str
    snippet_chars: int
    max_job_wall_s: float


class CodeKind:
    name: ClassVar[str] = "code"

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> CodeVerifier:
        reader = ConfigReader(config)
        settings: Mapping[str, Any] = context.resources.settings.get("code", {}) or {}
        language = reader.optional_str("language")
        if language is not None and language not in LANGUAGES:
            raise reader.error("language", f"unknown language {language!r} (known: {', '.join(sorted(LANGUAGES))})")
        checker = reader.str("checker", "whitespace", choices=("exact", "whitespace", "token", "float", "program"))
        checker_source = reader.optional_str("checker_source")
        if checker == "program":
            _require_function(reader, "checker_source", checker_source, "check")
        elif checker_source is not None:
            raise reader.error("checker_source", 'only used with checker: "program"')
        cfg = CodeConfig(
            language=language,
            block=reader.str("block", "last", choices=("last", "first", "longest")),
            require_fence=reader.bool("require_fence", False),
            no_code_score=reader.float("no_code_score", 0.0),
            style=reader.str("tests", "auto", choices=STYLES),
            tests_field=reader.optional_str("tests_field"),
            fn_name=reader.optional_str("fn_name"),
            checker=checker,
            checker_source=checker_source,
            float_rel_tol=reader.float("float_rel_tol", 1e-6, minimum=0.0),
            float_abs_tol=reader.float("float_abs_tol", 1e-6, minimum=0.0),
            scoring=reader.str("scoring", "fraction", choices=scoring.SCORINGS),
            stop_on_failure=reader.bool("stop_on_failure", False),
            time_limit_s=reader.float(
                "time_limit_s", float(settings.get("time_limit_s", 4.0)), minimum=0.01, maximum=120.0
            ),
            memory_bytes=reader.int("memory_mb", int(settings.get("memory_mb", 256)), minimum=16, maximum=16384) * MiB,
            output_limit_bytes=reader.int("output_limit_bytes", 1 * MiB, minimum=1024, maximum=64 * MiB),
            compile_time_limit_s=reader.float("compile_time_limit_s", 30.0, minimum=1.0, maximum=300.0),
            max_tests=reader.optional_int("max_tests", minimum=1),
            prepend_prompt=reader.str("prepend_prompt", "auto", choices=("auto", "always", "never")),
            snippet_chars=reader.int("snippet_chars", 200, minimum=0, maximum=100_000),
            max_job_wall_s=float(settings.get("max_job_wall_s", 600.0)),
        )
        reader.finish()
        return CodeVerifier(cfg, shared_sandbox(context, "code"))


def _require_function(reader: ConfigReader, key: str, source: str | None, name: str) -> None:
    """ast-parse (never exec) user source at registration: syntax errors name the field."""
    from verifier_server.kinds.python_reward import defines_function

    if source is None:
        raise reader.error(key, f"required: Python source defining {name}(...)")
    problem = defines_function(source, name)
    if problem:
        raise reader.error(key, problem)


class CodeVerifier:
    def __init__(self, config: CodeConfig, sandbox: SharedSandbox) -> None:
        self.config, self.sandbox = config, sandbox

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
        if suite.style != "stdio" and language != "python":
            return ScoreResult.invalid(f"{suite.style} tests need Python code, got {language}")
        code = self._with_prompt(found.code, sample, suite)
        return await self._run(code, language, suite)

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

    async def _run(self, code: str, language: str, suite: TestSuite) -> ScoreResult:
        nonce = new_nonce()
        job = self._job(code, language, suite, nonce)
        execution = await self.sandbox.run(job)
        if execution.status is ExecStatus.SANDBOX_ERROR:
            return ScoreResult.failed(Outcome.ERROR, f"sandbox error: {execution.reason}")
        report = read_report(execution, nonce)
        tests = await self._verdicts(suite, report, execution)
        return self._result(suite, tests, language, report)

    def _job(self, code: str, language: str, suite: TestSuite, nonce: str) -> Job:
        cfg = self.config
        recipe = LANGUAGES[language]
        limits = {
            "wall_time_s": cfg.time_limit_s,
            "cpu_time_s": cfg.time_limit_s,
            "memory_bytes": cfg.memory_bytes,
            "output_bytes": cfg.output_limit_bytes,
        }
        request: dict[str, Any] = {
            "nonce": nonce,
            "mode": MODES[suite.style],
            "limits": limits,
            "stop_on_failure": cfg.stop_on_failure,
            "tests": _wire_tests(suite),
        }
        if suite.style == "function":
            request["fn_name"] = suite.fn_name
        if suite.setup:
            request["setup"] = suite.setup
        if suite.style == "script":
            request["script"] = suite.script
        if suite.entry_point:
            request["names"] = [suite.entry_point]
        wall = len(request["tests"] or [None]) * (cfg.time_limit_s + 0.5) + 5.0
        memory = cfg.memory_bytes
        if language == "python":
            files: dict[str, str | bytes] = {**harness.files("runner"), "solution.py": code}
            request["candidate"] = {"python": True, "source": "solution.py"}
            command = None
        else:
            entry = recipe.default_entrypoint
            files = {**harness.files("runner"), entry: code}
            request["candidate"] = {"argv": recipe.argv(recipe.run, entry), "rlimit_as": language not in NO_RLIMIT_AS}
            command = ("python3", "main.py")
            if recipe.compile:
                compile_limits = {
                    "wall_time_s": cfg.compile_time_limit_s,
                    "cpu_time_s": cfg.compile_time_limit_s,
                    "memory_bytes": None,
                    "output_bytes": 256 * 1024,
                }
                request["compile"] = {"argv": recipe.argv(recipe.compile, entry), "limits": compile_limits}
                wall += cfg.compile_time_limit_s
                memory = max(memory, 1024 * MiB)
        n = max(1, len(request["tests"]))
        job_limits = Limits(
            wall_time_s=min(wall, cfg.max_job_wall_s),
            cpu_time_s=min(wall, cfg.max_job_wall_s),
            memory_bytes=memory + HARNESS_OVERHEAD_BYTES,
            processes=64,
            open_files=256,
            output_bytes=min(n * cfg.output_limit_bytes * 2 + MiB, 256 * MiB),
            workdir_bytes=256 * MiB if recipe.compile else 64 * MiB,
        )
        return Job(language=language, files=files, command=command, stdin=json.dumps(request), limits=job_limits)

    async def _verdicts(
        self, suite: TestSuite, report: dict[str, Any] | None, execution: Execution
    ) -> list[dict[str, Any]]:
        """One entry per test; anything the harness did not vouch for is a failure, never a pass."""
        cases = suite.cases or (Case(name="script"),)
        if report is None:
            verdict = {
                ExecStatus.TIMEOUT: "timeout",
                ExecStatus.MEMORY: "memory",
                ExecStatus.OUTPUT_LIMIT: "output_limit",
            }.get(execution.status, "runtime_error")
            tail = execution.stderr[-300:].decode("utf-8", "replace")
            why = f"the test harness gave no verdict (run ended: {execution.reason or execution.status.value}) {tail}"
            return [{"name": c.name, "verdict": verdict, "error": why} for c in cases]
        compiled = report.get("compile")
        if isinstance(compiled, dict) and not compiled.get("ok"):
            out = str(compiled.get("output", ""))
            return [{"name": c.name, "verdict": "compile_error", "error": self._snip(out)} for c in cases]
        results = report.get("results")
        results = results if isinstance(results, list) else []
        if suite.style == "script":
            cases = (
                tuple(Case(name=str(r.get("name", f"test {i}"))) for i, r in enumerate(results) if isinstance(r, dict))
                or cases
            )
        tests = []
        for i, case in enumerate(cases):
            raw = results[i] if i < len(results) and isinstance(results[i], dict) else None
            if raw is None:
                stopped = self.config.stop_on_failure and "harness_error" not in report
                missing = "skipped" if stopped else "runtime_error"
                error = str(report.get("harness_error", "not run"))
                tests.append({"name": case.name, "verdict": missing, "error": self._snip(error)})
            else:
                tests.append(self._one(suite, case, raw))
        if suite.style == "stdio" and self.config.checker == "program":
            await self._program_checker(suite, tests)
        if self.config.stop_on_failure:
            _skip_after_first_failure(tests)
        return tests

    def _one(self, suite: TestSuite, case: Case, raw: dict[str, Any]) -> dict[str, Any]:
        status = str(raw.get("status", "runtime_error"))
        entry: dict[str, Any] = {"name": case.name, "time_s": raw.get("time_s")}
        if suite.style == "stdio":
            output = str(raw.get("stdout", ""))
            entry.update(stdout=self._snip(output), expected=self._snip(str(case.expected)))
            if status == "ok":
                entry["verdict"] = "passed" if self._check(output, str(case.expected)) else "wrong_answer"
                entry["_output"] = output
            else:
                entry["verdict"] = status if status in scoring.VERDICTS else "runtime_error"
                entry["error"] = self._snip(str(raw.get("stderr", "")))
        elif suite.style == "function":
            entry["expected"] = self._snip(json.dumps(case.expected))
            if status == "returned":
                try:
                    value = codec.dec(raw.get("value"))
                except (ValueError, TypeError, KeyError):
                    entry.update(verdict="runtime_error", error="garbled return value")
                    return entry
                rel = self.config.float_rel_tol if self.config.checker == "float" else None
                entry["verdict"] = "passed" if checkers.values_equal(value, case.expected, rel) else "wrong_answer"
                entry["returned"] = self._snip(repr(value))
            else:
                entry.update(
                    verdict=status if status in scoring.VERDICTS else "runtime_error",
                    error=self._snip(str(raw.get("error", ""))),
                )
        else:
            entry["verdict"] = status if status in scoring.VERDICTS else "runtime_error"
            if status != "passed":
                entry["error"] = self._snip(str(raw.get("error", "")))
        return entry

    def _check(self, output: str, expected: str) -> bool:
        cfg = self.config
        if cfg.checker == "program":
            return True  # decided by the checker program afterwards
        return checkers.builtin_checker(cfg.checker, cfg.float_rel_tol, cfg.float_abs_tol)(output, expected)

    async def _program_checker(self, suite: TestSuite, tests: list[dict[str, Any]]) -> None:
        """The user's check(input, output, expected) runs in the sandbox too: it is user code."""
        todo = [(i, t) for i, t in enumerate(tests) if "_output" in t]
        if not todo:
            return
        nonce = new_nonce()
        items = [[suite.cases[i].stdin, t["_output"], str(suite.cases[i].expected)] for i, t in todo]
        request = {"nonce": nonce, "op": "map", "fn": "check", "items": items}
        assert self.config.checker_source is not None
        job = Job(
            language="python",
            files={**harness.files("userfn"), "user.py": self.config.checker_source},
            stdin=json.dumps(request),
            limits=Limits(wall_time_s=10.0 + len(items), memory_bytes=512 * MiB, output_bytes=8 * MiB),
        )
        execution = await self.sandbox.run(job)
        report = read_report(execution, nonce)
        verdicts = report.get("results") if report else None
        for k, (_, test) in enumerate(todo):
            if isinstance(verdicts, list) and k < len(verdicts):
                test["verdict"] = "passed" if verdicts[k] else "wrong_answer"
            else:
                test["verdict"] = "runtime_error"
                error = (report or {}).get("error") or execution.reason or "no reply"
                test["error"] = self._snip(f"checker program failed: {error}")

    def _result(
        self, suite: TestSuite, tests: list[dict[str, Any]], language: str, report: dict[str, Any] | None
    ) -> ScoreResult:
        for test in tests:
            test.pop("_output", None)
        verdicts = [t["verdict"] for t in tests]
        weights = [c.weight for c in suite.cases] if suite.cases else [1.0] * len(tests)
        value = scoring.score(verdicts, weights + [1.0] * (len(tests) - len(weights)), self.config.scoring)
        details: dict[str, Any] = {
            "language": language,
            "style": suite.style,
            "passed": verdicts.count("passed"),
            "total": len(tests),
            "tests": tests[:100],
        }
        compiled = (report or {}).get("compile")
        if isinstance(compiled, dict) and compiled.get("output"):
            details["compile_output"] = self._snip(str(compiled["output"]))
        return ScoreResult.ok(value, scoring.summary(verdicts), **details)

    def _snip(self, text: str) -> str:
        n = self.config.snippet_chars
        return text if len(text) <= n else text[:n] + f"... [{len(text) - n} more chars]"


def _wire_tests(suite: TestSuite) -> list[dict[str, Any]]:
    if suite.style == "stdio":
        return [{"stdin": c.stdin} for c in suite.cases]
    if suite.style == "function":
        return [{"args": codec.enc(list(c.args))} for c in suite.cases]
    if suite.style == "assert":
        if suite.entry_point:
            return [{"check": True, "code": c.code, "entry_point": suite.entry_point} for c in suite.cases]
        return [{"code": c.code} for c in suite.cases]
    return []


def _skip_after_first_failure(tests: list[dict[str, Any]]) -> None:
    failed = False
    for test in tests:
        if failed:
            test.update(verdict="skipped", error="not counted: an earlier test failed (stop_on_failure)")
        failed = failed or test["verdict"] != "passed"
