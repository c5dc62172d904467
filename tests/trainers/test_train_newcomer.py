"""A newcomer's first training runs: the README recipe from any folder, and mistakes stopped before the model loads."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.host_claims import refused_address
from trainers.tiny import build_tiny_model, write_tiny_math_dataset
from verifier_server.testing import REPO_ROOT, ServerProcess


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFIER_")}
    return {**env, "PYTHONPATH": str(REPO_ROOT)}


def _verifier(args: list[str], cwd: Path, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sdk.cli.main", *args]
    return subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout_s, check=False)


def _readme_recipe() -> list[list[str]]:
    """The first two commands of the README's "Training recipe" block, as argv lists."""
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("### Training recipe", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    lines = block.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line.split("  #", 1)[0]) for line in lines if line.strip()]
    return commands[:2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    return build_tiny_model(root / "model"), write_tiny_math_dataset(root / "data.jsonl")


@pytest.mark.slow
def test_readme_recipe_runs_as_written_from_a_fresh_folder(tmp_path: Path) -> None:
    """Relative paths everywhere (``--output-dir runs/smoke``) with an in-process server."""
    make_tiny, train = _readme_recipe()
    assert make_tiny[:3] == ["python", "-m", "trainers.tiny"] and train[:3] == ["verifier", "train", "grpo"]
    made = subprocess.run(
        [sys.executable, *make_tiny[1:]], cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300
    )
    assert made.returncode == 0, made.stderr[-2000:]
    result = _verifier([*train[1:], "--max-completion-length", "8"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    run = tmp_path / "runs" / "smoke"
    recipe = json.loads((run / "recipe.json").read_text())
    assert re.fullmatch(r"127\.0\.0\.1:\d+", recipe["server"]) and recipe["server"] != "127.0.0.1:50051"
    assert recipe["serve_in_process"] is True
    state = json.loads((run / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    rows = [json.loads(line) for line in (run / "completions.jsonl").read_text().splitlines()]
    assert rows and all(row["outcome"] in ("ok", "invalid_input", "not_applicable") for row in rows)
    assert all(isinstance(row["reason"], str) for row in rows)
    assert not (run / "verifier-server" / "runs").exists()  # the server's state is not nested twice


@pytest.mark.slow
def test_trl_example_with_a_relative_output_dir_and_its_own_server(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "trl_grpo.py"), "--output-dir", "runs/example"],
        cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "finished 2 steps" in result.stdout


def _train(tiny: tuple[Path, Path], out: Path, *extra: str) -> list[str]:
    model, data = tiny
    return ["train", "grpo", "--model", str(model), "--dataset", str(data), "--output-dir", str(out), *extra]


def test_misspelled_reward_stops_the_run_before_the_model_loads(
    verifier_server: ServerProcess, tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    argv = _train(tiny, out, "--server", verifier_server.address, "--reward", "maht", "--reward", "think-answer-format")
    result = _verifier(argv, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "--reward maht" in result.stderr and "did you mean 'math'" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Loading" not in result.stderr and not (out / "trainer_state.json").exists()


def test_a_server_that_is_down_stops_the_run_before_the_model_loads(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    dead = refused_address()
    result = _verifier(_train(tiny, tmp_path / "run", "--server", dead, "--reward", "math"), cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"no verifier server answers at {dead}" in result.stderr and "--serve-in-process" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda folder: None, "does not exist"),
        (lambda folder: folder.mkdir(), "has no config.json"),
        (lambda folder: (folder.mkdir(), (folder / "config.json").write_text("{not json")), "cannot be loaded"),
    ],
    ids=["missing", "empty-folder", "broken-config"],
)
def test_a_model_folder_that_cannot_load_is_one_sentence(
    make, message: str, tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    make(tmp_path / "nomodel")
    _, data = tiny
    argv = ["train", "grpo", "--model", "./nomodel", "--dataset", str(data), "--output-dir", "run", "--reward", "math"]
    result = _verifier([*argv, "--server", refused_address()], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("verifier train: model: ./nomodel ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
