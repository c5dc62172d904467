"""The HTTP face from ``curl``, the way the README shows it (skipped where curl is not installed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.http.support import SCORE_TOKEN, http_url
from verifier_server.testing import StartServer

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(*args: str) -> tuple[int, dict[str, str], str]:
    """(HTTP status, lower-cased headers, body) of one curl call."""
    done = subprocess.run(["curl", "-sS", "-i", *args], capture_output=True, text=True, timeout=120, check=True)
    head, _, body = done.stdout.replace("\r\n", "\n").partition("\n\n")
    status_line, *header_lines = head.split("\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def test_score_with_curl(base_url: str):
    body = json.dumps({"verifier": "math", "samples": [{"completion": "\\boxed{4}", "reference": {"answer": "4"}}]})
    status, headers, text = curl("-X", "POST", f"{base_url}/v1/score", "-H", "Content-Type: application/json",
                                 "-d", body)  # fmt: skip
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(text)["results"][0]["score"] == 1.0


def test_curl_without_content_type_and_from_a_file(base_url: str, tmp_path: Path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"verifier": "json-valid", "samples": [{"completion": '{"a": 1}'}]}))
    status, _, text = curl(f"{base_url}/v1/score", "--data-binary", f"@{request}")  # curl's default form type
    assert status == 200 and json.loads(text)["results"][0]["score"] == 1.0


def test_curl_stream_and_errors(base_url: str):
    body = json.dumps({"verifier": "json-valid", "samples": [{"completion": "[]"}] * 3})
    status, headers, text = curl("-N", f"{base_url}/v1/score/stream", "-d", body)
    assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
    assert sorted(json.loads(line)["index"] for line in text.splitlines() if line) == [0, 1, 2]
    status, _, text = curl(f"{base_url}/v1/score", "-d", "{oops")
    assert status == 400 and json.loads(text)["error"]["field"] == "body"
    status, _, text = curl(f"{base_url}/v1/verifiers/nope-{'x' * 3}")
    assert status == 404 and json.loads(text)["error"]["status"] == "NOT_FOUND"


def test_curl_with_a_bearer_token(start_server: StartServer, tmp_path: Path):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{SCORE_TOKEN} score\n")
    server = start_server(extra_args=["--http-port", "0", "--auth-tokens-file", str(tokens)])
    status, headers, _ = curl(http_url(server, "/v1/capabilities"))
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    status, _, text = curl("-H", f"Authorization: Bearer {SCORE_TOKEN}", http_url(server, "/v1/capabilities"))
    assert status == 200 and "math" in json.loads(text)["builtin_verifiers"]
    status, _, _ = curl("-u", f"me:{SCORE_TOKEN}", http_url(server, "/v1/capabilities"))
    assert status == 200
