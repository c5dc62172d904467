"""Whole-request errors over HTTP: a status code and a JSON body naming our status, never a traceback."""

from __future__ import annotations

import os
import signal
import threading
import time

import grpc
import pytest
import requests

from tests.http.support import TIMEOUT_S, http_url
from tests.http.support import expect_error as _error
from tests.ops.support import eventually, scrape_counter
from verifier_server.http.status import HTTP_STATUS
from verifier_server.status_map import STATUS_FOR_ERROR
from verifier_server.testing import StartServer


def test_unknown_verifier_is_404_naming_it_and_close_matches(base_url: str):
    response = requests.post(f"{base_url}/v1/score", json={"verifier": "mathh", "samples": []}, timeout=TIMEOUT_S)
    error = _error(response, 404, "NOT_FOUND")
    assert "'mathh'" in error["message"] and "'math'" in error["message"]
    versioned = requests.get(f"{base_url}/v1/verifiers/math@7", timeout=TIMEOUT_S)
    assert "version 1" in _error(versioned, 404, "NOT_FOUND")["message"]


def test_invalid_spec_is_400_naming_the_field(base_url: str):
    spec = {"name": "bad-spec", "kind": "format", "config": {"type": "regex", "pattern": "(", "mode": "search"}}
    error = _error(requests.post(f"{base_url}/v1/verifiers", json=spec, timeout=TIMEOUT_S), 400, "INVALID_ARGUMENT")
    assert error["field"] == "config.pattern"
    inline = {"verifier": {"kind": "format", "config": {"type": "length", "mx": 3}}, "samples": []}
    error = _error(requests.post(f"{base_url}/v1/score", json=inline, timeout=TIMEOUT_S), 400, "INVALID_ARGUMENT")
    assert error["field"] == "config.mx"
    missing_kind = requests.post(f"{base_url}/v1/verifiers", json={"name": "k"}, timeout=TIMEOUT_S)
    assert _error(missing_kind, 400, "INVALID_ARGUMENT")["field"] == "kind"
    builtin = requests.post(f"{base_url}/v1/verifiers", json={"name": "math", "kind": "math"}, timeout=TIMEOUT_S)
    _error(builtin, 409, "ALREADY_EXISTS")
    undeletable = requests.delete(f"{base_url}/v1/verifiers/math", timeout=TIMEOUT_S)
    _error(undeletable, 400, "INVALID_ARGUMENT")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", "body"),
        (b"[1, 2]", "body"),
        (b"", "body"),
        (b'{"verifier": "json-valid"}', "samples"),
        (b'{"verifier": "json-valid", "samples": "x"}', "samples"),
        (b'{"verifier": 7, "samples": []}', "verifier"),
        (b'{"samples": []}', "verifier"),
        (b'{"verifer": "json-valid", "samples": []}', "verifer"),
        (b'{"verifier": "json-valid@zero", "samples": []}', "verifier"),
        (b'{"verifier": {"kind": "format", "config": []}, "samples": []}', "verifier.config"),
        (b"[" * 100_000 + b"]" * 100_000, "body"),
    ],
)
def test_malformed_requests_are_400_naming_the_field(base_url: str, body: bytes, field: str):
    response = requests.post(
        f"{base_url}/v1/score", data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S
    )
    assert _error(response, 400, "INVALID_ARGUMENT")["field"] == field


def test_unknown_route_and_wrong_method_are_json(base_url: str):
    _error(requests.get(f"{base_url}/v2/score", timeout=TIMEOUT_S), 404, "NOT_FOUND")
    wrong = requests.get(f"{base_url}/v1/score", timeout=TIMEOUT_S)
    error = _error(wrong, 405, "INVALID_ARGUMENT")
    assert "POST" in error["message"] and wrong.headers["Allow"] == "POST"


def test_limits_body_size_and_sample_count(start_server: StartServer):
    server = start_server(
        extra_args=["--http-port", "0"], config={"max_message_bytes": 200_000, "max_samples_per_request": 10}
    )
    url = http_url(server, "/v1/score")
    big = {"verifier": "json-valid", "samples": [{"completion": "x" * 250_000}]}
    error = _error(requests.post(url, json=big, timeout=TIMEOUT_S), 413, "INVALID_ARGUMENT")
    assert "200000 bytes" in error["message"] and error["field"] == "body"
    many = {"verifier": "json-valid", "samples": [{"completion": "{}"}] * 11}
    error = _error(requests.post(url, json=many, timeout=TIMEOUT_S), 400, "INVALID_ARGUMENT")
    assert "limit of 10" in error["message"] and error["field"] == "samples"
    assert requests.post(url, json={**many, "samples": many["samples"][:10]}, timeout=TIMEOUT_S).status_code == 200


SLEEPY = "import time\n\ndef f():\n    time.sleep(2)\n    return 1\n"


def test_overload_is_429_with_retry_after(start_server: StartServer):
    server = start_server(
        extra_args=["--http-port", "0"],
        config={"retry_after_s": 1.5, "kinds": {"code": {"max_inflight_samples": 1}}},
    )
    url = http_url(server, "/v1/score")
    slow = {
        "verifier": "python-tests",
        "samples": [{"completion": SLEEPY, "reference": {"test_list": ["assert f() == 1"]}}],
    }
    quick = {"verifier": "python-tests", "samples": [{"completion": "def g():\n    return 2\n",
                                                       "reference": {"test_list": ["assert g() == 2"]}}]}  # fmt: skip
    # A batch first: the harness is warm, so the slow sample holds its place for its whole sleep.
    assert requests.post(url, json=quick, timeout=TIMEOUT_S).status_code == 200
    reply: dict[str, requests.Response] = {}
    caller = threading.Thread(target=lambda: reply.setdefault("slow", requests.post(url, json=slow, timeout=TIMEOUT_S)))
    caller.start()
    # Polled, not raced: the slow sample holds the code kind's one place (then sleeps 2 s in the sandbox).
    port = server.http_port
    assert port is not None
    eventually(lambda: scrape_counter(port, "verifier_inflight_samples", kind="code") > 0, timeout_s=TIMEOUT_S)
    refused = requests.post(url, json=quick, timeout=TIMEOUT_S)
    error = _error(refused, 429, "RESOURCE_EXHAUSTED")
    assert refused.headers["Retry-After"] == "2" and error["retry_after_s"] == 1.5
    assert "capacity" in error["message"]
    caller.join(TIMEOUT_S)
    assert reply["slow"].status_code == 200 and reply["slow"].json()["results"][0]["score"] == 1.0


def test_healthz_follows_drain(start_server: StartServer):
    server = start_server(extra_args=["--http-port", "0"], config={"drain_notice_s": 30.0})
    url = http_url(server)
    assert requests.get(f"{url}/healthz", timeout=TIMEOUT_S).status_code == 200
    os.kill(server.pid, signal.SIGTERM)
    deadline = time.monotonic() + 25
    health = requests.get(f"{url}/healthz", timeout=TIMEOUT_S)
    while health.status_code == 200 and time.monotonic() < deadline:
        health = requests.get(f"{url}/healthz", timeout=TIMEOUT_S)
    assert health.status_code == 503 and health.json() == {"status": "NOT_SERVING"}
    still = requests.post(f"{url}/v1/score", json={"verifier": "json-valid", "samples": [{"completion": "{}"}]},
                          timeout=TIMEOUT_S)  # fmt: skip
    assert still.status_code == 200, "during the drain notice requests are still served"
    server.kill()


def test_sigterm_lets_in_flight_http_requests_finish(start_server: StartServer):
    server = start_server(extra_args=["--http-port", "0"], config={"drain_notice_s": 0.5})
    url = http_url(server, "/v1/score")
    slow = {
        "verifier": "python-tests",
        "samples": [{"completion": SLEEPY, "reference": {"test_list": ["assert f() == 1"]}}],
    }
    assert requests.post(url, json=slow, timeout=TIMEOUT_S).status_code == 200  # warm: the next one is all sleep
    reply: dict[str, requests.Response] = {}
    caller = threading.Thread(target=lambda: reply.setdefault("r", requests.post(url, json=slow, timeout=TIMEOUT_S)))
    caller.start()
    # Wait until the server is working on it (it then sleeps 2 s in the sandbox), polled, not guessed.
    port = server.http_port
    assert port is not None
    eventually(lambda: scrape_counter(port, "verifier_inflight_samples") > 0, timeout_s=TIMEOUT_S)
    assert "r" not in reply, "the request finished before SIGTERM; make it slower"
    assert server.stop(timeout_s=60) == 0
    caller.join(TIMEOUT_S)
    assert reply["r"].status_code == 200 and reply["r"].json()["results"][0]["score"] == 1.0
    with pytest.raises(requests.ConnectionError):
        requests.get(http_url(server, "/healthz"), timeout=5)


def test_oversized_spec_is_400_as_over_grpc(base_url: str):
    """The spec bounds of the gRPC face (name, description, ``max_spec_bytes``) hold over HTTP too."""
    regex = {"type": "regex", "pattern": "x"}
    long_name = {"name": "n" * 2000, "kind": "format", "config": regex}
    error = _error(
        requests.post(f"{base_url}/v1/verifiers", json=long_name, timeout=TIMEOUT_S), 400, "INVALID_ARGUMENT"
    )
    assert error["field"] == "body" and "at most 1024" in error["message"]
    long_description = {
        "spec": {"name": "long-description", "kind": "format", "config": regex, "description": "d" * 70_000}
    }
    response = requests.post(f"{base_url}/v1/verifiers", json=long_description, timeout=TIMEOUT_S)
    assert _error(response, 400, "INVALID_ARGUMENT")["field"] == "spec"
    big_config = {"type": "regex", "pattern": "x|" + "y" * (2 * 1024 * 1024)}
    inline = {"verifier": {"kind": "format", "config": big_config}, "samples": [{"completion": "x"}]}
    error = _error(requests.post(f"{base_url}/v1/score", json=inline, timeout=TIMEOUT_S), 400, "INVALID_ARGUMENT")
    assert error["field"] == "verifier.config" and "accepts specs up to" in error["message"]


def test_every_domain_error_has_its_own_http_status():
    """A status ``status_map`` can give maps to an HTTP status, never to the 500 fallback by omission."""
    for error_class, code in STATUS_FOR_ERROR.items():
        if code is not grpc.StatusCode.INTERNAL:
            assert code in HTTP_STATUS and HTTP_STATUS[code] != 500, error_class.__name__
