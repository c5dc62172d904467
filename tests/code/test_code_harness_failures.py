"""Whose failure: a harness that cannot run is the sample's error (score None), never the candidate's 0;
what the candidate does to the harness stays its own 0, never an abstention.

Through the real server and sandbox. A server whose jobs may hold too few processes for the
harness makes the harness fail for real (as a shared slot uid once did, finding 4 of issue 12).
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from sandboxes import ExecStatus, Execution
from sdk import VerifierClient
from verifier_server.kinds.code.report import ReportGarbled, read_harness_report
from verifier_server.kinds.code.styles.harnessed import ended_on_its_own
from verifier_server.testing import StartServer

ADD = "```python\ndef add(a, b):\n    return a + b\n```"
ECHO = "```python\nprint(input())\n```"
C_ECHO = "```c\n#include <stdio.h>\nint main(){char s[64];scanf(\"%63s\",s);printf(\"%s\\n\",s);}\n```"
STDIO = {"tests": [{"input": "hi\n", "output": "hi"}] * 2}
#: The styles whose tests run through the in-sandbox harness (Python: its test code calls into the candidate).
HARNESSED: list[tuple[str, str, dict[str, Any]]] = [
    ("assert", ADD, {"test_list": ["assert add(1, 2) == 3"]}),
    ("assert", ADD, {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n", "entry_point": "add"}),
    ("function", ADD, {"inputs": [[1, 2]], "outputs": [3], "fn_name": "add"}),
    ("script", ADD, {"test_script": "from solution import add\n\ndef test_add():\n    assert add(1, 2) == 3\n"}),
]


@pytest.mark.parametrize("processes, isolation", [(1, "shared"), (2, "per_test")])
def test_a_harness_that_cannot_start_its_processes_is_an_error_not_a_zero(
    start_server: StartServer, processes: int, isolation: str
) -> None:
    """1: the harness cannot fork its first candidate process, so it forks its zygote, which fails too;
    2, per_test: it forks the zygote up front, which fails. stdio tests need no harness (the sandbox
    runs the program once per test): a one-process program still runs and passes."""
    server = start_server(config={"kinds": {"code": {"processes": processes}}})
    with VerifierClient(server.address, timeout_s=120) as client:
        for style, completion, reference in HARNESSED:
            spec = {"kind": "code", "config": {"tests": style, "isolation": isolation}}
            result = client.score(spec, completions=[completion], references=[reference])[0]
            assert (result.outcome, result.score) == ("error", None), (spec, result.reason, result.details)
            assert result.reason.startswith("the test harness failed"), result.reason
        for completion in (ECHO, C_ECHO):
            result = client.score("stdio-tests", completions=[completion], references=[STDIO])[0]
            assert (result.outcome, result.score) == ("ok", 1.0), (completion, result.reason, result.details)


def test_a_zygote_started_on_demand_that_cannot_fork_is_an_error_not_a_zero(start_server: StartServer) -> None:
    """Two processes hold the harness and its first candidate process; after that one crashes, the
    zygote started on demand takes the freed slot and cannot fork the next. Nothing of the
    candidate's was left running, so the failure is ours."""
    crashes = "```python\nimport os\ndef f(x):\n    if x == 1:\n        os._exit(3)\n    return x\n```"
    server = start_server(config={"kinds": {"code": {"processes": 2}}})
    with VerifierClient(server.address, timeout_s=120) as client:
        reference = {"test_list": ["assert f(0) == 0", "assert f(1) == 1", "assert f(2) == 2"]}
        result = client.score("python-tests", completions=[crashes], references=[reference])[0]
        assert (result.outcome, result.score) == ("error", None), (result.reason, result.details)
        assert result.reason.startswith("the test harness failed"), result.reason


#: Leaves a process behind (setsid: out of the group the harness kills) that takes every process
#: slot of the job as soon as one frees: the harness's next fork finds none.
LEAVES_PROCESSES = (
    "import os\n"
    "for _ in range(4):\n"
    "    try:\n"
    "        if os.fork() == 0:\n"
    "            os.setsid()\n"
    "            os.closerange(0, 1 << 16)\n"
    "            while True:\n"
    "                try:\n"
    "                    if os.fork() == 0:\n"
    "                        os.kill(os.getpid(), 19)  # SIGSTOP: hold the slot\n"
    "                except OSError:\n"
    "                    pass\n"
    "    except OSError:\n"
    "        pass\n"
)


def test_processes_the_candidate_leaves_running_are_its_own_failure(client: VerifierClient) -> None:
    """When they win the race for a freed process slot, the harness's next fork fails: still the candidate's 0.

    A wrong candidate must score 0 with outcome ok whether or not it wins that race; were the
    fork failure blamed on the harness, winning it would turn the 0 into an abstention (None).
    """
    stdio = f"```python\n{LEAVES_PROCESSES}print('wrong')\n```"
    function = f"```python\n{LEAVES_PROCESSES}def add(a, b):\n    return a - b\n```"
    per_test = {"kind": "code", "config": {"tests": "function", "isolation": "per_test"}}
    calls = {"inputs": [[1, 2], [2, 2], [3, 3]], "outputs": [3, 4, 6], "fn_name": "add"}
    results = list(client.score("stdio-tests", completions=[stdio] * 6,
                                references=[{"tests": [{"input": "hi", "output": "hi"}] * 3}] * 6))
    results += client.score(per_test, completions=[function] * 3, references=[calls] * 3)
    for result in results:
        assert (result.outcome, result.score) == ("ok", 0.0), (result.reason, result.details)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGSTOP])
def test_signals_the_candidate_sends_the_harness_are_its_own_failure(client: VerifierClient, sig: int) -> None:
    """Whatever a wrong candidate does to the harness processes, it gets its 0 with outcome ok (no abstention)."""
    attack = (f"import os\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
              f"        try:\n            os.kill(int(p), {int(sig)})\n        except OSError:\n            pass\n")
    fast = {"time_limit_s": 1.0}
    cases = [
        ({"kind": "code", "config": {"tests": "assert", **fast}}, f"{attack}def add(a, b):\n    return a - b\n",
         {"test_list": ["assert add(1, 2) == 3"]}),
        ({"kind": "code", "config": {"tests": "stdio", **fast}}, f"{attack}print('wrong')\n", STDIO),
    ]
    for spec, source, reference in cases:
        result = client.score(spec, completions=[f"```python\n{source}```"], references=[reference])[0]
        assert (result.outcome, result.score) == ("ok", 0.0), (sig, result.reason, result.details)


def _execution(status: ExecStatus, exit_code: int | None, sig: int | None, stdout: bytes = b"") -> Execution:
    return Execution(status, exit_code, sig, stdout, b"", False, False, 0.1, 0.1, None)


def test_a_harness_that_exits_without_its_verdict_failed_by_itself() -> None:
    """Only a signal, a limit or the wall time (what a candidate can cause) leave the verdict to the candidate."""
    assert ended_on_its_own(_execution(ExecStatus.NONZERO_EXIT, 1, None))
    assert ended_on_its_own(_execution(ExecStatus.OK, 0, None))
    assert not ended_on_its_own(_execution(ExecStatus.NONZERO_EXIT, None, signal.SIGKILL))
    for status in (ExecStatus.TIMEOUT, ExecStatus.MEMORY, ExecStatus.OUTPUT_LIMIT):
        assert not ended_on_its_own(_execution(status, None, signal.SIGKILL))


def test_a_reply_is_read_only_under_a_trailer_with_the_runs_nonce() -> None:
    lines = b'{"status": "ok", "stdout": "1"}\n{"status": "ok", "stdout": "2"}\n'
    report = read_harness_report(lines + b'{"nonce": "n1", "count": 2, "compile": null}\n', "n1")
    assert report is not None and [r["stdout"] for r in report.results()] == ["1", "2"]
    assert read_harness_report(lines + b'{"nonce": "other", "count": 2}\n', "n1") is None
    assert read_harness_report(lines, "n1") is None  # the harness did not finish
    with pytest.raises(ReportGarbled):
        read_harness_report(lines + b'{"nonce": "n1", "count": 3}\n', "n1")
    garbled = read_harness_report(b'not json\n{"nonce": "n1", "count": 1}\n', "n1")
    assert garbled is not None
    with pytest.raises(ReportGarbled):
        list(garbled.results())


@pytest.mark.parametrize("ending", [
    "import sys\nsys.exit(125)", "import sys\nsys.exit(127)",
    "import sys\nsys.stderr.write('bwrap: execvp ./main: No such file or directory\\n'); sys.exit(1)",
    "import os\nos.unlink(__file__)\nprint('gone')",
])
def test_a_program_cannot_pass_its_own_exit_off_as_ours(client: VerifierClient, ending: str) -> None:
    """stdio runs are the sandbox's: exit codes and messages that look like the sandbox failing stay the
    program's own 0 (outcome ok), and what one test's run deletes is back for the next test."""
    reference = {"tests": [{"input": "", "output": "right"}] * 2}
    for completion in (f"```python\n{ending}\n```",
                       "```c\n#include <stdlib.h>\nint main(){exit(127);}\n```"):
        result = client.score("stdio-tests", completions=[completion], references=[reference])[0]
        assert (result.outcome, result.score) == ("ok", 0.0), (completion, result.reason, result.details)
        verdicts = [t["verdict"] for t in result.details["tests"]]
        assert verdicts == (["wrong_answer"] * 2 if "gone" in completion else ["runtime_error"] * 2), verdicts


def test_each_stdio_test_starts_from_the_program_alone(client: VerifierClient) -> None:
    """A fresh work dir per test: what one test's run writes is not there for the next."""
    counter = ("```python\nimport os\nn = len(os.listdir('.'))\nopen(f'left{n}', 'w').close()\n"
               "print(n, os.path.exists('/tmp/x'))\nopen('/tmp/x', 'w').close()\n```")
    reference = {"tests": [{"input": "", "output": "1 False"}] * 3}
    result = client.score("stdio-tests", completions=[counter], references=[reference])[0]
    assert (result.outcome, result.score) == ("ok", 1.0), result.details


@pytest.mark.parametrize(
    ("style", "reference"),
    [
        ("function", {"inputs": [[1]] * 12, "outputs": [1] * 12, "fn_name": "f"}),
        ("assert", {"test_list": ["assert f(1) == 1"] * 12}),
        (
            "script",
            {
                "test_script": "from solution import f\n\n"
                + "".join(f"def test_{i}():\n    assert f(1) == 1\n\n" for i in range(12))
            },
        ),
    ],
)
def test_a_harness_job_past_max_job_wall_s_keeps_the_verdicts_of_the_tests_it_ran(
    start_server: StartServer, style: str, reference: dict[str, Any]
) -> None:
    """Twelve 2s tests cannot fit a 20s job: the tests run before the job's time ran out keep their pass
    (as stdio's do), the rest time out; the job is never killed with every verdict lost (a fake 0)."""
    server = start_server(config={"kinds": {"code": {"max_job_wall_s": 20}}})
    spec = {"kind": "code", "config": {"tests": style, "time_limit_s": 3}}
    slow = "```python\nimport time\ndef f(x):\n    time.sleep(2)\n    return x\n```"
    with VerifierClient(server.address, timeout_s=120) as client:
        result = client.score(spec, completions=[slow], references=[reference])[0]
    verdicts = [t["verdict"] for t in result.details["tests"]]
    assert result.outcome == "ok" and len(verdicts) == 12, (result.reason, result.details)
    assert 0.0 < result.score < 1.0 and verdicts[0] == "passed" and verdicts[-1] == "timeout", result.details
    assert "not run" in result.details["tests"][-1]["error"], result.details


def test_a_candidate_that_breaks_the_harness_mid_script_fails_the_tests_not_reached(client: VerifierClient) -> None:
    """It kills the zygote in the first test: the next fresh process cannot start. Only the harness knows the
    script's tests; the ones not reached must count as failed, or one passed test of four would score 1.0."""
    script = "from solution import f\n\n" + "".join(f"def test_{i}():\n    assert f(1) == 1\n\n" for i in range(4))
    kills = "```python\nimport os, signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n    return x\n```"
    spec = {"kind": "code", "config": {"tests": "script", "isolation": "per_test"}}
    result = client.score(spec, completions=[kills], references=[{"test_script": script}])[0]
    assert result.outcome == "ok" and result.details["total"] == 4, (result.reason, result.details)
    assert result.score is not None and result.score < 1.0, result.details
