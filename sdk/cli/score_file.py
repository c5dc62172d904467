"""``verifier score``: score a JSONL, JSON or Parquet file of completions, with per-row progress and a summary.

Each input row carries a completion (``completion``, or ``--completion-field``), optionally
a prompt (``prompt`` / ``--prompt-field``) and ``completion_ids``; every other field is
the row's reference (gold answer, tests, ...). Each output row keeps every input field
and adds ``score``, ``outcome``, ``reason`` and ``details`` (and ``components`` for
composites).

Everything that can be checked is checked before the first sample is scored: the whole
input is read once (a malformed row stops the run naming it, unless ``skip_invalid``),
the output is not the input, and the server knows the verifier. For slow verifiers
results stream back as each sample finishes, so the progress bar moves row by row (fast
ones, whose batches finish within a second, get one reply per batch: streaming costs a
message per row); rows are written in input order, to a temporary file that becomes the
output only when the run succeeds.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sdk._client import VerifierClient
from sdk._columns import RowColumns
from sdk._errors import VerifierError
from sdk._types import ScoreResult
from sdk.cli._files import InputFileError, atomic_output, count_rows, read_rows

__all__ = ["InputFileError", "ScoreSummary", "read_rows", "score_file"]

FAILED_OUTCOMES = ("error", "timeout")
"""Outcomes that are our failures (not the candidate's): ``--fail-on-error`` counts these."""
TOP_REASONS = 3
STREAM_WHEN_BATCH_SLOWER_THAN_S = 1.0
"""A batch that took longer is followed by a streamed one, so the progress bar moves within it."""


@dataclass
class ScoreSummary:
    """What the scored rows add up to; ``render()`` is what ``verifier score`` prints."""

    rows: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)
    components: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    reasons: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    """Reasons by group: each non-ok outcome, and ``score 0`` for ok rows that scored zero."""

    def add(self, result: ScoreResult) -> None:
        self.rows += 1
        outcome = result.outcome.value
        self.outcomes[outcome] += 1
        for child, value in result.components.items():
            self.components[child].append(value)
        if result.score is not None:
            self.scores.append(result.score)
        group = outcome if outcome != "ok" else ("score 0" if result.score == 0 else "")
        if group:
            self.reasons[group][_short(reason_of(result)) or "(no reason given)"] += 1

    @property
    def failed(self) -> int:
        """Rows whose scoring failed on our side (error, timeout)."""
        return sum(self.outcomes[name] for name in FAILED_OUTCOMES)

    def render(self) -> str:
        skipped = (
            f", skipped {len(self.skipped_lines)} malformed lines (first: line {self.skipped_lines[0]})"
            if self.skipped_lines
            else ""
        )
        lines = [f"scored {self.rows} rows{skipped}"]
        lines.append("outcomes: " + ", ".join(f"{name}={count}" for name, count in sorted(self.outcomes.items())))
        if self.scores:
            quartiles = statistics.quantiles(self.scores, n=4) if len(self.scores) > 1 else [self.scores[0]] * 3
            lines.append(
                f"scores: mean={statistics.fmean(self.scores):.4f} min={min(self.scores):.4f} "
                f"p25={quartiles[0]:.4f} median={quartiles[1]:.4f} p75={quartiles[2]:.4f} max={max(self.scores):.4f}"
            )
            lines.append("histogram: " + _histogram(self.scores))
        if self.components:
            lines.append(
                "children: "
                + ", ".join(
                    f"{child} mean={statistics.fmean(values):.4f} (n={len(values)})"
                    for child, values in sorted(self.components.items())
                )
            )
        for group in sorted(self.reasons, key=_group_order):
            top = self.reasons[group].most_common(TOP_REASONS)
            lines.append(f"top reasons ({group}): " + "; ".join(f"{count}x {reason}" for reason, count in top))
        return "\n".join(lines)


def reason_of(result: ScoreResult) -> str:
    """The result's reason or, for a composite that gives none, the first child's that does."""
    if result.reason:
        return result.reason
    for child, details in result.details.items():
        if isinstance(details, dict) and details.get("reason"):
            return f"{child}: {details['reason']}"
    return ""


def _group_order(group: str) -> tuple[int, str]:
    order = ("error", "timeout", "invalid_input", "not_applicable", "score 0")
    return (order.index(group) if group in order else len(order), group)


def _short(reason: str, limit: int = 160) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= limit else reason[: limit - 1] + "…"


def _histogram(scores: list[float], buckets: int = 10) -> str:
    low, high = min(scores), max(scores)
    if high == low:
        return f"[{low:g}]={len(scores)}"
    width = (high - low) / buckets
    counts = Counter(min(int((s - low) / width), buckets - 1) for s in scores)
    return " ".join(
        f"[{low + i * width:.2f},{low + (i + 1) * width:.2f}{']' if i == buckets - 1 else ')'}={counts[i]}"
        for i in range(buckets)
        if counts[i]
    )


def score_file(
    client: VerifierClient,
    verifier: str,
    input_path: Path,
    output_path: Path,
    *,
    batch_size: int = 256,
    skip_invalid: bool = False,
    progress: bool = True,
    columns: RowColumns = RowColumns(),
) -> ScoreSummary:
    """Check everything, then score ``input_path`` into ``output_path`` (whole, or not written at all)."""
    if batch_size < 1:
        raise InputFileError("--batch-size must be at least 1")
    total, skipped = count_rows(input_path, skip_invalid, required=columns.completion)
    with atomic_output(output_path, [input_path]) as out:  # refuses output == input before anything runs
        client.get(verifier)  # unknown verifier (with did-you-mean) or no server: fail before scoring
        summary = ScoreSummary(skipped_lines=skipped)
        from tqdm import tqdm

        with tqdm(total=total, unit="row", desc=f"scoring with {verifier}", disable=not progress) as bar:
            stream = True
            for batch in _batches(read_rows(input_path, skip_invalid, [], required=columns.completion), batch_size):
                started = time.perf_counter()
                _score_batch(client, verifier, batch, columns, out, summary, bar.update, stream=stream)
                # Streaming costs a message per row; worth it only when a batch is slow enough for
                # the bar to sit still. Fast verifiers switch to one reply per batch after the first.
                stream = time.perf_counter() - started > STREAM_WHEN_BATCH_SLOWER_THAN_S
    return summary


def _batches(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _score_batch(
    client: VerifierClient,
    verifier: str,
    rows: list[dict[str, Any]],
    columns: RowColumns,
    out: TextIO,
    summary: ScoreSummary,
    advance: Any,
    *,
    stream: bool,
) -> None:
    """Score one batch (streamed: the bar moves per row), then write it in input order."""
    samples = columns.samples(rows).arguments()
    results: list[ScoreResult | None] = [None] * len(rows)
    if stream:
        for index, streamed in client.score_stream(verifier, **samples):
            results[index] = streamed
            advance(1)
    else:
        results = list(client.score(verifier, **samples))
        advance(len(rows))
    for row, result in zip(rows, results, strict=True):
        if result is None:  # the stream yields every index once; a gap would be a server bug, not a row's fault
            raise VerifierError(f"the server sent no result for one of the rows of a batch scored with {verifier}")
        out.write(json.dumps({**row, **_result_fields(result)}, ensure_ascii=False, default=str) + "\n")
        summary.add(result)


def _result_fields(result: ScoreResult) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "score": result.score,
        "outcome": result.outcome.value,
        "reason": result.reason,
        "details": dict(result.details),
    }
    if result.components:
        fields["components"] = dict(result.components)
    return fields
