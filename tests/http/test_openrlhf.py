"""OpenRLHF's ``--remote_rm_url``: the request built exactly as OpenRLHF builds it, the reply read as it reads it.

OpenRLHF (``openrlhf/utils/remote_rm_utils.py``) decodes each rollout's token ids with
special tokens kept (prompt + response + EOS), posts ``{"query", "prompts", "labels"}``
with ``requests.post(url, json=..., headers={"Content-Type": "application/json"})``, and
``update_samples_with_rewards`` turns ``rewards``, ``scores`` and every ``extra_logs``
entry into tensors that it concatenates and splits per micro-batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import torch

from tests.http.support import SCORE_TOKEN, TIMEOUT_S, expect_error, http_url
from trainers.tiny import build_tokenizer
from verifier_server.testing import ServerProcess, StartServer


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return build_tokenizer(chat=True)


def openrlhf_rollouts(tokenizer: Any, rows: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """(question, response, label) rows as OpenRLHF sends them: templated prompts, decoded queries."""
    queries, prompts, labels = [], [], []
    for question, response, label in rows:
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                               add_generation_prompt=True)  # fmt: skip
        ids = tokenizer(prompt + response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        queries.append(tokenizer.decode(ids, skip_special_tokens=False))
        prompts.append(prompt)
        labels.append(label)
    return {"query": queries, "prompts": prompts, "labels": labels}


def remote_rm_request(url: str, data: dict[str, list[str]]) -> dict[str, Any]:
    """OpenRLHF's request_api_wrapper: one POST of the batch, raise on an HTTP error, the JSON reply."""
    response = requests.post(url=url, json=data, headers={"Content-Type": "application/json"}, timeout=180)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def update_samples_with_rewards(rewards_info: list[dict[str, Any]], micro_batch_sizes: list[int]) -> dict[str, Any]:
    """What OpenRLHF does with the replies: tensors per key, concatenated, split per micro-batch."""
    rewards = torch.cat([torch.as_tensor(info["rewards"]) for info in rewards_info]).split(micro_batch_sizes)
    scores = torch.cat([torch.as_tensor(info["scores"]) for info in rewards_info]).split(micro_batch_sizes)
    logs = {
        key: torch.cat([torch.as_tensor(info["extra_logs"][key]) for info in rewards_info]).split(micro_batch_sizes)
        for key in rewards_info[0]["extra_logs"]
    }
    return {"rewards": rewards, "scores": scores, "extra_logs": logs}


def test_math_rollouts_score_with_gold_labels(tokenizer: Any, base_url: str):
    data = openrlhf_rollouts(
        tokenizer,
        [
            ("Natalia sold 48 clips in April and half as many in May. How many in total?",
             "<think>48 + 24</think> The answer is \\boxed{72}.", "72"),
            ("What is 3 + 5?", "It is 9.", "8"),
            ("What is 1 + 6?", "\\boxed{7}", "7"),
            ("What is 4 + 4?", "I don't know.", "8"),
        ],
    )  # fmt: skip
    assert data["query"][0].endswith("<|im_end|>") and data["query"][0].startswith("<|im_start|>user")
    reply = remote_rm_request(f"{base_url}/openrlhf/math", data)
    assert reply["rewards"] == [1.0, 0.0, 1.0, 0.0] and reply["scores"] == reply["rewards"]
    assert reply["extra_logs"] == {"verified": [1.0] * 4, "unscored": [0.0] * 4}

    second = remote_rm_request(f"{base_url}/openrlhf/math", openrlhf_rollouts(tokenizer, [("1+1?", "\\boxed{2}", "2")]))
    merged = update_samples_with_rewards([reply, second], [2, 2, 1])
    assert [t.tolist() for t in merged["rewards"]] == [[1.0, 0.0], [1.0, 0.0], [1.0]]
    assert [t.tolist() for t in merged["extra_logs"]["verified"]] == [[1.0, 1.0], [1.0, 1.0], [1.0]]


def test_json_labels_are_whole_references(tokenizer: Any, base_url: str):
    label = json.dumps({"test_list": ["assert add(2, 3) == 5", "assert add(2, 0) == 2"]})
    data = openrlhf_rollouts(
        tokenizer,
        [
            ("Write add(a, b).", "```python\ndef add(a, b):\n    return a + b\n```", label),
            ("Write add(a, b).", "```python\ndef add(a, b):\n    return a - b\n```", label),
        ],
    )
    reply = remote_rm_request(f"{base_url}/openrlhf/python-tests", data)
    assert reply["rewards"] == [1.0, 0.5]


def test_unscored_samples_get_the_failure_reward_and_are_counted(tokenizer: Any, base_url: str):
    data = openrlhf_rollouts(
        tokenizer,
        [
            ("What is 2 + 2?", "\\boxed{4}", "4"),
            ("What is 2 + 2?", "\\boxed{4}", ""),  # no label: math cannot verify it
            ("What is 2 + 2?", "\\boxed{4}", '{"answer": '),  # a broken JSON label
        ],
    )
    reply = remote_rm_request(f"{base_url}/openrlhf/math?failure_reward=-1.5", data)
    assert reply["rewards"] == [1.0, -1.5, -1.5]
    assert reply["extra_logs"]["verified"] == [1.0, 0.0, 0.0] and sum(reply["extra_logs"]["unscored"]) == 2.0
    default = remote_rm_request(f"{base_url}/openrlhf/math", data)
    assert default["rewards"] == [1.0, 0.0, 0.0]


def test_format_verifiers_see_the_response_without_end_of_turn_tokens(tokenizer: Any, base_url: str):
    data = openrlhf_rollouts(tokenizer, [("Q?", "<think>hm</think><answer>4</answer>", ""), ("Q?", "4", "")])
    data["query"][0] += "<|endoftext|><|endoftext|>"  # trailing pads must not break a strict format check
    assert remote_rm_request(f"{base_url}/openrlhf/think-answer-format", data)["rewards"] == [1.0, 0.0]


def test_bad_requests_are_clear_4xx(base_url: str):
    url = f"{base_url}/openrlhf/math"
    expect_error(requests.post(url, json={"prompts": ["a"]}, timeout=TIMEOUT_S), 400, "INVALID_ARGUMENT")
    mismatch = requests.post(url, json={"query": ["a", "b"], "prompts": ["a"]}, timeout=TIMEOUT_S)
    assert expect_error(mismatch, 400, "INVALID_ARGUMENT")["field"] == "prompts"
    bad_reward = requests.post(f"{url}?failure_reward=low", json={"query": ["a"]}, timeout=TIMEOUT_S)
    assert expect_error(bad_reward, 400, "INVALID_ARGUMENT")["field"] == "failure_reward"
    unknown = requests.post(f"{base_url}/openrlhf/mth", json={"query": ["a"]}, timeout=TIMEOUT_S)
    assert "'math'" in expect_error(unknown, 404, "NOT_FOUND")["message"]
    not_text = requests.post(url, json={"query": [[1, 2, 3]], "labels": ["3"]}, timeout=TIMEOUT_S)
    assert not_text.json() == {"rewards": [0.0], "scores": [0.0], "extra_logs": {"verified": [0.0], "unscored": [1.0]}}


def test_auth_token_in_the_remote_rm_url(start_server: StartServer, tmp_path: Path, tokenizer: Any):
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{SCORE_TOKEN} score\n")
    server: ServerProcess = start_server(extra_args=["--http-port", "0", "--auth-tokens-file", str(tokens)])
    data = openrlhf_rollouts(tokenizer, [("What is 2 + 2?", "\\boxed{4}", "4")])
    url = http_url(server, "/openrlhf/math", host=f"openrlhf:{SCORE_TOKEN}@127.0.0.1")
    assert remote_rm_request(url, data)["rewards"] == [1.0]
    with pytest.raises(requests.HTTPError, match="401"):
        remote_rm_request(http_url(server, "/openrlhf/math"), data)
