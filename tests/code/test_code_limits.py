"""Bounded work per request (issue 12, finding 6): the server's `[kinds.code]` caps on per-spec limits,
on tests per sample and on the result bytes it holds per sample, through the real server and sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sdk import InvalidArgumentError, VerifierClient
from verifier_server.testing import ServerProcess, StartServer

MiB = 1024 * 1024
CAPS = {"cap_time_limit_s": 5, "cap_compile_time_limit_s": 10, "cap_memory_mb": 512,
        "cap_output_limit_bytes": 65536, "cap_max_tests": 10, "max_report_bytes": 256 * 1024}
ECHO = "```python\nprint(input())\n```"


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from verifier_server.testing import start_server_process

    server = start_server_process(tmp_path_factory.mktemp("capped"), config={"kinds": {"code": CAPS}})
    yield server
    server.stop()


def spec(**config: Any) -> dict[str, Any]:
    return {"kind": "code", "config": {"tests": "stdio", **config}}


def echo_tests(n: int) -> dict[str, Any]:
    return {"tests": [{"input": f"{i}", "output": f"{i}"} for i in range(n)]}


@pytest.mark.parametrize(("field", "above", "at", "setting"), [
    ("time_limit_s", 5.5, 5, "cap_time_limit_s"),
    ("compile_time_limit_s", 11, 10, "cap_compile_time_limit_s"),
    ("memory_mb", 513, 512, "cap_memory_mb"),
    ("output_limit_bytes", 65537, 65536, "cap_output_limit_bytes"),
    ("max_tests", 11, 10, "cap_max_tests"),
])
def test_a_spec_limit_above_the_servers_cap_is_refused_naming_the_field(
    capped: ServerProcess, field: str, above: float, at: float, setting: str
) -> None:
    with VerifierClient(capped.address, timeout_s=120) as client:
        with pytest.raises(InvalidArgumentError, match=rf"config\.{field}: .*\[kinds\.code\] {setting}"):
            client.score(spec(**{field: above}), completions=[ECHO], references=[echo_tests(1)])
        with pytest.raises(InvalidArgumentError, match=rf"config\.{field}"):
            client.register({"name": f"too-much-{field}", "kind": "code", "config": {field: above}})
        result = client.score(spec(**{field: at}), completions=[ECHO], references=[echo_tests(1)])[0]
        assert (result.outcome, result.score) == ("ok", 1.0), result.reason


def test_a_sample_with_more_tests_than_the_server_runs_is_invalid_input(capped: ServerProcess) -> None:
    script = "from solution import add\n" + "".join(
        f"\ndef test_{i}():\n    assert add({i}, 1) == {i + 1}\n" for i in range(11))
    add = "```python\ndef add(a, b):\n    return a + b\n```"
    with VerifierClient(capped.address, timeout_s=120) as client:
        too_many = client.score(spec(), completions=[ECHO], references=[echo_tests(11)])[0]
        first_five = client.score(spec(max_tests=5), completions=[ECHO], references=[echo_tests(11)])[0]
        scripted = client.score({"kind": "code", "config": {"tests": "script"}}, completions=[add],
                                references=[{"test_script": script}])[0]
    assert too_many.outcome == "invalid_input" and "cap_max_tests" in too_many.reason, too_many.reason
    assert (first_five.outcome, first_five.score, first_five.details["total"]) == ("ok", 1.0, 5)
    assert scripted.outcome == "invalid_input" and "11 tests" in scripted.reason, scripted.reason


def test_outputs_past_the_report_budget_are_the_candidates_output_limit(capped: ServerProcess) -> None:
    """256 KiB of results per sample: the third 100 KB output does not fit; a sample whose expected outputs
    alone need more than half the budget is refused before anything runs."""
    loud = "```python\nprint('x' * 100_000)\n```"
    big_return = "```python\ndef f(i):\n    return 'y' * 100_000\n```"
    calls = {"inputs": [[i] for i in range(5)], "outputs": ["y" * 100_000] + ["small"] * 4, "fn_name": "f"}
    expected_too_big = {"tests": [{"input": "", "output": "z" * 40_000}] * 5}
    with VerifierClient(capped.address, timeout_s=120) as client:
        stdio = client.score(spec(), completions=[loud], references=[echo_tests(5)])[0]
        function = client.score({"kind": "code", "config": {"tests": "function"}}, completions=[big_return],
                                references=[calls])[0]
        refused = client.score(spec(), completions=[loud], references=[expected_too_big])[0]
    for result in (stdio, function):
        verdicts = [t["verdict"] for t in result.details["tests"]]
        assert result.outcome == "ok" and verdicts[2:] == ["output_limit"] * 3, verdicts
        assert "report budget" in result.details["tests"][-1]["error"]
    assert function.details["tests"][0]["verdict"] == "passed"
    assert refused.outcome == "invalid_input" and "max_report_bytes" in refused.reason, refused.reason


def _peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_the_server_holds_no_more_than_the_report_budget_per_sample(start_server: StartServer) -> None:
    """8 samples x 40 tests x 1 MB of output: the server's peak memory grows by a few budgets, not by the outputs
    (before the budget, each sample's 40 MB reply was held and parsed whole: hundreds of MB at the peak)."""
    server = start_server(config={"kinds": {"code": {"max_report_bytes": 2 * MiB}}})
    loud = "```python\nimport sys\nsys.stdout.write('x' * 1_000_000)\n```"
    with VerifierClient(server.address, timeout_s=300) as client:
        client.score(spec(), completions=[ECHO], references=[echo_tests(1)])  # warm: sandbox, threads, imports
        before = _peak_rss_bytes(server.pid)
        results = client.score(spec(), completions=[loud] * 8, references=[echo_tests(40)] * 8)
        growth = _peak_rss_bytes(server.pid) - before
    assert all(r.outcome == "ok" and r.score == 0.0 for r in results), [r.reason for r in results]
    assert growth < 64 * MiB, f"peak server memory grew by {growth / MiB:.0f} MiB"
