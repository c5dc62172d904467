"""Fixtures for the HTTP/JSON face: real servers started with ``--http-port 0``, talked to over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.http.support import http_url
from verifier_server.testing import ServerProcess, start_server_process


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One plain server per module (no auth, no TLS); tests use unique verifier names."""
    server = start_server_process(tmp_path_factory.mktemp("http-server"), extra_args=["--http-port", "0"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def base_url(http_server: ServerProcess) -> str:
    return http_url(http_server)
