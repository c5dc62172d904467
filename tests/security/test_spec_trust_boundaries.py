"""What a spec may make the server reach: only what the server's own configuration allows.

Every test runs a real server with auth on and, where an endpoint is involved, a real HTTP
listener on loopback standing in for the attacker's (or an internal service).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from security_support import (
    ADMIN_TOKEN,
    CANARY,
    ESSAY,
    SCORE_TOKEN,
    Listener,
    Reply,
    auth_args,
    chat_reply,
    judge_spec,
)

from sdk import InvalidArgumentError, PermissionDeniedError, VerifierClient
from verifier_server.testing import StartServer

SERVER_ENV = {"CLOUD_SECRET_KEY": CANARY, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def judge_server(start_server: StartServer, tmp_path: Path, **judge: Any) -> str:
    config = {"kinds": {"judge": judge}} if judge else None
    server = start_server(extra_args=auth_args(tmp_path), env=SERVER_ENV, config=config)
    return server.address


def everything_said(results: list[Any]) -> str:
    return json.dumps([[r.reason, r.details] for r in results])


# -- finding 1: secrets and internal URLs -----------------------------------------------------


@pytest.mark.parametrize("key_variable", ["CLOUD_SECRET_KEY", "VERIFIER_AUTH_TOKENS", None])
def test_a_score_token_cannot_point_a_judge_at_its_own_endpoint(
    start_server: StartServer, tmp_path: Path, listener: Listener, key_variable: str | None
):
    address = judge_server(start_server, tmp_path)
    listener.reply = chat_reply("Score: 7")
    spec = judge_spec(listener.base_url, **({"api_key_env": key_variable} if key_variable else {}))
    with VerifierClient(address, token=SCORE_TOKEN, timeout_s=60) as client:
        with pytest.raises(PermissionDeniedError, match=r"config\.base_url"):
            client.score(spec, **ESSAY)
    with VerifierClient(address, token=ADMIN_TOKEN, timeout_s=60) as admin:  # an admin token is no way around it
        with pytest.raises(PermissionDeniedError, match=r"config\.base_url"):
            admin.register(spec)
    assert listener.requests == []


def test_an_allowed_endpoint_receives_only_the_key_variables_allowed_for_it(
    start_server: StartServer, tmp_path: Path, listener: Listener
):
    address = judge_server(
        start_server, tmp_path, openai_endpoints=[{"base_url": listener.base_url, "api_key_envs": ["JUDGE_KEY"]}]
    )
    listener.reply = chat_reply("Score: 7")
    with VerifierClient(address, token=SCORE_TOKEN, timeout_s=60) as client:
        with pytest.raises(PermissionDeniedError, match=r"config\.api_key_env"):
            client.score(judge_spec(listener.base_url, api_key_env="CLOUD_SECRET_KEY"), **ESSAY)
        assert listener.requests == []
        [result] = client.score(judge_spec(listener.base_url), **ESSAY)  # no key: allowed, and it scores
    assert result.outcome.value == "ok" and result.score == pytest.approx(6 / 9)
    assert len(listener.requests) == 1 and "Authorization" not in listener.requests[0]["headers"]
    assert CANARY not in json.dumps(listener.requests)


@pytest.mark.parametrize(
    "url_of",
    [
        lambda base: base.replace("/v1", "/admin"),  # another path on the allowed host
        lambda base: base.replace("127.0.0.1", "localhost"),  # another name for it is another entry
        lambda base: base.replace("http://", "http://user:pw@"),  # credentials in the URL
        lambda base: base + "/../../internal",  # climbing out of the allowed path
        lambda base: base.rsplit(":", 1)[0] + ":1/v1",  # another port
    ],
)
def test_urls_outside_the_allow_list_are_refused(
    start_server: StartServer, tmp_path: Path, listener: Listener, url_of: Any
):
    address = judge_server(start_server, tmp_path, openai_endpoints=[listener.base_url])
    with VerifierClient(address, token=SCORE_TOKEN, timeout_s=60) as client:
        with pytest.raises((PermissionDeniedError, InvalidArgumentError), match=r"config\.base_url"):
            client.score(judge_spec(url_of(listener.base_url)), **ESSAY)
    assert listener.requests == []


@pytest.mark.parametrize(
    "reply",
    [
        Reply(500, f"internal error page: {CANARY}"),
        Reply(403, f"forbidden: {CANARY}"),
        Reply(200, f"<html>{CANARY}</html>"),
        Reply(200, json.dumps({"choices": [], "leak": CANARY})),
    ],
)
def test_an_endpoints_raw_reply_never_reaches_the_caller(
    start_server: StartServer, tmp_path: Path, listener: Listener, reply: Reply
):
    address = judge_server(start_server, tmp_path, openai_endpoints=[listener.base_url])
    listener.reply = reply
    with VerifierClient(address, token=SCORE_TOKEN, timeout_s=60) as client:
        results = client.score(judge_spec(listener.base_url), **ESSAY)
    assert results[0].outcome.value == "error" and results[0].score is None
    said = everything_said(results)
    assert CANARY not in said
    assert "HTTP" in said or "unreadable response" in said  # the class of failure is still reported


# -- finding 2: code execution and downloads ----------------------------------------------------


def evil_model_dir(root: Path, marker: Path) -> Path:
    """A model folder whose own Python, if imported, leaves ``marker`` behind."""
    model = root / "evil-model"
    model.mkdir(parents=True)
    code = f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
    (model / "evil.py").write_text(
        code
        + "from transformers import PretrainedConfig\nclass EvilConfig(PretrainedConfig):\n    model_type = 'evil'\n"
    )
    (model / "config.json").write_text(
        json.dumps(
            {
                "model_type": "evil",
                "auto_map": {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilConfig"},
                "architectures": ["EvilConfig"],
            }
        )
    )
    (model / "tokenizer_config.json").write_text(json.dumps({"auto_map": {"AutoTokenizer": ["evil.EvilConfig", None]}}))
    return model


def test_a_spec_cannot_make_the_server_import_a_models_code(start_server: StartServer, tmp_path: Path):
    marker = tmp_path / "imported-by-the-server"
    model = evil_model_dir(tmp_path / "models", marker)
    address = judge_server(start_server, tmp_path, model_roots=[str(tmp_path / "models")])
    spec = {
        "name": "remote-code",
        "kind": "judge",
        "config": {"type": "llm", "model": str(model), "template": "rubric", "trust_remote_code": True},
    }
    with VerifierClient(address, token=SCORE_TOKEN, timeout_s=120) as client:
        with pytest.raises(PermissionDeniedError, match=r"config\.trust_remote_code"):
            client.score(spec, **ESSAY)
    assert not marker.exists()


def test_downloads_are_a_server_only_setting(start_server: StartServer, tmp_path: Path):
    address = judge_server(start_server, tmp_path)
    spec = {
        "name": "download",
        "kind": "judge",
        "config": {"type": "llm", "model": "someone/any-model", "template": "rubric", "allow_download": True},
    }
    with VerifierClient(address, token=SCORE_TOKEN, timeout_s=120) as client:
        with pytest.raises(PermissionDeniedError, match=r"config\.allow_download"):
            client.score(spec, **ESSAY)


def model_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


def test_local_models_load_only_from_the_configured_roots(start_server: StartServer, tmp_path: Path):
    allowed = model_folder(tmp_path / "models" / "judge")
    outside = model_folder(tmp_path / "elsewhere" / "judge")
    (tmp_path / "models" / "link").symlink_to(outside)
    address = judge_server(start_server, tmp_path, model_roots=[str(tmp_path / "models")])

    def spec(model: str) -> dict[str, Any]:
        return {"name": "local", "kind": "judge", "config": {"type": "llm", "model": model, "template": "rubric"}}

    with VerifierClient(address, token=ADMIN_TOKEN, timeout_s=120) as admin:
        assert admin.register(spec(str(allowed))).version == 1  # compiles; the model loads on first use
        for model in (str(outside), str(tmp_path / "models" / "link"), f"{tmp_path}/models/../elsewhere/judge", "/"):
            with pytest.raises(PermissionDeniedError, match=r"config\.model"):
                admin.register(spec(model))
