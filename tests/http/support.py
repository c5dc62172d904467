"""Helpers the HTTP face's tests share (fixtures live in conftest.py)."""

from __future__ import annotations

from typing import Any

import requests

from verifier_server.testing import ServerProcess

TIMEOUT_S = 120
ADMIN_TOKEN = "http-admin-5d1e"
SCORE_TOKEN = "http-score-88a0"


def http_url(server: ServerProcess, path: str = "", scheme: str = "http", host: str = "127.0.0.1") -> str:
    assert server.http_port is not None, "server was started without --http-port"
    return f"{scheme}://{host}:{server.http_port}{path}"


def expect_error(response: requests.Response, http_status: int, status: str) -> dict[str, Any]:
    """The error object of a JSON error reply, after checking its shape (and that no traceback leaked)."""
    assert response.status_code == http_status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert "Traceback" not in response.text
    error = response.json()["error"]
    assert error["code"] == http_status and error["status"] == status
    return error  # type: ignore[no-any-return]
