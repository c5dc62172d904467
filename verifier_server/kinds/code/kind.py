"""The ``code`` kind: extract a program from each completion, run its tests in the sandbox, score.

One sandbox job per sample runs every test (compile once, then each test in a fresh
candidate process) through the in-sandbox runner (harness/runner.py); the server then
decides each verdict from plain data: stdout compared here, return values compared here,
assert verdicts only from the runner's nonce-tagged reply. See the runner's docstring
for why the candidate cannot forge a pass.

Whose failure: a sandbox error, or a harness that failed by no doing of the candidate, is
the sample's `error` (score None); what the candidate did (crash, time out, kill the
harness) is its 0. The reply is read and judged in a worker thread, not on the event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from sandboxes import LANGUAGES, ExecStatus, Execution, Job, Limits
from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader
from verifier_server.kinds.code import checkers, harness, scoring
from verifier_server.kinds.code.builtins import builtin_specs
from verifier_server.kinds.code.extraction import extract_code
from verifier_server.kinds.code.harness import runner as codec
from verifier_server.kinds.code.report import HarnessReport, ReportGarbled, read_harness_report
from verifier_server.kinds.code.sandbox_access import SharedSandbox, new_nonce, read_report, shared_sandbox
from verifier_server.kinds.code.settings import CodeSettings
from verifier_server.kinds.code.tests_model import STYLES, Case, TestsError, TestSuite, parse_tests
from verifier_server.kinds.settings import kind_settings

MiB = 1024 * 1024
#: Runtimes that reserve far more address space than they use (RLIMIT_AS would break them).
NO_RLIMIT_AS = frozenset({"javascript", "java", "go", "rust"})
HARNESS_OVERHEAD_BYTES = 192 * MiB
#: Bytes a test's line may add beside its output (status, error tails JSON-escaped): the job's stdout cap.
LINE_OVERHEAD_BYTES = 16 * 1024
MODES = {"stdio": "stdio", "function": "call", "assert": "assert", "script": "script"}
T = TypeVar("T", int, float)
ISOLATIONS = ("shared", "per_test")
AttachedRun = Callable[[dict[str, Any], Limits], Awaitable[Execution]]
"""Runs the runner's request against a candidate already running, within the limits (see `score_attached`)."""


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
    unwrap_singleton: bool
    isolation: str
    scoring: str
    stop_on_failure: bool
    time_limit_s: float
    memory_bytes: int
    output_limit_bytes: int
    compile_time_limit_s: float
    max_tests: int | None
    prepend_prompt: str
    snippet_chars: int
    settings: CodeSettings


@dataclass(slots=True)
class Judged:
    """The tests' verdicts from one harness run (outputs already dropped but for a checker program's)."""

    tests: list[dict[str, Any]]
    compile: dict[str, Any] | None
    """The harness's compile step, when the language has one."""
    answered: bool
    """False: the candidate stopped the harness before its verdict (every test failed alike)."""


class CodeKind(BaseKind):
    name: ClassVar[str] = "code"
    settings_type = CodeSettings

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> CodeVerifier:
        reader = ConfigReader(config)
        settings = kind_settings(context.resources, CodeSettings)
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
            unwrap_singleton=reader.bool("unwrap_singleton", False),
            isolation=reader.str("isolation", "shared", choices=ISOLATIONS),
            scoring=reader.str("scoring", "fraction", choices=scoring.SCORINGS),
            stop_on_failure=reader.bool("stop_on_failure", False),
            time_limit_s=_limit(reader, "time_limit_s", settings.time_limit_s, 0.01, settings.cap_time_limit_s),
            memory_bytes=_limit(reader, "memory_mb", settings.memory_mb, 16, settings.cap_memory_mb) * MiB,
            output_limit_bytes=_limit(reader, "output_limit_bytes", MiB, 1024, settings.cap_output_limit_bytes),
            compile_time_limit_s=_limit(reader, "compile_time_limit_s", 30.0, 1.0, settings.cap_compile_time_limit_s),
            max_tests=_max_tests(reader, settings.cap_max_tests),
            prepend_prompt=reader.str("prepend_prompt", "auto", choices=("auto", "always", "never")),
            snippet_chars=reader.int("snippet_chars", 200, minimum=0, maximum=100_000),
            settings=settings,
        )
        reader.finish()
        return CodeVerifier(cfg, shared_sandbox(context, "code"))

    @classmethod
    def builtin_specs(cls) -> list[dict[str, Any]]:
        return builtin_specs()


def _limit(reader: ConfigReader, key: str, default: T, minimum: T, cap: T) -> T:
    """A per-spec limit: absent, the default lowered to the server's cap; above the cap, refused naming both."""
    read = reader.float if isinstance(default, float) else reader.int
    value: T = read(key, min(default, cap), minimum=minimum)  # type: ignore[assignment]  # read matches T
    if value > cap:
        raise reader.error(key, f"must be <= {cap}, this server's cap ([kinds.code] cap_{key}); got {value}")
    return value


def _max_tests(reader: ConfigReader, cap: int) -> int | None:
    if reader.raw("max_tests") is None:
        return None
    return _limit(reader, "max_tests", cap, 1, cap)


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
        if suite.style != "stdio" and language != "python":
            return ScoreResult.invalid(f"{suite.style} tests need Python code, got {language}")
        code = self._with_prompt(found.code, sample, suite)
        return await self._run(code, language, suite)

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

    async def score_attached(self, reference: Mapping[str, Any], run: AttachedRun) -> ScoreResult:
        """Score a Python candidate that is already running (a session's end state) with this verifier's tests.

        The one entry point for live candidates (verifier_server/kinds/code/live.py); its contract:

        - `reference` is read exactly as a sample's reference in `score_batch` (`tests_field`,
          style, `fn_name`, `max_tests`, the server's caps), so a verifier scores a session and
          a completion alike. Only styles that call into a candidate apply: function, assert and
          script; stdio tests (a program to start) are the sample's `invalid_input`.
        - `run(request, limits)` must run the in-sandbox runner (harness/runner.py) on `request`
          as its `main` would, except that the candidate is not started but attached: `z` is a
          stand-in for the runner's Zygote that hands out the one live candidate (fault None,
          `candidates` 1, `failed()`, `spawn()`, `wait_exit()`; see harness/session_runner.py),
          the verdict channel is `runner.Report(fd, request["nonce"], request["report_budget"])`
          and the trailer `report.finish(runner.run(z, request, report))`. It returns the
          Execution whose stdout is that channel, run within `limits.wall_time_s` and capped
          at `limits.output_bytes`. A run the sandbox could not make is SANDBOX_ERROR.
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
        if suite.style == "stdio":
            return ScoreResult.invalid(
                "stdin/stdout tests need a program to run; a live candidate is scored with assert, "
                "function-call or script tests"
            )
        too_big = self._beyond_server_caps(suite)
        if too_big:
            return ScoreResult.invalid(too_big)
        nonce = new_nonce()
        request = self._request(suite, nonce)
        request["isolation"] = "shared"
        request["candidate"] = {"python": True}
        settings = cfg.settings
        n = max(1, len(request["tests"]))
        wall = min(self._wall(request), settings.max_job_wall_s)
        limits = Limits(
            wall_time_s=wall,
            cpu_time_s=wall,
            output_bytes=settings.max_report_bytes + (n + 1) * LINE_OVERHEAD_BYTES + MiB,
        )
        return await self._judged(suite, await run(request, limits), nonce, "python")

    async def _run(self, code: str, language: str, suite: TestSuite) -> ScoreResult:
        nonce = new_nonce()
        job = self._job(code, language, suite, nonce)
        return await self._judged(suite, await self.sandbox.run(job), nonce, language)

    async def _judged(self, suite: TestSuite, execution: Execution, nonce: str, language: str) -> ScoreResult:
        if execution.status is ExecStatus.SANDBOX_ERROR:
            return ScoreResult.failed(Outcome.ERROR, f"sandbox error: {execution.reason}")
        judged = await asyncio.to_thread(self._judge, suite, execution, nonce)
        del execution  # its stdout holds up to the report budget; the checker program below may take a while
        if isinstance(judged, ScoreResult):
            return judged
        if self.config.checker == "program":
            failure = await self._program_checker(judged.tests)
            if failure is not None:
                return failure
        if self.config.stop_on_failure and judged.answered:
            _skip_after_first_failure(judged.tests)
        return self._result(suite, judged, language)

    def _request(self, suite: TestSuite, nonce: str) -> dict[str, Any]:
        """The runner's request for `suite`, without the candidate (how to start or reach it)."""
        cfg = self.config
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
            "isolation": cfg.isolation,
            "report_budget": cfg.settings.max_report_bytes,
            "max_tests": cfg.settings.cap_max_tests,
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
        return request

    def _wall(self, request: dict[str, Any]) -> float:
        """Wall time for the whole run: every test at its limit, plus room for the harness."""
        return len(request["tests"] or [None]) * (self.config.time_limit_s + 0.5) + 5.0

    def _job(self, code: str, language: str, suite: TestSuite, nonce: str) -> Job:
        cfg = self.config
        recipe = LANGUAGES[language]
        request = self._request(suite, nonce)
        wall = self._wall(request)
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
        settings = cfg.settings
        job_limits = Limits(
            wall_time_s=min(wall, settings.max_job_wall_s),
            cpu_time_s=min(wall, settings.max_job_wall_s),
            memory_bytes=memory + HARNESS_OVERHEAD_BYTES,
            processes=settings.processes,
            open_files=256,
            # The harness keeps its lines within the report budget; this only stops a broken harness.
            output_bytes=settings.max_report_bytes + (n + 1) * LINE_OVERHEAD_BYTES + MiB,
            workdir_bytes=256 * MiB if recipe.compile else 64 * MiB,
        )
        return Job(language=language, files=files, command=command, stdin=json.dumps(request), limits=job_limits)

    def _judge(self, suite: TestSuite, execution: Execution, nonce: str) -> ScoreResult | Judged:
        """In a worker thread: read the harness's reply, decide whose failure any failure is, judge each test."""
        try:
            report = read_harness_report(execution.stdout, nonce)
            if report is None:
                if ended_on_its_own(execution):
                    tail = self._snip_tail(execution.stderr.decode("utf-8", "replace"))
                    why = execution.reason or "exit code 0"
                    return ScoreResult.failed(
                        Outcome.ERROR, f"the test harness failed: it ended ({why}) without a verdict; {tail}"
                    )
                return Judged(self._unanswered(suite, execution), None, answered=False)
            if report.harness_failed:
                why = self._snip_tail(report.harness_failed)
                return ScoreResult.failed(Outcome.ERROR, f"the test harness failed: {why}")
            if report.invalid:
                return ScoreResult.invalid(report.invalid)
            return Judged(self._verdicts(suite, report), report.compile, answered=True)
        except ReportGarbled as exc:
            return ScoreResult.failed(Outcome.ERROR, f"the test harness failed: its reply is garbled ({exc})")

    def _unanswered(self, suite: TestSuite, execution: Execution) -> list[dict[str, Any]]:
        """The harness was stopped before its verdict, by the candidate's doing: every test failed."""
        verdict = {
            ExecStatus.TIMEOUT: "timeout",
            ExecStatus.MEMORY: "memory",
            ExecStatus.OUTPUT_LIMIT: "output_limit",
        }.get(execution.status, "runtime_error")
        tail = execution.stderr[-300:].decode("utf-8", "replace")
        why = f"the test harness gave no verdict (run ended: {execution.reason or execution.status.value}) {tail}"
        return [{"name": c.name, "verdict": verdict, "error": why} for c in suite.cases or (Case(name="script"),)]

    def _verdicts(self, suite: TestSuite, report: HarnessReport) -> list[dict[str, Any]]:
        """One entry per test; anything the harness did not vouch for is a failure, never a pass."""
        cases = suite.cases or (Case(name="script"),)
        compiled = report.compile
        if compiled is not None and not compiled.get("ok"):
            out = str(compiled.get("output", ""))
            return [{"name": c.name, "verdict": "compile_error", "error": self._snip(out)} for c in cases]
        script = suite.style == "script"
        if len(report) > len(cases) and not script:
            raise ReportGarbled(f"{len(report)} test lines for {len(cases)} tests")
        tests = []
        for i, raw in enumerate(report.results()):
            case = Case(name=str(raw.get("name", f"test {i}"))) if script else cases[i]
            tests.append(self._one(suite, case, raw))
        if script and tests:
            return tests
        stopped = self.config.stop_on_failure and report.harness_error is None
        error = self._snip_tail(report.harness_error or "not run")
        for case in cases[len(tests) :]:
            tests.append({"name": case.name, "verdict": "skipped" if stopped else "runtime_error", "error": error})
        return tests

    def _one(self, suite: TestSuite, case: Case, raw: dict[str, Any]) -> dict[str, Any]:
        status = str(raw.get("status", "runtime_error"))
        entry: dict[str, Any] = {"name": case.name, "time_s": raw.get("time_s")}
        if suite.style == "stdio":
            output = str(raw.get("stdout", ""))
            entry.update(stdout=self._snip(output), expected=self._snip(str(case.expected)))
            if status == "ok":
                entry["verdict"] = "passed" if self._check(output, str(case.expected)) else "wrong_answer"
                if self.config.checker == "program":
                    entry["_checked"] = (case.stdin, output, str(case.expected))
            else:
                entry["verdict"] = status if status in scoring.VERDICTS else "runtime_error"
                entry["error"] = self._snip_tail(str(raw.get("stderr", "")) or str(raw.get("error", "")))
        elif suite.style == "function":
            entry["expected"] = self._snip(json.dumps(case.expected))
            if status == "returned":
                try:
                    value = codec.dec(raw.get("value"))
                except (ValueError, TypeError, KeyError):
                    raise ReportGarbled(f"{case.name}: the returned value does not decode") from None
                entry["verdict"] = "passed" if self._value_matches(value, case.expected) else "wrong_answer"
                entry["returned"] = self._snip(repr(value))
                if self.config.checker == "program":
                    entry["_checked"] = (list(case.args), value, case.expected)
            else:
                entry.update(
                    verdict=status if status in scoring.VERDICTS else "runtime_error",
                    error=self._snip_tail(str(raw.get("error", ""))),
                )
        else:
            entry["verdict"] = status if status in scoring.VERDICTS else "runtime_error"
            if status != "passed":
                entry["error"] = self._snip_tail(str(raw.get("error", "")))
        return entry

    def _check(self, output: str, expected: str) -> bool:
        cfg = self.config
        if cfg.checker == "program":
            return True  # decided by the checker program afterwards
        return checkers.builtin_checker(cfg.checker, cfg.float_rel_tol, cfg.float_abs_tol)(output, expected)

    def _value_matches(self, value: Any, expected: Any) -> bool:
        """Return values are data, not text: strict equality; `float` adds its tolerances, `program` decides later."""
        cfg = self.config
        if cfg.checker == "program":
            return True
        tolerance = checkers.Tolerance(cfg.float_rel_tol, cfg.float_abs_tol) if cfg.checker == "float" else None
        return checkers.values_equal(value, expected, tolerance, cfg.unwrap_singleton)

    async def _program_checker(self, tests: list[dict[str, Any]]) -> ScoreResult | None:
        """The user's check(input, output, expected) runs in the sandbox too: it is user code.

        stdio passes text; function calls pass the arguments, the returned value and the expected
        value as JSON (tuples and sets as lists). A checker job the sandbox could not run is the
        sample's error, never the candidate's 0."""
        todo = [t for t in tests if "_checked" in t]
        if not todo:
            return None
        encoded = await asyncio.to_thread(_checker_items, todo)
        for test, item in zip(todo, encoded, strict=True):
            if item is None:
                test.update(verdict="runtime_error", error="the returned value cannot be given to the checker as JSON")
        todo = [t for t, item in zip(todo, encoded, strict=True) if item is not None]
        if not todo:
            return None
        nonce = new_nonce()
        items = ",".join(item for item in encoded if item is not None)
        assert self.config.checker_source is not None
        job = Job(
            language="python",
            files={**harness.files("userfn"), "user.py": self.config.checker_source},
            stdin=f'{{"nonce": "{nonce}", "op": "map", "fn": "check", "items": [{items}]}}',
            limits=Limits(wall_time_s=10.0 + len(todo), memory_bytes=512 * MiB, output_bytes=8 * MiB),
        )
        execution = await self.sandbox.run(job)
        if execution.status is ExecStatus.SANDBOX_ERROR:
            return ScoreResult.failed(Outcome.ERROR, f"sandbox error running the checker program: {execution.reason}")
        report = read_report(execution, nonce)
        verdicts = report.get("results") if report else None
        for k, test in enumerate(todo):
            if isinstance(verdicts, list) and k < len(verdicts):
                test["verdict"] = "passed" if verdicts[k] else "wrong_answer"
            else:
                test["verdict"] = "runtime_error"
                error = (report or {}).get("error") or execution.reason or "no reply"
                test["error"] = self._snip_tail(f"checker program failed: {error}")
        return None

    def _result(self, suite: TestSuite, judged: Judged, language: str) -> ScoreResult:
        tests = judged.tests
        for test in tests:
            test.pop("_checked", None)
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
        compiled = judged.compile
        if compiled is not None and compiled.get("output"):
            details["compile_output"] = self._snip(str(compiled["output"]))
        return ScoreResult.ok(value, scoring.summary(verdicts), **details)

    def _snip(self, text: str) -> str:
        """The head of an output (what was printed first)."""
        n = self.config.snippet_chars
        return text if len(text) <= n else text[:n] + f"... [{len(text) - n} more chars]"

    def _snip_tail(self, text: str) -> str:
        """The tail of an error: a traceback ends with the exception line, which is what matters."""
        n = self.config.snippet_chars
        return text if len(text) <= n else f"[{len(text) - n} earlier chars] ..." + text[len(text) - n :]


def _checker_items(tests: list[dict[str, Any]]) -> list[str | None]:
    """Each test's (input, output, expected) as a JSON array, or None where the output has no JSON form."""
    items: list[str | None] = []
    for test in tests:
        try:
            items.append(json.dumps(list(test["_checked"]), default=_jsonable))
        except (TypeError, ValueError):
            items.append(None)
    return items


def _jsonable(value: Any) -> Any:
    """What JSON cannot hold, for a checker program: sets as lists, bytes as text, complex as [re, im]."""
    if isinstance(value, set | frozenset):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, complex):
        return [value.real, value.imag]
    raise TypeError(f"{type(value).__name__} is not JSON")


def ended_on_its_own(execution: Execution) -> bool:
    """The harness exited with a status of its own (an exit code, no signal, no limit, no timeout).

    The candidate can kill the harness (a signal), exhaust the job's limits or stop it until
    the wall time runs out, but it cannot make the harness exit with a code: a harness that
    did so without its verdict failed by itself.
    """
    return execution.signal is None and execution.status in (ExecStatus.OK, ExecStatus.NONZERO_EXIT)


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
