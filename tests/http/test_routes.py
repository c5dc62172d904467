"""Every route of the HTTP face through a real HTTP client, against the same service the SDK reaches."""

from __future__ import annotations

import json
import uuid

import requests

from sdk import VerifierClient
from verifier_server.testing import ServerProcess

TIMEOUT_S = 120


def _post(url: str, payload: object) -> requests.Response:
    return requests.post(url, json=payload, timeout=TIMEOUT_S)


def test_score_answers_like_grpc(http_server: ServerProcess, base_url: str):
    samples = [
        {"completion": "<think>add</think><answer>4</answer>"},
        {"completion": "just 4"},
        {"completion": [{"role": "assistant", "content": "<think>a</think><answer>b</answer>"}]},
        {"prompt": [{"role": "user", "content": "hi"}], "completion": "<think>x</think><answer>y</answer>"},
    ]
    response = _post(f"{base_url}/v1/score", {"verifier": "think-answer-format", "samples": samples})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["verifier"] == "think-answer-format@1"
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    with VerifierClient(http_server.address, timeout_s=TIMEOUT_S) as client:
        over_grpc = client.score(
            "think-answer-format",
            [s["completion"] for s in samples],
            prompts=[s.get("prompt") for s in samples],
        )
    for got, want in zip(body["results"], over_grpc, strict=True):
        assert (got["score"], got["outcome"], got["reason"]) == (want.score, want.outcome.value, want.reason)
        assert set(got) == {"index", "score", "outcome", "reason", "components", "details", "latency_ms"}


def test_math_reference_and_details(base_url: str):
    samples = [
        {"completion": "so the answer is \\boxed{\\frac{1}{2}}", "reference": {"answer": "0.5"}},
        {"completion": "the answer is 7", "reference": {"answer": "8"}},
    ]
    body = _post(f"{base_url}/v1/score", {"verifier": "math", "samples": samples}).json()
    assert [r["score"] for r in body["results"]] == [1.0, 0.0]
    assert body["results"][0]["details"]["extracted_answer"] == "\\frac{1}{2}"


def test_inline_spec_and_composite_components(base_url: str):
    spec = {
        "kind": "composite",
        "config": {"children": ["json-valid", {"verifier": "think-answer-format", "weight": 2.0}]},
    }
    body = _post(f"{base_url}/v1/score", {"verifier": spec, "samples": [{"completion": "{}"}]}).json()
    assert body["verifier"] == "<inline>@inline"
    result = body["results"][0]
    assert result["outcome"] == "ok" and set(result["components"]) == {"json-valid", "think-answer-format"}


def test_bad_samples_are_each_invalid_and_the_rest_scored(base_url: str):
    samples = [
        {"completion": "{}"},
        {"completion": 42},
        "not an object",
        {"completion": "{}", "reference": "a string"},
        {"completion": [{"role": "assistant"}]},
        {"completion": "{}", "completion_ids": ["x"]},
        {},
    ]
    results = _post(f"{base_url}/v1/score", {"verifier": "json-valid", "samples": samples}).json()["results"]
    assert results[0]["outcome"] == "ok" and results[0]["score"] == 1.0
    reasons = [r["reason"] for r in results[1:]]
    assert all(r["outcome"] == "invalid_input" and r["score"] is None for r in results[1:])
    assert "completion must be text" in reasons[0]
    assert "samples[2] must be a JSON object" in reasons[1]
    assert "reference must be a JSON object" in reasons[2]
    assert "completion[0] needs a string role and a string content" in reasons[3]
    assert "completion_ids" in reasons[4]
    assert "completion is missing" in reasons[5]


def test_stream_ndjson_and_sse(base_url: str):
    samples = [{"completion": "{}" if i % 2 else "nope"} for i in range(40)]
    payload = {"verifier": "json-valid", "samples": samples}
    with requests.post(f"{base_url}/v1/score/stream", json=payload, stream=True, timeout=TIMEOUT_S) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in response.iter_lines() if line]
    assert sorted(r["index"] for r in lines) == list(range(40))
    assert all(r["score"] == (1.0 if r["index"] % 2 else 0.0) for r in lines)

    headers = {"Accept": "text/event-stream"}
    with requests.post(
        f"{base_url}/v1/score/stream", json=payload, headers=headers, stream=True, timeout=TIMEOUT_S
    ) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        text = response.text
    events = [block.split("\n") for block in text.strip().split("\n\n")]
    assert [e[0] for e in events[:-1]] == ["event: result"] * 40 and events[-1][0] == "event: done"
    assert sorted(json.loads(e[1].removeprefix("data: "))["index"] for e in events[:-1]) == list(range(40))


def test_stream_errors_before_the_first_result_are_plain_json(base_url: str):
    response = _post(f"{base_url}/v1/score/stream", {"verifier": "no-such-one", "samples": [{"completion": "x"}]})
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"
    empty = _post(f"{base_url}/v1/score/stream", {"verifier": "json-valid", "samples": []})
    assert empty.status_code == 200 and empty.text == ""


def test_registry_round_trip(base_url: str):
    name = f"http-reg-{uuid.uuid4().hex[:8]}"
    spec = {"name": name, "kind": "format", "config": {"type": "regex", "pattern": "^yes$"}, "description": "d"}
    first = _post(f"{base_url}/v1/verifiers", spec)
    assert first.status_code == 201, first.text
    assert first.json()["version"] == 1 and first.json()["spec"] == spec and first.json()["builtin"] is False
    second = _post(f"{base_url}/v1/verifiers", {"spec": {**spec, "config": {"type": "regex", "pattern": "^no$"}}})
    assert second.status_code == 201 and second.json()["version"] == 2

    latest = requests.get(f"{base_url}/v1/verifiers/{name}", timeout=TIMEOUT_S).json()
    assert latest["version"] == 2 and latest["spec"]["config"]["pattern"] == "^no$"
    pinned = requests.get(f"{base_url}/v1/verifiers/{name}@1", timeout=TIMEOUT_S).json()
    assert pinned["spec"]["config"]["pattern"] == "^yes$"
    scored = _post(f"{base_url}/v1/score", {"verifier": f"{name}@1", "samples": [{"completion": "yes"}]}).json()
    assert scored["verifier"] == f"{name}@1" and scored["results"][0]["score"] == 1.0

    listed = requests.get(f"{base_url}/v1/verifiers", timeout=TIMEOUT_S).json()["verifiers"]
    assert [v["version"] for v in listed if v["spec"]["name"] == name] == [2]
    assert any(v["spec"]["name"] == "math" and v["builtin"] for v in listed)
    every = requests.get(f"{base_url}/v1/verifiers", params={"all_versions": "true"}, timeout=TIMEOUT_S).json()
    assert [v["version"] for v in every["verifiers"] if v["spec"]["name"] == name] == [1, 2]

    deleted = requests.delete(f"{base_url}/v1/verifiers/{name}", timeout=TIMEOUT_S)
    assert deleted.status_code == 200 and deleted.json() == {"deleted_versions": 2}
    gone = requests.get(f"{base_url}/v1/verifiers/{name}", timeout=TIMEOUT_S)
    assert gone.status_code == 404 and name in gone.json()["error"]["message"]


def test_capabilities(base_url: str, http_server: ServerProcess):
    body = requests.get(f"{base_url}/v1/capabilities", timeout=TIMEOUT_S).json()
    with VerifierClient(http_server.address, timeout_s=TIMEOUT_S) as client:  # the same answer as over gRPC
        assert body["sandbox_python_packages"] == list(client.capabilities().sandbox_python_packages)
    assert {"format", "math", "code", "composite"} <= set(body["kinds"])
    assert "math" in body["builtin_verifiers"] and body["max_samples_per_request"] == 100_000
    assert body["max_message_bytes"] == 64 * 1024 * 1024


def test_healthz_and_metrics(base_url: str):
    health = requests.get(f"{base_url}/healthz", timeout=TIMEOUT_S)
    assert health.status_code == 200 and health.json() == {"status": "SERVING"}
    _post(f"{base_url}/v1/score", {"verifier": "json-valid", "samples": [{"completion": "[]"}]})
    _post(f"{base_url}/v1/score", {"verifier": "no-such-verifier-m", "samples": []})
    text = requests.get(f"{base_url}/metrics", timeout=TIMEOUT_S).text
    assert 'verifier_requests_total{code="OK",method="http:Score"}' in text
    assert 'verifier_requests_total{code="NOT_FOUND",method="http:Score"}' in text
    assert 'verifier_samples_total{kind="format",outcome="ok"}' in text


def test_request_id_is_echoed(base_url: str):
    response = requests.get(f"{base_url}/v1/verifiers/no-such-{uuid.uuid4().hex[:6]}", timeout=TIMEOUT_S)
    assert len(response.headers["X-Request-Id"]) == 16
    mine = requests.get(f"{base_url}/healthz", headers={"X-Request-Id": "trace-me-123"}, timeout=TIMEOUT_S)
    assert mine.headers["X-Request-Id"] == "trace-me-123"
