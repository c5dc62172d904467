"""The ``python`` kind: a user-registered reward function, run inside the sandbox per batch.

The source is only ever ast-parsed in the server (parsing executes nothing); it runs in
the sandbox with the batch as JSON on stdin and the rewards as JSON on stdout
(sandboxed/userfn.py). Whatever the function does wrong becomes per-sample outcomes.
Two calling conventions are accepted, told apart by the parsed signature at registration:
ours, ``reward(prompts, completions, references)``, and TRL's, ``reward(completions,
**kwargs)`` with dataset columns as keywords, so a TRL reward function registers as is.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sandboxes import ExecStatus, Job, Limits
from verifier_server.domain import Content, Outcome, Sample, ScoreResult
from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader
from verifier_server.kinds.caps import capped_float, capped_int
from verifier_server.kinds.sandboxed.access import SharedSandbox, new_nonce, read_report, shared_sandbox
from verifier_server.kinds.sandboxed.user_function import USERFN, defines_function, definition, function_files
from verifier_server.kinds.settings import KindSettings, cap, kind_settings

MiB = 1024 * 1024


TRL_KEYWORDS = ("prompts", "completions", "completion_ids")
"""What TRL passes a reward function besides the dataset columns (we pass these and the columns)."""


@dataclass(frozen=True, slots=True)
class CallStyle:
    """How the sandbox calls the user's function, decided from its parsed signature at registration.

    ``positional``: ours, ``fn(prompts, completions, references)`` (references: one dict per sample).
    ``keywords``: TRL's, ``fn(completions=..., prompts=..., answer=..., **kwargs)``: the sample
    fields and every reference key as a column (one value per sample, None where a sample lacks it).
    ``accepts`` is None when the function takes ``**kwargs`` (it gets every column), else the
    keyword names it takes; ``requires`` are those without a default.
    """

    keywords: bool
    accepts: tuple[str, ...] | None = None
    requires: tuple[str, ...] = ()


def call_style(source: str, name: str) -> tuple[CallStyle, str]:
    """(style, problem): which convention ``name`` in ``source`` follows, from its ast alone (nothing runs).

    A function that takes ``completions`` as a keyword (TRL's ``def reward(completions,
    answer, **kwargs)``), or only ``**kwargs``, is called TRL's way; anything else
    (``def reward(prompts, completions, references)``, ``def reward(p, c, r)``, ``*args``,
    an imported or assigned callable) our way, which needs room for three positional arguments.
    """
    tree = ast.parse(source)
    node = definition(tree, name)
    if not isinstance(node, ast.FunctionDef | ast.Lambda):
        return CallStyle(keywords=False), ""
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    named = [a.arg for a in [*args.args, *args.kwonlyargs]]  # those a keyword can reach
    ours = [a.arg for a in positional] == ["prompts", "completions", "references"]
    required_positional = len(positional) - len(args.defaults)
    if not ours and ("completions" in named or (args.kwarg is not None and required_positional == 0)):
        defaults = {a.arg for a in positional[len(positional) - len(args.defaults) :]} if args.defaults else set()
        defaults |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
        accepts = None if args.kwarg is not None else tuple(named)
        requires = tuple(n for n in named if n not in defaults)
        return CallStyle(keywords=True, accepts=accepts, requires=requires), ""
    if args.vararg is None and not (required_positional <= 3 <= len(positional)):
        taken = ", ".join(a.arg for a in positional) or "nothing"
        return CallStyle(keywords=False), (
            f"{name}({taken}) fits neither calling convention: ours is "
            f"{name}(prompts, completions, references), TRL's is {name}(completions, **kwargs)"
        )
    return CallStyle(keywords=False), ""


@dataclass(frozen=True, slots=True)
class PythonSettings(KindSettings):
    """The server's caps on ``python`` specs (``[kinds.python]``)."""

    kind: ClassVar[str] = "python"

    cap_time_limit_s: float = cap(120.0)
    """Most a spec's ``time_limit_s`` (one sandbox run of a batch) may be."""
    cap_memory_mb: float = cap(4096)
    """Most a spec's ``memory_mb`` may be."""


@dataclass(frozen=True, slots=True)
class PythonRewardConfig:
    source: str
    function: str
    style: CallStyle
    time_limit_s: float
    memory_bytes: int
    max_batch: int


class PythonRewardKind(BaseKind):
    name: ClassVar[str] = "python"
    settings_type = PythonSettings

    @classmethod
    def shipped_modules(cls) -> Mapping[str, Path]:
        return {"userfn": USERFN}

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> PythonRewardVerifier:
        reader = ConfigReader(config)
        source = reader.str("source")
        function = reader.str("function", "reward")
        # A missing source was recorded already (and is reported with the spec's other problems).
        problem = defines_function(source, function) if reader.has("source") else ""
        style = CallStyle(keywords=False)
        if not problem and reader.has("source"):
            style, problem = call_style(source, function)
        if problem:
            raise reader.error("source", problem)
        settings = kind_settings(context.resources, PythonSettings)
        cfg = PythonRewardConfig(
            source=source,
            function=function,
            style=style,
            time_limit_s=capped_float(reader, "time_limit_s", 30.0, settings.cap("time_limit_s"), minimum=0.1),
            memory_bytes=capped_int(reader, "memory_mb", 512, settings.cap("memory_mb"), minimum=32) * MiB,
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
        n = len(samples)
        request: dict[str, Any] = {"nonce": nonce, "op": "batch", "fn": cfg.function}
        if cfg.style.keywords:
            kwargs = _keyword_arguments(samples, cfg.style)
            absent = [name for name in cfg.style.requires if name not in kwargs]
            if absent:
                why = f"reward function needs {', '.join(map(repr, absent))}, which no sample's reference has"
                return [ScoreResult.failed(Outcome.INVALID_INPUT, why)] * n
            request["kwargs"] = kwargs
        else:
            request["args"] = [
                [_content(s.prompt) for s in samples],
                [_content(s.completion) for s in samples],
                [dict(s.reference) for s in samples],
            ]
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
        if execution.status is ExecStatus.TIMEOUT:
            return [ScoreResult.failed(Outcome.TIMEOUT, f"reward function: {execution.reason}")] * n
        report = read_report(execution, nonce)
        if report is None:
            why = execution.reason or "no reply"
            tail = execution.stderr.decode("utf-8", "replace")[-500:]
            return [ScoreResult.failed(Outcome.ERROR, f"reward function did not reply ({why}) {tail}".strip())] * n
        if "error" in report:
            return [_raised(str(report["error"]))] * n
        values = report.get("result")
        if not isinstance(values, list) or len(values) != n:
            got = f"{len(values)} values" if isinstance(values, list) else type(values).__name__
            return [ScoreResult.failed(Outcome.ERROR, f"reward function returned {got} for {n} samples")] * n
        return [_one(v) for v in values]


def _keyword_arguments(samples: Sequence[Sample], style: CallStyle) -> dict[str, list[Any]]:
    """TRL's keywords: the sample fields, then each reference key as a column (None where a sample lacks it)."""
    columns: dict[str, list[Any]] = {
        "prompts": [_content(s.prompt) for s in samples],
        "completions": [_content(s.completion) for s in samples],
        "completion_ids": [list(s.completion_ids) if s.completion_ids is not None else None for s in samples],
    }
    keys = dict.fromkeys(key for s in samples for key in s.reference if key not in columns)
    for key in keys:
        columns[key] = [s.reference.get(key) for s in samples]
    if style.accepts is None:
        return columns
    return {key: values for key, values in columns.items() if key in style.accepts}


def _raised(traceback_text: str) -> ScoreResult:
    """The exception itself first (``ValueError: boom``), then the user's own frames in ``details``.

    The harness's frames (how the sandbox called the function) say nothing to the author.
    """
    lines = [line for line in traceback_text.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "an exception"
    start = next((i for i, line in enumerate(lines) if 'File "user.py"' in line), 0)
    user_frames = "\n".join(lines[start:])[-2000:]
    return ScoreResult.failed(Outcome.ERROR, f"reward function raised {last[:500]}", traceback=user_frames)


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
