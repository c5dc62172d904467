"""``verifier pairs``: chosen/rejected preference pairs from a scored JSONL file (for DPO-style training).

Rows are grouped by prompt; only rows scored ``ok`` take part. ``best-worst`` keeps one
pair per prompt (the highest against the lowest score); ``all`` keeps every pair. A
pair is kept only when the scores differ by more than ``min_margin``. Output rows have
TRL's preference columns: ``prompt``, ``chosen``, ``rejected``, plus both scores and
the margin.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdk._columns import RowColumns
from sdk.cli._files import InputFileError, atomic_output, prompt_key, read_rows


@dataclass
class PairsSummary:
    prompts: int
    pairs: int
    unscored_rows: int

    def render(self) -> str:
        return (
            f"wrote {self.pairs} pairs from {self.prompts} prompts"
            f" ({self.unscored_rows} rows without an ok score were left out)"
        )


def write_pairs(
    input_path: Path,
    output_path: Path,
    *,
    min_margin: float,
    strategy: str,
    columns: RowColumns = RowColumns(),
) -> PairsSummary:
    groups: dict[str, tuple[Any, list[dict[str, Any]]]] = {}
    unscored = 0
    for row in read_rows(input_path, skip_invalid=False, skipped=[], required=columns.completion):
        if row.get("outcome") != "ok" or not isinstance(row.get("score"), int | float):
            if "score" not in row:
                raise InputFileError(f"{input_path} is not scored (rows have no 'score'); run `verifier score` first")
            unscored += 1
            continue
        prompt = row.get(columns.prompt)
        groups.setdefault(prompt_key(prompt), (prompt, []))[1].append(row)
    written = 0
    with atomic_output(output_path, [input_path]) as out:
        for prompt, rows in groups.values():
            for chosen, rejected in _candidate_pairs(rows, strategy):
                margin = float(chosen["score"]) - float(rejected["score"])
                if margin > min_margin:
                    out.write(
                        json.dumps(
                            {
                                "prompt": prompt,
                                "chosen": chosen[columns.completion],
                                "rejected": rejected[columns.completion],
                                "score_chosen": chosen["score"],
                                "score_rejected": rejected["score"],
                                "margin": margin,
                            },
                            ensure_ascii=False,
                            default=str,
                        )
                        + "\n"
                    )
                    written += 1
    return PairsSummary(prompts=len(groups), pairs=written, unscored_rows=unscored)


def _candidate_pairs(rows: list[dict[str, Any]], strategy: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    ranked = sorted(rows, key=lambda row: float(row["score"]), reverse=True)
    if len(ranked) < 2:
        return []
    if strategy == "best-worst":
        return [(ranked[0], ranked[-1])]
    return [(a, b) for a, b in itertools.combinations(ranked, 2)]
