"""The ``verifier`` CLI end to end: a real subprocess against a real server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.host_claims import refused_address
from verifier_server.testing import REPO_ROOT, ServerProcess

GOOD = "<think>because</think><answer>4</answer>"
BAD = "the answer is 4"


def run_cli(*args: str, server: str | None = None, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "sdk.cli.main"]
    if server is not None:
        command += ["--server", server]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFIER_")}
    return subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=timeout_s, cwd=REPO_ROOT, env=env, check=False
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def address(verifier_server: ServerProcess) -> str:
    return verifier_server.address


# -- registry commands ---------------------------------------------------------------------------


def test_register_yaml_then_show_list_delete(address: str, tmp_path: Path):
    name = unique("cli-yaml")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(
        f"name: {name}\n"
        "kind: format\n"
        "description: digits only\n"
        "config:\n"
        "  type: regex\n"
        "  pattern: '^\\d+$'\n"
        "  mode: fullmatch\n"
    )
    first = run_cli("register", str(spec_file), server=address)
    assert first.returncode == 0, first.stderr
    assert f"registered {name}@1 (format)" in first.stdout
    second = run_cli("register", str(spec_file), server=address)
    assert f"registered {name}@2" in second.stdout

    shown = run_cli("show", name, server=address)
    assert shown.returncode == 0, shown.stderr
    info = json.loads(shown.stdout)
    assert info["name"] == name and info["version"] == 2 and info["kind"] == "format"
    assert info["config"]["pattern"] == r"^\d+$" and info["description"] == "digits only"
    assert json.loads(run_cli("show", f"{name}@1", server=address).stdout)["version"] == 1

    listed = run_cli("list", server=address)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert any(line.startswith(f"{name}@2 ") for line in lines)
    assert any(line.startswith("think-answer-format@1 ") and "(built-in)" in line for line in lines)
    every = run_cli("list", "--all-versions", server=address).stdout
    assert f"{name}@1 " in every and f"{name}@2 " in every

    deleted = run_cli("delete", name, server=address)
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted 2 version(s) of {name}" in deleted.stdout
    missing = run_cli("show", name, server=address)
    assert missing.returncode == 1
    assert "NOT_FOUND" in missing.stderr and name in missing.stderr


def test_register_json_list_of_specs(address: str, tmp_path: Path):
    names = [unique("cli-json"), unique("cli-json")]
    specs = [
        {"name": names[0], "kind": "format", "config": {"type": "json"}},
        {"name": names[1], "kind": "composite", "config": {"children": ["think-answer-format", names[0]]}},
    ]
    spec_file = tmp_path / "specs.json"
    spec_file.write_text(json.dumps(specs))
    result = run_cli("register", str(spec_file), server=address)
    assert result.returncode == 0, result.stderr
    assert f"registered {names[0]}@1 (format)" in result.stdout
    assert f"registered {names[1]}@1 (composite)" in result.stdout
    single = tmp_path / "single.json"
    single.write_text(json.dumps(specs[0]))
    assert f"registered {names[0]}@2" in run_cli("register", str(single), server=address).stdout


def test_register_bad_spec_file(address: str, tmp_path: Path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    result = run_cli("register", str(broken), server=address)
    assert result.returncode == 2 and "broken.yaml" in result.stderr
    invalid = tmp_path / "invalid.json"
    invalid.write_text(
        json.dumps({"name": unique("bad"), "kind": "format", "config": {"type": "regex", "pattern": "("}})
    )
    result = run_cli("register", str(invalid), server=address)
    assert result.returncode == 1
    assert "INVALID_ARGUMENT" in result.stderr and "config.pattern" in result.stderr


def test_capabilities(address: str):
    result = run_cli("capabilities", server=address)
    assert result.returncode == 0, result.stderr
    caps = json.loads(result.stdout)
    assert {"format", "composite"} <= set(caps["kinds"])
    assert "think-answer-format" in caps["builtin_verifiers"]


def test_server_not_running_names_the_address():
    dead = refused_address()
    result = run_cli("--timeout", "2", "list", server=dead)
    assert result.returncode != 0
    assert dead in result.stderr
    assert "Traceback" not in result.stderr


# -- score ---------------------------------------------------------------------------------------


def _score_input(tmp_path: Path) -> Path:
    rows = [
        {"id": 1, "prompt": "2+2?", "completion": GOOD, "answer": "4", "meta": {"split": "train"}},
        {"id": 2, "prompt": "2+2?", "completion": BAD, "answer": "4", "meta": {"split": "train"}},
        {
            "id": 3,
            "prompt": [{"role": "user", "content": "hi"}],
            "completion": [{"role": "assistant", "content": GOOD}],
        },
        {"id": 4, "prompt": "2+2?", "completion": None, "answer": "4"},
        {"id": 5, "completion": GOOD},
    ]
    return write_jsonl(tmp_path / "in.jsonl", rows)


def test_score_file_keeps_fields_and_summarizes(address: str, tmp_path: Path):
    source = _score_input(tmp_path)
    out = tmp_path / "out.jsonl"
    result = run_cli("score", "--verifier", "think-answer-format", str(source), "-o", str(out), server=address)
    assert result.returncode == 0, result.stderr
    assert "scoring with think-answer-format" in result.stderr and "5/5" in result.stderr  # the progress bar
    assert "scored 5 rows" in result.stdout
    assert "outcomes: invalid_input=1, ok=4" in result.stdout
    assert "scores: mean=0.7500 min=0.0000" in result.stdout and "max=1.0000" in result.stdout
    assert "histogram:" in result.stdout

    rows = read_jsonl(out)
    inputs = read_jsonl(source)
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5]
    for row, original in zip(rows, inputs, strict=True):
        assert {k: row[k] for k in original} == original  # every input field, unchanged
        assert {"score", "outcome", "reason", "details"} <= set(row)
    assert [row["score"] for row in rows] == [1.0, 0.0, 1.0, None, 1.0]
    assert [row["outcome"] for row in rows] == ["ok", "ok", "ok", "invalid_input", "ok"]
    assert "completion" in rows[3]["reason"]
    assert rows[1]["reason"]  # a format failure says why


def test_score_in_several_batches_keeps_order(address: str, tmp_path: Path):
    rows = [{"n": i, "completion": GOOD if i % 3 == 0 else BAD} for i in range(50)]
    source = write_jsonl(tmp_path / "many.jsonl", rows)
    out = tmp_path / "many-out.jsonl"
    result = run_cli(
        "score", "--verifier", "think-answer-format", "--batch-size", "7", "--no-progress", str(source),
        "-o", str(out), server=address,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "scoring with" not in result.stderr
    assert [(row["n"], row["score"]) for row in read_jsonl(out)] == [(i, 1.0 if i % 3 == 0 else 0.0) for i in range(50)]


def test_malformed_line_names_its_number(address: str, tmp_path: Path):
    source = write_jsonl(
        tmp_path / "broken.jsonl",
        [{"completion": GOOD}, "", "{not json", {"completion": BAD}, {"no_completion": 1}, "[1, 2]"],
    )
    out = tmp_path / "broken-out.jsonl"
    result = run_cli("score", "--verifier", "think-answer-format", str(source), "-o", str(out), server=address)
    assert result.returncode == 2
    assert "line 3" in result.stderr and "--skip-invalid" in result.stderr
    assert "Traceback" not in result.stderr

    skipped = run_cli(
        "score", "--verifier", "think-answer-format", "--skip-invalid", str(source), "-o", str(out), server=address
    )
    assert skipped.returncode == 0, skipped.stderr
    assert "scored 2 rows, skipped 3 malformed lines (first: line 3)" in skipped.stdout
    assert [row["score"] for row in read_jsonl(out)] == [1.0, 0.0]


def test_score_with_unknown_verifier(address: str, tmp_path: Path):
    source = _score_input(tmp_path)
    result = run_cli(
        "score", "--verifier", "think-answer-formatt", str(source), "-o", str(tmp_path / "o.jsonl"), server=address
    )
    assert result.returncode == 1
    assert "think-answer-formatt" in result.stderr and "did you mean" in result.stderr


# -- pairs ---------------------------------------------------------------------------------------

CHAT_PROMPT = [{"role": "user", "content": "say hi"}]

SCORED = [
    {"prompt": "A", "completion": "a1", "score": 1.0, "outcome": "ok"},
    {"prompt": "A", "completion": "a2", "score": 0.5, "outcome": "ok"},
    {"prompt": "B", "completion": "b1", "score": 0.9, "outcome": "ok"},
    {"prompt": "A", "completion": "a3", "score": 0.0, "outcome": "ok"},
    {"prompt": "B", "completion": "b2", "score": 0.8, "outcome": "ok"},  # B's margin 0.1 is under 0.2
    {"prompt": CHAT_PROMPT, "completion": "c1", "score": 0.25, "outcome": "ok"},
    {"prompt": CHAT_PROMPT, "completion": "c2", "score": 0.75, "outcome": "ok"},
    {"prompt": "A", "completion": "a-broken", "score": None, "outcome": "invalid_input"},
    {"prompt": "D", "completion": "d1", "score": 1.0, "outcome": "ok"},  # a single row makes no pair
]


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("best-worst", {("A", "a1", "a3", 1.0), (json.dumps(CHAT_PROMPT), "c2", "c1", 0.5)}),
        (
            "all",
            {
                ("A", "a1", "a2", 0.5),
                ("A", "a1", "a3", 1.0),
                ("A", "a2", "a3", 0.5),
                (json.dumps(CHAT_PROMPT), "c2", "c1", 0.5),
            },
        ),
    ],
)
def test_pairs_by_prompt_above_the_margin(tmp_path: Path, strategy: str, expected: set[tuple[Any, ...]]):
    scored = write_jsonl(tmp_path / "scored.jsonl", SCORED)
    out = tmp_path / "pairs.jsonl"
    result = run_cli("pairs", str(scored), "--min-margin", "0.2", "--strategy", strategy, "-o", str(out))
    assert result.returncode == 0, result.stderr
    pairs = read_jsonl(out)
    got = {
        (
            p["prompt"] if isinstance(p["prompt"], str) else json.dumps(p["prompt"]),
            p["chosen"],
            p["rejected"],
            p["margin"],
        )
        for p in pairs
    }
    assert got == expected
    assert len(pairs) == len(expected)
    for pair in pairs:
        assert pair["score_chosen"] - pair["score_rejected"] == pytest.approx(pair["margin"])
    assert f"wrote {len(expected)} pairs from 4 prompts (1 rows without an ok score were left out)" in result.stdout


def test_pairs_default_margin_and_unscored_input(tmp_path: Path):
    scored = write_jsonl(tmp_path / "scored.jsonl", SCORED)
    out = tmp_path / "pairs.jsonl"
    result = run_cli("pairs", str(scored), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert {(p["chosen"], p["rejected"]) for p in read_jsonl(out)} == {("a1", "a3"), ("b1", "b2"), ("c2", "c1")}

    unscored = write_jsonl(tmp_path / "raw.jsonl", [{"prompt": "A", "completion": "x"}])
    result = run_cli("pairs", str(unscored), "-o", str(out))
    assert result.returncode == 2 and "verifier score" in result.stderr


def test_score_then_pairs_round_trip(address: str, tmp_path: Path):
    rows = [
        {"prompt": "p1", "completion": GOOD},
        {"prompt": "p1", "completion": BAD},
        {"prompt": "p2", "completion": BAD},
        {"prompt": "p2", "completion": "also bad"},
    ]
    source = write_jsonl(tmp_path / "rt.jsonl", rows)
    scored, pairs = tmp_path / "rt-scored.jsonl", tmp_path / "rt-pairs.jsonl"
    assert (
        run_cli("score", "--verifier", "think-answer-format", str(source), "-o", str(scored), server=address).returncode
        == 0
    )
    result = run_cli("pairs", str(scored), "--min-margin", "0.2", "-o", str(pairs))
    assert result.returncode == 0, result.stderr
    assert [(p["prompt"], p["chosen"], p["rejected"]) for p in read_jsonl(pairs)] == [("p1", GOOD, BAD)]
