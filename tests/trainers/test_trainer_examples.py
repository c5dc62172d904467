"""The runnable examples, run: TRL for real (two GRPO steps), scoring + pairs through the CLI.

The ms-swift, verl and OpenRLHF example files are exercised in ``test_trainer_adapters.py``,
loaded the way each framework loads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from verifier_server.testing import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], server: ServerProcess, timeout_s: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VERIFIER_SERVER": server.address}
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)


def test_score_and_pairs_example(verifier_server: ServerProcess, tmp_path: Path) -> None:
    result = _run(["examples/score_and_pairs.py", "--workdir", str(tmp_path)], verifier_server)
    assert result.returncode == 0, result.stderr
    pairs = [json.loads(line) for line in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    assert {p["prompt"] for p in pairs} == {"What is 2 + 2?", "What is 3 + 5?"}
    assert all(p["score_chosen"] == 1.0 and p["score_rejected"] == 0.0 for p in pairs)


@pytest.mark.slow
def test_trl_example_runs_two_grpo_steps(verifier_server: ServerProcess, tmp_path: Path) -> None:
    result = _run(
        ["examples/trl_grpo.py", "--server", verifier_server.address, "--output-dir", str(tmp_path)], verifier_server
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "finished 2 steps" in result.stdout
    assert result.stdout.count("math=") == 2
