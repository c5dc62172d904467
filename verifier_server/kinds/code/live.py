"""Scoring a live candidate (a session's end state) with the code kind's tests and verdicts.

A session is not a program to run: its functions and variables already exist in a running
interpreter. So the tests run in the in-sandbox harness as usual (harness/session_runner.py
drives harness/runner.py), but against the session's throwaway copy serving its namespace
(harness/session_candidate.py) instead of a freshly started candidate. How the copy and the
judge process are made is the caller's (`LiveJudge`, e.g. a sandbox session's `judge`);
what the request holds and how verdicts are decided is the code kind's
(`CodeVerifier.score_attached`), exactly as for a program.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sandboxes import Execution, Limits
from verifier_server.domain import ScoreResult
from verifier_server.kinds.code import harness, protocol
from verifier_server.kinds.code.harness import session_runner
from verifier_server.kinds.code.kind import CodeVerifier


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

    async def run(request: protocol.Request, limits: Limits) -> Execution:
        modules = harness.module_sources(harness.SESSION_RUNNER_MODULES)
        return await judge(
            candidate_module=harness.session_candidate_source(),
            candidate_entry="serve",
            candidate_args={"modules": harness.module_sources(harness.MODULES)},
            argv=["python3", "-I", "-B", "-c", session_runner.BOOT],
            stdin=json.dumps({"modules": modules, "request": request}).encode(),
            wall_time_s=limits.wall_time_s,
            output_bytes=limits.output_bytes,
        )

    return await verifier.score_attached(reference, run)
