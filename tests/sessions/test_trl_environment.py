"""``sdk.trl.SandboxEnvironment`` against a real server: TRL 1.16's calling convention, then a real GRPOTrainer.

The convention tests drive the environment exactly as ``GRPOTrainer`` does (factory called
with no arguments, tools found with ``inspect.getmembers`` on the class, ``reset(**row)``
one rollout after another, tools called with keyword arguments, ``get_reward()`` once per
rollout). The slow test runs a real ``GRPOTrainer``: a tiny random model whose decoding is
biased towards one tool call, so it calls the ``python`` tool and TRL scores the end state.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sdk.trl import SandboxEnvironment
from tests.sessions.support import session_config
from verifier_server.testing import ServerProcess, start_server_process

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sessions need host root (the fork server)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    started = start_server_process(tmp_path_factory.mktemp("trl-sessions"), config=session_config())
    yield started
    started.stop()


def tools_as_trl_sees_them(environment: Any) -> dict[str, Any]:
    """The tool dict GRPOTrainer builds for one rollout (``_generate_and_score_completions``)."""
    return {
        name: getattr(environment, name)
        for name, _ in inspect.getmembers(type(environment), predicate=inspect.isfunction)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    }


def test_trl_calling_convention_tools_reset_and_reward(server: ServerProcess) -> None:
    from transformers.utils import get_json_schema

    factory = SandboxEnvironment.factory(target=server.address, bash=True, reward="python-tests", group_size=2)
    environments = [factory() for _ in range(4)]  # TRL pools instances and resets them per rollout
    tools = tools_as_trl_sees_them(environments[0])
    assert sorted(tools) == ["bash", "python"]
    for tool in tools.values():
        schema = get_json_schema(tool)["function"]
        assert schema["description"] and list(schema["parameters"]["required"]) in (["code"], ["command"])
    rows = [
        {"prompt": [{"role": "user", "content": "q1"}], "setup": "base = 40", "test_list": ["assert answer == 42"]},
        {"prompt": [{"role": "user", "content": "q2"}], "setup": "base = 5", "test_list": ["assert answer == 7"]},
    ]
    batch = [rows[0], rows[0], rows[1], rows[1]]  # GRPO: each prompt's rollouts arrive one after another
    for environment, row in zip(environments, batch, strict=True):
        assert environment.reset(**row) is None
    answers = ["base + 2", "base", "base + 2", "base + 2"]
    for environment, expression in zip(environments, answers, strict=True):
        output = tools_as_trl_sees_them(environment)["python"](code=f"answer = {expression}\nprint(answer)")
        assert output.strip().isdigit(), output
    assert tools_as_trl_sees_them(environments[0])["bash"](command="echo $((6 * 7)) > out; cat out") == "42\n"
    assert [environment.get_reward() for environment in environments] == [1.0, 0.0, 1.0, 1.0]
    factory.shared.close()  # type: ignore[attr-defined]


def test_forks_of_one_prompt_share_the_setup_state_and_nothing_else(server: ServerProcess) -> None:
    factory = SandboxEnvironment.factory(target=server.address)
    first, second, other = factory(), factory(), factory()
    setup = "import random\ntoken = random.random()"
    first.reset(setup=setup)
    second.reset(setup=setup)
    other.reset(setup=setup + "\n")  # another prompt: its own setup run
    tokens = [env.python(code="token") for env in (first, second, other)]
    assert tokens[0] == tokens[1] != tokens[2]
    first.python(code="token = 'mine'")
    assert second.python(code="token") == tokens[1]
    factory.shared.close()  # type: ignore[attr-defined]


def test_every_tool_call_has_a_deadline_and_a_lost_sandbox_starts_afresh(server: ServerProcess) -> None:
    factory = SandboxEnvironment.factory(target=server.address, tool_timeout_s=3.0, max_output_chars=200)
    env = factory()
    env.reset(setup="state = 'set up'")
    assert "[timeout]" in env.python(code="import time\ntime.sleep(30)")
    assert env.python(code="state") == "'set up'\n"
    stubborn = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
    assert "state is gone" in env.python(code=stubborn)
    assert env.python(code="state") == "'set up'\n"  # a fresh sandbox from the same setup
    long = env.python(code="print('x' * 1000)")
    assert long.startswith("[... ") and len(long) < 300
    factory.shared.close()  # type: ignore[attr-defined]


@pytest.mark.slow
def test_inside_a_real_grpo_trainer_the_model_calls_the_tool_and_the_end_state_is_rewarded(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer
    from trl.chat_template_utils import qwen2_5_chat_template

    from trainers.tiny import build_tokenizer, save_tiny_causal_lm

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    tokenizer = build_tokenizer(chat=True)
    tokenizer.chat_template = qwen2_5_chat_template  # a template TRL can render tools with and parse calls from
    torch.manual_seed(0)
    model_dir = save_tiny_causal_lm(tokenizer, tmp_path / "model", max_positions=4096)
    call = '<tool_call>\n{"name": "python", "arguments": {"code": "answer = base + 2\\nprint(answer)"}}\n</tool_call>'
    ids = tokenizer(call + "<|im_end|>", add_special_tokens=False)["input_ids"]
    # Bias each next token of the call (a longer matched prefix wins), so the random model emits it.
    bias = {tuple(ids[: i + 1]): 10.0 * (i + 1) for i in range(len(ids))}
    dataset = Dataset.from_dict(
        {
            "prompt": [[{"role": "user", "content": "Compute base + 2 with the python tool."}]] * 2,
            "setup": ["base = 40", "base = 5"],
            "test_list": [["assert answer == 42"], ["assert answer == 7"]],
        }
    )
    factory = SandboxEnvironment.factory(target=server.address, reward="python-tests", group_size=2)
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        max_steps=1,
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=len(ids) + 8,
        max_tool_calling_iterations=1,
        generation_kwargs={"sequence_bias": bias},
        learning_rate=1e-4,
        logging_steps=1,
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        report_to="none",
        save_strategy="no",
        dataloader_num_workers=0,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model_dir),
        reward_funcs=[],
        args=args,
        train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(model_dir),
        environment_factory=factory,
    )
    trainer.train()
    log = trainer.state.log_history[0]
    assert log["tools/call_frequency"] == 1.0 and log["tools/failure_frequency"] == 0.0
    assert log["rewards/SandboxEnvironment/mean"] == 1.0  # each rollout's end state passed its prompt's tests
    factory.shared.close()  # type: ignore[attr-defined]
