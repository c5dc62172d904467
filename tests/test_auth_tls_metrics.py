"""Bearer-token roles, TLS and mutual TLS, and the Prometheus endpoint, on real servers."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from sdk import (
    NotFoundError,
    PermissionDeniedError,
    ServerUnavailableError,
    TLSConfig,
    UnauthenticatedError,
    VerifierClient,
    specs,
)
from tests.ops.support import metrics_port
from verifier_server.testing import ServerProcess, StartServer

ADMIN_TOKEN = "admin-secret-7f3a"
SCORE_TOKEN = "score-secret-91bc"


@pytest.fixture
def auth_server(start_server: StartServer, tmp_path: Path) -> ServerProcess:
    tokens = tmp_path / "tokens"
    tokens.write_text(f"# token role\n{ADMIN_TOKEN} admin\n{SCORE_TOKEN} score\n")
    return start_server(extra_args=["--auth-tokens-file", str(tokens)])


def test_missing_or_unknown_token_is_unauthenticated(auth_server: ServerProcess):
    for token in (None, "wrong-token"):
        with VerifierClient(auth_server.address, token=token, timeout_s=30) as client:
            with pytest.raises(UnauthenticatedError, match="bearer token"):
                client.score("json-valid", ["{}"])


def test_score_role_scores_but_cannot_administer(auth_server: ServerProcess):
    with VerifierClient(auth_server.address, token=SCORE_TOKEN) as client:
        assert client.score("json-valid", ["{}"])[0].score == 1.0
        assert any(info.name == "json-valid" for info in client.list())
        with pytest.raises(PermissionDeniedError, match="admin"):
            client.register(specs.regex("r", "x"))
        with pytest.raises(PermissionDeniedError):
            client.delete("r")


def test_admin_role_registers(auth_server: ServerProcess):
    with VerifierClient(auth_server.address, token=ADMIN_TOKEN) as client:
        assert client.register(specs.regex("r", "x")).version == 1
        assert client.delete("r") == 1


def test_health_needs_no_token_and_tokens_are_never_logged(auth_server: ServerProcess):
    with grpc.insecure_channel(auth_server.address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=30).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    with VerifierClient(auth_server.address, token=ADMIN_TOKEN) as client:
        client.list()
    with VerifierClient(auth_server.address, token="wrong-token", timeout_s=30) as client:
        with pytest.raises(UnauthenticatedError):
            client.list()
    log = auth_server.log_text()
    assert ADMIN_TOKEN not in log and SCORE_TOKEN not in log and "wrong-token" not in log


def test_tls(start_server: StartServer, certificates: Path):
    d = certificates
    server = start_server(
        extra_args=["--tls-cert-file", str(d / "server.pem"), "--tls-key-file", str(d / "server.key")]
    )
    with VerifierClient(server.address, tls=TLSConfig(ca_file=str(d / "ca.pem"))) as client:
        assert client.score("json-valid", ["[]"])[0].score == 1.0
    with VerifierClient(server.address, timeout_s=3) as plaintext:
        with pytest.raises(ServerUnavailableError):
            plaintext.list()


def test_mutual_tls_requires_a_client_certificate(start_server: StartServer, certificates: Path):
    d = certificates
    server = start_server(
        extra_args=[
            "--tls-cert-file", str(d / "server.pem"), "--tls-key-file", str(d / "server.key"),
            "--tls-client-ca-file", str(d / "ca.pem"),
        ]
    )  # fmt: skip
    mtls = TLSConfig(
        ca_file=str(d / "ca.pem"), client_cert_file=str(d / "client.pem"), client_key_file=str(d / "client.key")
    )
    with VerifierClient(server.address, tls=mtls) as client:
        assert client.score("json-valid", ["[]"])[0].score == 1.0
    with VerifierClient(server.address, tls=TLSConfig(ca_file=str(d / "ca.pem")), timeout_s=3) as no_cert:
        with pytest.raises(ServerUnavailableError):
            no_cert.list()


def test_prometheus_metrics(start_server: StartServer):
    server = start_server(extra_args=["--metrics-port", "0"])
    url = f"http://127.0.0.1:{metrics_port(server)}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # a fresh replica: every kind's gauge is there
        fresh = response.read().decode()
    for kind in ("code", "math"):
        assert f'verifier_inflight_samples{{kind="{kind}"}} 0.0' in fresh, fresh
    with VerifierClient(server.address) as client:
        client.score("think-answer-format", ["<think>a</think><answer>b</answer>", "nope", None])
        with pytest.raises(NotFoundError):
            client.score("no-such-verifier", ["x"])
    # grpc sends an aborted call's status before the handler's frames unwind, so the client can see its
    # NOT_FOUND a moment before the interceptor counts it: poll for the count, with room for a busy machine.
    not_found = 'verifier_requests_total{code="NOT_FOUND",method="Score"} 1.0'
    deadline = time.monotonic() + 30
    while True:
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        if not_found in text or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert 'verifier_requests_total{code="OK",method="Score"} 1.0' in text
    assert not_found in text
    assert 'verifier_samples_total{kind="format",outcome="ok"} 2.0' in text
    assert 'verifier_samples_total{kind="format",outcome="invalid_input"} 1.0' in text
    assert 'verifier_kind_batch_latency_seconds_count{kind="format"} 1.0' in text
    assert 'verifier_inflight_samples{kind="format"} 0.0' in text
