"""ms-swift, verl and OpenRLHF adapters, called the way each framework calls them, against a real server.

None of the three frameworks installs here with its dependencies (CUDA stacks, Ray,
DeepSpeed), so these tests follow each framework's *source* (ms-swift 4.6
``swift/rl_core/grpo_algorithm.py``, verl 0.9.1 ``verl/workers/reward_manager`` and
``verl/experimental/reward_loop``, OpenRLHF 0.11.2 ``openrlhf/utils/agent.py``): the
same keyword names, value shapes, loading mechanism and async handling.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

from sdk.adapters import verl as verl_adapter
from sdk.adapters._common import AdapterSettings
from sdk.adapters.openrlhf import RemoteRewardFunc
from sdk.adapters.swift import remote_orm
from tests.host_claims import refused_address
from verifier_server.testing import ServerProcess

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RIGHT, WRONG = "so \\boxed{4}", "so \\boxed{5}"


def _load_file(path: Path, name: str) -> ModuleType:
    """How ms-swift (--external_plugins) and OpenRLHF (--reward.remote_url x.py) load a user file."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _swift_kwargs(completions: list[str], answers: list[str]) -> dict[str, Any]:
    """ms-swift's reward_kwargs: trainer_state, swift internals and dataset columns, batched per sample."""
    return {
        "trainer_state": object(),
        "messages": [[{"role": "user", "content": "2 + 2?"}, {"role": "assistant", "content": c}] for c in completions],
        "prompt_id": ["p0"] * len(completions),
        "request_id": [f"r{i}" for i in range(len(completions))],
        "finish_reason": ["stop"] * len(completions),
        "is_truncated": [False] * len(completions),
        "rollout_infos": [{}] * len(completions),
        "response_token_ids": [[1, 2]] * len(completions),
        "answer": answers,
    }


def _swift_async_call(reward: Any, completions: list[str], kwargs: dict[str, Any]) -> list[Any]:
    """ms-swift runs async rewards with asyncio.gather inside a fresh asyncio.run per batch."""
    assert asyncio.iscoroutinefunction(reward.__call__)  # ms-swift's _is_async_reward check

    async def run() -> list[Any]:
        return list(await asyncio.gather(reward(completions, **kwargs)))

    return asyncio.run(run())[0]


def test_swift_plugin_file_registers_sync_and_async_orms(verifier_server: ServerProcess, monkeypatch) -> None:
    monkeypatch.setenv("VERIFIER_SERVER", verifier_server.address)
    plugin = _load_file(EXAMPLES / "swift_plugin.py", "swift_plugin_under_test")
    kwargs = _swift_kwargs([RIGHT, WRONG], ["4", "4"])
    async_reward = plugin.orms["verified_math"](args=None)  # swift: orms[name](args=args)
    assert _swift_async_call(async_reward, [RIGHT, WRONG], kwargs) == [1.0, 0.0]
    sync_reward = plugin.orms["verified_math_sync"](args=None)
    assert not asyncio.iscoroutinefunction(sync_reward.__call__)
    assert sync_reward([RIGHT, WRONG], **kwargs) == [1.0, 0.0]


def test_swift_two_async_orms_score_one_batch_concurrently(verifier_server: ServerProcess) -> None:
    math_reward = remote_orm("math", target=verifier_server.address)()
    format_reward = remote_orm("think-answer-format", target=verifier_server.address)()
    completions = ["<think>2+2</think><answer>4</answer>", WRONG]
    kwargs = _swift_kwargs(completions, ["4", "4"])

    async def run() -> list[list[Any]]:
        return list(await asyncio.gather(math_reward(completions, **kwargs), format_reward(completions, **kwargs)))

    assert asyncio.run(run()) == [[1.0, 0.0], [1.0, 0.0]]


def test_swift_failure_is_none_which_swift_turns_into_nan() -> None:
    reward = remote_orm("math", target=refused_address(), timeout_s=1.0, asynchronous=False)()
    rewards = reward([RIGHT], **_swift_kwargs([RIGHT], ["4"]))
    assert rewards == [None]
    # What ms-swift does with it: None -> NaN, left out of the nansum.
    assert torch.tensor([r if r is not None else torch.nan for r in rewards]).nansum().item() == 0.0


def test_verl_per_sample_form_with_reward_kwargs_merged(verifier_server: ServerProcess) -> None:
    """verl: get_custom_reward_fn wraps the function so config reward_kwargs win over call kwargs."""
    example = _load_file(EXAMPLES / "verl_reward.py", "verl_reward_under_test")
    reward_kwargs = {"verifier": "math", "server": verifier_server.address}
    extra_info = {"index": 3, "split": "train", "num_turns": None, "rollout_reward_scores": {}}
    right = example.compute_score(
        data_source="openai/gsm8k", solution_str=RIGHT, ground_truth="4", extra_info=extra_info, **reward_kwargs
    )
    wrong = example.compute_score(
        data_source="openai/gsm8k", solution_str=WRONG, ground_truth="4", extra_info=extra_info, **reward_kwargs
    )
    assert right == {"score": 1.0, "verified": 1.0}
    assert wrong == {"score": 0.0, "verified": 1.0}
    plain = example.compute_score("gsm8k", RIGHT, "4", None, return_dict=False, **reward_kwargs)
    assert plain == 1.0


def test_verl_batched_form_returns_aligned_dicts(verifier_server: ServerProcess) -> None:
    """BatchRewardManager.verify: compute_score(data_sources=, solution_strs=, ground_truths=, extra_infos=)."""
    import numpy as np

    scores = verl_adapter.compute_score_batch(
        data_sources=np.array(["gsm8k", "gsm8k", "gsm8k"], dtype=object),
        solution_strs=[RIGHT, WRONG, "no answer at all"],
        ground_truths=["4", "4", "4"],
        extra_infos=[{"rollout_reward_scores": {}}, {"rollout_reward_scores": {}}, {"rollout_reward_scores": {}}],
        verifier="math",
        server=verifier_server.address,
    )
    assert [s["score"] for s in scores] == [1.0, 0.0, 0.0]  # type: ignore[index]
    assert all(set(s) == {"score", "verified"} for s in scores)  # type: ignore[arg-type]
    # The same keywords reach the per-sample entry point too (one name in the config).
    again = verl_adapter.compute_score(
        data_sources=["gsm8k"],
        solution_strs=[RIGHT],
        ground_truths=["4"],
        extra_infos=[{}],
        verifier="math",
        server=verifier_server.address,
    )
    assert again == [{"score": 1.0, "verified": 1.0}]


def test_verl_async_form_in_a_long_lived_loop(verifier_server: ServerProcess) -> None:
    """verl's reward loop awaits an async compute_score per sample on one event loop."""

    async def loop_body() -> list[Any]:
        return list(
            await asyncio.gather(
                *(
                    verl_adapter.acompute_score(
                        data_source="gsm8k",
                        solution_str=s,
                        ground_truth="4",
                        extra_info={},
                        verifier="math",
                        server=verifier_server.address,
                    )
                    for s in (RIGHT, WRONG, RIGHT)
                )
            )
        )

    assert [r["score"] for r in asyncio.run(loop_body())] == [1.0, 0.0, 1.0]


def test_verl_failure_gets_failure_score_and_unverified() -> None:
    value = verl_adapter.compute_score(
        data_source="gsm8k",
        solution_str=RIGHT,
        ground_truth="4",
        verifier="math",
        server=refused_address(),
        timeout_s=1.0,
        failure_score=-1.0,
    )
    assert value == {"score": -1.0, "verified": 0.0}


def test_verl_reference_mapping() -> None:
    import numpy as np

    ref = verl_adapter.reference("gsm8k", np.str_("42"), {"index": np.int64(7), "tokenizer": object()})
    assert ref == {"index": 7, "data_source": "gsm8k", "answer": "42"}
    assert verl_adapter.reference("code", {"tests": ["assert f() == 1"]}, None) == {
        "data_source": "code",
        "tests": ["assert f() == 1"],
    }


def test_openrlhf_reward_file_loaded_like_openrlhf(verifier_server: ServerProcess, monkeypatch) -> None:
    """OpenRLHF: spec_from_file_location('reward_func', path).reward_func(queries, prompts, labels), one rollout."""
    monkeypatch.setenv("VERIFIER_SERVER", verifier_server.address)
    monkeypatch.setenv("VERIFIER_NAME", "math")
    reward_func = _load_file(EXAMPLES / "openrlhf_reward.py", "reward_func").reward_func
    prompt = "<|im_start|>user\nWhat is 2 + 2?<|im_end|>\n<|im_start|>assistant\n"

    async def like_openrlhf(query: str, label: str) -> dict[str, Any]:
        return (await asyncio.gather(asyncio.to_thread(reward_func, [query], [prompt], [label])))[0]

    right = asyncio.run(like_openrlhf(prompt + RIGHT + "<|im_end|>", "4"))
    wrong = asyncio.run(like_openrlhf(prompt + WRONG + "<|im_end|>", "4"))
    assert set(right) == {"rewards", "scores", "extra_logs"}
    assert right["rewards"].tolist() == [1.0] and wrong["rewards"].tolist() == [0.0]
    assert right["extra_logs"]["verified"].tolist() == [1.0]
    # OpenRLHF then does torch.tensor([reward]) per rollout.
    assert torch.tensor([right["rewards"]]).shape == (1,)


def test_openrlhf_strips_end_of_turn_for_format_verifiers(verifier_server: ServerProcess) -> None:
    reward = RemoteRewardFunc("think-answer-format", target=verifier_server.address)
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    out = reward([prompt + "<think>t</think><answer>4</answer><|im_end|>"], [prompt], [""])
    assert out["rewards"].tolist() == [1.0]


def test_openrlhf_batch_json_labels_and_failure(verifier_server: ServerProcess) -> None:
    reward = RemoteRewardFunc("math", target=verifier_server.address)
    out = reward([RIGHT, WRONG], ["", ""], ['{"answer": "4"}', "4"])
    assert out["rewards"].tolist() == [1.0, 0.0]
    dead = RemoteRewardFunc("math", target=refused_address(), timeout_s=1.0, failure_reward=-0.5)
    out = dead([RIGHT], [""], ["4"])
    assert out["rewards"].tolist() == [-0.5] and out["extra_logs"]["verified"].tolist() == [0.0]
    assert not math.isnan(out["scores"].item())


def test_settings_from_env(monkeypatch) -> None:
    monkeypatch.setenv("VERIFIER_SERVER", "10.0.0.1:1")
    monkeypatch.setenv("VERIFIER_NAME", "json-valid")
    monkeypatch.setenv("VERIFIER_TIMEOUT_S", "5")
    assert AdapterSettings.from_env() == AdapterSettings("json-valid", "10.0.0.1:1", 5.0, None)
    assert AdapterSettings.from_env("math").verifier == "math"
