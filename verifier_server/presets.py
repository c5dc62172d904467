"""Built-in verifiers named after the datasets RLVR recipes train on, reading each dataset's own columns.

Send a dataset row as the sample's reference (all its columns) and the completion; no
registration and no column renaming. ``docs/datasets.md`` shows one row of each and the
call that scores it. ``math`` (MATH's ``solution``/``answer``) is the math kind's own
built-in; the rest are here:

| preset | dataset columns it reads |
|---|---|
| ``gsm8k`` | ``answer`` (the solution text; the number after ``####`` is the gold) |
| ``humaneval`` | ``test`` + ``entry_point`` (the sample's prompt is prepended to a bare function body) |
| ``mbpp`` | ``test_list`` + ``test_setup_code`` (original) or ``test_imports`` (sanitized) |
| ``apps`` | ``input_output`` (JSON text; with ``fn_name`` the tests are function calls, else stdin/stdout) |
| ``livecodebench`` | ``public_test_cases`` + ``private_test_cases`` (plain or compressed) + ``metadata`` |
| ``ifeval`` | ``instruction_id_list`` + ``kwargs`` (Google IFEval), or ``ground_truth`` (AllenAI RLVR) |
"""

from __future__ import annotations

from typing import Any


def builtin_specs() -> list[dict[str, Any]]:
    return [
        {
            "name": "gsm8k",
            "kind": "math",
            "config": {"gold_field": "answer"},
            "description": "GSM8K: the completion's final answer against the number after '####' in the row's "
            "answer column; 1.0 or 0.0.",
        },
        {
            "name": "humaneval",
            "kind": "code",
            "config": {"language": "python", "tests": "assert", "tests_field": "test", "scoring": "all_or_nothing"},
            "description": "HumanEval: the row's test (check(entry_point)) against the completion's Python, the "
            "prompt prepended when the completion is only the body; 1.0 if check passes.",
        },
        {
            "name": "mbpp",
            "kind": "code",
            "config": {"language": "python", "tests": "assert", "tests_field": "test_list"},
            "description": "MBPP (original or sanitized): the row's test_list asserts after test_setup_code or "
            "test_imports; fraction passed.",
        },
        {
            "name": "apps",
            "kind": "code",
            "config": {"tests_field": "input_output", "checker": "token", "unwrap_singleton": True},
            "description": "APPS: the row's input_output (JSON text) as stdin/stdout cases, or as calls of fn_name "
            "(a function or Solution method) when present, an expected [x] accepting x as APPS's own harness does; "
            "Python unless the fence names another language; fraction passed.",
        },
        {
            "name": "livecodebench",
            "kind": "code",
            "config": {"tests_field": "public_test_cases", "checker": "token"},
            "description": "LiveCodeBench (code_generation_lite): public and private test cases as the row stores "
            "them, stdin or functional (Solution().func_name from metadata); fraction passed.",
        },
        {
            "name": "ifeval",
            "kind": "ifeval",
            "config": {"mode": "strict", "scoring": "fraction"},
            "description": "IFEval instruction following: the row's instruction_id_list + kwargs (Google IFEval) "
            "or ground_truth (AllenAI RLVR-IFeval / IF_multi_constraints), strict mode; fraction of "
            "instructions followed, per-instruction verdicts in details.",
        },
    ]
