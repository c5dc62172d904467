"""The server image under the real Docker engine, started with exactly the flags sandboxes/SETUP.md documents.

What the image must give (issue: the shipped deployment ran the sandbox's weak mode): the full
design inside the container (root server, per-run uids, cgroups and tmpfs work dirs, the fork
server), so runs are contained, no run sees another's leftovers or is failed by another filling
its disk or holding processes, and the server outlives fork and memory bombs. Without the flags,
it refuses to start and says what is missing. Samples are scored from inside the container (the
SDK ships in the image; no port is published), and over the HTTP/JSON face from a client on the
host. Sandboxed Python has the packages a host's setup installs (numpy, sympy, math-verify, regex).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ops.test_deploy_manifests import documented_docker_flags
from tests.host_claims import process_uid_base

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: A uid range of this test run's own: other servers on the host may still use the default one.
UID_BASE = process_uid_base("deploy_image", 512)


def _docker_ready() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not _docker_ready(), reason="no Docker engine reachable (dockerd not running)"),
]


def docker(*args: str, timeout_s: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout_s)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} failed: {done.stderr[-3000:]}")
    return done


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    base = os.environ.get("VERIFIER_BASE_IMAGE", "verifier-base:bookworm")
    if docker("image", "inspect", base, check=False).returncode != 0:
        pytest.skip(f"base image {base} missing; run deploy/build_image.sh once (debootstrap takes minutes)")
    tag = f"verifier-server:test-{os.getpid()}"
    built = subprocess.run([str(DEPLOY / "build_image.sh"), tag], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    yield tag
    docker("rmi", tag, check=False)


def start(image: str, name: str, flags: list[str]) -> None:
    docker("run", "-d", "--name", name, *flags, "--env", f"VERIFIER_SANDBOX_UID_BASE={UID_BASE}", image)


def wait_ready(name: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        probe = "from sdk import VerifierClient\nwith VerifierClient('127.0.0.1:50051', timeout_s=5) as c: c.list()"
        if docker("exec", name, "/opt/verifier/bin/python", "-c", probe, check=False).returncode == 0:
            return
        if docker("inspect", "-f", "{{.State.Running}}", name).stdout.strip() != "true":
            raise AssertionError(f"the server exited:\n{logs(name)[-3000:]}")
        time.sleep(0.5)
    raise AssertionError(f"the server did not get ready:\n{logs(name)[-3000:]}")


@pytest.fixture(scope="module")
def server(image: str) -> Iterator[str]:
    """A container of the image started with the documented flags, ready to score."""
    name = f"verifier-image-{os.getpid()}"
    start(image, name, documented_docker_flags())
    try:
        wait_ready(name)
        yield name
    finally:
        docker("rm", "-f", name, check=False)


#: Runs inside the container: scores `completions` against `tests` with the code kind, prints
#: [score, outcome, reason] per completion as JSON.
SCORE = """
import json, sys
from sdk import VerifierClient, specs
job = json.loads(sys.stdin.read())
with VerifierClient("127.0.0.1:50051", timeout_s=300) as client:
    results = client.score(specs.code("image-test", **job["config"]), job["completions"],
                           references=[{"tests": job["tests"]}] * len(job["completions"]))
print(json.dumps([[r.score, str(r.outcome), r.reason] for r in results]))
"""


def score(name: str, sources: list[str], tests: list[str], **config: Any) -> list[list[Any]]:
    completions = ["```python\n" + textwrap.dedent(source) + "\n```" for source in sources]
    job = json.dumps({"completions": completions, "tests": tests, "config": {"time_limit_s": 30, **config}})
    done = subprocess.run(
        ["docker", "exec", "-i", name, "/opt/verifier/bin/python", "-c", SCORE],
        input=job,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def logs(name: str) -> str:
    done = docker("logs", name, check=False)
    return done.stdout + done.stderr


def slots(name: str) -> int:
    """How many runs the containerized server runs at once (its log's claimed uid range)."""
    for line in logs(name).splitlines():
        if '"sandbox ready"' in line:
            runs = [run.split("..") for run in json.loads(line)["slot_uids"].split(",")]
            return sum(int(high) - int(low) + 1 for low, high in runs)
    raise AssertionError("no 'sandbox ready' line in the server's log")


def assert_alive(name: str) -> None:
    state = docker("inspect", "-f", "{{.State.Running}} {{.RestartCount}}", name).stdout.split()
    assert state == ["true", "0"], f"the server died: {logs(name)[-3000:]}"
    ok = "def f():\n    return 1\n"
    assert score(name, [ok], ["assert f() == 1"]) == [[1.0, "ok", "1/1 tests passed"]]


def without(flags: list[str], value: str) -> list[str]:
    """`flags` less the option whose value is `value` (and that option's name)."""
    kept: list[str] = []
    for word in flags:
        if word == value:
            kept.pop()
        else:
            kept.append(word)
    return kept


def test_without_the_flags_the_server_refuses_to_start_and_names_what_is_missing(image: str):
    plain = docker("run", "--rm", image, timeout_s=180, check=False)
    assert plain.returncode == 2, plain.stderr[-2000:]
    assert "weak mode" in plain.stderr and "lacks CAP_SYS_ADMIN" in plain.stderr, plain.stderr[-2000:]
    masked = without(documented_docker_flags(), "systempaths=unconfined")  # Docker's default, masked /proc
    run = docker(
        "run", "--rm", *masked, "--env", f"VERIFIER_SANDBOX_UID_BASE={UID_BASE}", image, timeout_s=180, check=False
    )
    assert run.returncode == 2, run.stderr[-2000:]
    assert "Can't mount proc" in run.stderr and "systempaths=unconfined" in run.stderr, run.stderr[-2000:]


def test_runs_are_contained_and_use_the_full_design(server: str):
    probe = """
    import ctypes, os, socket
    def contained():
        assert os.getuid() >= 1000 and os.geteuid() != 0
        assert os.path.exists("/proc/self") and len([p for p in os.listdir("/proc") if p.isdigit()]) < 10
        for path in ("/", "/usr", "/etc"):
            assert not os.access(path, os.W_OK), path
        try:
            socket.create_connection(("1.1.1.1", 53), timeout=2)
            return False
        except OSError:
            pass
        assert ctypes.CDLL(None).mount(b"x", b"/tmp", b"tmpfs", 0, None) != 0
        assert not os.path.exists("/opt/verifier") and not os.path.exists("/var/lib/verifier")
        return True
    """
    assert score(server, [probe], ["assert contained()"]) == [[1.0, "ok", "1/1 tests passed"]]
    comms = docker("exec", server, "sh", "-c", "cat /proc/[0-9]*/comm").stdout.split()
    assert "sandbox-zygote" in comms, "python runs went through the fork server"
    assert '"weak": false' in logs(server)


#: Runs on the host, in the container's network namespace only: one HTTP request, prints [status, body].
HTTP_CLIENT = """
import json, sys, urllib.error, urllib.request
job = json.loads(sys.stdin.read())
data = None if job["body"] is None else json.dumps(job["body"]).encode()
request = urllib.request.Request(job["url"], data=data, method=job["method"])
try:
    with urllib.request.urlopen(request, timeout=120) as response:
        print(json.dumps([response.status, response.read().decode()]))
except urllib.error.HTTPError as error:
    print(json.dumps([error.code, error.read().decode()]))
"""


def http(name: str, method: str, path: str, body: Any = None) -> tuple[int, str]:
    """One request from the host's Python to the container's HTTP/JSON face, on the port the image's CMD
    gives it. Docker here may run without a bridge (no published ports; `--publish 8080:8080` is the
    way elsewhere), so the client joins the container's network namespace and nothing else of it."""
    cmd = json.loads(docker("inspect", "-f", "{{json .Config.Cmd}}", name).stdout)
    port = int(cmd[cmd.index("--http-port") + 1])
    pid = docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
    job = json.dumps({"url": f"http://127.0.0.1:{port}{path}", "method": method, "body": body})
    done = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", sys.executable, "-c", HTTP_CLIENT],
        input=job,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    status, text = json.loads(done.stdout)
    return status, text


@pytest.mark.skipif(os.geteuid() != 0, reason="joining the container's network namespace (nsenter) needs root")
def test_the_http_face_answers_health_metrics_and_scores(server: str):
    status, text = http(server, "GET", "/healthz")
    assert (status, json.loads(text)) == (200, {"status": "SERVING"})
    samples = [
        {"completion": "so \\boxed{\\frac{1}{2}}", "reference": {"answer": "0.5"}},
        {"completion": "so \\boxed{3}", "reference": {"answer": "0.5"}},
    ]
    status, text = http(server, "POST", "/v1/score", {"verifier": "math", "samples": samples})
    assert status == 200, text
    assert [(r["score"], r["outcome"]) for r in json.loads(text)["results"]] == [(1.0, "ok"), (0.0, "ok")]
    status, text = http(server, "GET", "/metrics")
    assert status == 200 and "http:Score" in text, text[-2000:]


#: Runs inside the container: what `verifier capabilities` lists, then a `python` spec whose reward
#: function imports numpy, scored by the server (so run in its sandbox); prints both as JSON.
PYTHON_REWARD = '''
import json, subprocess
from sdk import VerifierClient, specs
caps = json.loads(subprocess.run(["verifier", "--server", "127.0.0.1:50051", "capabilities"],
                                 capture_output=True, text=True, check=True).stdout)
source = """
import numpy as np

def reward(prompts, completions, references):
    out = []
    for completion, reference in zip(completions, references):
        values = np.array([float(word) for word in completion.split()])
        right = bool(np.isclose(values.mean(), reference["mean"]))
        out.append({"score": 1.0 if right else 0.0, "reason": "numpy==" + np.__version__})
    return out
"""
with VerifierClient("127.0.0.1:50051", timeout_s=300) as client:
    results = client.score(specs.python_reward("image-numpy", source), ["1 2 3 6", "1 2 3"],
                           references=[{"mean": 3.0}, {"mean": 3.0}])
print(json.dumps({"packages": caps["sandbox_python_packages"],
                  "results": [[r.score, str(r.outcome), r.reason] for r in results]}))
'''


def test_sandboxed_python_has_the_setup_packages(server: str):
    done = docker("exec", server, "/opt/verifier/bin/python", "-c", PYTHON_REWARD, timeout_s=600)
    found = json.loads(done.stdout)
    packages = {line.split("==")[0]: line for line in found["packages"]}
    assert {"numpy", "sympy", "math-verify", "regex"} <= set(packages), found["packages"]
    numpy = packages["numpy"]
    assert found["results"] == [[1.0, "ok", numpy], [0.0, "ok", numpy]], found


#: Runs inside the container: a Python session (a cell, a fork, the fork's own state, a score of its
#: end state) and a bash one; prints what each step gave as JSON.
SESSIONS = """
import json
from sdk import VerifierClient
with VerifierClient("127.0.0.1:50051", timeout_s=300) as client:
    with client.session(language="python", setup="base = 40") as s:
        first = s.run("print(base + 2)").stdout
        (fork,) = s.fork(1)
        fork.run("base = 0")
        seen = [s.run("base").result, fork.run("base").result]
        scored = s.score("python-tests", {"test_list": ["assert base == 40"]}).score
    with client.session(language="bash") as sh:
        shell = sh.run("echo $((6 * 7))").stdout
print(json.dumps([first, seen, scored, shell]))
"""


def test_sessions_run_in_the_image(server: str):
    """The image has no compiler: the session fork reaper ships prebuilt beside the namespace init."""
    done = docker("exec", server, "/opt/verifier/bin/python", "-c", SESSIONS, timeout_s=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == ["42\n", ["40", "0"], 1.0, "42\n"]
    caps = docker("exec", server, "/opt/verifier/bin/verifier", "--server", "127.0.0.1:50051", "capabilities")
    assert json.loads(caps.stdout)["sessions"]["languages"] == ["python", "bash"]


def test_without_sys_ptrace_the_server_scores_and_a_session_names_what_it_lacks(image: str):
    name = f"verifier-image-noptrace-{os.getpid()}"
    start(image, name, without(documented_docker_flags(), "SYS_PTRACE"))
    try:
        wait_ready(name)
        assert score(name, ["def f():\n    return 1"], ["assert f() == 1"]) == [[1.0, "ok", "1/1 tests passed"]]
        done = docker("exec", name, "/opt/verifier/bin/python", "-c", SESSIONS, timeout_s=300, check=False)
        assert done.returncode != 0
        assert "FAILED_PRECONDITION" in done.stderr and "CAP_SYS_PTRACE" in done.stderr, done.stderr[-3000:]
        assert "--cap-add SYS_PTRACE" in done.stderr, done.stderr[-3000:]
        warned = [line for line in logs(name).splitlines() if "sessions cannot run here" in line]
        assert warned and "CAP_SYS_PTRACE" in warned[0], logs(name)[-3000:]
        caps = docker("exec", name, "/opt/verifier/bin/verifier", "--server", "127.0.0.1:50051", "capabilities")
        assert json.loads(caps.stdout)["sessions"] is None, "GetCapabilities must not offer sessions that cannot run"
    finally:
        docker("rm", "-f", name, check=False)


def test_a_runs_leftovers_are_invisible_to_later_runs(server: str):
    """Every slot gets a writer (files in /work, /tmp, /dev/shm, a locked directory, a detached
    process), then a reader: none of it may be there."""
    writer = """
    import os, time
    for place in (".", "/tmp", "/dev/shm"):
        os.makedirs(f"{place}/locked-leftover", exist_ok=True)
        open(f"{place}/locked-leftover/secret", "w").write("x")
        open(f"{place}/leftover-file", "w").write("x")
        os.chmod(f"{place}/locked-leftover", 0)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "120"])
        os._exit(0)
    def done():
        return True
    """
    reader = """
    import os
    def leftovers():
        found = [f"{place}/{entry}" for place in (".", "/tmp", "/dev/shm") for entry in os.listdir(place)
                 if "leftover" in entry]
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                if open(f"/proc/{pid}/cmdline", "rb").read().startswith(b"sleep"):
                    found.append(f"process {pid}")
            except OSError:
                pass
        return found
    """
    n = slots(server)
    assert [r[0] for r in score(server, [writer] * n, ["assert done()"])] == [1.0] * n
    results = score(server, [reader] * n, ["assert leftovers() == []"])
    assert [r[0] for r in results] == [1.0] * n, results


def test_a_run_filling_its_disk_or_holding_processes_does_not_fail_others(server: str):
    filler = """
    import os, time
    for place in (".", "/tmp", "/dev/shm"):
        try:
            with open(f"{place}/fill", "wb") as f:
                while True:
                    f.write(b"x" * (1 << 20))
        except OSError:
            pass
    time.sleep(8)
    def done():
        return True
    """
    hog = """
    import os, time
    try:
        while True:
            if os.fork() == 0:
                time.sleep(20)
                os._exit(0)
    except OSError:
        pass
    time.sleep(8)
    def done():
        return True
    """
    normal = """
    import os, subprocess, time
    time.sleep(1)
    for place in (".", "/tmp"):
        with open(f"{place}/data", "wb") as f:
            f.write(b"y" * (8 << 20))
    for _ in range(8):
        subprocess.run(["true"], check=True)
    def done():
        return True
    """
    others = max(2, slots(server) - 2)
    results = score(server, [filler, hog, *[normal] * others], ["assert done()"])
    assert [r[0] for r in results[2:]] == [1.0] * others, results


def test_the_server_survives_a_fork_bomb_and_memory_bombs(server: str):
    """A fork bomb meets its pids limit; memory bombs allowed more than the container has together
    push the container to its --memory bound, where the kernel kills runs, never the server."""
    fork_bomb = """
    import os
    while True:
        try:
            os.fork()
        except OSError:
            pass
    """
    memory_bomb = """
    hog = []
    while True:
        hog.append(bytearray(32 << 20))
    """
    results = score(server, [fork_bomb], ["assert True"], time_limit_s=5)
    assert results[0][0] != 1.0, results
    assert_alive(server)
    bombs = slots(server)
    results = score(server, [memory_bomb] * bombs, ["assert True"], time_limit_s=20, memory_mb=1536)
    assert all(r[0] != 1.0 for r in results), results
    assert_alive(server)


def test_sigterm_drains_and_exits_cleanly(image: str):
    name = f"verifier-image-drain-{os.getpid()}"
    start(image, name, documented_docker_flags())
    try:
        wait_ready(name)
        probe = (
            "from sdk import VerifierClient\n"
            "with VerifierClient('127.0.0.1:50051', timeout_s=60) as c:\n"
            "    r = c.score('think-answer-format', ['<think>\\nx\\n</think>\\n<answer>\\n1\\n</answer>', 'no'])\n"
            "    print([x.score for x in r])\n"
        )
        scored = docker("exec", name, "/opt/verifier/bin/python", "-c", probe)
        assert scored.stdout.strip() == "[1.0, 0.0]", scored.stderr[-2000:]
        docker("stop", "-t", "40", name, timeout_s=60)
        state = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
        assert state == "0", "SIGTERM must reach the server (exec-form ENTRYPOINT) and drain cleanly"
    finally:
        docker("rm", "-f", name, check=False)
