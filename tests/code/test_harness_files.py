"""Shipped in-sandbox programs are importable modules with bytecode that the sandbox's Python really uses."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from sandboxes import ExecStatus, Job, available_backends, exits, open_sandbox
from sdk import VerifierClient
from verifier_server import kinds
from verifier_server.kinds.code import protocol
from verifier_server.kinds.code.harness import MODULES, SESSION_CANDIDATE, SESSION_RUNNER_MODULES, runner_files
from verifier_server.kinds.sandboxed.user_function import function_files

SANDBOX_PYTHON = "/usr/bin/python3"


def _sandbox_cache_tag() -> str:
    return subprocess.run([SANDBOX_PYTHON, "-c", "import sys; print(sys.implementation.cache_tag)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_the_runner_ships_with_its_protocol_and_the_sandboxes_exit_rules() -> None:
    files = runner_files()
    assert files["main.py"] == b"import _verifier_runner\n\n_verifier_runner.main()\n"
    assert files["_verifier_runner.py"] == MODULES["runner"].read_bytes()
    assert files["_verifier_protocol.py"] == Path(protocol.__file__).read_bytes()
    assert files["_verifier_exits.py"] == Path(exits.__file__).read_bytes()
    tag = sys.implementation.cache_tag
    assert {name for name in files if name.endswith(".pyc")} == {
        f"__pycache__/_verifier_{module}.{tag}.pyc" for module in ("runner", "protocol", "exits")}


def test_the_shipped_modules_run_on_the_oldest_python_we_support() -> None:
    """The sandbox's Python may be older than the server's: what ships must not need newer syntax."""
    for path in {*MODULES.values(), *SESSION_RUNNER_MODULES.values(), SESSION_CANDIDATE}:
        ast.parse(path.read_text(), str(path), feature_version=(3, 9))


async def test_the_sandbox_python_loads_the_bytecode_not_the_source() -> None:
    """With the source replaced by a syntax error, only the shipped .pyc can make the import work."""
    if available_backends()["bwrap"] != "ok":
        pytest.skip(available_backends()["bwrap"])
    if _sandbox_cache_tag() != sys.implementation.cache_tag:
        pytest.skip("the sandbox's Python is another version: it compiles the source, as designed")
    files = function_files("")
    files["_verifier_userfn.py"] = "this is not Python ("
    files["main.py"] = "import _verifier_userfn\nprint(callable(_verifier_userfn.main))\n"
    box = open_sandbox("bwrap")
    try:
        for job in (Job("python", files), Job("python", files, command=("python3", "main.py"))):
            r = await box.run(job)
            assert (r.status, r.stdout) == (ExecStatus.OK, b"True\n"), r
    finally:
        await box.aclose()


def test_the_servers_sandbox_preloads_every_kinds_shipped_modules(client: VerifierClient) -> None:
    """A python-kind job ships only userfn, yet finds the code harness's modules imported, as from /work."""
    shipped = kinds.shipped_modules()
    assert {"protocol", "exits", "runner", "userfn"} <= set(shipped)
    names = sorted(f"_verifier_{name}" for name in shipped)
    source = (
        "import sys\n"
        f"NAMES = {names!r}\n"
        "def reward(prompts, completions, references):\n"
        "    found = [n for n in NAMES if getattr(sys.modules.get(n), '__file__', '') == '/work/' + n + '.py']\n"
        "    return [float(found == NAMES)] * len(completions)\n"
    )
    client.register({"name": "shipped-preloaded", "kind": "python", "config": {"source": source}})
    [result] = client.score("shipped-preloaded", completions=["x"])
    assert result.score == 1.0, result
