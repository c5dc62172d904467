"""The ``program`` checker: the spec's own check(input, output, expected), run in the sandbox (it is user code).

stdio passes text; function calls pass the arguments, the returned value and the expected
value as JSON (tuples and sets as lists). A check that raises on one output rejects that
output (a wrong answer, as testlib's checkers reject what they cannot read); the other tests
keep their verdicts. A checker the sandbox could not run, or that failed to load (before it
saw any output), is the sample's error, never the candidate's 0: the grader failed. A checker
job that dies while judging (timeout, memory, a crash) fails the tests it was judging: the
candidate's outputs are its input, so calling that our failure would let a candidate turn its
0 into an abstention.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sandboxes import ExecStatus, Job, Limits
from verifier_server.domain import Outcome, ScoreResult
from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.config import CodeConfig
from verifier_server.kinds.code.verdict import TestVerdict
from verifier_server.kinds.sandboxed.access import SharedSandbox, new_nonce, read_report
from verifier_server.kinds.sandboxed.user_function import function_files

MiB = 1024 * 1024


async def decide(config: CodeConfig, sandbox: SharedSandbox, tests: list[TestVerdict]) -> ScoreResult | None:
    """Settle every test the checker program is to decide (in place); a ScoreResult when the sample gets none."""
    todo = [t for t in tests if t.check is not None]
    if not todo:
        return None
    encoded = await asyncio.to_thread(_items, todo)
    for test, item in zip(todo, encoded, strict=True):
        if item is None:
            test.verdict = protocol.RUNTIME_ERROR
            test.error = "the returned value cannot be given to the checker as JSON"
    todo = [t for t, item in zip(todo, encoded, strict=True) if item is not None]
    for test in tests:
        test.check = None  # what the checker needs is encoded; the outputs may go
    if not todo:
        return None
    nonce = new_nonce()
    items = ",".join(item for item in encoded if item is not None)
    assert config.checker_source is not None
    job = Job(
        language="python",
        files=function_files(config.checker_source),
        stdin=f'{{"nonce": "{nonce}", "op": "map", "fn": "check", "items": [{items}]}}',
        limits=Limits(wall_time_s=10.0 + len(todo), memory_bytes=512 * MiB, output_bytes=8 * MiB),
    )
    execution = await sandbox.run(job)
    if execution.status is ExecStatus.SANDBOX_ERROR:
        return ScoreResult.failed(Outcome.ERROR, f"sandbox error running the checker program: {execution.reason}")
    report = read_report(execution, nonce) or {}
    verdicts = report.get("results")
    if not isinstance(verdicts, list) or len(verdicts) != len(todo):
        error = report.get("error") or execution.reason or "no reply"
        if report.get("stage") == "load":
            return ScoreResult.failed(
                Outcome.ERROR, f"the checker program did not load: {config.snippets.tail(str(error))}"
            )
        for test in todo:
            test.verdict = protocol.RUNTIME_ERROR
            test.error = config.snippets.tail(f"checker program failed: {error}")
        return None
    raised = report.get("item_errors")
    for k, test in enumerate(todo):
        why = raised.get(str(k)) if isinstance(raised, dict) else None
        if why is not None:
            test.verdict = protocol.WRONG_ANSWER
            test.error = config.snippets.tail(f"the checker raised on this output: {why}")
        else:
            test.verdict = protocol.PASSED if verdicts[k] else protocol.WRONG_ANSWER
    return None


def _items(tests: list[TestVerdict]) -> list[str | None]:
    """Each test's (input, output, expected) as a JSON array, or None where the output has no JSON form."""
    items: list[str | None] = []
    for test in tests:
        assert test.check is not None
        try:
            items.append(json.dumps([test.check.given, test.check.answer, test.check.expected], default=_jsonable))
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
