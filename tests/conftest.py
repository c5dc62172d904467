"""Shared fixtures: a real server process on a free loopback port, SDK clients for it, and TLS certificates."""

from __future__ import annotations

import os

# Before anything imports gRPC (the SDK, Ray): with gRPC's fork support on, a fork in this
# process (the sandbox's bubblewrap-per-run path forks and runs Python before exec) restarts
# gRPC's poller threads in the child, which then abort. The server sets the same.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk import VerifierClient
from verifier_server.testing import ServerProcess, StartServer, start_server_process


@pytest.fixture(scope="session")
def verifier_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the whole session (fresh data dir); tests must use unique verifier names."""
    server = start_server_process(tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


@pytest.fixture
def client(verifier_server: ServerProcess) -> Iterator[VerifierClient]:
    with VerifierClient(verifier_server.address, timeout_s=120) as client:
        yield client


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start dedicated servers (own config, restarts); all are stopped after the test."""
    started: list[ServerProcess] = []

    def start(data_dir: Path | None = None, **kwargs: Any) -> ServerProcess:
        server = start_server_process(data_dir or tmp_path / f"server{len(started)}", **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate, made now."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=test-ca", cwd=d)  # fmt: skip
    (d / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, cn in (("server", "localhost"), ("client", "trainer")):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={cn}", cwd=d)  # fmt: skip
        extra = ["-extfile", "san.cnf"] if name == "server" else []
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.pem", "-days", "2", *extra, cwd=d)  # fmt: skip
    return d
