"""Standalone scoring and preference-pair export: completions JSONL -> scored JSONL -> DPO pairs.

    python examples/score_and_pairs.py --server 127.0.0.1:50051 --workdir /tmp/pairs

The same two steps from a shell::

    verifier --server 127.0.0.1:50051 score completions.jsonl --verifier math -o scored.jsonl
    verifier pairs scored.jsonl -o pairs.jsonl --min-margin 0.5

``pairs.jsonl`` has TRL's preference columns (``prompt``, ``chosen``, ``rejected``) plus
both scores and the margin, ready for ``trl.DPOTrainer``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from sdk.cli.main import main as verifier_cli

COMPLETIONS = [
    {"prompt": "What is 2 + 2?", "completion": "2 + 2 = \\boxed{4}", "answer": "4"},
    {"prompt": "What is 2 + 2?", "completion": "I think it is \\boxed{5}", "answer": "4"},
    {"prompt": "What is 3 + 5?", "completion": "<think>3+5</think><answer>8</answer>", "answer": "8"},
    {"prompt": "What is 3 + 5?", "completion": "The answer is 9.", "answer": "8"},
    {"prompt": "What is 3 + 5?", "completion": "Eight, so \\boxed{8}", "answer": "8"},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", default=os.environ.get("VERIFIER_SERVER", "127.0.0.1:50051"))
    parser.add_argument("--workdir", type=Path, default=Path("score-and-pairs"))
    parser.add_argument("--verifier", default="math")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    completions, scored, pairs = (args.workdir / n for n in ("completions.jsonl", "scored.jsonl", "pairs.jsonl"))
    completions.write_text("".join(json.dumps(row) + "\n" for row in COMPLETIONS))
    status = verifier_cli(
        [
            "--server",
            args.server,
            "score",
            str(completions),
            "--verifier",
            args.verifier,
            "-o",
            str(scored),
            "--no-progress",
        ]
    )
    if status:
        return status
    status = verifier_cli(["pairs", str(scored), "-o", str(pairs), "--min-margin", "0.5"])
    for line in pairs.read_text().splitlines():
        pair = json.loads(line)
        print(f"{pair['prompt']!r}: chosen={pair['chosen']!r} rejected={pair['rejected']!r} margin={pair['margin']}")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
