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


#: Tells whether its process came from a zygote started on demand (`python3 -I -c ...`) or from
#: one forked from the harness (whose command line is the harness's).
FROM_WHICH_ZYGOTE = (
    "import os\n"
    "def crash():\n"
    "    os._exit(1)\n"
    "def on_demand():\n"
    "    with open('/proc/%d/cmdline' % os.getppid(), 'rb') as f:\n"
    "        return b'-c' in f.read().split(b'\\0')\n"
)


@pytest.mark.parametrize("isolation, started_on_demand", [("shared", True), ("per_test", False)])
def test_the_zygote_is_started_on_demand_unless_every_test_needs_one(
    client: VerifierClient, isolation: str, started_on_demand: bool
) -> None:
    spec = {"kind": "code", "config": {"tests": "assert", "isolation": isolation}}
    check = "assert on_demand()" if started_on_demand else "assert not on_demand()"
    reference = {"test_list": ["crash()", check]}
    result = client.score(spec, completions=[f"```python\n{FROM_WHICH_ZYGOTE}```"], references=[reference])[0]
    verdicts = [test["verdict"] for test in result.details["tests"]]
    assert verdicts == ["runtime_error", "passed"], result.details


#: Kills every zygote started on demand it sees: `arm` leaves it running, out of every scan that
#: reads /proc one process at a time. "thread": a process whose main thread exited (it reads as a
#: zombie while its other thread runs). "relay": a chain of processes, each forking the next and exiting.
KILLS_THE_NEW_ZYGOTE = (
    "import ctypes, os, threading, time\n"
    "def kill_new_zygotes():\n"
    "    for name in os.listdir('/proc'):\n"
    "        try:\n"
    "            with open('/proc/%s/cmdline' % name, 'rb') as f:\n"
    "                if b'-c' in f.read().split(b'\\0'):\n"
    "                    os.kill(int(name), 9)\n"
    "        except (OSError, ValueError):\n"
    "            pass\n"
    "def watch():\n"
    "    while True:\n"
    "        kill_new_zygotes()\n"
    "def thread():\n"
    "    threading.Thread(target=watch).start()\n"
    "    ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: this thread only\n"
    "def relay():\n"
    "    os.setsid()\n"
    "    n = 0\n"
    "    while True:\n"
    "        if os.fork():\n"
    "            os._exit(0)\n"
    "        n += 1\n"
    "        if n % 4 == 0:\n"
    "            kill_new_zygotes()\n"
    "def arm(how):\n"
    "    if os.fork() == 0:\n"
    "        os.closerange(3, 1 << 16)\n"
    "        {'thread': thread, 'relay': relay}[how]()\n"
    "        os._exit(0)\n"
    "    time.sleep(0.05)\n"
    "    return True\n"
    "def crash():\n"
    "    os._exit(1)\n"
    "def f(x):\n"
    "    return x\n"
)


@pytest.mark.parametrize("how", ["thread", "relay"])
def test_nothing_the_candidate_left_outlives_the_zygotes_start(client: VerifierClient, how: str) -> None:
    """Were one left, it could kill the new zygote (or write into it while it is dumpable) and turn the
    candidate's verdicts into the harness's failure: an abstention (score None) instead of its score."""
    reference = {"test_list": [f"assert arm({how!r})", "crash()", "assert f(2) == 2", "assert f(3) == 4"]}
    result = client.score(
        "python-tests", completions=[f"```python\n{KILLS_THE_NEW_ZYGOTE}```"], references=[reference]
    )[0]
    assert result.outcome == "ok" and result.score is not None, (result.reason, result.details)
    verdicts = [test["verdict"] for test in result.details["tests"]]
    # The later tests run in a fresh process; on a machine too busy to end the chain within the
    # harness's limit they fail instead (the candidate's doing): never an abstention either way.
    assert verdicts[:2] == ["passed", "runtime_error"] and verdicts[2:] in (
        ["passed", "wrong_answer"],
        ["runtime_error"] * 2,
    ), result.details
