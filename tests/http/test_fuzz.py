"""Fuzzing the HTTP face with hypothesis: any body, any shape, never a 5xx and always a JSON answer.

Bodies are JSON of every shape (and some that are not JSON at all) sent to the scoring,
registry and OpenRLHF routes. The face may only answer with documented statuses, every
200 from scoring carries one well-formed result per sample, and the server stays healthy.
"""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.support import TIMEOUT_S

DOCUMENTED = {200, 201, 400, 404, 409, 413}
FUZZ = settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=14,
)
verifier_names = st.sampled_from(["json-valid", "math", "think-answer-format", "ifeval", "gsm8k", "no-such", ""])
samples = st.dictionaries(
    st.sampled_from(["prompt", "completion", "reference", "completion_ids", "extra"]), values, max_size=4
)
score_bodies = st.one_of(
    st.fixed_dictionaries({"verifier": verifier_names | values, "samples": st.lists(samples | values, max_size=6)}),
    st.dictionaries(st.sampled_from(["verifier", "samples", "stream"]), values, max_size=3),
    values,
)
openrlhf_bodies = st.one_of(
    st.fixed_dictionaries(
        {"query": st.lists(values, max_size=4), "prompts": st.lists(values, max_size=4)},
        optional={"labels": st.lists(values | st.text(max_size=40), max_size=4)},
    ),
    values,
)
raw = st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode))


def _post(url: str, payload: Any) -> requests.Response:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=TIMEOUT_S)
    assert response.status_code in DOCUMENTED, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    if response.status_code >= 400:
        assert set(body) == {"error"} and body["error"]["code"] == response.status_code
    return response


@FUZZ
@given(body=score_bodies | raw)
def test_score_route(base_url: str, body: Any):
    response = _post(f"{base_url}/v1/score", body)
    if response.status_code == 200:
        sent = body["samples"]
        results = response.json()["results"]
        assert [r["index"] for r in results] == list(range(len(sent)))
        for result in results:
            assert result["outcome"] in {"ok", "invalid_input", "error", "timeout", "not_applicable"}
            assert (result["score"] is None) == (result["outcome"] != "ok")


@FUZZ
@given(body=openrlhf_bodies | raw, verifier=st.sampled_from(["math", "json-valid", "ifeval"]))
def test_openrlhf_route(base_url: str, body: Any, verifier: str):
    response = _post(f"{base_url}/openrlhf/{verifier}", body)
    if response.status_code == 200:
        reply = response.json()
        n = len(body["query"])
        assert len(reply["rewards"]) == len(reply["scores"]) == n
        assert all(len(v) == n for v in reply["extra_logs"].values())
        assert all(isinstance(r, float) for r in reply["rewards"])


@FUZZ
@given(body=st.one_of(st.dictionaries(st.sampled_from(["name", "kind", "config", "description", "spec"]), values), raw))
def test_register_route(base_url: str, body: Any):
    _post(f"{base_url}/v1/verifiers", body)


def test_still_healthy_after_fuzzing(base_url: str):
    assert requests.get(f"{base_url}/healthz", timeout=TIMEOUT_S).json() == {"status": "SERVING"}
