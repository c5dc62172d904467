"""A newcomer's first ``verifier`` commands: no file lost, every mistake one sentence, flags where they type them."""

from __future__ import annotations

import json
import os
import re
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


def run_cli(*args: str, cwd: Path = REPO_ROOT, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFIER_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    return subprocess.run(
        [sys.executable, "-m", "sdk.cli.main", *args],
        capture_output=True, text=True, timeout=timeout_s, cwd=cwd, env=env, check=False,
    )  # fmt: skip


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def one_sentence(stderr: str) -> bool:
    return "Traceback" not in stderr and stderr.startswith("verifier") and stderr.strip().count("\n") == 0


@pytest.fixture
def address(verifier_server: ServerProcess) -> str:
    return verifier_server.address


def _rows(n: int = 6) -> list[dict[str, Any]]:
    return [{"id": i, "prompt": f"p{i % 2}", "completion": GOOD if i % 3 == 0 else BAD} for i in range(n)]


# -- score: nothing lost ----------------------------------------------------------------------------


def test_output_same_as_input_is_refused_and_the_input_kept(address: str, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "rollouts.jsonl", _rows())
    before = source.read_text()
    for output in (str(source), str(tmp_path / "." / "rollouts.jsonl")):
        result = run_cli("score", "--server", address, "--verifier", "think-answer-format", str(source), "-o", output)
        assert result.returncode == 2 and "is the input file" in result.stderr and one_sentence(result.stderr)
        assert source.read_text() == before


def test_missing_output_folder_is_created(address: str, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _rows())
    out = tmp_path / "missing" / "deeper" / "out.jsonl"
    result = run_cli("score", "--server", address, "--verifier", "think-answer-format", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert [row["id"] for row in read_jsonl(out)] == list(range(6))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--verifier", "think-answer-formatt"], "did you mean 'think-answer-format'"),
        (["--verifier", "think-answer-format", "--server", "DEAD"], "cannot reach the verifier server at"),
    ],
    ids=["unknown-verifier", "server-down"],
)
def test_a_failed_score_leaves_no_output_and_keeps_an_old_one(
    address: str, tmp_path: Path, args: list[str], message: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", _rows())
    fresh, old = tmp_path / "fresh" / "out.jsonl", tmp_path / "old.jsonl"
    old.write_text("a previous good result\n")
    args = [refused_address() if arg == "DEAD" else arg for arg in args]
    for out in (fresh, old):
        result = run_cli("--server", address, "--timeout", "3", "score", *args, str(source), "-o", str(out))
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not fresh.parent.exists()  # the folder it made is gone again, with no partial file in it
    assert old.read_text() == "a previous good result\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "old.jsonl"]  # no temporary left behind


def test_a_malformed_row_stops_the_run_before_any_scoring(address: str, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [*_rows(300), "{broken", {"completion": BAD}])
    out = tmp_path / "out.jsonl"
    result = run_cli("score", "--server", address, "--verifier", "think-answer-format", str(source), "-o", str(out))
    assert result.returncode == 2 and "line 301" in result.stderr and one_sentence(result.stderr)
    assert "scoring with" not in result.stderr  # checked before the first batch went out
    assert not out.exists()


@pytest.mark.parametrize("suffix", [".parquet", ".json"])
def test_parquet_and_json_inputs_with_column_mapping(address: str, tmp_path: Path, suffix: str) -> None:
    rows = [{"question": f"q{i}", "response": GOOD if i % 2 else BAD, "answer": "4"} for i in range(5)]
    source = tmp_path / f"data{suffix}"
    if suffix == ".json":
        source.write_text(json.dumps(rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), source)
    out = tmp_path / "out.jsonl"
    result = run_cli(
        "score", "--server", address, "--verifier", "think-answer-format", str(source), "-o", str(out),
        "--completion-field", "response", "--prompt-field", "question",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    scored = read_jsonl(out)
    assert [row["score"] for row in scored] == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert all({"question", "response", "answer", "outcome"} <= set(row) for row in scored)


def test_unmapped_completion_field_names_the_flag(address: str, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"response": GOOD}])
    result = run_cli("score", "--server", address, "--verifier", "math", str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.returncode == 2 and "--completion-field" in result.stderr and "response" in result.stderr


def test_wrongly_mapped_completion_field_names_the_completion_flag(address: str, tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"response": GOOD}])
    output = str(tmp_path / "o.jsonl")
    result = run_cli("score", "--server", address, "--verifier", "math", str(source), "-o", output,
                     "--completion-field", "answer")  # fmt: skip
    assert result.returncode == 2 and "'answer'" in result.stderr and "response" in result.stderr
    assert "--completion-field" in result.stderr and "--prompt-field" not in result.stderr


# -- score: progress, summary, exit codes -----------------------------------------------------------

SLOW_REWARD = """
import time

def reward(completions, **kwargs):
    if any("slow" in c for c in completions):
        time.sleep(1.5)
    return [0.0 if "zero" in c else 1.0 for c in completions]
"""
FAILING_REWARD = "def reward(completions, **kwargs):\n    raise RuntimeError('reward crashed on purpose')\n"
SOMETIMES_WRONG = (
    "def reward(completions, **kwargs):\n    return [1.0 if c == 'good' else 'oops' for c in completions]\n"
)


def _register(address: str, tmp_path: Path, spec: dict[str, Any]) -> str:
    name = f"{spec['name']}-{uuid.uuid4().hex[:6]}"
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({**spec, "name": name}))
    result = run_cli("register", "--server", address, str(path))
    assert result.returncode == 0, result.stderr
    return name


def test_progress_moves_row_by_row_within_a_batch(address: str, tmp_path: Path) -> None:
    """A slow verifier: rows that finish early show up before the batch ends (one batch of 48 here)."""
    name = _register(address, tmp_path, {"name": "slow", "kind": "python", "config": {"source": SLOW_REWARD}})
    rows = [{"completion": "fast" if i < 16 else "slow"} for i in range(48)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    result = run_cli("score", "--server", address, "--verifier", name, str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.returncode == 0, result.stderr
    shown = {int(n) for n in re.findall(r"\b(\d+)/48\b", result.stderr)}
    assert shown & set(range(1, 48)), result.stderr  # some count strictly between 0 and 48


def test_summary_has_child_means_and_top_reasons(address: str, tmp_path: Path) -> None:
    composite = {
        "name": "summary-composite",
        "kind": "composite",
        "config": {"children": [{"verifier": "think-answer-format", "label": "format"},
                                {"verifier": {"kind": "format", "config": {"type": "regex", "pattern": "4"}},
                                 "label": "four"}]},
    }  # fmt: skip
    name = _register(address, tmp_path, composite)
    rows = [{"completion": GOOD}, {"completion": GOOD}, {"completion": "no tags, no digit"}, {"completion": "x 4"}]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    result = run_cli("score", "--server", address, "--verifier", name, str(source), "-o", str(tmp_path / "o.jsonl"))
    assert result.returncode == 0, result.stderr
    assert "children: format mean=0.5000 (n=4), four mean=0.7500 (n=4)" in result.stdout
    no_tags = "missing <think>…</think><answer>…</answer>: the completion has no tags"
    assert f"top reasons (score 0): 1x format: {no_tags}" in result.stdout


def test_every_row_failing_exits_1_and_fail_on_error_counts_any(address: str, tmp_path: Path) -> None:
    failing = _register(address, tmp_path, {"name": "crash", "kind": "python", "config": {"source": FAILING_REWARD}})
    source = write_jsonl(tmp_path / "in.jsonl", _rows(4))
    out = tmp_path / "o.jsonl"
    result = run_cli("score", "--server", address, "--verifier", failing, str(source), "-o", str(out))
    assert result.returncode == 1 and "every row failed to score" in result.stderr
    assert "top reasons (error): 4x reward function raised RuntimeError: reward crashed on purpose" in result.stdout
    assert [row["outcome"] for row in read_jsonl(out)] == ["error"] * 4  # written: each row says what happened

    some = _register(address, tmp_path, {"name": "some", "kind": "python", "config": {"source": SOMETIMES_WRONG}})
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [{"completion": "good"}] * 3 + [{"completion": "bad"}, {}])
    lenient = run_cli("score", "--server", address, "--verifier", some, "--skip-invalid", str(mixed), "-o", str(out))
    assert lenient.returncode == 0, lenient.stderr
    assert "outcomes: error=1, ok=3" in lenient.stdout
    strict = run_cli(
        "score", "--server", address, "--verifier", some, "--fail-on-error", "--skip-invalid", str(mixed),
        "-o", str(out),
    )  # fmt: skip
    assert strict.returncode == 1 and "1 of 4 rows failed to score (--fail-on-error)" in strict.stderr
    assert len(read_jsonl(out)) == 4


# -- report -----------------------------------------------------------------------------------------


def _scored_rows() -> list[dict[str, Any]]:
    rows = []
    for prompt in range(6):
        for k in range(4):
            tied = prompt < 2  # two groups whose rewards all tie
            score = 1.0 if tied else [0.0, 0.25, 0.5, 1.0][k]
            rows.append({
                "prompt": f"<b>prompt {prompt}</b>", "completion": f"<script>alert({prompt}{k})</script> answer {k}",
                "score": score, "outcome": "ok", "reason": "" if score else "wrong answer",
                "components": {"format": 1.0, "accuracy": score},
            })  # fmt: skip
    rows.append({"prompt": "p", "completion": "c", "score": None, "outcome": "error", "reason": "sandbox gave up"})
    rows.append({"prompt": "p", "completion": None, "score": None, "outcome": "invalid_input", "reason": "no text"})
    return rows


def test_report_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    scored = write_jsonl(tmp_path / "scored.jsonl", _scored_rows())
    out = tmp_path / "site" / "report.html"
    result = run_cli("report", str(scored), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert f"wrote {out} (26 rows, 7 prompts)" in result.stdout
    page = out.read_text()
    assert "<script" not in page and "&lt;script&gt;alert(" in page  # model output is text, never markup
    assert not re.search(r"(src|href)\s*=|@import|url\(", page)  # nothing to fetch
    assert "default-src 'none'" in page
    assert page.count("<svg") == 4  # scores, outcomes, spread per prompt, children
    assert "2 of 6 groups (33%) tie" in page
    for text in ("accuracy", "format", "sandbox gave up", "wrong answer", "Worst samples", "Best samples"):
        assert text in page


def test_report_refuses_unscored_input(tmp_path: Path) -> None:
    raw = write_jsonl(tmp_path / "raw.jsonl", [{"completion": "x"}])
    result = run_cli("report", str(raw), "-o", str(tmp_path / "r.html"))
    assert result.returncode == 2 and "verifier score" in result.stderr and one_sentence(result.stderr)
    assert not (tmp_path / "r.html").exists()


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Rows of RGB(A) pixels of an 8-bit, non-interlaced PNG (what Chromium writes); stdlib only."""
    import struct
    import zlib

    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    idat = b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IDAT":
            idat += body
        chunks.setdefault(kind, body)
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and color in (2, 6)
    bpp = 3 if color == 2 else 4
    raw, stride, rows, prior = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up, corner = prior[i], prior[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line))
        prior = line
    return width, bpp, rows


def test_report_renders_its_charts_in_a_real_browser(tmp_path: Path) -> None:
    """Headless Chromium, no network: the screenshot shows the bar colours of every chart."""
    import shutil

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (scripts/setup.sh installs it)")
    scored = write_jsonl(tmp_path / "scored.jsonl", _scored_rows())
    page = tmp_path / "report.html"
    assert run_cli("report", str(scored), "-o", str(page)).returncode == 0
    shot = tmp_path / "shot.png"
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,1100", f"--screenshot={shot}",
         page.as_uri()],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.exists(), "chromium wrote no screenshot"
    from sdk.cli.report import CHILD_COLOR, OUTCOME_COLORS, SCORE_COLOR, TIED_COLOR

    width, bpp, rows = _png_pixels(shot)
    counts: dict[bytes, int] = {}
    for row in rows:
        for x in range(0, width * bpp, bpp):
            pixel = row[x : x + 3]
            counts[pixel] = counts.get(pixel, 0) + 1
    for color in (SCORE_COLOR, CHILD_COLOR, TIED_COLOR, OUTCOME_COLORS["ok"], OUTCOME_COLORS["error"]):
        assert counts.get(bytes.fromhex(color[1:]), 0) > 200, f"no {color} bars on the rendered page"


# -- the command line itself ------------------------------------------------------------------------


def test_connection_flags_before_or_after_the_command(address: str) -> None:
    before = run_cli("--server", address, "show", "think-answer-format")
    after = run_cli("show", "think-answer-format", "--server", address)
    equals = run_cli("show", f"--server={address}", "think-answer-format")
    assert before.returncode == after.returncode == equals.returncode == 0, after.stderr
    assert before.stdout == after.stdout == equals.stdout and json.loads(after.stdout)["kind"] == "format"


def test_version_and_help_with_defaults_and_examples() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and re.match(r"verifier \d+\.\d+", version.stdout)
    for command in ("register", "list", "show", "delete", "capabilities", "score", "report", "pairs"):
        text = run_cli(command, "--help").stdout
        assert "example:" in text and f"verifier {command}" in text.split("example:")[1], command
        assert "--server" in text, command
    score = run_cli("score", "--help").stdout
    assert "(default: 256)" in score and "(default: completion)" in score
    grpo = run_cli("train", "grpo", "--help").stdout
    assert "example:" in grpo and "(default: 100)" in grpo and "(default: dapo)" in grpo
    serve = run_cli("serve", "--help").stdout
    assert "example:" in serve and "(default: bwrap)" in serve
    sandbox = run_cli("sandbox", "run", "--help").stdout
    assert "example:" in sandbox and "(default: 5.0)" in sandbox


def test_a_closed_pipe_is_not_a_traceback(address: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = f"{sys.executable} -m sdk.cli.main --server {address} list --all-versions | head -c 10"
    for _ in range(3):  # the reader leaving early is a race; any traceback fails
        result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, env=env)
        assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    shown = f"{sys.executable} -m sdk.cli.main --server {address} show python-tests | head -n 1"
    result = subprocess.run(["bash", "-c", shown], capture_output=True, text=True, timeout=120, env=env)
    assert result.stdout == "{\n" and result.stderr == ""


def test_capabilities_lists_only_installed_languages(address: str) -> None:
    import shutil

    caps = json.loads(run_cli("--server", address, "capabilities").stdout)
    for language, tool in (("go", "go"), ("java", "javac"), ("c", "gcc"), ("python", "python3")):
        installed = shutil.which(tool, path="/usr/local/bin:/usr/bin:/bin") is not None
        assert (language in caps["languages"]) == installed, language
    assert {"numpy", "sympy", "math-verify", "regex"} <= {p.split("==")[0] for p in caps["sandbox_python_packages"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--sandbox-backend", "dockr"],
            "--sandbox-backend: must be one of bwrap, docker, unsafe-local; got 'dockr'; did you mean 'docker'?",
        ),
        (["--port", "70000"], "--port: must be a port number"),
        (["--log-format", "yaml"], "--log-format"),
    ],
)
def test_invalid_server_settings_are_refused_at_startup(tmp_path: Path, args: list[str], message: str) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), *args, timeout_s=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_invalid_server_setting_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "VERIFIER_SANDBOX_BACKEND": "bwarp"}
    command = [sys.executable, "-m", "verifier_server", "serve", "--data-dir", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and "VERIFIER_SANDBOX_BACKEND: must be one of" in result.stderr


def test_a_busy_port_is_one_sentence(verifier_server: ServerProcess, tmp_path: Path) -> None:
    result = run_cli("serve", "--data-dir", str(tmp_path), "--port", str(verifier_server.port), timeout_s=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot listen on 127.0.0.1:{verifier_server.port}: the port is in use" in result.stderr


def test_register_dry_run_checks_without_registering(address: str, tmp_path: Path) -> None:
    name = f"dry-{uuid.uuid4().hex[:6]}"
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"name: {name}\nkind: format\nconfig:\n  type: regex\n  pattern: '\\d'\n")
    result = run_cli("register", "--server", address, "--dry-run", str(spec))
    assert result.returncode == 0 and "is a valid spec; nothing was registered" in result.stdout
    assert "unknown verifier" in run_cli("show", "--server", address, name).stderr
    spec.write_text(f"name: {name}\nkind: format\nconfig:\n  type: regex\n  patern: '\\d'\n")
    result = run_cli("register", "--server", address, "--dry-run", str(spec))
    assert result.returncode == 1 and "'patern'" in result.stderr


def test_spec_file_top_level_typo_is_named(address: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: x\nkind: format\nconfg:\n  type: json\n")
    result = run_cli("register", "--server", address, str(spec))
    assert result.returncode == 2 and "'confg'" in result.stderr and "did you mean 'config'" in result.stderr
