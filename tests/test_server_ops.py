"""Operating the server: health checking, reflection, config sources, drain on SIGTERM, logs."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from sdk import Outcome, ServerUnavailableError, VerifierClient, specs
from tests.ops.support import eventually, metrics_port, scrape_counter
from verifier_server.config import load_config
from verifier_server.errors import InvalidArgument
from verifier_server.testing import ServerProcess, StartServer


def test_health_check_reports_serving(verifier_server: ServerProcess):
    with grpc.insecure_channel(verifier_server.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "verifier.v1.VerifierService"):
            response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_reflection_lists_the_service(verifier_server: ServerProcess):
    with grpc.insecure_channel(verifier_server.address) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        responses = stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]))
        names = {service.name for response in responses for service in response.list_services_response.service}
    assert {"verifier.v1.VerifierService", "grpc.health.v1.Health"} <= names


def test_sigterm_drains_in_flight_requests(start_server: StartServer):
    server = start_server(extra_args=["--metrics-port", "0"])
    port = metrics_port(server)
    client = VerifierClient(server.address, timeout_s=60)
    client.score("think-answer-format", ["warm"])  # a kind's in-flight gauge appears once it has scored a batch
    slow = specs.regex("slow", r"(a|aa)+$")
    slow = slow.__class__(slow.name, slow.kind, {**slow.config, "timeout_s": 0.5})
    outcome: dict[str, object] = {}

    def call() -> None:
        try:
            outcome["results"] = client.score(slow, ["a" * 40 + "b"] * 6)
        except Exception as exc:  # recorded for the assertion below
            outcome["error"] = exc

    caller = threading.Thread(target=call)
    caller.start()
    # The batch takes ~3 s of server time (six 0.5 s regex timeouts); wait until the server
    # holds it (its in-flight gauge), however loaded the machine, then SIGTERM while it is being worked on.
    eventually(
        lambda: scrape_counter(port, "verifier_inflight_samples", kind="format") > 0, timeout_s=60, interval_s=0.02
    )
    assert "results" not in outcome, "the request finished before SIGTERM; make it slower"
    assert server.stop(timeout_s=60) == 0
    caller.join(60)
    assert "error" not in outcome, outcome.get("error")
    results = outcome["results"]
    assert isinstance(results, list) and len(results) == 6
    assert all(r.outcome is Outcome.TIMEOUT for r in results)
    with pytest.raises(ServerUnavailableError):
        VerifierClient(server.address, timeout_s=1).list()


def test_logs_are_json_lines(start_server: StartServer):
    server = start_server()
    VerifierClient(server.address).list()
    server.stop()
    records = [json.loads(line) for line in server.log_text().splitlines() if line.startswith("{")]
    assert any(record["msg"] == "serving" and record["address"] == server.address for record in records)
    assert all({"ts", "level", "logger", "msg"} <= set(record) for record in records)


def test_config_precedence_file_env_flags(tmp_path: Path):
    config_file = tmp_path / "server.toml"
    config_file.write_text('port = 1111\nlog_level = "DEBUG"\n\n[kinds.math]\ntimeout_s = 3\n')
    config = load_config(str(config_file), environ={"VERIFIER_PORT": "2222"}, overrides={"host": "0.0.0.0"})
    assert (config.port, config.log_level, config.host) == (2222, "DEBUG", "0.0.0.0")
    assert config.kinds == {"math": {"timeout_s": 3}}
    assert load_config(str(config_file), environ={}, overrides={"port": 3333}).port == 3333


def test_config_errors_name_the_source(tmp_path: Path):
    with pytest.raises(InvalidArgument, match="VERIFIER_PORT"):
        load_config(None, environ={"VERIFIER_PORT": "eighty"})
    bad = tmp_path / "bad.toml"
    bad.write_text("prot = 1\n")
    with pytest.raises(InvalidArgument, match="prot"):
        load_config(str(bad), environ={})
