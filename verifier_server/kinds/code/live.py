"""Scoring a live candidate (a session's end state) with the code kind's tests and verdicts.

A session is not a program to run: its functions and variables already exist in a running
interpreter. So the tests run in the in-sandbox runner as usual (harness/session_runner.py),
but against the session's throwaway copy serving its namespace (harness/session_candidate.py)
instead of a freshly started candidate. How the copy and the judge process are made is the
caller's (`LiveJudge`, e.g. a sandbox session's `judge`); verdicts are decided here exactly as
for a program, from the runner's nonce-tagged report only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sandboxes import ExecStatus, Execution
from verifier_server.domain import Outcome, ScoreResult
from verifier_server.kinds.code import harness
from verifier_server.kinds.code.harness import session_runner
from verifier_server.kinds.code.kind import MODES, CodeVerifier, _wire_tests
from verifier_server.kinds.code.sandbox_access import new_nonce, read_report
from verifier_server.kinds.code.tests_model import TestsError, parse_tests

MiB = 1024 * 1024
#: What the judge process loads (module name -> harness file), in order.
HARNESS_MODULES = {"_verifier_runner": "runner", "_verifier_session_runner": "session_runner"}


class LiveJudge(Protocol):
    """Runs `argv` (argv[0] "python3": the sandbox's Python) against a throwaway copy of the candidate."""

    async def __call__(
        self,
        *,
        candidate_module: str,
        candidate_entry: str,
        candidate_args: Any,
        argv: Sequence[str],
        stdin: bytes,
        wall_time_s: float,
        output_bytes: int,
    ) -> Execution: ...


async def score_live(verifier: CodeVerifier, reference: Mapping[str, Any], judge: LiveJudge) -> ScoreResult:
    """Score the candidate `judge` serves against the tests in `reference` (assert, function-call or script)."""
    cfg = verifier.config
    try:
        suite = parse_tests(
            reference, style=cfg.style, field_name=cfg.tests_field, fn_name=cfg.fn_name, max_tests=cfg.max_tests
        )
    except TestsError as exc:
        return ScoreResult.invalid(str(exc))
    if suite.style == "stdio":
        return ScoreResult.invalid(
            "stdin/stdout tests need a program to run; a session's end state is scored with assert, "
            "function-call or script tests"
        )
    nonce = new_nonce()
    request: dict[str, Any] = {
        "nonce": nonce,
        "mode": MODES[suite.style],
        "limits": {
            "wall_time_s": cfg.time_limit_s,
            "cpu_time_s": cfg.time_limit_s,
            "memory_bytes": cfg.memory_bytes,
            "output_bytes": cfg.output_limit_bytes,
        },
        "stop_on_failure": cfg.stop_on_failure,
        "tests": _wire_tests(suite),
        "candidate": {"python": True},  # served by the copy; Attached ignores how to start one
    }
    if suite.style == "function":
        request["fn_name"] = suite.fn_name
    if suite.setup:
        request["setup"] = suite.setup
    if suite.style == "script":
        request["script"] = suite.script
    if suite.entry_point:
        request["names"] = [suite.entry_point]
    modules = {name: harness.source(source) for name, source in HARNESS_MODULES.items()}
    wall = len(request["tests"] or [None]) * (cfg.time_limit_s + 0.5) + 5.0
    n = max(1, len(request["tests"]))
    execution = await judge(
        candidate_module=harness.source("session_candidate"),
        candidate_entry="serve",
        candidate_args={"runner": harness.source("runner")},
        argv=["python3", "-I", "-B", "-c", session_runner.BOOT],
        stdin=json.dumps({"modules": modules, "request": request}).encode(),
        wall_time_s=min(wall, cfg.max_job_wall_s),
        output_bytes=min(n * cfg.output_limit_bytes * 2 + MiB, 256 * MiB),
    )
    if execution.status is ExecStatus.SANDBOX_ERROR:
        return ScoreResult.failed(Outcome.ERROR, f"sandbox error: {execution.reason}")
    report = read_report(execution, nonce)
    tests = await verifier._verdicts(suite, report, execution)
    return verifier._result(suite, tests, "python", report)
