"""Bounded work per request: no spec or completion may stall the server or multiply its work.

Each test keeps the server's health check answering while the hostile request is handled
(the event loop stays free), and checks the request is refused or its samples fail alone.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from security_support import ADMIN_TOKEN, SCORE_TOKEN, SERVING, auth_args, health_status

from sdk import InvalidArgumentError, VerifierClient
from verifier_server.testing import ServerProcess, StartServer

HEALTH_DEADLINE_S = 30.0
"""Ample: a free event loop answers in milliseconds; the stalls these tests guard against last minutes."""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def while_handling(server: ServerProcess, call: Callable[[], Any]) -> Any:
    """Run ``call`` in a thread and check health answers meanwhile; return what ``call`` returned or raised."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except Exception as exc:  # handed to the test below
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    try:
        while worker.is_alive():
            assert health_status(server.address, HEALTH_DEADLINE_S) == SERVING
            worker.join(0.2)
    finally:
        worker.join()
    if "error" in outcome:
        return outcome["error"]
    return outcome["value"]


def child(i: int) -> dict[str, Any]:
    return {"verifier": "json-valid", "label": f"c{i}"}


@pytest.mark.parametrize("count", [80_000, 20_000])
def test_a_composite_with_huge_fan_in_is_refused_without_stalling(
    start_server: StartServer, tmp_path: Path, count: int
):
    """80,000 children (3 MB) is over the spec size limit; 20,000 (0.8 MB) over the children limit."""
    server = start_server(extra_args=auth_args(tmp_path))
    spec = {"name": "wide", "kind": "composite", "config": {"children": [child(i) for i in range(count)]}}
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=300) as client:
        error = while_handling(server, lambda: client.score(spec, ["{}"]))
    assert isinstance(error, InvalidArgumentError)
    assert "config_json" in error.message or "config.children" in error.message


def test_registered_composites_cannot_multiply_into_exponential_fan_out(start_server: StartServer, tmp_path: Path):
    """C_k has two children, both C_(k-1): a DAG of K registrations would reach 2^K leaves."""
    server = start_server(extra_args=auth_args(tmp_path), config={"kinds": {"composite": {"max_leaves": 64}}})
    with VerifierClient(server.address, token=ADMIN_TOKEN, timeout_s=120) as admin:
        previous = "json-valid"
        for level in range(1, 7):  # 2, 4, ... 64 leaves: all within the bound
            name = f"dag-{level}"
            admin.register({"name": name, "kind": "composite", "config": {"children": [
                {"verifier": previous, "label": "left"}, {"verifier": previous, "label": "right"}]}})  # fmt: skip
            previous = name
        with pytest.raises(InvalidArgumentError, match=r"config\.children.*max_leaves"):
            admin.register({"name": "dag-7", "kind": "composite", "config": {"children": [
                {"verifier": previous, "label": "left"}, {"verifier": previous, "label": "right"}]}})  # fmt: skip
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=120) as client:
        [result] = client.score("dag-6", ["{}"])
        assert result.outcome.value == "ok" and len(result.components) == 2


def test_a_child_that_grows_after_registration_cannot_push_fan_out_past_the_bound(
    start_server: StartServer, tmp_path: Path
):
    server = start_server(extra_args=auth_args(tmp_path), config={"kinds": {"composite": {"max_leaves": 8}}})
    with VerifierClient(server.address, token=ADMIN_TOKEN, timeout_s=120) as admin:
        admin.register({"name": "part", "kind": "composite", "config": {"children": ["json-valid"]}})
        admin.register({"name": "whole", "kind": "composite", "config": {"children": [
            {"verifier": "part", "label": f"p{i}"} for i in range(4)]}})  # fmt: skip
        assert admin.score("whole", ["{}"])[0].score == 4.0
        # "part" grows to 4 leaves: "whole" (unpinned) would now reach 16
        admin.register({"name": "part", "kind": "composite", "config": {"children": [child(i) for i in range(4)]}})
    deadline = time.monotonic() + 60
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=120) as client:
        while True:  # unpinned children are re-resolved once the server's short cache of latest versions expires
            [result] = client.score("whole", ["{}"])
            if result.outcome.value != "ok" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    assert result.outcome.value == "error" and result.score is None and "max_leaves" in result.reason


@pytest.mark.parametrize("depth", [12, 150])
def test_deeply_nested_inline_composites_are_refused(start_server: StartServer, tmp_path: Path, depth: int):
    server = start_server(extra_args=auth_args(tmp_path))
    spec: dict[str, Any] = {"kind": "format", "config": {"type": "json"}}
    for level in range(depth):
        spec = {"name": f"n{level}", "kind": "composite", "config": {"children": [{"verifier": spec}]}}
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=120) as client:
        with pytest.raises(InvalidArgumentError, match=r"max_depth|nested"):
            client.score(spec, ["{}"])
        assert client.score("json-valid", ["{}"])[0].score == 1.0  # and the server is fine


CATASTROPHIC = "^(a|aa)+$"
HOSTILE_TEXT = "a" * 60 + "!"


def test_catastrophic_regexes_cost_their_samples_a_timeout_not_the_server(start_server: StartServer, tmp_path: Path):
    server = start_server(extra_args=auth_args(tmp_path), config={"kinds": {"format": {"batch_budget_s": 3}}})
    spec = {
        "name": "slow-regex",
        "kind": "format",
        "config": {"type": "regex", "pattern": CATASTROPHIC, "timeout_s": 1},
    }
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=300) as client:
        results = while_handling(server, lambda: client.score(spec, [HOSTILE_TEXT] * 30))
    assert not isinstance(results, Exception), results
    assert {r.outcome.value for r in results} == {"timeout"} and all(r.score is None for r in results)


def test_a_schema_pattern_cannot_hang_the_server(start_server: StartServer, tmp_path: Path):
    server = start_server(extra_args=auth_args(tmp_path))
    schema = {"type": "object", "properties": {"name": {"type": "string", "pattern": CATASTROPHIC}}}
    spec = {"name": "schema", "kind": "format", "config": {"type": "json", "schema": schema}}
    completions = [json.dumps({"name": HOSTILE_TEXT}), json.dumps({"name": "aaa"})]
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=300) as client:
        hostile, fine = while_handling(server, lambda: client.score(spec, completions))
    assert hostile.outcome.value == "timeout" and hostile.score is None
    assert fine.outcome.value == "ok" and fine.score == 1.0


def test_a_deeply_nested_completion_fails_alone(start_server: StartServer, tmp_path: Path):
    server = start_server(extra_args=auth_args(tmp_path))
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=120) as client:
        good, deep = client.score("json-valid", ["[1, 2]", "[" * 200_000 + "]" * 200_000])
    assert good.outcome.value == "ok" and good.score == 1.0
    assert deep.outcome.value == "ok" and deep.score == 0.0 and "nested" in deep.reason
