"""The gRPC choke point (issue 13): an unexpected failure is INTERNAL, carries the request id, and is
logged with it; domain errors keep their status codes. Real server, real fault: the registry's table
is dropped under the running server (an operator's mistake), so every registry read raises sqlite's
own error, which no layer maps to a domain error."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

import grpc
import pytest

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from sdk import RPCError, StatusCode, VerifierClient, specs
from verifier_server.testing import ServerProcess, StartServer


def error_records(server: ServerProcess, request_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    return [r for r in lines if r.get("request_id") == request_id and r["level"] == "error"]


@pytest.fixture
def broken_registry(start_server: StartServer) -> ServerProcess:
    server = start_server()
    with VerifierClient(server.address, timeout_s=60) as client:
        client.register(specs.regex("has-digit", r"\d"))
    with sqlite3.connect(server.data_dir / "registry.db", timeout=30) as db:
        db.execute("DROP TABLE verifiers")
    return server


def test_an_unexpected_error_is_internal_with_the_request_id_and_logged_with_it(
    broken_registry: ServerProcess,
) -> None:
    request_id = f"guard-{uuid.uuid4().hex[:8]}"
    with grpc.insecure_channel(broken_registry.address) as channel:
        stub = pb_grpc.VerifierServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            stub.ListVerifiers(pb.ListVerifiersRequest(), metadata=[("x-request-id", request_id)], timeout=60)
    assert info.value.code() is grpc.StatusCode.INTERNAL
    assert request_id in info.value.details()
    assert "no such table" not in info.value.details()  # internals stay in the log
    [record] = error_records(broken_registry, request_id)
    assert "ListVerifiers" in record["msg"] and "no such table" in record["exc"]


def test_a_stream_that_fails_unexpectedly_is_internal_too(broken_registry: ServerProcess) -> None:
    request_id = f"guard-{uuid.uuid4().hex[:8]}"
    request = pb.ScoreRequest(name="has-digit@1", samples=[pb.Sample(completion=pb.Content(text="a1"))])
    with grpc.insecure_channel(broken_registry.address) as channel:
        stub = pb_grpc.VerifierServiceStub(channel)
        with pytest.raises(grpc.RpcError) as info:
            list(stub.ScoreStream(request, metadata=[("x-request-id", request_id)], timeout=60))
    assert info.value.code() is grpc.StatusCode.INTERNAL and request_id in info.value.details()
    [record] = error_records(broken_registry, request_id)
    assert "ScoreStream" in record["msg"] and "no such table" in record["exc"]


def test_the_sdk_sees_internal_and_domain_errors_keep_their_codes(broken_registry: ServerProcess) -> None:
    with VerifierClient(broken_registry.address, timeout_s=60) as client:
        with pytest.raises(RPCError) as info:
            client.score("has-digit@1", ["a1"])
        assert info.value.status is StatusCode.INTERNAL and "request id" in str(info.value)
        assert client.score("math", ["\\boxed{2}"], references=[{"answer": "2"}])[0].score == 1.0  # built-in
        with pytest.raises(RPCError) as invalid:
            client.score("has-digit@zero", ["a1"])
        assert invalid.value.status is StatusCode.INVALID_ARGUMENT
