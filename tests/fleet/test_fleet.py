"""A verifier fleet on a three-node Ray cluster: placement, ray:// balancing, replacement, fan-out, teardown.

Every replica is a real server with its real sandbox, found through the real controller
actor; each replica's Prometheus metrics say what it served, so nothing trusts the
client's word. A sample's expected score follows from its index (every third program
subtracts instead of adding), so a lost, duplicated or misplaced result is a mismatch.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from ops.support import eventually, scrape_counter

from sdk import (
    AsyncVerifierClient,
    InvalidArgumentError,
    NotFoundError,
    Outcome,
    RemoteReward,
    ScoreResult,
    VerifierClient,
    VerifierError,
    specs,
)
from sdk.adapters import verl as verl_adapter
from sdk.adapters.openrlhf import RemoteRewardFunc
from sdk.adapters.swift import remote_orm
from sdk.cli.main import main as cli_main
from verifier_server.fleet import manage
from verifier_server.fleet.controller import ReplicaStatus

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAME = "fleet-test"
TARGET = f"ray://{NAME}"


def code_batch(size: int) -> tuple[list[str], list[dict[str, Any]]]:
    completions, references = [], []
    for i in range(size):
        operator = "-" if i % 3 == 0 else "+"
        completions.append(f"```python\ndef add(a, b):\n    return a {operator} b\n```")
        references.append({"test_list": [f"assert add({i}, 2) == {i + 2}"]})
    return completions, references


def assert_exactly_once(size: int, results: list[ScoreResult]) -> None:
    assert len(results) == size, "every sample needs exactly one result"
    wrong = [
        (i, r.score, r.outcome)
        for i, r in enumerate(results)
        if r.outcome is not Outcome.OK or r.score != (0.0 if i % 3 == 0 else 1.0)
    ]
    assert not wrong, f"results out of place or wrong: {wrong[:5]}; first: {results[wrong[0][0]] if wrong else None}"


def replicas() -> list[ReplicaStatus]:
    return manage.status(NAME)


def served(replica: ReplicaStatus) -> float:
    """Score calls this replica answered (from its own metrics)."""
    assert replica.metrics_address
    host, _, port = replica.metrics_address.rpartition(":")
    return scrape_counter(int(port), "verifier_requests_total", host=host, method="Score", code="OK")


def busy(replica: ReplicaStatus) -> bool:
    assert replica.metrics_address
    host, _, port = replica.metrics_address.rpartition(":")
    return scrape_counter(int(port), "verifier_inflight_samples", host=host) > 0


def now(replica: ReplicaStatus) -> ReplicaStatus:
    """The same slot's replica as the controller sees it now."""
    return {current.slot: current for current in replicas()}[replica.slot]


def replaced(victim: ReplicaStatus) -> ReplicaStatus | None:
    """The slot's new replica once it serves as a member; None until then."""
    current = now(victim)
    return current if current.member and current.pid != victim.pid and current.restarts > victim.restarts else None


def process_tree(pid: int) -> set[int]:
    """``pid`` and every descendant, read from /proc."""
    found, todo = set(), [pid]
    while todo:
        current = todo.pop()
        found.add(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo.extend(int(child) for child in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(scope="module")
def fleet(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module's fleet, started through the CLI with a config file; yields its data root."""
    root = tmp_path_factory.mktemp("fleet")
    config = root / "server.toml"
    config.write_text("drain_timeout_s = 10.0\nlog_level = 'INFO'\n")
    data_root = root / "replicas"
    command = ["fleet", "up", "--name", NAME, "--config", str(config), "--data-root", str(data_root)]
    assert cli_main([*command, "--wait", "300"]) == 0
    yield data_root
    with contextlib.suppress(VerifierError):
        manage.down(NAME)


def test_up_places_one_replica_per_node(fleet: Path, ray_cluster: Any, capsys: pytest.CaptureFixture[str]):
    import ray

    capsys.readouterr()
    assert cli_main(["fleet", "status", "--name", NAME, "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert len(nodes) == 3
    assert sorted(replica["node_id"] for replica in listed) == sorted(nodes)
    assert all(replica["health"] == "SERVING" and replica["member"] for replica in listed)
    assert len({replica["address"] for replica in listed}) == 3
    assert all(alive(replica["pid"]) for replica in listed)
    with pytest.raises(VerifierError, match="already up"):
        manage.up(manage.fleet_spec(NAME))


def test_registration_through_the_fleet_reaches_every_replica(fleet: Path):
    with VerifierClient(TARGET, timeout_s=120) as client:
        first = client.register(specs.regex("fleet-greeting", "^hello"))
        second = client.register(specs.regex("fleet-greeting", "^hi"))
        doomed = client.register(specs.regex("fleet-doomed", "x"))
        assert client.delete(doomed.name) == 1
        with pytest.raises(InvalidArgumentError):
            client.register({"name": "fleet-bad", "kind": "no-such-kind"})
    assert second.version == first.version + 1
    for replica in replicas():
        with VerifierClient(replica.address) as direct:
            assert direct.get("fleet-greeting").version == second.version
            assert direct.get(f"fleet-greeting@{first.version}").spec.config["pattern"] == "^hello"
            for absent in ("fleet-doomed", "fleet-bad"):
                with pytest.raises(NotFoundError):
                    direct.get(absent)


@pytest.mark.skipif(os.geteuid() != 0, reason="sessions need host root (the fork server)")
def test_sessions_over_a_ray_target_spread_over_replicas_and_stay_on_theirs(fleet: Path):
    members = {replica.address for replica in replicas() if replica.member}
    with VerifierClient(TARGET, timeout_s=120) as client:
        sessions = [client.session(setup=f"n = {i}").open() for i in range(len(members))]
        try:
            assert {s.replica for s in sessions} == members  # round robin over the fleet's replicas
            for i, s in enumerate(sessions):
                (fork,) = s.fork(1)
                assert fork.replica == s.replica and fork.run("n * 10").result == str(i * 10)
                fork.close()
        finally:
            for s in sessions:
                s.close()


def test_a_large_batch_spreads_over_every_replica(fleet: Path):
    """No chunking asked for: over a fleet the client splits a batch so every replica gets some.
    (A new channel's first picks go to the replicas that connected first, hence ``eventually``.)"""
    completions, references = code_batch(240)
    with VerifierClient(TARGET, timeout_s=300) as client:

        def every_replica_served() -> bool:
            before = {replica.slot: served(replica) for replica in replicas()}
            assert_exactly_once(240, client.score("python-tests", completions, references=references))
            calls = [served(replica) - before[replica.slot] for replica in replicas()]
            assert sum(calls) == 6  # 240 samples over three replicas: six requests of 40
            return all(count > 0 for count in calls)

        eventually(every_replica_served, timeout_s=180, interval_s=0)


def test_replicas_on_the_callers_node_take_about_half_of_the_calls(fleet: Path):
    import ray

    here = ray.get_runtime_context().get_node_id()
    before = {replica.slot: served(replica) for replica in replicas()}
    completions = [f"ok-{i}" for i in range(300)]
    with VerifierClient(TARGET, timeout_s=180, max_chunk_samples=1) as client:
        results = client.score(specs.regex("fleet-cheap", "^ok"), completions)
    assert [result.score for result in results] == [1.0] * 300
    share = {replica.node_id: (served(replica) - before[replica.slot]) / 300 for replica in replicas()}
    local = share.pop(here)
    # Round robin over [local, local, remote, remote]: a half here, a quarter on each other node
    # while every subchannel stays ready; on a loaded machine a health check that times out takes a
    # replica out of rotation for a while, so only "preferred here, used there" is asserted.
    assert local >= 0.4 and all(other >= 0.05 for other in share.values()), (local, share)


def test_sigkill_mid_batch_scores_every_sample_once_and_the_replica_comes_back(fleet: Path):
    completions, references = code_batch(120)
    with VerifierClient(TARGET, timeout_s=300, max_chunk_samples=3) as client:
        survivor = client.register(specs.regex("fleet-survivor", "^ok"))
        client.list()  # connect first, so the batch starts balanced
        victim = replicas()[0]
        assert victim.pid is not None
        with ThreadPoolExecutor(1) as pool:
            batch = pool.submit(client.score, "python-tests", completions, references=references)
            eventually(lambda: busy(victim), timeout_s=120, interval_s=0.02)
            assert not batch.done(), "the batch finished before the kill; make it larger"
            os.kill(victim.pid, signal.SIGKILL)
            assert_exactly_once(120, batch.result(timeout=300))

        back = eventually(lambda: replaced(victim), timeout_s=120, interval_s=0.5)
        assert not alive(victim.pid)
        with VerifierClient(back.address) as direct:  # rebuilt from the fleet's registration log
            assert direct.get("fleet-survivor").version == survivor.version

        def reaches_the_replacement() -> bool:  # the same client follows the membership change
            small, small_references = code_batch(12)
            assert_exactly_once(12, client.score("python-tests", small, references=small_references))
            return served(back) > 0

        eventually(reaches_the_replacement, timeout_s=120, interval_s=0.5)


def test_a_replica_that_stops_answering_health_checks_is_replaced(fleet: Path):
    """SIGSTOP: the process lives but answers nothing; the controller's health checks notice."""
    victim = replicas()[1]
    pid = victim.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        eventually(lambda: now(victim).health == "UNREACHABLE", timeout_s=60, interval_s=0.1)
        back = eventually(lambda: replaced(victim), timeout_s=180, interval_s=0.5)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    assert back.health == "SERVING"
    eventually(lambda: not alive(pid), timeout_s=30)
    with VerifierClient(TARGET, timeout_s=120) as client:
        completions, references = code_batch(30)
        assert_exactly_once(30, client.score("python-tests", completions, references=references))


def test_every_adapter_the_verl_recipe_and_the_async_client_take_a_ray_target(fleet: Path):
    completions, references = code_batch(6)
    expected = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    test_lists = [r["test_list"] for r in references]
    reward = RemoteReward("python-tests", target=TARGET, timeout_s=120)
    assert reward(completions=completions, test_list=test_lists) == expected

    openrlhf = RemoteRewardFunc("python-tests", target=TARGET, timeout_s=120)
    prompts = [f"Task {i}:\n" for i in range(len(completions))]
    queries = [prompt + completion for prompt, completion in zip(prompts, completions, strict=True)]
    out = openrlhf(queries, prompts, [json.dumps(r) for r in references])
    assert out["rewards"].tolist() == expected
    swift_orm = remote_orm("python-tests", target=TARGET, timeout_s=120)()  # the async form, a loop per batch
    assert asyncio.run(swift_orm(completions, test_list=test_lists)) == expected

    spec = importlib.util.spec_from_file_location("verl_fleet_under_test", EXAMPLES / "verl_fleet.py")
    assert spec is not None and spec.loader is not None
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)

    async def through_asyncio() -> tuple[Any, list[ScoreResult], Any]:
        verl = await verl_adapter.acompute_score(
            "code", completions[1], None, references[1], verifier="python-tests", server=TARGET, timeout_s=120
        )
        assert await recipe.compute_score("gsm8k", "so \\boxed{4}", "4", {}, fleet=NAME, verifier="math") == {
            "score": 1.0,
            "verified": 1.0,
        }
        async with AsyncVerifierClient(TARGET, timeout_s=120) as client:
            results = await client.score("python-tests", completions, references=references)
            info = await client.register(specs.regex("fleet-async", "^a"))
        return verl, results, info

    verl, results, info = asyncio.run(through_asyncio())
    assert verl == {"score": 1.0, "verified": 1.0}
    assert_exactly_once(6, results)
    for replica in replicas():
        with VerifierClient(replica.address) as direct:
            assert direct.get("fleet-async").version == info.version


def test_a_node_that_joins_gets_a_replica_and_one_that_leaves_takes_it_along(fleet: Path, ray_cluster: Any):
    node = ray_cluster.add_node(num_cpus=1)
    with VerifierClient(TARGET, timeout_s=300) as client:
        try:

            def grown() -> ReplicaStatus | None:
                now = replicas()
                joined = [r for r in now if r.node_id == node.node_id and r.member]
                return joined[0] if len(now) == 4 and all(r.member for r in now) else None

            joined = eventually(grown, timeout_s=120, interval_s=0.5)

            def reaches_the_new_node() -> bool:  # the client follows the membership without a restart
                completions, references = code_batch(24)
                assert_exactly_once(24, client.score("python-tests", completions, references=references))
                return served(joined) > 0

            eventually(reaches_the_new_node, timeout_s=120, interval_s=0.5)
        finally:
            ray_cluster.remove_node(node)
        eventually(lambda: len(replicas()) == 3 and all(r.member for r in replicas()), timeout_s=120, interval_s=0.5)
        eventually(lambda: joined.pid is not None and not alive(joined.pid), timeout_s=60)
        completions, references = code_batch(60)
        assert_exactly_once(60, client.score("python-tests", completions, references=references))


def test_down_leaves_no_process(ray_cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """A second fleet, one replica per CPU (each node has one), taken down after it has run code."""
    import ray

    name = "fleet-down"
    spec = manage.fleet_spec(name, cpus_per_replica=1, data_root=str(tmp_path))
    started = manage.up(spec, wait_s=300)
    assert len(started) == 3
    completions, references = code_batch(6)
    with VerifierClient(f"ray://{name}", timeout_s=120) as client:
        assert_exactly_once(6, client.score("python-tests", completions, references=references))
    processes = set().union(*(process_tree(replica.pid) for replica in started if replica.pid))
    assert len(processes) > 3  # servers and what they started (worker pools, sandbox zygotes)

    assert cli_main(["fleet", "down", "--name", name]) == 0
    eventually(lambda: not any(alive(pid) for pid in processes), timeout_s=60)

    def no_actors_left() -> bool:
        named = ray.util.list_named_actors(all_namespaces=True)
        return not [actor for actor in named if actor["name"].startswith(name)]

    eventually(no_actors_left, timeout_s=60)
    assert not (tmp_path / name).exists()  # each replica removed its files, the last one the directory
    capsys.readouterr()
    assert cli_main(["fleet", "status", "--name", name]) == 1
    assert f"no verifier fleet named {name!r}" in capsys.readouterr().err
