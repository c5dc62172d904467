"""The checked-in generated protobuf modules match the .proto (regenerate with `make protos`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_modules_are_up_to_date():
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


def test_staleness_check_detects_a_changed_module(tmp_path: Path):
    """The check must be able to fail: run it on a copy whose generated module was altered."""
    import shutil

    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "protos", copy / "protos")
    shutil.copytree(ROOT / "scripts", copy / "scripts")
    generated = copy / "protos/verifier/v1/verifier_pb2.py"
    generated.write_text(generated.read_text() + "\n# edited by hand\n")
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"], cwd=copy, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "verifier_pb2.py" in result.stderr
