"""The ``format`` kind: cheap, in-process checks of an output's shape.

One spec is one check (``config.type``): ``regex``, ``tags``, ``json``, ``length``,
``repetition`` or ``overlong``; combine several with a ``composite``. Cheap checks of
small batches run inline on the event loop, where a worker hop would cost more than the
check; regex and JSON checks, and any batch of much text, run on a small thread pool
under a per-batch time budget, so no spec or completion can stall the server (every
regex, a schema's included, runs on the ``regex`` engine with a per-match timeout).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import jsonschema
import regex as safe_regex

from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.kinds.base import BaseKind, BuildContext, ConfigReader
from verifier_server.kinds.caps import capped_float
from verifier_server.kinds.safe_schema import bounded_validator, schema_problem
from verifier_server.kinds.settings import KindSettings, cap, kind_settings, setting

Check = Callable[[Sample], ScoreResult]

MAX_PATTERN_CHARS = 10_000
MAX_TAGS = 64
MAX_NGRAM_SIZE = 64
_INLINE_CHARS = 256 * 1024
"""A cheap check of a batch with less completion text than this runs inline on the event loop."""
_POOL: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    """Two threads for format checks: enough to overlap, too few to crowd other work off the CPUs."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="format-checks")
    return _POOL


@dataclass(frozen=True, slots=True)
class FormatSettings(KindSettings):
    """The server's bounds on format checks (``[kinds.format]``)."""

    kind: ClassVar[str] = "format"

    cap_timeout_s: float = cap(5.0)
    """Most a spec's ``timeout_s`` (per regex match, a schema's patterns included) may be."""
    batch_budget_s: float = setting(30.0, minimum=0.001)
    """Checks of one batch stop after this long; the samples left get outcome ``timeout``."""


_REGEX_FLAGS = {
    "IGNORECASE": safe_regex.IGNORECASE,
    "MULTILINE": safe_regex.MULTILINE,
    "DOTALL": safe_regex.DOTALL,
    "VERBOSE": safe_regex.VERBOSE,
    "ASCII": safe_regex.ASCII,
}


@dataclass(frozen=True, slots=True)
class FormatVerifier:
    check: Check
    cheap: bool
    """Linear in the text with a small constant: fine inline for a small batch."""
    budget_s: float

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        if self.cheap and sum(len(s.completion_text or "") for s in samples) < _INLINE_CHARS:
            check = self.check
            return [check(sample) for sample in samples]
        return await asyncio.get_running_loop().run_in_executor(_pool(), self._within_budget, list(samples))

    def _within_budget(self, samples: list[Sample]) -> list[ScoreResult]:
        deadline = time.monotonic() + self.budget_s
        results: list[ScoreResult] = []
        for sample in samples:
            if time.monotonic() > deadline:
                reason = f"format checks of this batch ran past the server's budget of {self.budget_s:g}s"
                results.append(ScoreResult.failed(Outcome.TIMEOUT, reason))
            else:
                results.append(self.check(sample))
        return results


class FormatKind(BaseKind):
    name: ClassVar[str] = "format"
    settings_type = FormatSettings

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> FormatVerifier:
        reader = ConfigReader(config)
        settings = kind_settings(context.resources, FormatSettings)
        check_type = reader.str("type", choices=sorted(_BUILDERS))
        check = _BUILDERS[check_type](reader, settings)
        reader.finish()
        return FormatVerifier(check, cheap=check_type not in ("regex", "json"), budget_s=settings.batch_budget_s)

    @classmethod
    def builtin_specs(cls) -> list[dict[str, Any]]:
        return builtin_specs()


# ---------------------------------------------------------------------------
# regex
# ---------------------------------------------------------------------------


def _regex(reader: ConfigReader, settings: FormatSettings) -> Check:
    """User patterns run on the ``regex`` engine: it has a per-match timeout, so a
    catastrophically backtracking pattern costs one sample a ``timeout`` outcome
    instead of freezing the server's event loop (``re`` cannot be interrupted)."""
    flag_names = reader.str_list("flags")
    flags = 0
    for flag in flag_names:
        known = _REGEX_FLAGS.get(str(flag).upper())
        if known is None:
            raise reader.error("flags", f"unknown regex flag {flag!r} (known: {', '.join(_REGEX_FLAGS)})")
        flags |= known
    source = reader.str("pattern")
    if len(source) > MAX_PATTERN_CHARS:
        raise reader.error("pattern", f"is {len(source)} characters; at most {MAX_PATTERN_CHARS}")
    try:
        pattern = safe_regex.compile(source, flags)
    except (safe_regex.error, RecursionError, OverflowError) as exc:
        raise reader.error("pattern", f"invalid regular expression {source[:200]!r}: {exc}") from None
    mode = reader.str("mode", "search", choices=("match", "search", "fullmatch"))
    timeout_s = capped_float(reader, "timeout_s", 1.0, settings.cap("timeout_s"), minimum=0.001)
    matcher = getattr(pattern, mode)
    on_match, on_miss = _pass_fail_scores(reader)
    describe = f"{mode} of /{source[:200]}/"

    def check(sample: Sample) -> ScoreResult:
        text = sample.completion_text or ""
        try:
            matched = matcher(text, timeout=timeout_s, concurrent=True) is not None
        except TimeoutError:
            return ScoreResult.failed(Outcome.TIMEOUT, f"regex did not finish within {timeout_s:g}s")
        if matched:
            return ScoreResult(score=on_match)
        return ScoreResult(score=on_miss, reason=f"no {describe}")

    return check


# ---------------------------------------------------------------------------
# tags
# ---------------------------------------------------------------------------


def _tags(reader: ConfigReader, settings: FormatSettings) -> Check:
    tags = reader.str_list("tags")
    if not tags or len(tags) > MAX_TAGS:
        raise reader.error("tags", f"must name between 1 and {MAX_TAGS} tags")
    for tag in tags:
        if not re.fullmatch(r"[A-Za-z_][\w.-]*", tag):
            raise reader.error("tags", f"{tag!r} is not a valid tag name")
    ordered = reader.bool("ordered", True)
    allow_outside = reader.bool("allow_text_outside", False)
    require_content = reader.bool("require_content", True)
    counts = _tag_counts(reader, tags)
    on_pass, on_fail = _pass_fail_scores(reader)
    token = re.compile("<(/?)(" + "|".join(re.escape(t) for t in tags) + r")\s*>")

    def check(sample: Sample) -> ScoreResult:
        problem = _tag_problem(
            sample.completion_text or "", token, tags, ordered, allow_outside, require_content, counts
        )
        if problem:
            return ScoreResult(score=on_fail, reason=problem)
        return ScoreResult(score=on_pass)

    return check


def _tag_counts(reader: ConfigReader, tags: Sequence[str]) -> dict[str, tuple[int, int]]:
    raw = reader.mapping("counts")
    counts = {tag: (1, 1) for tag in tags}
    for tag, value in raw.items():
        if tag not in counts:
            raise reader.error("counts", f"{tag!r} is not one of the tags")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            counts[tag] = (value, value)
        elif isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v >= 0 for v in value):
            counts[tag] = (value[0], value[1])
        else:
            raise reader.error(f"counts.{tag}", "must be a count or a [min, max] pair of counts")
    return counts


def _tag_problem(
    text: str,
    token: re.Pattern[str],
    tags: Sequence[str],
    ordered: bool,
    allow_outside: bool,
    require_content: bool,
    counts: Mapping[str, tuple[int, int]],
) -> str:
    """Why ``text`` breaks the tag structure, or '' when it follows it."""
    seen: dict[str, int] = dict.fromkeys(tags, 0)
    open_tag: str | None = None
    open_end = 0
    cursor = 0
    order_index = 0
    for match in token.finditer(text):
        closing, tag = match.group(1) == "/", match.group(2)
        if open_tag is None:
            if closing:
                return f"</{tag}> without an opening <{tag}>"
            if not allow_outside and text[cursor : match.start()].strip():
                return f"text outside the tags before <{tag}>"
            if ordered:
                while order_index < len(tags) and tags[order_index] != tag:
                    if seen[tags[order_index]] < counts[tags[order_index]][0]:
                        return f"<{tag}> appears before the required <{tags[order_index]}>"
                    order_index += 1
                if order_index == len(tags):
                    return f"<{tag}> is out of order (expected order: {', '.join(tags)})"
            open_tag, open_end = tag, match.end()
        else:
            if not closing or tag != open_tag:
                return f"<{match.group(1)}{tag}> inside <{open_tag}>"
            if require_content and not text[open_end : match.start()].strip():
                return f"<{tag}> is empty"
            seen[tag] += 1
            if seen[tag] > counts[tag][1]:
                return f"<{tag}> appears {seen[tag]} times (at most {counts[tag][1]})"
            open_tag, cursor = None, match.end()
    if open_tag is not None:
        return f"<{open_tag}> is never closed"
    if cursor == 0 and not any(seen.values()):  # no tag at all: say what is missing, not "text outside"
        required = [tag for tag in tags if counts[tag][0] > 0]
        if required:
            return "missing " + "".join(f"<{tag}>…</{tag}>" for tag in required) + ": the completion has no tags"
    if not allow_outside and text[cursor:].strip():
        return "text outside the tags at the end"
    for tag in tags:
        if seen[tag] < counts[tag][0]:
            return f"missing <{tag}>…</{tag}>"
    return ""


# ---------------------------------------------------------------------------
# json
# ---------------------------------------------------------------------------

_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def _json(reader: ConfigReader, settings: FormatSettings) -> Check:
    schema = reader.raw("schema")
    validator: Any = None
    if schema is not None:
        if not isinstance(schema, Mapping | bool):
            raise reader.error("schema", "must be a JSON Schema object")
        problem = schema_problem(schema)
        if problem:
            raise reader.error("schema", problem)
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)  # type: ignore[arg-type]
        except jsonschema.SchemaError as exc:
            where = "/".join(str(p) for p in exc.path)
            raise reader.error(
                "schema", f"invalid JSON Schema{f' at {where}' if where else ''}: {exc.message}"
            ) from None
        except RecursionError:
            raise reader.error("schema", "is nested too deeply") from None
        validator = bounded_validator(schema, settings.cap_timeout_s)
    extract = reader.str("extract", "whole", choices=("whole", "fenced", "answer_tag"))
    on_pass, on_fail = _pass_fail_scores(reader)

    def check(sample: Sample) -> ScoreResult:
        text = _extract_json_text(sample.completion_text or "", extract)
        if text is None:
            return ScoreResult(score=on_fail, reason=f"no JSON found ({extract})")
        try:
            value = json.loads(text)
        except ValueError as exc:
            return ScoreResult(score=on_fail, reason=f"invalid JSON: {exc}")
        except RecursionError:
            return ScoreResult(score=on_fail, reason="invalid JSON: nested too deeply")
        if validator is not None:
            try:
                error = jsonschema.exceptions.best_match(validator.iter_errors(value))
            except TimeoutError:
                return ScoreResult.failed(Outcome.TIMEOUT, "a schema pattern did not finish within its timeout")
            except RecursionError:
                return ScoreResult(score=on_fail, reason="schema violation: the value is nested too deeply")
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path)[:200] or "(root)"
                return ScoreResult(score=on_fail, reason=f"schema violation at {where}: {error.message[:500]}")
        return ScoreResult(score=on_pass)

    return check


def _extract_json_text(text: str, extract: str) -> str | None:
    if extract == "whole":
        return text.strip()
    pattern = _FENCED_JSON if extract == "fenced" else _ANSWER_TAG
    matches = pattern.findall(text)
    return matches[-1].strip() if matches else None


# ---------------------------------------------------------------------------
# length, repetition, overlong
# ---------------------------------------------------------------------------


def _length_of(sample: Sample, unit: str) -> int:
    if unit in ("tokens", "auto") and sample.completion_ids is not None:
        return len(sample.completion_ids)
    text = sample.completion_text or ""
    return len(text.split()) if unit == "words" else len(text)


def _unit_name(sample: Sample, unit: str) -> str:
    if unit == "auto":
        return "tokens" if sample.completion_ids is not None else "chars"
    return unit


def _needs_tokens(unit: str, sample: Sample) -> ScoreResult | None:
    if unit == "tokens" and sample.completion_ids is None:
        return ScoreResult.invalid("length unit is tokens but the sample has no completion_ids")
    return None


def _length(reader: ConfigReader, settings: FormatSettings) -> Check:
    unit = reader.str("unit", "auto", choices=("auto", "chars", "tokens", "words"))
    minimum = reader.int("min", 0, minimum=0)
    maximum = reader.optional_int("max", minimum=0)
    if maximum is not None and maximum < minimum:
        raise reader.error("max", f"must be >= min ({minimum})")
    on_pass, on_fail = _pass_fail_scores(reader)

    def check(sample: Sample) -> ScoreResult:
        missing = _needs_tokens(unit, sample)
        if missing:
            return missing
        length = _length_of(sample, unit)
        details = {"length": length, "unit": _unit_name(sample, unit)}
        if length < minimum:
            return ScoreResult(score=on_fail, reason=f"too short: {length} < {minimum}", details=details)
        if maximum is not None and length > maximum:
            return ScoreResult(score=on_fail, reason=f"too long: {length} > {maximum}", details=details)
        return ScoreResult(score=on_pass, details=details)

    return check


def _repetition(reader: ConfigReader, settings: FormatSettings) -> Check:
    """open-r1's n-gram repetition penalty: (1 - unique/total n-grams) * max_penalty."""
    size = reader.int("ngram_size", 3, minimum=1, maximum=MAX_NGRAM_SIZE)
    max_penalty = reader.float("max_penalty", -1.0, maximum=0.0)

    def check(sample: Sample) -> ScoreResult:
        words = (sample.completion_text or "").lower().split()
        total = len(words) - size + 1
        if total <= 0:
            return ScoreResult(score=0.0, details={"ngrams": 0})
        unique = len({tuple(words[i : i + size]) for i in range(total)})
        repeated = 1.0 - unique / total
        return ScoreResult(
            score=repeated * max_penalty,
            reason=f"{repeated:.0%} repeated {size}-grams" if repeated else "",
            details={"ngrams": total, "unique_ngrams": unique},
        )

    return check


def _overlong(reader: ConfigReader, settings: FormatSettings) -> Check:
    """DAPO's soft over-length punishment, as TRL's ``get_soft_overlong_punishment``."""
    unit = reader.str("unit", "auto", choices=("auto", "chars", "tokens", "words"))
    max_length = reader.int("max_length", minimum=1)
    cache = reader.int("soft_cache", minimum=1)
    if cache > max_length:
        raise reader.error("soft_cache", f"must be <= max_length ({max_length})")
    factor = reader.float("penalty_factor", 1.0, minimum=0.0)

    def check(sample: Sample) -> ScoreResult:
        missing = _needs_tokens(unit, sample)
        if missing:
            return missing
        length = _length_of(sample, unit)
        details = {"length": length, "unit": _unit_name(sample, unit)}
        if length <= max_length - cache:
            return ScoreResult(score=0.0, details=details)
        if length <= max_length:
            penalty = (max_length - cache - length) / cache * factor
            return ScoreResult(score=penalty, reason=f"length {length} in the soft zone", details=details)
        return ScoreResult(score=-factor, reason=f"length {length} > {max_length}", details=details)

    return check


def _pass_fail_scores(reader: ConfigReader) -> tuple[float, float]:
    return reader.float("score_pass", 1.0), reader.float("score_fail", 0.0)


_BUILDERS: dict[str, Callable[[ConfigReader, FormatSettings], Check]] = {
    "regex": _regex,
    "tags": _tags,
    "json": _json,
    "length": _length,
    "repetition": _repetition,
    "overlong": _overlong,
}


def builtin_specs() -> list[dict[str, Any]]:
    return [
        {
            "name": "think-answer-format",
            "kind": "format",
            "config": {"type": "tags", "tags": ["think", "answer"]},
            "description": "1.0 when the output is exactly <think>…</think><answer>…</answer> "
            "(each once, in order, non-empty, nothing outside), else 0.0.",
        },
        {
            "name": "json-valid",
            "kind": "format",
            "config": {"type": "json"},
            "description": "1.0 when the whole output parses as JSON, else 0.0.",
        },
    ]
