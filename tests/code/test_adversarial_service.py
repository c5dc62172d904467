"""Adversarial candidates through the real service via the code kind.

The sandbox corpus: after the batch the server still answers, no process of any run
survives (no process owned by a sandbox slot uid), nothing planted on the host shows up in
any output. As root, the server runs inside throwaway pid/mount/ipc/uts namespaces, so what
a sandbox bug might let through cannot reach the test machine beyond them.

Reward hacks against the trusted test code: a candidate's own `test_*` functions imported
into a test script, and exceptions that iteration machinery reads as "done".
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from pathlib import Path

import pytest

from sdk import VerifierClient
from tests.host_claims import process_uid_base
from verifier_server.testing import THROWAWAY_NAMESPACES, StartServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandboxes"))
from adversarial_corpus import CORPUS, HostFacts, render

FENCE = {"python": "python", "c": "c", "bash": "bash"}
#: This module's own sandbox uid range, so another test process's servers, whose sandboxes
#: run meanwhile, are never taken for this batch's survivors.
UID_RANGE_SIZE = 512
UID_BASE = process_uid_base("adversarial_service", UID_RANGE_SIZE)
SANDBOX_UIDS = range(UID_BASE, UID_BASE + UID_RANGE_SIZE)


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
    deadline = time.monotonic() + 60
    while True:
        left = [
            f"{pid}: {cmdline!r}"
            for pid, cmdline in _sandbox_processes().items()
            if pid not in before and not (b"sandbox-zygote" in cmdline and _parent(pid) == server_pid)
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@pytest.mark.slow
def test_corpus_is_contained_through_the_service(start_server: StartServer, tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    facts = HostFacts(canary_path=str(canary), canary_secret=secrets.token_hex(12), host_port=0,
                      server_cwd=str(tmp_path / "server0"), env_secret=secrets.token_hex(12),
                      escape_dir=str(tmp_path / "escape"))
    canary.write_text(facts.canary_secret)
    (tmp_path / "escape").mkdir()
    outer = THROWAWAY_NAMESPACES if os.geteuid() == 0 else None
    server = start_server(env={"VERIFIER_ADVERSARIAL_SECRET": facts.env_secret}, wrapper=outer,
                          config={"sandbox_uid_base": UID_BASE, "sandbox_uid_range_size": UID_RANGE_SIZE})
    facts = HostFacts(**{**facts.__dict__, "host_port": server.port})
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


SCRIPT = {"kind": "code", "config": {"tests": "script"}}
WRONG_ADD = "def add(a, b):\n    return 0\n"
OWN_TESTS = "".join(f"def test_mine_{i}():\n    pass\n\n" for i in range(40))
OWN_TEST_CASE = "import unittest\n\nclass TestMine(unittest.TestCase):\n    def test_ok(self):\n        pass\n"


@pytest.mark.parametrize("imports", ["from solution import *", "import solution\nfrom solution import *",
                                     "from solution import add, test_mine_0, test_mine_1"])
def test_a_candidates_own_tests_are_never_collected(client: VerifierClient, imports: str) -> None:
    """Only tests the test script defines count: importing the candidate's names brings its `test_*` along."""
    script = f"{imports}\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    candidate = f"```python\n{WRONG_ADD}{OWN_TESTS}{OWN_TEST_CASE}```"
    result = client.score(SCRIPT, completions=[candidate], references=[{"test_script": script}])[0]
    assert (result.outcome, result.score) == ("ok", 0.0), result.details
    assert [t["name"] for t in result.details["tests"]] == ["test_add"]


CONTROL_FLOW = ["StopIteration", "StopAsyncIteration", "GeneratorExit", "KeyboardInterrupt", "SystemExit"]
#: Trusted checks that iterate over the candidate's results the way real test suites do.
ITERATING_CHECKS = {
    "for over map": "def check(candidate):\n    for got in map(candidate, [1, 2, 3]):\n        assert got == 0\n",
    "zip": "def check(candidate):\n    for got, want in zip(map(candidate, [1, 2]), [5, 6]):\n"
           "        assert got == want\n",
    "all over a generator": "def check(candidate):\n    assert all(candidate(x) == x + 9 for x in [1, 2])\n",
    "iter with a sentinel": "def check(candidate):\n    for got in iter(lambda: candidate(1), None):\n"
                            "        assert got == 10\n        break\n",
    "list of map": "def check(candidate):\n    got = list(map(candidate, [1]))\n    assert got == [10] or not got\n",
}


@pytest.mark.parametrize("exception", CONTROL_FLOW)
def test_a_candidates_exception_is_never_control_flow_in_trusted_checks(client: VerifierClient, exception: str) -> None:
    candidate = f"```python\ndef f(x):\n    raise {exception}\n```"
    references = [{"test": check, "entry_point": "f"} for check in ITERATING_CHECKS.values()]
    results = client.score("python-tests", completions=[candidate] * len(references), references=references)
    unittest_script = ("import unittest\nfrom solution import f\n\nclass T(unittest.TestCase):\n"
                       "    def test_map(self):\n        for got in map(f, [1, 2]):\n"
                       "            self.assertEqual(got, 0)\n")
    results += client.score(SCRIPT, completions=[candidate], references=[{"test_script": unittest_script}])
    for name, result in zip([*ITERATING_CHECKS, "unittest"], results, strict=True):
        assert (result.outcome, result.score) == ("ok", 0.0), (exception, name, result.reason, result.details)
        assert exception in result.details["tests"][0]["error"], result.details


def test_tests_still_catch_the_exceptions_they_expect(client: VerifierClient) -> None:
    """The crossing keeps built-in types catchable where tests expect them (assertRaises, `except ValueError`)."""
    candidate = ("```python\ndef root(x):\n    if x < 0:\n        raise ValueError('negative')\n    return x ** 0.5\n"
                 "def first(xs):\n    return xs[0]\n```")
    check = ("def check(candidate):\n    try:\n        candidate(-1)\n    except ValueError as exc:\n"
             "        assert 'negative' in str(exc)\n    else:\n        assert False\n")
    script = ("import unittest\nfrom solution import root, first\n\nclass T(unittest.TestCase):\n"
              "    def test_raises(self):\n        self.assertRaises(ValueError, root, -4)\n"
              "        with self.assertRaises(IndexError):\n            first([])\n"
              "    def test_value(self):\n        self.assertEqual(root(4), 2.0)\n")
    results = client.score("python-tests", completions=[candidate], references=[{"test": check, "entry_point": "root"}])
    results += client.score(SCRIPT, completions=[candidate], references=[{"test_script": script}])
    assert [r.score for r in results] == [1.0, 1.0], [(r.reason, r.details) for r in results]
