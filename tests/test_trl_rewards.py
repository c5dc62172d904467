"""``RemoteReward`` / ``AsyncRemoteReward`` as TRL reward functions, against a real server.

The fast tests call the adapters with TRL's keyword convention; the slow ones run a
real ``GRPOTrainer`` for two steps on a tiny random Qwen2 built offline.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sdk import AsyncRemoteReward, RemoteReward, specs
from sdk.rewards import TRAINER_KEYWORDS
from tests.host_claims import refused_address
from tests.tiny_models import build_tiny_causal_lm
from verifier_server.testing import ServerProcess

GOOD = "<think>because</think><answer>4</answer>"
BAD = "the answer is 4"


class MetricSink:
    """Stands in for TRL's ``log_metric`` / ``log_extra`` callables (plain recorders, not a wire fake)."""

    def __init__(self) -> None:
        self.metrics: dict[str, list[float]] = {}

    def log_metric(self, name: str, value: float) -> None:
        self.metrics.setdefault(name, []).append(value)

    def log_extra(self, column: str, values: list[Any]) -> None:
        pass


def trl_kwargs(completions: list[Any], sink: MetricSink, **columns: Any) -> dict[str, Any]:
    """Keywords exactly as GRPOTrainer passes them to a reward function."""
    return {
        "prompts": ["q"] * len(completions),
        "completions": completions,
        "completion_ids": [[1, 2, 3]] * len(completions),
        **columns,
        "trainer_state": object(),
        "log_extra": sink.log_extra,
        "log_metric": sink.log_metric,
    }


# -- the adapter with TRL's calling convention ---------------------------------------------------


def test_sync_reward_scores_a_batch_and_logs_metrics(verifier_server: ServerProcess):
    reward = RemoteReward("think-answer-format", target=verifier_server.address)
    sink = MetricSink()
    rewards = reward(**trl_kwargs([GOOD, BAD, GOOD, None], sink, answer=["4", "4", "5", "6"]))
    assert rewards == [1.0, 0.0, 1.0, None]  # None: the sample could not be scored (invalid_input)
    assert reward.__name__ == "think-answer-format"
    assert sink.metrics["think-answer-format/outcome_ok"] == [0.75]
    assert sink.metrics["think-answer-format/outcome_invalid_input"] == [0.25]
    assert sink.metrics["think-answer-format/outcome_error"] == [0.0]
    assert sink.metrics["think-answer-format/latency_s"][0] > 0
    reward.close()


async def test_async_reward_matches_the_sync_one(verifier_server: ServerProcess):
    reward = AsyncRemoteReward("think-answer-format", target=verifier_server.address)
    sink = MetricSink()
    rewards = await reward(**trl_kwargs([GOOD, BAD, None], sink, answer=["4", "4", "4"]))
    assert rewards == [1.0, 0.0, None]
    assert sink.metrics["think-answer-format/outcome_ok"] == [pytest.approx(2 / 3)]
    assert "think-answer-format/latency_s" in sink.metrics


def test_async_reward_is_detected_by_trl():
    from trl.trainer.utils import get_callable_name, is_async_callable

    reward = AsyncRemoteReward("think-answer-format")
    assert is_async_callable(reward)
    assert not is_async_callable(RemoteReward("think-answer-format"))
    function = reward.as_function()
    assert inspect.iscoroutinefunction(function)  # what older TRL releases check
    assert get_callable_name(function) == get_callable_name(reward) == "think-answer-format"


def test_conversational_completions(verifier_server: ServerProcess):
    reward = RemoteReward("think-answer-format", target=verifier_server.address)
    completions = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}]]
    kwargs = trl_kwargs(completions, MetricSink())
    kwargs["prompts"] = [[{"role": "user", "content": "2+2?"}]] * 2
    assert reward(**kwargs) == [1.0, 0.0]


def test_inline_spec_reward_is_named_after_the_spec(verifier_server: ServerProcess):
    reward = RemoteReward(specs.regex("has-digit", r"\d"), target=verifier_server.address)
    assert reward.__name__ == "has-digit"
    assert reward(**trl_kwargs(["a1", "ab"], MetricSink())) == [1.0, 0.0]
    assert RemoteReward("has-digit@3").__name__ == "has-digit@3"
    assert RemoteReward("x", name="custom").__name__ == "custom"


def test_dataset_columns_become_references():
    reward = RemoteReward("think-answer-format")
    columns = {
        "answer": ["4", "8"],
        "tests": [{"in": "1"}, {"in": "2"}],
        "weights": [[1, 2], [3]],
        "not_json": [object(), object()],
        "trainer_state": object(),
        "log_metric": print,
        "log_extra": print,
    }
    assert reward._references(2, columns) == [
        {"answer": "4", "tests": {"in": "1"}, "weights": [1, 2]},
        {"answer": "8", "tests": {"in": "2"}, "weights": [3]},
    ]
    assert {"prompts", "completions", "completion_ids", "trainer_state", "log_metric", "log_extra"} <= TRAINER_KEYWORDS
    only_answer = RemoteReward("think-answer-format", reference_columns=["answer"])
    assert only_answer._references(2, columns) == [{"answer": "4"}, {"answer": "8"}]
    none = RemoteReward("think-answer-format", reference_columns=[])
    assert none._references(2, columns) == [{}, {}]


def test_non_json_column_is_skipped_with_one_warning(verifier_server: ServerProcess, caplog: pytest.LogCaptureFixture):
    reward = RemoteReward("think-answer-format", target=verifier_server.address)
    with caplog.at_level(logging.WARNING, logger="sdk.rewards"):
        for _ in range(2):
            assert reward(**trl_kwargs([GOOD], MetricSink(), blob=[object()])) == [1.0]
    assert [r.getMessage() for r in caplog.records].count(
        "think-answer-format: dataset column 'blob' is not sent as a reference (not JSON data)"
    ) == 1


def test_server_down_gives_none_and_a_warning(caplog: pytest.LogCaptureFixture):
    reward = RemoteReward("think-answer-format", target=refused_address(), timeout_s=1.0)
    sink = MetricSink()
    with caplog.at_level(logging.WARNING, logger="sdk.rewards"):
        assert reward(**trl_kwargs([GOOD, BAD, GOOD], sink)) == [None, None, None]
    assert any("returning None for 3 samples" in r.getMessage() for r in caplog.records)
    assert sink.metrics["think-answer-format/outcome_error"] == [1.0]


async def test_async_server_down_gives_none(caplog: pytest.LogCaptureFixture):
    reward = AsyncRemoteReward("think-answer-format", target=refused_address(), timeout_s=1.0)
    with caplog.at_level(logging.WARNING, logger="sdk.rewards"):
        assert await reward(**trl_kwargs([GOOD, BAD], MetricSink())) == [None, None]
    assert any("cannot reach the verifier server" in r.getMessage() for r in caplog.records)


def test_unknown_verifier_gives_none_not_an_exception(verifier_server: ServerProcess):
    reward = RemoteReward("no-such-verifier", target=verifier_server.address)
    assert reward(**trl_kwargs([GOOD], MetricSink())) == [None]


def test_rewards_are_picklable_after_use(verifier_server: ServerProcess):
    reward = RemoteReward("think-answer-format", target=verifier_server.address, timeout_s=30)
    assert reward(**trl_kwargs([GOOD], MetricSink())) == [1.0]  # a live client exists now
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.__name__ == "think-answer-format" and copy.timeout_s == 30
    assert copy(**trl_kwargs([BAD, GOOD], MetricSink())) == [0.0, 1.0]
    reward.close()
    copy.close()


async def test_async_reward_is_picklable_after_use(verifier_server: ServerProcess):
    reward = AsyncRemoteReward("think-answer-format", target=verifier_server.address)
    assert await reward(**trl_kwargs([GOOD], MetricSink())) == [1.0]
    copy = pickle.loads(pickle.dumps(reward))
    assert await copy(**trl_kwargs([BAD], MetricSink())) == [0.0]


def test_async_reward_works_from_several_event_loops(verifier_server: ServerProcess):
    reward = AsyncRemoteReward("think-answer-format", target=verifier_server.address)
    for _ in range(2):  # each asyncio.run is a new loop; the adapter needs a client per loop
        assert asyncio.run(reward(**trl_kwargs([GOOD], MetricSink()))) == [1.0]


# -- inside a real GRPOTrainer ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Path]:
    root = tmp_path_factory.mktemp("tiny-models")
    return {chat: build_tiny_causal_lm(root / ("chat" if chat else "plain"), chat=chat) for chat in (False, True)}


class LoopRecordingReward(AsyncRemoteReward):
    """Records the event loop each call runs on (to check TRL's own loop ran it)."""

    loops: list[asyncio.AbstractEventLoop]

    async def __call__(self, *args: Any, **kwargs: Any) -> list[float | None]:
        self.loops = [*getattr(self, "loops", []), asyncio.get_running_loop()]
        return await super().__call__(*args, **kwargs)


def local_length_reward(completions: list[Any], **kwargs: Any) -> list[float]:
    """An in-process reward that always answers, so no row is left with only Nones."""
    return [float(len(c if isinstance(c, str) else c[0]["content"])) / 100 for c in completions]


def train_two_steps(model_dir: Path, reward_funcs: list[Callable[..., Any]], chat: bool, tmp_path: Path) -> Any:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    questions = ["What is 2 + 2?", "What is 3 + 5?", "What is 1 + 6?", "What is 4 + 4?"]
    prompts: list[Any] = [[{"role": "user", "content": q}] for q in questions] if chat else questions
    dataset = Dataset.from_dict({"prompt": prompts, "answer": ["4", "8", "7", "8"]})
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        max_steps=2,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=12,
        learning_rate=1e-4,
        logging_steps=1,
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        log_completions=False,
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        reward_funcs=reward_funcs,
        args=args,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(model_dir),
    )
    trainer.train()
    return trainer


def logged(trainer: Any, key: str) -> list[float]:
    return [entry[key] for entry in trainer.state.log_history if key in entry]


@pytest.mark.slow
@pytest.mark.parametrize("chat", [False, True], ids=["standard", "conversational"])
def test_grpo_trainer_with_sync_and_async_remote_rewards(
    verifier_server: ServerProcess, tiny_models: dict[bool, Path], tmp_path: Path, chat: bool
):
    sync_reward = RemoteReward("think-answer-format", target=verifier_server.address, timeout_s=60)
    async_reward = LoopRecordingReward(
        "think-answer-format", target=verifier_server.address, timeout_s=60, name="think-answer-format-async"
    )
    trainer = train_two_steps(tiny_models[chat], [sync_reward, async_reward], chat, tmp_path)

    assert trainer.state.global_step == 2
    for name in ("think-answer-format", "think-answer-format-async"):
        means = logged(trainer, f"rewards/{name}/mean")
        assert len(means) == 2 and all(0.0 <= m <= 1.0 for m in means), name
        # every sample was scored: the outcome fractions TRL logged through log_metric say so
        assert logged(trainer, f"{name}/outcome_ok") == [1.0, 1.0]
        assert logged(trainer, f"{name}/outcome_error") == [0.0, 0.0]
        assert all(latency > 0 for latency in logged(trainer, f"{name}/latency_s"))
    assert async_reward.loops and all(loop is trainer.async_loop for loop in async_reward.loops)


@pytest.mark.slow
def test_grpo_trainer_survives_a_dead_verifier_server(tiny_models: dict[bool, Path], tmp_path: Path):
    dead = refused_address()
    rewards = [
        RemoteReward("think-answer-format", target=dead, timeout_s=0.5, name="dead-sync"),
        AsyncRemoteReward("think-answer-format", target=dead, timeout_s=0.5, name="dead-async"),
        local_length_reward,
    ]
    trainer = train_two_steps(tiny_models[False], rewards, False, tmp_path)
    assert trainer.state.global_step == 2
    for name in ("dead-sync", "dead-async"):
        assert logged(trainer, f"{name}/outcome_error") == [1.0, 1.0]
        means = logged(trainer, f"rewards/{name}/mean")
        assert len(means) == 2 and all(m is None or m != m for m in means)  # NaN (logged as None): all None
    assert all(isinstance(m, float) and m == m for m in logged(trainer, "rewards/local_length_reward/mean"))
