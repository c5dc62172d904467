"""``verifier score``: score a JSONL file in batches, with a progress bar and a summary.

Each input row carries ``completion``, optionally ``prompt`` and ``completion_ids``;
every other field is the row's reference (gold answer, tests, ...). Each output row
keeps every input field and adds ``score``, ``outcome``, ``reason`` and ``details``
(and ``components`` for composites). A malformed line stops the run with its line
number, unless ``skip_invalid`` counts and skips it.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sdk._client import VerifierClient
from sdk._types import ScoreResult

SAMPLE_FIELDS = ("prompt", "completion", "completion_ids")
_RESULT_FIELDS = ("score", "outcome", "reason", "details", "components")


class InputFileError(Exception):
    """The input file cannot be used as it is (unreadable, or a malformed line)."""


@dataclass
class ScoreSummary:
    rows: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    scores: list[float] = field(default_factory=list)

    def render(self) -> str:
        lines = [
            f"scored {self.rows} rows"
            + (
                f", skipped {len(self.skipped_lines)} malformed lines (first: line {self.skipped_lines[0]})"
                if self.skipped_lines
                else ""
            )
        ]
        lines.append("outcomes: " + ", ".join(f"{name}={count}" for name, count in sorted(self.outcomes.items())))
        if self.scores:
            quartiles = statistics.quantiles(self.scores, n=4) if len(self.scores) > 1 else [self.scores[0]] * 3
            lines.append(
                f"scores: mean={statistics.fmean(self.scores):.4f} min={min(self.scores):.4f} "
                f"p25={quartiles[0]:.4f} median={quartiles[1]:.4f} p75={quartiles[2]:.4f} max={max(self.scores):.4f}"
            )
            lines.append("histogram: " + _histogram(self.scores))
        return "\n".join(lines)


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


def read_rows(path: Path, skip_invalid: bool, skipped: list[int]) -> Iterator[dict[str, Any]]:
    """Rows of a JSONL file; blank lines are ignored, malformed ones raise or are recorded."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc}") from None
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            problem = ""
            try:
                row = json.loads(line)
            except ValueError as exc:
                problem = f"not valid JSON ({exc})"
            else:
                if not isinstance(row, dict):
                    problem = "not a JSON object"
                elif "completion" not in row:
                    problem = "has no 'completion' field"
            if problem:
                if not skip_invalid:
                    raise InputFileError(f"{path}: line {number} is {problem}; use --skip-invalid to skip such lines")
                skipped.append(number)
                continue
            yield row


def score_jsonl(
    client: VerifierClient,
    verifier: str,
    input_path: Path,
    output_path: Path,
    *,
    batch_size: int = 256,
    skip_invalid: bool = False,
    progress: bool = True,
) -> ScoreSummary:
    summary = ScoreSummary()
    total = _count_lines(input_path)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="row", desc=f"scoring with {verifier}", disable=not progress)
    with output_path.open("w", encoding="utf-8") as out:
        batch: list[dict[str, Any]] = []
        for row in read_rows(input_path, skip_invalid, summary.skipped_lines):
            batch.append(row)
            if len(batch) >= batch_size:
                _score_batch(client, verifier, batch, out, summary)
                bar.update(len(batch))
                batch = []
        if batch:
            _score_batch(client, verifier, batch, out, summary)
            bar.update(len(batch))
    bar.close()
    return summary


def _score_batch(
    client: VerifierClient, verifier: str, rows: list[dict[str, Any]], out: TextIO, summary: ScoreSummary
) -> None:
    results = client.score(
        verifier,
        completions=[row.get("completion") for row in rows],
        prompts=[row.get("prompt") for row in rows],
        references=[
            {k: v for k, v in row.items() if k not in SAMPLE_FIELDS and k not in _RESULT_FIELDS} for row in rows
        ],
        completion_ids=[row.get("completion_ids") for row in rows],
    )
    for row, result in zip(rows, results, strict=True):
        out.write(json.dumps({**row, **_result_fields(result)}, ensure_ascii=False) + "\n")
        summary.rows += 1
        summary.outcomes[result.outcome.value] += 1
        if result.score is not None:
            summary.scores.append(result.score)


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


def _count_lines(path: Path) -> int | None:
    try:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
    except OSError:
        return None
