"""The harness ships as an importable module with precompiled bytecode that the sandbox's Python really uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sandboxes import ExecStatus, Job, available_backends, open_sandbox
from verifier_server.kinds.code import harness

SANDBOX_PYTHON = "/usr/bin/python3"


def _sandbox_cache_tag() -> str:
    return subprocess.run([SANDBOX_PYTHON, "-c", "import sys; print(sys.implementation.cache_tag)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_files_are_a_bootstrap_the_source_and_bytecode() -> None:
    files = harness.files("runner")
    assert files["main.py"] == b"import _verifier_runner\n\n_verifier_runner.main()\n"
    assert files["_verifier_runner.py"] == harness.source("runner").encode()
    (pyc,) = (name for name in files if name.endswith(".pyc"))
    assert pyc == f"__pycache__/_verifier_runner.{sys.implementation.cache_tag}.pyc"


async def test_the_sandbox_python_loads_the_bytecode_not_the_source() -> None:
    """With the source replaced by a syntax error, only the shipped .pyc can make the import work."""
    if available_backends()["bwrap"] != "ok":
        pytest.skip(available_backends()["bwrap"])
    if _sandbox_cache_tag() != sys.implementation.cache_tag:
        pytest.skip("the sandbox's Python is another version: it compiles the source, as designed")
    files: dict[str, str | bytes] = {**harness.files("userfn")}
    files["_verifier_userfn.py"] = "this is not Python ("
    files["main.py"] = "import _verifier_userfn\nprint(callable(_verifier_userfn.main))\n"
    box = open_sandbox("bwrap")
    try:
        for job in (Job("python", files), Job("python", files, command=("python3", "main.py"))):
            r = await box.run(job)
            assert (r.status, r.stdout) == (ExecStatus.OK, b"True\n"), r
    finally:
        await box.aclose()
