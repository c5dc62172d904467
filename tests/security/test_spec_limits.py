"""Per-spec limits are capped by the server, and a shared judge model keeps each verifier's own limits."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from security_support import ADMIN_TOKEN, ESSAY, SCORE_TOKEN, Listener, auth_args, chat_reply, judge_spec

from sdk import InvalidArgumentError, VerifierClient
from verifier_server.testing import StartServer


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize(
    ("kind", "config", "field", "setting"),
    [
        ("math", {"timeout_s": 30}, "timeout_s", ("math", "cap_timeout_s", 10)),
        (
            "python",
            {"source": "def reward(p, c, r):\n    return [1.0] * len(c)\n", "time_limit_s": 300},
            "time_limit_s",
            ("python", "cap_time_limit_s", 60),
        ),
        (
            "python",
            {"source": "def reward(p, c, r):\n    return [1.0] * len(c)\n", "memory_mb": 8192},
            "memory_mb",
            ("python", "cap_memory_mb", 1024),
        ),
        ("format", {"type": "regex", "pattern": "x", "timeout_s": 30}, "timeout_s", ("format", "cap_timeout_s", 2)),
    ],
)
def test_limits_above_the_servers_caps_are_refused_naming_the_field(
    start_server: StartServer, tmp_path: Path, kind: str, config: dict[str, Any], field: str, setting: tuple
):
    section, key, cap = setting
    server = start_server(extra_args=auth_args(tmp_path), config={"kinds": {section: {key: cap}}})
    spec = {"name": unique(kind), "kind": kind, "config": config}
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=60) as client:
        with pytest.raises(InvalidArgumentError, match=rf"config\.{field}.*{key}"):
            client.score(spec, ["anything"])
    with VerifierClient(server.address, token=ADMIN_TOKEN, timeout_s=60) as admin:
        with pytest.raises(InvalidArgumentError, match=rf"config\.{field}"):
            admin.register(spec)
        admin.register({**spec, "config": {**config, field: cap}})  # at the cap is fine


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"timeout_s": 5000}, "timeout_s"),
        ({"max_new_tokens": 100_000}, "max_new_tokens"),
        ({"max_concurrency": 10_000}, "max_concurrency"),
        ({"max_batch_size": 100_000}, "max_batch_size"),
        ({"request_timeout_s": 86_400}, "request_timeout_s"),
        ({"max_retries": 20}, "max_retries"),
        ({"max_wait_ms": 600_000}, "max_wait_ms"),
    ],
)
def test_judge_limits_are_capped(
    start_server: StartServer, tmp_path: Path, listener: Listener, overrides: dict[str, Any], field: str
):
    server = start_server(
        extra_args=auth_args(tmp_path), config={"kinds": {"judge": {"openai_endpoints": [listener.base_url]}}}
    )
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=60) as client:
        with pytest.raises(InvalidArgumentError, match=rf"config\.{field}.*\[kinds\.judge\] cap_{field}"):
            client.score(judge_spec(listener.base_url, **overrides), **ESSAY)
    assert listener.requests == []


def test_verifiers_sharing_a_judge_model_keep_their_own_limits(
    start_server: StartServer, tmp_path: Path, listener: Listener
):
    """Whoever loads a shared model first does not set the others' timeouts or concurrency."""
    server = start_server(
        extra_args=auth_args(tmp_path), config={"kinds": {"judge": {"openai_endpoints": [listener.base_url]}}}
    )
    listener.reply = chat_reply("Score: 7")
    listener.delay_s = 0.5
    hasty = judge_spec(listener.base_url, timeout_s=0.05, max_concurrency=1)  # built to time out
    patient = judge_spec(listener.base_url, timeout_s=60, max_concurrency=4, max_wait_ms=0)
    four = {key: value * 4 for key, value in ESSAY.items()}
    four["completions"] = [f"Essay {i}." for i in range(4)]  # distinct, so the cache does not merge them
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=120) as client:
        [first] = client.score({**hasty, "name": "hasty"}, **ESSAY)
        assert first.outcome.value == "timeout"
        listener.wait_for_in_flight(0)  # the abandoned request finishes at the listener
        listener.peak_in_flight = 0
        listener.hold = threading.Event()  # the four are answered only once all four have arrived together
        scored: list[Any] = []
        caller = threading.Thread(target=lambda: scored.extend(client.score({**patient, "name": "patient"}, **four)))
        caller.start()
        try:
            listener.wait_for_in_flight(4)
        finally:
            listener.hold.set()
            caller.join(120)
    assert [r.outcome.value for r in scored] == ["ok"] * 4, [r.reason for r in scored]
    assert listener.peak_in_flight == 4
