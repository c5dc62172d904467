"""Bearer tokens with roles, TLS and mutual TLS on the HTTP face: the same files and rules as gRPC."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from sdk import TLSConfig, VerifierClient
from tests.http.support import ADMIN_TOKEN, SCORE_TOKEN, TIMEOUT_S, expect_error, http_url
from verifier_server.testing import ServerProcess, StartServer

SCORE_BODY = {"verifier": "json-valid", "samples": [{"completion": "{}"}]}


@pytest.fixture
def auth_server(start_server: StartServer, tmp_path: Path) -> ServerProcess:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{ADMIN_TOKEN} admin\n{SCORE_TOKEN} score\n")
    return start_server(extra_args=["--http-port", "0", "--auth-tokens-file", str(tokens)])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_missing_or_unknown_token_is_401(auth_server: ServerProcess):
    url = http_url(auth_server, "/v1/score")
    for headers in ({}, _bearer("wrong-token"), {"Authorization": "Token " + SCORE_TOKEN}):
        response = requests.post(url, json=SCORE_BODY, headers=headers, timeout=TIMEOUT_S)
        assert "bearer token" in expect_error(response, 401, "UNAUTHENTICATED")["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    listing = requests.get(http_url(auth_server, "/v1/verifiers"), timeout=TIMEOUT_S)
    expect_error(listing, 401, "UNAUTHENTICATED")


def test_score_role_scores_but_may_not_administer(auth_server: ServerProcess):
    score = _bearer(SCORE_TOKEN)
    ok = requests.post(http_url(auth_server, "/v1/score"), json=SCORE_BODY, headers=score, timeout=TIMEOUT_S)
    assert ok.status_code == 200 and ok.json()["results"][0]["score"] == 1.0
    assert requests.get(http_url(auth_server, "/v1/verifiers"), headers=score, timeout=TIMEOUT_S).status_code == 200
    spec = {"name": "sec-r", "kind": "format", "config": {"type": "regex", "pattern": "x"}}
    refused = requests.post(http_url(auth_server, "/v1/verifiers"), json=spec, headers=score, timeout=TIMEOUT_S)
    assert "admin" in expect_error(refused, 403, "PERMISSION_DENIED")["message"]
    delete = requests.delete(http_url(auth_server, "/v1/verifiers/sec-r"), headers=score, timeout=TIMEOUT_S)
    expect_error(delete, 403, "PERMISSION_DENIED")
    admin = _bearer(ADMIN_TOKEN)
    created = requests.post(http_url(auth_server, "/v1/verifiers"), json=spec, headers=admin, timeout=TIMEOUT_S)
    assert created.status_code == 201
    gone = requests.delete(http_url(auth_server, "/v1/verifiers/sec-r"), headers=admin, timeout=TIMEOUT_S)
    assert gone.json() == {"deleted_versions": 1}


def test_token_in_the_url_works_for_clients_that_cannot_set_headers(auth_server: ServerProcess):
    """``requests`` turns ``http://user:TOKEN@host`` into Basic auth: how OpenRLHF's plain URL carries a token."""
    url = http_url(auth_server, "/v1/score", host=f"trainer:{SCORE_TOKEN}@127.0.0.1")
    assert requests.post(url, json=SCORE_BODY, timeout=TIMEOUT_S).status_code == 200
    wrong = http_url(auth_server, "/v1/score", host="trainer:nope@127.0.0.1")
    expect_error(requests.post(wrong, json=SCORE_BODY, timeout=TIMEOUT_S), 401, "UNAUTHENTICATED")


def test_health_and_metrics_need_no_token_and_tokens_are_never_logged(auth_server: ServerProcess):
    assert requests.get(http_url(auth_server, "/healthz"), timeout=TIMEOUT_S).status_code == 200
    assert requests.get(http_url(auth_server, "/metrics"), timeout=TIMEOUT_S).status_code == 200
    requests.post(http_url(auth_server, "/v1/score"), json=SCORE_BODY, headers=_bearer("leaky-wrong"), timeout=30)
    requests.post(http_url(auth_server, "/v1/score"), json=SCORE_BODY, headers=_bearer(ADMIN_TOKEN), timeout=30)
    log = auth_server.log_text()
    assert ADMIN_TOKEN not in log and SCORE_TOKEN not in log and "leaky-wrong" not in log


def test_tls(start_server: StartServer, certificates: Path):
    d = certificates
    server = start_server(
        extra_args=[
            "--http-port", "0", "--tls-cert-file", str(d / "server.pem"), "--tls-key-file", str(d / "server.key")
        ]
    )  # fmt: skip
    secure = requests.post(
        http_url(server, "/v1/score", "https"), json=SCORE_BODY, verify=str(d / "ca.pem"), timeout=30
    )
    assert secure.status_code == 200 and secure.json()["results"][0]["score"] == 1.0
    with pytest.raises(requests.ConnectionError):
        requests.post(http_url(server, "/v1/score"), json=SCORE_BODY, timeout=30)  # plaintext on a TLS port
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(http_url(server, "/healthz", "https"), timeout=30)  # unknown CA
    with VerifierClient(server.address, tls=TLSConfig(ca_file=str(d / "ca.pem"))) as client:
        assert client.score("json-valid", ["[]"])[0].score == 1.0  # gRPC keeps working with the same files


def test_mutual_tls_requires_a_client_certificate(start_server: StartServer, certificates: Path):
    d = certificates
    server = start_server(
        extra_args=[
            "--http-port", "0", "--tls-cert-file", str(d / "server.pem"), "--tls-key-file", str(d / "server.key"),
            "--tls-client-ca-file", str(d / "ca.pem"),
        ]
    )  # fmt: skip
    url = http_url(server, "/v1/score", "https")
    cert = (str(d / "client.pem"), str(d / "client.key"))
    ok = requests.post(url, json=SCORE_BODY, verify=str(d / "ca.pem"), cert=cert, timeout=30)
    assert ok.status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json=SCORE_BODY, verify=str(d / "ca.pem"), timeout=30)
