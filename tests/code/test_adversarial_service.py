"""The sandbox adversarial corpus replayed through the real service via the code kind.

After the batch: the server still answers, no process of any run survives (no process
owned by a sandbox slot uid), nothing planted on the host shows up in any output.
As root, the server runs inside throwaway pid/mount/ipc/uts namespaces, so what a sandbox
bug might let through cannot reach the test machine beyond them.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

import pytest

from verifier_server.testing import THROWAWAY_NAMESPACES, StartServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandboxes"))
from adversarial_corpus import CORPUS, HostFacts, render

pytestmark = pytest.mark.slow
FENCE = {"python": "python", "c": "c", "bash": "bash"}
SANDBOX_UIDS = range(60000, 61000)


def _sandbox_processes() -> dict[int, bytes]:
    """Every process on the host running as a sandbox uid: pid -> cmdline."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid in SANDBOX_UIDS:
                    found[int(entry.name)] = (entry / "cmdline").read_bytes()[:80]
            except OSError:
                continue
    return found


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


def _leftovers(before: set[int], server_pid: int) -> list[str]:
    """Sandbox-uid processes that appeared during the run, except the server's own warm
    fork server (its direct child, alive by design); waits a little for reaping."""
    deadline = time.monotonic() + 10
    while True:
        left = [
            f"{pid}: {cmdline!r}"
            for pid, cmdline in _sandbox_processes().items()
            if pid not in before and not (b"sandbox-zygote" in cmdline and _parent(pid) == server_pid)
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_corpus_is_contained_through_the_service(start_server: StartServer, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    facts = HostFacts(canary_path=str(canary), canary_secret=secrets.token_hex(12), host_port=0,
                      server_cwd=str(tmp_path / "server0"), env_secret=secrets.token_hex(12),
                      escape_dir=str(tmp_path / "escape"))
    canary.write_text(facts.canary_secret)
    (tmp_path / "escape").mkdir()
    outer = THROWAWAY_NAMESPACES if os.geteuid() == 0 else None
    server = start_server(env={"VERIFIER_ADVERSARIAL_SECRET": facts.env_secret}, wrapper=outer)
    facts = HostFacts(**{**facts.__dict__, "host_port": server.port})
    from sdk import VerifierClient

    completions, references = [], []
    for case in CORPUS:
        completions.append(f"```{FENCE[case.language]}\n{render(case.source, facts)}\n```")
        stdin = case.expect.stdin.decode("latin-1")
        references.append({"tests": [{"input": stdin, "output": "no program prints this " + secrets.token_hex(8)}]})
    spec = {"kind": "code", "config": {"tests": "stdio", "time_limit_s": 2.0, "memory_mb": 128,
                                       "output_limit_bytes": 64 * 1024, "snippet_chars": 100_000}}
    before = set(_sandbox_processes())
    with VerifierClient(server.address, timeout_s=300) as client:
        results = client.score(spec, completions=completions, references=references)
        for case, result in zip(CORPUS, results, strict=True):
            text = f"{result.reason} {result.details}"
            assert result.outcome in ("ok", "error"), (case.name, result.outcome, result.reason)
            if result.outcome == "ok":
                assert result.score == 0.0, case.name  # nothing can produce the expected output
            assert "ESCAPED" not in text, (case.name, text[:500])
            for secret in (facts.canary_secret, facts.env_secret):
                assert secret not in text, case.name
        health = client.score("stdio-tests", completions=["print(input())"],
                              references=[{"tests": [{"input": "alive", "output": "alive"}]}])
        assert health[0].score == 1.0
    assert not list((tmp_path / "escape").iterdir())
    assert server.process.poll() is None
    leftovers = _leftovers(before, server.pid)
    assert not leftovers, leftovers
    assert os.path.exists(canary)
