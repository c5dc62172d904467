"""One reading of batches for every door into the SDK: TRL, ms-swift, verl, OpenRLHF, the CLI and the completion log.

The pure readers are checked directly; the last tests send what each door read to a real
server and compare, so a rule that drifted in one adapter shows here.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import numpy as np
import pytest

from protos.openrlhf import END_OF_TURN_TOKENS
from protos.openrlhf import response_text as completion_from_query
from sdk import InputError, RemoteReward, VerifierClient
from sdk._columns import (
    NOT_DATA,
    ColumnReferences,
    RowColumns,
    Samples,
    answer_reference,
    conversation_prompt,
    json_data,
    read_content,
)
from sdk.adapters import verl
from sdk.adapters.swift import SWIFT_KEYWORDS, swift_samples
from sdk.rewards import TRAINER_KEYWORDS

# -- JSON data ------------------------------------------------------------------------------------


def test_plain_data_is_kept_as_it_is():
    value = {"tests": [{"in": "1", "out": "2"}], "weights": (1, 2.5), "flag": True, "none": None}
    assert json_data(value) is value


def test_numpy_values_sets_and_tensors_become_json_data():
    import torch

    assert json_data(np.int64(7)) == 7 and type(json_data(np.int64(7))) is int
    assert json_data(np.array([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert json_data({"gold": np.float32(0.5), "ids": np.arange(3)}) == {"gold": 0.5, "ids": [0, 1, 2]}
    assert json_data({3, 1, 2}) == [1, 2, 3]
    assert json_data(torch.tensor([1, 2])) == [1, 2]


def test_what_is_not_data_is_dropped_from_mappings_but_spoils_a_list():
    assert json_data({"index": 3, "tokenizer": object(), "callback": print}) == {"index": 3}
    assert json_data(["a", object()]) is NOT_DATA
    assert json_data(object()) is NOT_DATA
    assert json_data(b"bytes") is NOT_DATA


# -- keyword columns (TRL, ms-swift) ----------------------------------------------------------------


def test_every_column_that_is_data_becomes_the_reference_and_trainer_keywords_never_do():
    read = ColumnReferences(exclude=TRAINER_KEYWORDS, owner="r")
    columns = {
        "answer": ["4", np.str_("8")],
        "level": np.array([1, 2]).tolist(),
        "tests": [{"in": np.int64(1)}, None],
        "trainer_state": object(),
        "log_metric": print,
        "completions": ["x", "y"],
    }
    assert read(2, columns) == [
        {"answer": "4", "level": 1, "tests": {"in": 1}},
        {"answer": "8", "level": 2, "tests": None},
    ]


def test_named_columns_only_and_an_empty_selection_sends_none():
    columns = {"answer": ["4"], "solution": ["s"]}
    assert ColumnReferences(include=["solution"])(1, columns) == [{"solution": "s"}]
    assert ColumnReferences(include=[])(1, columns) == [{}]


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ({"blob": [object(), object()]}, "not JSON data"),
        ({"blob": ["only one"]}, "not one value per sample"),
        ({"blob": "a string, not a column"}, "not one value per sample"),
        ({}, "not in the batch"),
    ],
    ids=["objects", "short", "scalar", "missing"],
)
def test_a_column_left_out_is_named_once(columns: dict[str, Any], problem: str, caplog: pytest.LogCaptureFixture):
    read = ColumnReferences(include=["blob"], owner="my-reward")
    with caplog.at_level(logging.WARNING, logger="sdk._columns"):
        assert read(2, columns) == [{}, {}]
        assert read(2, columns) == [{}, {}]
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [f"my-reward: dataset column 'blob' is not sent as a reference ({problem})"]


# -- one gold value per sample (verl, OpenRLHF) ------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "reference"),
    [
        ("42", {"answer": "42"}),
        (np.str_("42"), {"answer": "42"}),
        (7, {"answer": 7}),
        ([1, 2], {"answer": [1, 2]}),
        ("{1, 2}", {"answer": "{1, 2}"}),  # a set written in math, not JSON
        ('{"inputs": ["1"], "outputs": ["2"]}', {"inputs": ["1"], "outputs": ["2"]}),
        ({"tests": ["assert f() == 1"], "tokenizer": object()}, {"tests": ["assert f() == 1"]}),
        (None, {}),
        ("", {}),
        (object(), {}),
    ],
)
def test_a_gold_value_is_the_answer_unless_it_is_a_whole_reference(gold: Any, reference: dict[str, Any]):
    assert answer_reference(gold) == reference


def test_verl_puts_the_gold_on_top_of_extra_info_and_data_source():
    extra_info = {"index": np.int64(7), "answer": "stale", "num_turns": None, "tokenizer": object()}
    assert verl.reference("gsm8k", '{"answer": "4", "unit": "cm"}', extra_info) == {
        "index": 7,
        "answer": "4",
        "unit": "cm",
        "data_source": "gsm8k",
    }


# -- rows of a file (the CLI) ------------------------------------------------------------------------


def test_rows_give_completion_prompt_ids_and_every_other_field_but_old_results():
    rows = [
        {"response": "a", "question": "q", "completion_ids": [1], "answer": "4", "score": 0.0, "outcome": "ok"},
        {"response": "b", "answer": "5", "reason": "x", "details": {}, "components": {}},
    ]
    samples = RowColumns(completion="response", prompt="question").samples(rows)
    assert samples == Samples(
        completions=["a", "b"],
        prompts=["q", None],
        references=[{"answer": "4"}, {"answer": "5"}],
        completion_ids=[[1], None],
    )


# -- prompts, completions and chat messages ------------------------------------------------------------


def test_text_and_chat_messages_are_read_alike_everywhere():
    assert read_content("text", "completions", 0) == "text"
    assert read_content(None, "prompts", 0) is None
    multimodal = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what is it?"}]}]
    assert read_content(multimodal, "prompts", 3) == [("user", "what is it?")]
    with pytest.raises(InputError, match=r"prompts\[3\]: chat messages need 'role' and 'content'"):
        read_content([{"content": "no role"}], "prompts", 3)
    with pytest.raises(InputError, match=r"completions\[1\] must be a string or a list of chat messages, got int"):
        read_content(42, "completions", 1)


def test_a_conversation_prompt_is_all_but_its_last_message():
    conversation = [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]
    assert conversation_prompt(conversation) == conversation[:1]
    assert conversation_prompt([]) is None and conversation_prompt("text") is None


def test_a_decoded_query_loses_its_prompt_and_trailing_end_of_turn_tokens():
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    assert completion_from_query(prompt + "answer <|im_end|>\n<|endoftext|>", prompt, END_OF_TURN_TOKENS) == "answer"
    assert completion_from_query("no prompt here</s>", "other", END_OF_TURN_TOKENS) == "no prompt here"


def test_a_query_with_a_bos_before_its_prompt_is_split_after_the_prompt():
    """The SDK's adapter and the HTTP face share one split (protos.openrlhf); the SDK's used to need a prefix."""
    prompt = "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n"
    assert completion_from_query("<s>" + prompt + "answer</s>", prompt, END_OF_TURN_TOKENS) == "answer"


# -- every door, one reading, against a real server ----------------------------------------------------


def test_trl_swift_and_the_cli_send_one_dataset_identically(client: VerifierClient):
    """The same two rows as TRL keywords, ms-swift keywords and file rows: the same samples reach the server."""
    completions = ["so \\boxed{4}", "so \\boxed{9}"]
    answers = ["4", "8"]
    trl = RemoteReward("math").samples(
        prompts=["2+2?", "3+5?"], completions=completions, answer=answers, trainer_state=object(), log_metric=print
    )
    messages = [
        [{"role": "user", "content": p}, {"role": "assistant", "content": c}]
        for p, c in zip(["2+2?", "3+5?"], completions, strict=True)
    ]
    swift = swift_samples(
        completions,
        {"messages": messages, "answer": answers, "request_id": ["r0", "r1"], "trainer_state": object()},
        ColumnReferences(exclude=SWIFT_KEYWORDS),
    )
    rows = [
        {"completion": c, "prompt": p, "answer": a}
        for c, p, a in zip(completions, ["2+2?", "3+5?"], answers, strict=True)
    ]
    cli = RowColumns().samples(rows)
    assert trl.references == swift.references == cli.references == [{"answer": "4"}, {"answer": "8"}]
    scored = [[r.score for r in client.score("math", **samples.arguments())] for samples in (trl, swift, cli)]
    assert scored == [[1.0, 0.0]] * 3


def test_the_completion_log_records_the_samples_as_sent(verifier_server, tmp_path):
    from trainers.rewards import CompletionsLog, build_reward_funcs

    log = CompletionsLog(tmp_path / "completions.jsonl")
    (reward,) = build_reward_funcs(
        ["math"], target=verifier_server.address, timeout_s=60, async_rewards=False, completions_log=log
    )

    class State:
        global_step = 3

    rewards = reward(
        prompts=["2+2?"],
        completions=["\\boxed{4}"],
        completion_ids=[[1, 2]],
        answer=["4"],
        handle=[object()],  # not data: neither sent nor recorded
        trainer_state=State(),
        log_metric=lambda name, value: None,
    )
    assert rewards == [1.0]
    (row,) = [json.loads(line) for line in (tmp_path / "completions.jsonl").read_text().splitlines()]
    assert row == {
        "step": 3,
        "reward_name": "math",
        "prompt": "2+2?",
        "completion": "\\boxed{4}",
        "reference": {"answer": "4"},
        "reward": 1.0,
        "outcome": "ok",
        "reason": row["reason"],
    }
