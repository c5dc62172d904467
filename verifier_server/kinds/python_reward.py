"""The ``python`` kind: a user-registered reward function, run inside the sandbox per batch.

The source is only ever ast-parsed in the server (parsing executes nothing); it runs in
the sandbox with the batch as JSON on stdin and the rewards as JSON on stdout
(sandboxed/userfn.py). Whatever the function does wrong becomes per-sample outcomes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from sandboxes import ExecStatus, Job, Limits
from verifier_server.domain import Content, Outcome, Sample, ScoreResult
from verifier_server.kinds.base import BuildContext, ConfigReader
from verifier_server.kinds.caps import capped_float, capped_int, read_cap
from verifier_server.kinds.sandboxed.access import SharedSandbox, new_nonce, read_report, shared_sandbox
from verifier_server.kinds.sandboxed.user_function import defines_function, function_files

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PythonRewardConfig:
    source: str
    function: str
    time_limit_s: float
    memory_bytes: int
    max_batch: int


class PythonRewardKind:
    name: ClassVar[str] = "python"

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> PythonRewardVerifier:
        reader = ConfigReader(config)
        source = reader.str("source")
        function = reader.str("function", "reward")
        problem = defines_function(source, function)
        if problem:
            raise reader.error("source", problem)
        settings = context.resources.settings
        memory_cap = read_cap(settings, "python", "memory_mb", 4096)
        cfg = PythonRewardConfig(
            source=source,
            function=function,
            time_limit_s=capped_float(
                reader, "time_limit_s", 30.0, read_cap(settings, "python", "time_limit_s", 120.0), minimum=0.1
            ),
            memory_bytes=capped_int(reader, "memory_mb", 512, memory_cap, minimum=32) * MiB,
            max_batch=reader.int("max_batch", 256, minimum=1, maximum=100_000),
        )
        reader.finish()
        return PythonRewardVerifier(cfg, shared_sandbox(context, "python"))


class PythonRewardVerifier:
    def __init__(self, config: PythonRewardConfig, sandbox: SharedSandbox) -> None:
        self.config, self.sandbox = config, sandbox

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        """Chunks of `max_batch` samples, one sandbox run each, concurrently."""
        size = self.config.max_batch
        chunks = [samples[i : i + size] for i in range(0, len(samples), size)]
        import asyncio

        parts = await asyncio.gather(*(self._chunk(chunk) for chunk in chunks))
        return [result for part in parts for result in part]

    async def _chunk(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        cfg = self.config
        nonce = new_nonce()
        args = [
            [_content(s.prompt) for s in samples],
            [_content(s.completion) for s in samples],
            [dict(s.reference) for s in samples],
        ]
        request = {"nonce": nonce, "op": "batch", "fn": cfg.function, "args": args}
        job = Job(
            language="python",
            files=function_files(cfg.source),
            stdin=json.dumps(request, default=str),
            limits=Limits(
                wall_time_s=cfg.time_limit_s,
                cpu_time_s=cfg.time_limit_s,
                memory_bytes=cfg.memory_bytes,
                output_bytes=16 * MiB,
            ),
        )
        execution = await self.sandbox.run(job)
        n = len(samples)
        if execution.status is ExecStatus.TIMEOUT:
            return [ScoreResult.failed(Outcome.TIMEOUT, f"reward function: {execution.reason}")] * n
        report = read_report(execution, nonce)
        if report is None:
            why = execution.reason or "no reply"
            tail = execution.stderr.decode("utf-8", "replace")[-500:]
            return [ScoreResult.failed(Outcome.ERROR, f"reward function did not reply ({why}) {tail}".strip())] * n
        if "error" in report:
            return [ScoreResult.failed(Outcome.ERROR, f"reward function raised: {str(report['error'])[-1000:]}")] * n
        values = report.get("result")
        if not isinstance(values, list) or len(values) != n:
            got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
            return [ScoreResult.failed(Outcome.ERROR, f"reward function returned {got} for {n} samples")] * n
        return [_one(v) for v in values]


def _content(content: Content | None) -> Any:
    """TRL's shapes: a string, or a list of {"role", "content"} messages."""
    if content is None or isinstance(content, str):
        return content
    return [{"role": m.role, "content": m.content} for m in content]


def _one(value: Any) -> ScoreResult:
    if value is None:
        return ScoreResult.not_applicable("reward function returned None")
    if isinstance(value, dict):
        score = value.get("score")
        if score is None:
            return ScoreResult.not_applicable(str(value.get("reason", "reward function returned no score")))
        result = _number(score)
        if result.outcome is Outcome.OK:
            result.reason = str(value.get("reason", ""))
            details = value.get("details")
            result.details = details if isinstance(details, dict) else ({} if details is None else {"value": details})
        return result
    return _number(value)


def _number(value: Any) -> ScoreResult:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ScoreResult.failed(Outcome.ERROR, f"reward must be a number, None or a dict; got {value!r:.100}")
    if not math.isfinite(value):
        return ScoreResult.failed(Outcome.ERROR, f"reward is not finite: {value}")
    return ScoreResult.ok(float(value))
