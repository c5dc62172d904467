"""The sandbox as real servers use it: exclusive slot uids across servers, fair slots across clients,
one fork server per backend, and no start in a weak mode unless asked for.

Each test starts real servers on loopback (full design: root, bwrap, cgroups) and scores through the SDK.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandboxes import available_backends
from sandboxes._layout import readable_by_others
from sdk import RetryPolicy, VerifierClient, specs
from tests.host_claims import process_uid_base
from verifier_server.testing import REPO_ROOT, ServerProcess, StartServer

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or available_backends()["bwrap"] != "ok",
    reason="the sandbox's full design needs root and bwrap",
)

#: A uid range of this test process's own, shared by the servers a test starts (as servers of one host would be).
UID_BASE = process_uid_base("server_isolation", 512)
UID_RANGE = {"sandbox_uid_base": UID_BASE, "sandbox_uid_range_size": 512}
#: What a server's bwrap sandbox runs at once by default (BwrapSandbox: 2 x cores).
SERVER_SLOTS = 2 * (os.cpu_count() or 1)
ADD = "```python\nimport subprocess\nsubprocess.run(['true'], check=True)\ndef add(a, b):\n    return a + b\n```"
ADD_TESTS = {"tests": ["assert add(1, 2) == 3", "assert add(-1, 1) == 0"]}


def poll(check, timeout_s: float = 60.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not met within {timeout_s}s")


def processes_by_uid(uids: range) -> Counter[int]:
    """Live host processes per uid in `uids` (zombies excluded)."""
    counts: Counter[int] = Counter()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
        if uid in uids and not re.search(r"^State:\s+[ZX]", status, re.M):
            counts[uid] += 1
    return counts


def slot_uids(server: ServerProcess) -> list[int]:
    """The uids a server claimed, from its 'sandbox ready' log line ("60000..60003,60007..60007")."""
    for line in server.log_text().splitlines():
        if '"sandbox ready"' in line:
            runs = [run.split("..") for run in json.loads(line)["slot_uids"].split(",")]
            return [uid for low, high in runs for uid in range(int(low), int(high) + 1)]
    raise AssertionError(f"no 'sandbox ready' line in the log:\n{server.log_text()[-2000:]}")


HOG = """```python
import os, time
try:
    while True:
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
except OSError:
    pass
time.sleep(300)
```"""


def test_a_sample_holding_processes_on_one_server_cannot_fail_another_servers_samples(start_server: StartServer):
    """RLIMIT_NPROC counts a uid's processes host-wide: two servers with the same slot uids make a sample
    that holds processes on one fail every sample on the other that forks. Each server claims its own."""
    hog_server = start_server(config=UID_RANGE)
    other = start_server(config=UID_RANGE)
    hog_uids, other_uids = slot_uids(hog_server), slot_uids(other)
    assert not set(hog_uids) & set(other_uids), (hog_uids, other_uids)

    def hog() -> None:
        with VerifierClient(hog_server.address, timeout_s=120, retry=RetryPolicy(max_attempts=1)) as client:
            try:
                client.score(specs.code("hog", time_limit_s=60), [HOG], references=[ADD_TESTS])
            except Exception:
                pass  # its server is killed under it

    thread = threading.Thread(target=hog, daemon=True)
    thread.start()
    everywhere = range(UID_BASE, UID_BASE + 512)
    poll(lambda: max(processes_by_uid(everywhere).values(), default=0) >= 40, what="the hog holding 40 processes")
    with VerifierClient(other.address, timeout_s=120) as client:
        results = client.score("python-tests", [ADD] * 4, references=[ADD_TESTS] * 4)
    assert [(str(r.outcome), r.score) for r in results] == [("ok", 1.0)] * 4, [r.reason for r in results]
    hog_server.kill()
    thread.join(timeout=60)


def test_a_server_refuses_a_uid_range_that_live_servers_hold(start_server: StartServer):
    # Exactly the slots' uids: no sessions, which would claim theirs from the same range.
    exact = {"sandbox_uid_base": UID_BASE + 256, "sandbox_uid_range_size": SERVER_SLOTS, "max_sessions": 0}
    first = start_server(config=exact)
    with pytest.raises(RuntimeError) as refused:
        start_server(config=exact, startup_timeout_s=60)
    message = str(refused.value)
    assert f"pid {first.pid}" in message and "sandbox_uid_base" in message, message[-2000:]
    first.stop()
    second = start_server(config=exact)  # the claims died with the first server
    assert slot_uids(second) == list(range(UID_BASE + 256, UID_BASE + 256 + SERVER_SLOTS))


#: Each of A's rounds lasts this long, which is B's margin to reach a slot on a busy machine.
SLEEPER = "```python\nimport time\ntime.sleep(6)\ndef add(a, b):\n    return a + b\n```"
FAST = "```python\ndef add(a, b):\n    return a + b\n```"


def metric(server: ServerProcess, port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith(name + "_created")
    )


def test_sandbox_slots_are_shared_fairly_between_clients(start_server: StartServer, tmp_path: Path):
    """Client A queues three rounds of slow samples; client B's one fast sample runs in the first freed
    slot, not behind all of A's (FIFO across clients made it wait for all three rounds of A)."""
    server = start_server(config={**UID_RANGE, "metrics_port": 0})
    port = next(json.loads(line)["metrics_port"] for line in server.log_text().splitlines() if '"serving"' in line)
    slow = [SLEEPER] * (3 * SERVER_SLOTS)
    with VerifierClient(server.address, timeout_s=300, client_id="tenant-a") as a:
        assert [r.score for r in a.score("python-tests", [FAST], references=[ADD_TESTS])] == [1.0]  # warm
        runs_before = metric(server, port, "verifier_sandbox_runs_total")
        batch = threading.Thread(
            target=lambda: a.score(specs.code("slow", time_limit_s=30), slow, references=[ADD_TESTS] * len(slow))
        )
        batch.start()
        poll(lambda: metric(server, port, "verifier_inflight_samples") >= len(slow), what="A's batch admitted")
        with VerifierClient(server.address, timeout_s=300, client_id="tenant-b") as b:
            (fast,) = b.score("python-tests", [FAST], references=[ADD_TESTS])
        finished_before_b = metric(server, port, "verifier_sandbox_runs_total") - runs_before - 1
        batch.join(timeout=300)
    assert fast.score == 1.0, fast.reason
    assert finished_before_b < 2 * SERVER_SLOTS, (
        f"B's sample finished after {finished_before_b:.0f} of A's; {SERVER_SLOTS} slots, so fair sharing "
        f"runs it in A's first round"
    )


def zygotes_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[1]) == pid and (entry / "comm").read_text().strip() == "sandbox-zygote":
                found.append(int(entry.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_concurrent_first_requests_start_one_fork_server(start_server: StartServer):
    server = start_server(config=UID_RANGE)
    errors: list[BaseException] = []

    def score(client_id: str) -> None:
        try:
            with VerifierClient(server.address, timeout_s=120, client_id=client_id) as client:
                results = client.score("python-tests", [FAST] * SERVER_SLOTS, references=[ADD_TESTS] * SERVER_SLOTS)
                assert all(r.score == 1.0 for r in results), [r.reason for r in results]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=score, args=(f"client-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not errors, errors
    assert len(zygotes_of(server.pid)) == 1, f"fork servers of one backend: {zygotes_of(server.pid)}"


@pytest.fixture
def nobody_dir() -> Iterator[Path]:
    """A data dir the unprivileged server can write (pytest's tmp is root-only)."""
    if not shutil.which("setpriv") or not readable_by_others(str(REPO_ROOT / "sandboxes" / "__init__.py")):
        pytest.skip("needs setpriv and a checkout other users can read")
    path = Path(tempfile.mkdtemp(prefix="verifier-nobody-", dir="/var/tmp"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path, ignore_errors=True)


NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


def test_a_server_without_root_refuses_to_start_unless_told_to(start_server: StartServer, nobody_dir: Path):
    env = {"HOME": str(nobody_dir)}
    for name in ("refused", "weak"):
        (nobody_dir / name).mkdir(mode=0o777)
        (nobody_dir / name).chmod(0o777)
    with pytest.raises(RuntimeError) as refused:
        start_server(nobody_dir / "refused", wrapper=NOBODY, env=env)
    message = str(refused.value)
    assert "weak mode" in message and "not root" in message and "allow_unsafe_weak_sandbox" in message, message

    weak = start_server(nobody_dir / "weak", wrapper=NOBODY, env=env, config={"allow_unsafe_weak_sandbox": True})
    assert "UNSAFE weak sandbox" in weak.log_text()
    with VerifierClient(weak.address, timeout_s=120) as client:
        (result,) = client.score("python-tests", [FAST], references=[ADD_TESTS])
    assert result.score == 1.0, result.reason
