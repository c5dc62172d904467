"""Sessions through the real server and the SDK: the wire, lifetimes, caps, auth, metrics, replica affinity."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator

import pytest

from sdk import (
    AsyncSession,
    AsyncVerifierClient,
    CellStatus,
    InvalidArgumentError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RetryPolicy,
    RPCError,
    Session,
    SessionLimits,
    SessionLostError,
    SessionSetupError,
    StatusCode,
    VerifierClient,
)
from tests.ops.support import eventually, scrape_counter
from tests.sessions.support import session_config, session_processes
from verifier_server.testing import REPO_ROOT, ServerProcess, StartServer, start_server_process

NO_RETRY = RetryPolicy(max_attempts=1)
"""Caps are asserted with refusals raised at once; not by a short deadline, which a loaded machine misses."""

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sessions need host root (the fork server)")


SERVER_CONFIG = session_config()
"""The module's shared server's config (its private sandbox uid range)."""


@pytest.fixture(scope="module")
def session_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server_process(tmp_path_factory.mktemp("sessions"), config=SERVER_CONFIG)
    yield server
    server.stop()


@pytest.fixture
def client(session_server: ServerProcess) -> Iterator[VerifierClient]:
    with VerifierClient(session_server.address, timeout_s=60) as client:
        yield client


def test_the_issue_example_end_to_end(client: VerifierClient) -> None:
    with client.session(language="python", setup="import math\nbase = 40") as s:
        r = s.run("x = base + 2\nprint(x)")
        assert (r.status, r.stdout, r.error) == (CellStatus.OK, "42\n", "") and r.wall_s > 0
        forks = s.fork(8)
        assert len({f.session_id for f in forks}) == 8 and all(f.info.parent_id == s.session_id for f in forks)
        forks[0].run("x = -1")
        assert [f.run("x").result for f in forks] == ["-1"] + ["42"] * 7
        assert s.run("x").result == "42"
        s.run("def add(a, b):\n    return a + b")
        score = s.score("python-tests", reference={"test_list": ["assert add(2, 3) == 5", "assert x == 42"]})
        assert (score.score, score.outcome) == (1.0, "ok") and score.details["verifier"] == "python-tests@1"
        wrong = s.score("python-tests", reference={"test_list": ["assert add(2, 3) == 6"]})
        assert wrong.score == 0.0 and wrong.details["tests"][0]["verdict"] == "wrong_answer"
        assert s.run("x, add(1, 1)").result == "(42, 2)"  # scoring ran in a throwaway copy
        for fork in forks:
            assert fork.close() is True
    assert s.close() is False  # closed by the with block already


async def test_the_async_client_mirrors_the_sync_one(session_server: ServerProcess) -> None:
    async with AsyncVerifierClient(session_server.address, timeout_s=60) as client:
        async with client.session(language="python", setup="base = 40") as s:
            assert (await s.run("base + 2")).result == "42"
            (fork,) = await s.fork(1)
            await fork.run("base = 0")
            assert (await s.run("base")).result == "40" and (await fork.run("base")).result == "0"
            assert (await s.score("python-tests", {"test_list": ["assert base == 40"]})).score == 1.0
            assert await fork.aclose() is True
        with pytest.raises(SessionLostError, match="was closed"):
            await s.run("1")


def test_session_classes_mirror_each_other() -> None:
    names = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
    sync = {n for n in vars(Session) if not n.startswith("_") or n in names}
    assert {names.get(n, n) for n in sync} == {
        n for n in vars(AsyncSession) if not n.startswith("_") or n in names.values()
    }
    for name in sync:
        sync_method, async_method = getattr(Session, name), getattr(AsyncSession, names.get(name, name))
        assert inspect.signature(sync_method).parameters.keys() == inspect.signature(async_method).parameters.keys()
        assert inspect.iscoroutinefunction(async_method) and not inspect.iscoroutinefunction(sync_method), name


def test_bash_sessions_and_bash_cells_in_python_sessions(client: VerifierClient) -> None:
    with client.session(language="bash", files={"in.txt": "hello"}) as sh:
        sh.run("cd /tmp && export GREETING=$(cat /work/in.txt)")
        assert sh.run("echo $GREETING from $PWD").stdout == "hello from /tmp\n"
        failed = sh.run("ls /nonexistent")
        assert failed.status is CellStatus.ERROR and failed.error.startswith("exit status")
        with pytest.raises(InvalidArgumentError, match="language"):
            sh.run("1", language="python")
        with pytest.raises(InvalidArgumentError, match="timeout_s"):
            sh.run("echo never", timeout_s=-1)
    with client.session(language="python") as py:
        py.run("open('from_python', 'w').write('1')")
        assert py.run("cat from_python", language="bash").stdout == "1"


def test_a_failing_setup_raises_and_leaves_no_session(client: VerifierClient) -> None:
    session = client.session(setup="import no_such_module_here")
    with pytest.raises(SessionSetupError, match="ModuleNotFoundError") as raised:
        session.open()
    assert raised.value.result.status is CellStatus.ERROR
    with pytest.raises(SessionLostError, match="was closed"):
        session.run("1")


def test_calls_on_gone_sessions_are_not_found_and_name_the_session(client: VerifierClient) -> None:
    s = client.session().open()
    s.close()
    with pytest.raises(SessionLostError) as closed:
        s.run("1")
    assert closed.value.status.name == "NOT_FOUND" and s.session_id in closed.value.message
    assert "was closed" in closed.value.message
    real = client.session().open()
    ghost = client.session()
    ghost._bind(real.replica, dataclasses.replace(real.info, session_id="deadbeef-no-such-session"))
    with pytest.raises(SessionLostError, match=r"not on this replica .* opened on replica deadbeef"):
        ghost.run("1")
    real.close()


def test_a_lost_session_says_why(client: VerifierClient) -> None:
    with client.session(limits=SessionLimits(memory_bytes=64 * 1024 * 1024)) as s:
        r = s.run("chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))", timeout_s=30)
        if r.status is CellStatus.LOST:
            assert r.session_lost and "out of memory" in r.error
            with pytest.raises(SessionLostError, match="out of memory"):
                s.run("1")
        else:
            assert r.status is CellStatus.ERROR and r.error.startswith("MemoryError")


def test_idle_sessions_expire_and_say_so(start_server: StartServer) -> None:
    config = session_config(session_idle_ttl_s=3.0)
    server = start_server(config=config)
    with VerifierClient(server.address, timeout_s=30) as client:
        s = client.session(setup="import subprocess\np = subprocess.Popen(['sleep', '600'])").open()
        busy = client.session().open()
        started = time.monotonic()
        assert busy.run("import time\ntime.sleep(7)", timeout_s=30).ok  # a call in flight outlives the TTL
        assert time.monotonic() - started >= 7
        assert busy.run("1").ok
        with pytest.raises(SessionLostError, match=r"expired after 3s without a call"):
            s.run("1")
    eventually(lambda: not session_processes(config), timeout_s=60)


def test_a_sigkilled_client_leaves_no_session_after_its_ttl(start_server: StartServer) -> None:
    config = session_config(session_idle_ttl_s=2.0)
    server = start_server(config=config)
    child = textwrap.dedent(
        f"""
        import sys, time
        from sdk import VerifierClient
        client = VerifierClient({server.address!r})
        s = client.session(setup="import subprocess\\nkids = [subprocess.Popen(['sleep', '600']) for _ in range(3)]")
        s.open()
        s.fork(2)
        print(s.session_id, flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", child], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    session_id = proc.stdout.readline().strip()
    assert session_id and session_processes(config)
    with VerifierClient(server.address) as admin:
        assert {info.session_id for info in admin.list_sessions()} >= {session_id}
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        eventually(lambda: not admin.list_sessions(), timeout_s=60)
    eventually(lambda: not session_processes(config), timeout_s=60)


def test_caps_are_resource_exhausted_with_a_retry_after(start_server: StartServer) -> None:
    config = session_config(max_sessions_per_client=2, session_idle_ttl_s=30.0)
    server = start_server(config=config)
    with VerifierClient(server.address, timeout_s=60, retry=NO_RETRY, client_id="greedy") as client:
        first, second = client.session().open(), client.session().open()
        with pytest.raises(ResourceExhaustedError, match="client 'greedy' holds 2 of its 2 sessions") as full:
            client.session().open()
        assert full.value.retry_after_s is not None and 0 < full.value.retry_after_s <= 31
        with pytest.raises(ResourceExhaustedError):
            first.fork(1)
        with VerifierClient(server.address, client_id="other") as other:
            other.session().open().close()  # another client still has room
        second.close()
        (copy,) = first.fork(1)  # room again
        assert copy.run("1 + 1").result == "2"


def test_session_trees_are_capped_apart_from_sessions(start_server: StartServer) -> None:
    """Each opened session (with its forks) runs as a uid pair of its own: max_session_trees bounds them."""
    server = start_server(config=session_config(max_session_trees=1))
    with VerifierClient(server.address, timeout_s=60, retry=NO_RETRY) as client:
        first = client.session().open()
        with pytest.raises(ResourceExhaustedError, match=r"runs 1 session trees, its most \(max_session_trees"):
            client.session().open()
        forks = first.fork(3)  # forks share their tree's uids
        first.close()
        with pytest.raises(ResourceExhaustedError):
            client.session().open()  # the tree lives on in its forks
        for fork in forks:
            fork.close()
        assert client.session().open().run("1 + 1").result == "2"


def test_roles_sessions_need_a_token_and_listing_them_needs_admin(start_server: StartServer, tmp_path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("score-token score\nadmin-token admin\n")
    server = start_server(config=session_config(auth_tokens_file=str(tokens)))
    with (
        VerifierClient(server.address, token="score-token") as scorer,
        VerifierClient(server.address, token="admin-token") as admin,
    ):
        with scorer.session() as s:
            assert s.run("6 * 7").result == "42"
            with pytest.raises(PermissionDeniedError, match="ListSessions needs the admin role"):
                scorer.list_sessions()
            listed = admin.list_sessions()
            assert [info.session_id for info in listed] == [s.session_id]
            assert listed[0].cells_run == 1 and listed[0].limits.memory_bytes > 0


def test_session_calls_are_counted_in_metrics(start_server: StartServer) -> None:
    server = start_server(config=session_config(), extra_args=["--metrics-port", "0"])
    port = int(eventually(lambda: _metrics_port(server), timeout_s=60))
    with VerifierClient(server.address) as client, client.session() as s:
        s.run("1")
        s.run("1/0")
        s.fork(1)[0].close()
    assert scrape_counter(port, "verifier_session_cells_total", language="python", status="ok") == 1
    assert scrape_counter(port, "verifier_session_cells_total", status="error") == 1
    assert scrape_counter(port, "verifier_session_events_total", event="opened") == 1
    assert scrape_counter(port, "verifier_session_events_total", event="forked") == 1
    assert scrape_counter(port, "verifier_requests_total", method="RunCell", code="OK") == 2


def test_scoring_needs_a_code_verifier(client: VerifierClient) -> None:
    with client.session() as s, pytest.raises(InvalidArgumentError, match="code-kind verifier"):
        s.score("think-answer-format", {})


def test_a_session_stays_on_its_replica_and_dies_with_it(start_server: StartServer) -> None:
    one = start_server(config=session_config())
    two = start_server(config=session_config())
    with VerifierClient([one.address, two.address], timeout_s=20) as client:
        sessions = [client.session(setup=f"name = {i}").open() for i in range(4)]
        assert {s.replica for s in sessions} == {one.address, two.address}
        assert len({s.info.replica_id for s in sessions}) == 2
        for i, s in enumerate(sessions):
            assert s.run("name").result == str(i)  # each call reached the replica holding it
            assert s.fork(1)[0].replica == s.replica
        one.kill()
        for s in sessions:
            if s.replica == one.address:
                started = time.monotonic()
                with pytest.raises(SessionLostError, match=r"cannot be reached.*the session is lost") as lost:
                    s.run("name")
                assert lost.value.session_id == s.session_id and time.monotonic() - started < 15
            else:
                assert s.run("name").ok
        assert client.session().open().replica == two.address  # new sessions go where they can


def _metrics_port(server: ServerProcess) -> int | None:
    for line in server.log_text().splitlines():
        if line.startswith("{") and '"metrics_port"' in line:
            port = json.loads(line).get("metrics_port")
            return int(port) if port else None
    return None


def test_function_call_and_script_tests_score_the_live_functions(client: VerifierClient) -> None:
    code = {"name": "session-tests", "kind": "code", "config": {}}  # inline spec; tests style detected per reference
    setup = "def add(a, b):\n    return a + b\nclass Solution:\n    def twice(self, n):\n        return 2 * n"
    with client.session(setup=setup) as s:
        calls = s.score(code, {"inputs": [[2, 3], [1, 1]], "outputs": [5, 3], "fn_name": "add"})
        assert (calls.score, calls.details["style"]) == (0.5, "function")
        assert s.score(code, {"inputs": [[4]], "outputs": [8], "fn_name": "twice"}).score == 1.0
        script = "from solution import add\n\ndef test_add():\n    assert add(2, 2) == 4\n\n"
        scored = s.score(code, {"test_script": script + "def test_wrong():\n    assert add(2, 2) == 5\n"})
        assert scored.score == 0.5 and {t["name"] for t in scored.details["tests"]} == {"test_add", "test_wrong"}
        stdio = s.score(code, {"input_output": {"inputs": ["1\n"], "outputs": ["1\n"]}})
        assert stdio.outcome == "invalid_input" and "need a program" in stdio.reason


def test_a_bash_session_is_scored_on_the_files_it_wrote(client: VerifierClient) -> None:
    with client.session(language="bash") as sh:
        sh.run("mkdir out && echo 42 > out/answer.txt")
        result = sh.score("python-tests", {"test_list": ["assert open('out/answer.txt').read() == '42\\n'"]})
        assert result.score == 1.0


def test_a_session_cannot_reach_the_server_that_runs_it(session_server: ServerProcess, client: VerifierClient) -> None:
    port = session_server.port
    probe = f"import socket\nc = socket.socket()\nc.settimeout(2)\nc.connect(('127.0.0.1', {port}))"
    with client.session() as s:
        refused = s.run(probe)
        assert refused.status is CellStatus.ERROR and "OSError" in refused.error, refused
        (fork,) = s.fork(1)
        assert fork.run(probe).status is CellStatus.ERROR
        shell = fork.run(f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected", language="bash")
        assert shell.status is CellStatus.ERROR and "connected" not in shell.stdout
        fork.close()


def test_per_test_isolation_and_stop_on_failure_apply_to_a_live_candidate(client: VerifierClient) -> None:
    """There is one live candidate: a per_test verifier scores it in that one copy (isolation is
    forced to shared), and stop_on_failure skips what follows the first failure, as for programs."""
    spec = {"name": "strict", "kind": "code", "config": {"isolation": "per_test", "stop_on_failure": True}}
    with client.session(setup="def add(a, b):\n    return a + b") as s:
        tests = ["assert add(1, 1) == 2", "assert add(1, 1) == 3", "assert add(2, 2) == 4"]
        scored = s.score(spec, {"test_list": tests})
        verdicts = [t["verdict"] for t in scored.details["tests"]]
        assert verdicts == ["passed", "wrong_answer", "skipped"], scored.details
        assert scored.outcome == "ok" and scored.score == pytest.approx(1 / 3)


def test_a_checker_program_and_a_crashing_candidate_are_judged_as_for_programs(client: VerifierClient) -> None:
    """The checker program decides a live candidate's returned values; a copy that dies mid-test fails
    that test and the ones it can no longer serve (the candidate's 0, never an error of ours)."""
    checker = "def check(args, returned, expected):\n    return abs(returned - expected) < 0.5\n"
    spec = {"name": "near", "kind": "code", "config": {"checker": "program", "checker_source": checker}}
    setup = "import os\ndef half(n):\n    return n / 2\ndef boom():\n    os._exit(3)\n"
    with client.session(setup=setup) as s:
        near = s.score(spec, {"inputs": [[5], [9]], "outputs": [2.4, 7], "fn_name": "half"})
        assert [t["verdict"] for t in near.details["tests"]] == ["passed", "wrong_answer"], near.details
        crashed = s.score("python-tests", {"test_list": ["assert half(4) == 2", "boom()", "assert half(2) == 1"]})
        verdicts = [t["verdict"] for t in crashed.details["tests"]]
        assert crashed.outcome == "ok" and verdicts == ["passed", "runtime_error", "runtime_error"], crashed.details
        assert "the solution process ended" in crashed.details["tests"][1]["error"]
        assert s.run("print(half(8))").stdout == "4.0\n"  # the session itself is untouched


def test_capabilities_advertise_sessions(client: VerifierClient, start_server: StartServer) -> None:
    offered = client.capabilities().sessions
    assert offered is not None and offered.languages == ("python", "bash")
    assert (offered.max_sessions, offered.max_session_trees, offered.max_sessions_per_client) == (16, 16, 64)
    assert offered.max_fork == 64
    assert offered.max_limits.idle_ttl_s == 300.0 and offered.max_limits.memory_bytes == 4096 << 20
    off = start_server(config=session_config(max_sessions=0))
    with VerifierClient(off.address) as other:
        assert other.capabilities().sessions is None
        with pytest.raises(RPCError, match="sessions are turned off") as off_error:
            other.session().open()
        assert off_error.value.status is StatusCode.FAILED_PRECONDITION


def test_a_server_whose_session_uids_another_server_holds_refuses_to_start(session_server: ServerProcess) -> None:
    """Session uids are claimed exclusively at start, from the sandbox uid range, like the slots'."""
    shared = {key: SERVER_CONFIG[key] for key in ("sandbox_uid_base", "sandbox_uid_range_size")}
    with pytest.raises(RuntimeError, match=r"refusing to start: the uids for 16 session trees") as refused:
        start_server_process(config=session_config(**shared))
    assert f"pid {session_server.pid} on host" in str(refused.value)  # the holder is named


def test_with_auth_a_session_is_its_tokens_alone(start_server: StartServer, tmp_path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("alice score\nbob score\nadmin-token admin\n")
    server = start_server(config=session_config(auth_tokens_file=str(tokens), max_sessions_per_client=2))
    with (
        VerifierClient(server.address, token="alice", client_id="a1") as alice,
        VerifierClient(server.address, token="alice", client_id="a2") as alice_again,
        VerifierClient(server.address, token="bob") as bob,
        VerifierClient(server.address, token="admin-token") as admin,
    ):
        s = alice.session(setup="secret = 42").open()
        held_by = {name: _handle(other, s) for name, other in (("bob", bob), ("admin", admin))}
        with pytest.raises(SessionLostError, match="unknown session"):
            held_by["bob"].run("secret")
        with pytest.raises(SessionLostError, match="unknown session"):
            held_by["bob"].fork(1)
        with pytest.raises(SessionLostError, match="unknown session"):
            held_by["bob"].score("python-tests", {"test_list": ["assert secret == 42"]})
        with pytest.raises(SessionLostError, match="unknown session"):
            held_by["admin"].run("secret")  # admins may list and close sessions, not use them
        assert held_by["bob"].close() is False and s.run("secret").result == "42"
        # The per-client cap keys on the token: another client id does not buy alice more sessions.
        alice_again.session().open()
        with pytest.raises(ResourceExhaustedError, match=r"client 'token:[0-9a-f]{12}' holds 2 of its 2"):
            alice_again.session().open()
        bob.session().open()  # bob's own share is untouched
        assert held_by["admin"].close() is True
        with pytest.raises(SessionLostError, match="was closed"):
            s.run("secret")


def _handle(client: VerifierClient, session: Session) -> Session:
    """`client`'s handle on `session`'s id, as if it had learnt the id somehow."""
    handle = Session(client, None, None)
    handle._bind(session.replica, session.info)
    return handle
