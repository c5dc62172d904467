"""Who the server thinks is calling: fairness keyed on the token, what each role may see, odd names."""

from __future__ import annotations

import io
import json
import threading
import uuid
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from security_support import (
    ADMIN_TOKEN,
    ESSAY,
    OTHER_SCORE_TOKEN,
    SCORE_TOKEN,
    Listener,
    auth_args,
    chat_reply,
    judge_spec,
)

from sdk import InvalidArgumentError, NotFoundError, ResourceExhaustedError, VerifierClient
from sdk._base import RetryPolicy
from sdk.cli.main import main as cli_main
from verifier_server.testing import StartServer

NO_RETRIES = RetryPolicy(max_attempts=1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_fairness_is_keyed_on_the_token_not_on_the_client_id_a_caller_chooses(
    start_server: StartServer, tmp_path: Path, listener: Listener
):
    """A token holding its share cannot take more by sending a fresh ``x-client-id`` per request."""
    server = start_server(
        extra_args=auth_args(tmp_path),
        config={
            "per_client_fraction": 0.5,
            "kinds": {"judge": {"openai_endpoints": [listener.base_url], "max_inflight_samples": 4}},
        },
    )
    listener.reply = chat_reply("Score: 5")
    listener.hold = threading.Event()
    spec = judge_spec(listener.base_url, max_wait_ms=0, timeout_s=120, request_timeout_s=120)
    finished: list[Any] = []

    def score(token: str, client_id: str, count: int) -> None:
        with VerifierClient(server.address, token=token, client_id=client_id, retry=NO_RETRIES, timeout_s=120) as c:
            essays = {key: value * count for key, value in ESSAY.items()}
            essays["completions"] = [f"{client_id} essay {i}" for i in range(count)]
            try:
                finished.append(c.score(spec, **essays))
            except Exception as exc:  # collected for the assertions below
                finished.append(exc)

    holders = [
        threading.Thread(target=score, args=(SCORE_TOKEN, "job-a", 2)),
        threading.Thread(target=score, args=(OTHER_SCORE_TOKEN, "job-b", 1)),
    ]
    for thread in holders:
        thread.start()
    try:
        listener.wait_for_in_flight(3)  # token A holds its 2-sample share, token B one sample
        with VerifierClient(
            server.address, token=SCORE_TOKEN, client_id=f"rotated-{uuid.uuid4().hex}", retry=NO_RETRIES, timeout_s=30
        ) as rotating:
            with pytest.raises(ResourceExhaustedError, match="token:"):
                rotating.score(spec, **ESSAY)
    finally:
        listener.hold.set()
        for thread in holders:
            thread.join(120)
    assert all(not isinstance(item, Exception) for item in finished), finished


@pytest.mark.parametrize("suffix", ["99999999999999999999", "1" * 40, "٣", "１", "-1", "0", "1.5", "", "2@3"])
def test_odd_version_suffixes_are_invalid_arguments(start_server: StartServer, tmp_path: Path, suffix: str):
    server = start_server(extra_args=auth_args(tmp_path))
    with VerifierClient(server.address, token=ADMIN_TOKEN, timeout_s=30) as admin:
        admin.register({"name": "registered", "kind": "format", "config": {"type": "json"}})
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=30, retry=NO_RETRIES) as client:
        for name in ("json-valid", "registered"):  # a built-in, and one the registry looks up
            with pytest.raises(InvalidArgumentError, match="version"):
                client.get(f"{name}@{suffix}")
            with pytest.raises(InvalidArgumentError, match="version"):
                client.score(f"{name}@{suffix}", ["{}"])


SECRET_PATTERN = "tenant-a-private-pattern-5e1f"


def test_score_role_callers_see_names_not_other_tenants_specs(start_server: StartServer, tmp_path: Path):
    server = start_server(extra_args=auth_args(tmp_path))
    name = unique("tenant-a")
    with VerifierClient(server.address, token=ADMIN_TOKEN, timeout_s=30) as admin:
        admin.register({"name": name, "kind": "format", "description": "tenant A's check",
                        "config": {"type": "regex", "pattern": SECRET_PATTERN}})  # fmt: skip
        assert admin.get(name).spec.config["pattern"] == SECRET_PATTERN  # admins see everything
        assert any(info.spec.config.get("pattern") == SECRET_PATTERN for info in admin.list())
    with VerifierClient(server.address, token=SCORE_TOKEN, timeout_s=30) as client:
        info = client.get(name)
        assert (info.name, info.version, info.spec.kind, info.spec.description) == (
            name,
            1,
            "format",
            "tenant A's check",
        )
        assert info.spec.config == {}
        listing = client.list(all_versions=True)
        assert name in {i.name for i in listing}
        assert all(i.spec.config == {} for i in listing)  # built-ins too: their configs hold server paths
        with pytest.raises(NotFoundError) as missing:
            client.get(name + "x")
        assert SECRET_PATTERN not in missing.value.message
        assert client.score(name, [SECRET_PATTERN])[0].score == 1.0  # scoring by name still works


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli_main(list(args))
    return code, out.getvalue()


def test_the_cli_lists_and_shows_for_both_roles(start_server: StartServer, tmp_path: Path):
    server = start_server(extra_args=auth_args(tmp_path))
    name = unique("cli-tenant")
    with VerifierClient(server.address, token=ADMIN_TOKEN, timeout_s=30) as admin:
        admin.register({"name": name, "kind": "format", "config": {"type": "regex", "pattern": SECRET_PATTERN}})
    for token, sees_config in ((SCORE_TOKEN, False), (ADMIN_TOKEN, True)):
        code, listed = run_cli("--server", server.address, "--token", token, "list")
        assert code == 0 and name in listed
        code, shown = run_cli("--server", server.address, "--token", token, "show", name)
        assert code == 0
        assert json.loads(shown)["name"] == name
        assert (SECRET_PATTERN in shown) is sees_config
