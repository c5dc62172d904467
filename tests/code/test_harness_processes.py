"""The harness's candidate processes: after the first one ends, the next comes from a clean zygote.

Most samples need one candidate process (C0, forked before the harness reads the request).
When it ends mid-sample (a crash, a timeout) and tests remain, the harness starts its
zygote Z on demand, as a fresh interpreter, and Z forks the next one. Through the real
server and sandbox: the later tests still run, the new process holds nothing of the
request (test code, nonce) and nothing the candidate left running survives the restart.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from sdk import VerifierClient
from verifier_server.testing import StartServer

#: Ends its process at x == 1, returns x otherwise.
CRASHES = "```python\nimport os\ndef f(x):\n    if x == 1:\n        os._exit(3)\n    return x\n```"
TESTS = 4
REFERENCES: dict[str, dict[str, Any]] = {
    "assert": {"test_list": [f"assert f({k}) == {k}" for k in range(TESTS)]},
    "function": {"inputs": [[k] for k in range(TESTS)], "outputs": list(range(TESTS)), "fn_name": "f"},
    "script": {
        "test_script": "from solution import f\n\n"
        + "".join(f"def test_{k}():\n    assert f({k}) == {k}\n\n" for k in range(TESTS))
    },
}


@pytest.mark.parametrize("isolation", ["shared", "per_test"])
@pytest.mark.parametrize("style", sorted(REFERENCES))
def test_tests_after_a_crash_run_in_a_fresh_process(client: VerifierClient, style: str, isolation: str) -> None:
    spec = {"kind": "code", "config": {"tests": style, "isolation": isolation}}
    result = client.score(spec, completions=[CRASHES], references=[REFERENCES[style]])[0]
    assert result.outcome == "ok", (result.reason, result.details)
    verdicts = [test["verdict"] for test in result.details["tests"]]
    assert verdicts == ["passed", "runtime_error", "passed", "passed"], result.details


#: Counts, in every readable mapping of its own memory, what only the request holds: the test
#: code's token and the request's nonce key (written so that the pattern's own bytes match neither).
PROBE = (
    "import ctypes, os, re\n"
    "def crash():\n"
    "    os._exit(1)\n"
    "def probe():\n"
    "    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable again: its own /proc/self/mem opens\n"
    "    pattern = re.compile(rb'tok\\x65n-[0-9a-f]{24}|\\x22nonce\\x22: \\x22')\n"
    "    hits = 0\n"
    "    with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb', 0) as mem:\n"
    "        for line in maps:\n"
    "            span, perms = line.split()[:2]\n"
    "            if not perms.startswith('r'):\n"
    "                continue\n"
    "            start, end = (int(x, 16) for x in span.split('-'))\n"
    "            for at in range(start, end, 1 << 20):\n"
    "                try:\n"
    "                    mem.seek(at)\n"
    "                    hits += len(pattern.findall(mem.read(min(end - at, (1 << 20) + 64))))\n"
    "                except (OSError, ValueError, OverflowError):\n"
    "                    pass\n"
    "    return hits\n"
)


def test_a_process_started_after_a_crash_holds_nothing_of_the_request(client: VerifierClient) -> None:
    """Its zygote is a fresh interpreter, not a fork of the harness that read the tests: a process
    forked from that would find the test code (and its expected values) in its own memory."""
    token = "token-" + secrets.token_hex(12)
    tests = [f"assert probe() == 0  # {token}", "crash()", f"assert probe() == 0  # {token}"]
    result = client.score("python-tests", completions=[f"```python\n{PROBE}```"], references=[{"test_list": tests}])[0]
    verdicts = [test["verdict"] for test in result.details["tests"]]
    assert verdicts == ["passed", "runtime_error", "passed"], result.details


#: Leaves a process out of the harness's reach (setsid, its parent gone, every fd closed) and
#: records its pid; `alive` tells, from the next candidate process, whether it still runs.
LEAVES = (
    "import os, time\n"
    "def leave():\n"
    "    r, w = os.pipe()\n"
    "    if os.fork() == 0:\n"
    "        os.setsid()\n"
    "        if os.fork() == 0:\n"
    "            os.write(w, str(os.getpid()).encode())\n"
    "            os.closerange(0, 1 << 16)\n"
    "            while True:\n"
    "                time.sleep(0.05)\n"
    "        os._exit(0)\n"
    "    os.close(w)\n"
    "    pid = int(os.read(r, 64))\n"
    "    with open('/tmp/left', 'w') as f:\n"
    "        f.write(str(pid))\n"
    "    return pid\n"
    "def crash():\n"
    "    os._exit(1)\n"
    "def alive():\n"
    "    with open('/tmp/left') as f:\n"
    "        pid = int(f.read())\n"
    "    try:\n"
    "        with open('/proc/%d/stat' % pid) as f:\n"
    "            return f.read().rsplit(') ', 1)[1][0] not in 'ZX'\n"
    "    except OSError:\n"
    "        return False\n"
)


def test_what_the_candidate_left_running_is_ended_before_its_next_process(client: VerifierClient) -> None:
    """Z starts as a fresh interpreter, which any process of the same uid could write through /proc
    until it makes itself non-dumpable: nothing of the candidate's may be alive then."""
    tests = ["assert leave() > 0", "assert alive()", "crash()", "assert not alive()"]
    result = client.score("python-tests", completions=[f"```python\n{LEAVES}```"], references=[{"test_list": tests}])[0]
    verdicts = [test["verdict"] for test in result.details["tests"]]
    assert verdicts == ["passed", "passed", "runtime_error", "passed"], result.details


def _docker_ready() -> str | None:
    """Why the Docker backend cannot run here, or None."""
    from sandboxes import available_backends
    from sandboxes.docker_backend import DEFAULT_IMAGES
    from sandboxes.docker_image import image_exists

    reason = available_backends()["docker"]
    if reason != "ok":
        return f"docker backend unavailable: {reason}"
    return None if image_exists(DEFAULT_IMAGES["python"]) else f"image {DEFAULT_IMAGES['python']} not built"


@pytest.mark.parametrize("backend", [pytest.param("docker", marks=pytest.mark.docker), "unsafe-local"])
def test_without_a_warm_interpreter_the_zygote_starts_from_the_work_dirs_sources(
    start_server: StartServer, backend: str
) -> None:
    """Docker and unsafe-local import the harness from the job's files, not from a fork server's
    preloaded modules: its sources are read from there, before the candidate runs."""
    if backend == "docker" and (why := _docker_ready()):
        pytest.skip(why)
    server = start_server(extra_args=["--sandbox-backend", backend])
    with VerifierClient(server.address, timeout_s=300) as client:
        for style, reference in sorted(REFERENCES.items()):
            spec = {"kind": "code", "config": {"tests": style}}
            result = client.score(spec, completions=[CRASHES], references=[reference])[0]
            verdicts = [test["verdict"] for test in result.details.get("tests", [])]
            assert verdicts == ["passed", "runtime_error", "passed", "passed"], (style, result.reason, result.details)
        token = "token-" + secrets.token_hex(12)
        probes = [f"assert probe() == 0  # {token}", "crash()", f"assert probe() == 0  # {token}"]
        leaves = ["assert leave() > 0", "assert alive()", "crash()", "assert not alive()"]
        for source, tests in ((PROBE, probes), (LEAVES, leaves)):
            result = client.score(
                "python-tests", completions=[f"```python\n{source}```"], references=[{"test_list": tests}]
            )[0]
            verdicts = [test["verdict"] for test in result.details.get("tests", [])]
            assert verdicts[-1] == "passed" and verdicts.count("runtime_error") == 1, (result.reason, result.details)
