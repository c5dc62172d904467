"""Each dataset preset on rows shaped exactly as the dataset stores them (written by hand from the cards).

The whole row is the sample's reference, columns and all, as a trainer passing dataset
columns would send it; no preset needs a column renamed.
"""

from __future__ import annotations

import base64
import json
import os
import pickle
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from sdk import Outcome, VerifierClient
from verifier_server.testing import REPO_ROOT, ServerProcess

PRESETS = ("gsm8k", "humaneval", "mbpp", "apps", "livecodebench", "ifeval")


def scores(client: VerifierClient, preset: str, row: dict[str, Any], completions: list[str], **kw: Any) -> list[Any]:
    results = client.score(preset, completions, references=[row] * len(completions), **kw)
    assert all(r.outcome is Outcome.OK for r in results), [r.reason for r in results]
    return [r.score for r in results]


def test_presets_are_listed_by_the_cli(verifier_server: ServerProcess):
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFIER_")}
    listed = subprocess.run(
        [sys.executable, "-m", "sdk.cli.main", "--server", verifier_server.address, "list"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env, check=True,
    ).stdout  # fmt: skip
    for name in (*PRESETS, "math"):
        assert name in listed


def test_gsm8k(client: VerifierClient):
    row = {
        "question": "A baker makes 12 rolls an hour for 3 hours, then sells 20. How many are left?",
        "answer": "He makes 12 * 3 = <<12*3=36>>36 rolls.\nAfter selling, 36 - 20 = <<36-20=16>>16 are left.\n#### 16",
    }
    assert scores(client, "gsm8k", row, ["36 - 20 = 16, so \\boxed{16}", "The answer is 36."]) == [1.0, 0.0]


def test_math_reads_math_solutions(client: VerifierClient):
    row = {
        "problem": "What is $\\frac{3}{8} + \\frac{3}{8}$?",
        "level": "Level 1",
        "type": "Prealgebra",
        "solution": "Adding the numerators, $\\frac{3}{8}+\\frac{3}{8}=\\frac{6}{8}=\\boxed{\\frac{3}{4}}$.",
    }
    assert scores(client, "math", row, ["So it is \\boxed{0.75}.", "\\boxed{\\frac{6}{16}}"]) == [1.0, 0.0]


HUMANEVAL_ROW = {
    "task_id": "HumanEval/900",
    "prompt": 'def clamp_sum(values, limit):\n    """Sum the values, but never return more than limit."""\n',
    "canonical_solution": "    return min(sum(values), limit)\n",
    "test": "\n\nMETADATA = {'author': 'test'}\n\n\ndef check(candidate):\n"
    "    assert candidate([1, 2], 10) == 3\n    assert candidate([5, 9], 10) == 10\n    assert candidate([], 0) == 0\n",
    "entry_point": "clamp_sum",
}


def test_humaneval(client: VerifierClient):
    whole = "```python\ndef clamp_sum(values, limit):\n    return min(sum(values), limit)\n```"
    body_only = "    return min(sum(values), limit)\n"
    wrong = "```python\ndef clamp_sum(values, limit):\n    return sum(values)\n```"
    prompts = [HUMANEVAL_ROW["prompt"]] * 3
    assert scores(client, "humaneval", HUMANEVAL_ROW, [whole, body_only, wrong], prompts=prompts) == [1.0, 1.0, 0.0]


def test_mbpp_original_and_sanitized(client: VerifierClient):
    original = {
        "task_id": 9001,
        "text": "Write a function to remove duplicates from a list.",
        "code": "def uniq(xs):\n  return list(set(xs))",
        "test_list": ["assert norm(uniq([3, 1, 3])) == [1, 3]", "assert norm(uniq([])) == []",
                      "assert norm(uniq([2, 2, 2])) == [2]"],
        "test_setup_code": "def norm(xs):\n    return sorted(xs)",
        "challenge_test_list": [],
    }  # fmt: skip
    good = "```python\ndef uniq(xs):\n    return list(set(xs))\n```"
    partial = "```python\ndef uniq(xs):\n    return xs[:1]\n```"
    assert scores(client, "mbpp", original, [good, partial]) == [1.0, pytest.approx(2 / 3)]

    sanitized = {
        "source_file": "Benchmark Questions Verification V2.ipynb",
        "task_id": 9002,
        "prompt": "Write a function to compute the area of a circle of radius r.",
        "code": "import math\ndef circle_area(r):\n    return math.pi * r * r",
        "test_imports": ["import math"],
        "test_list": ["assert math.isclose(circle_area(1), 3.14159, rel_tol=0.001)",
                      "assert math.isclose(circle_area(2), 12.566, rel_tol=0.001)"],
    }  # fmt: skip
    right = "```python\nimport math\n\ndef circle_area(r):\n    return math.pi * r ** 2\n```"
    assert scores(client, "mbpp", sanitized, [right, "def circle_area(r):\n    return 3 * r * r\n"]) == [1.0, 0.0]


def test_apps_standard_input(client: VerifierClient):
    row = {
        "problem_id": 9100,
        "question": "Read two integers and print their sum.",
        "solutions": json.dumps(["a, b = map(int, input().split())\nprint(a + b)"]),
        "input_output": json.dumps({"inputs": ["1 2\n", "40 2\n", "-5 5\n"], "outputs": ["3\n", "42\n", "0\n"]}),
        "difficulty": "introductory",
        "url": "https://example.invalid/problem/9100",
        "starter_code": "",
    }
    good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    wrong = "```python\na, b = map(int, input().split())\nprint(a * b)\n```"
    assert scores(client, "apps", row, [good, wrong]) == [1.0, 0.0]


def test_apps_function_calls(client: VerifierClient):
    row = {
        "problem_id": 9101,
        "question": "Return the number of vowels in s.",
        "solutions": json.dumps(["def count_vowels(s):\n    return sum(c in 'aeiou' for c in s)"]),
        "input_output": json.dumps(
            {"fn_name": "count_vowels", "inputs": [["hello"], ["xyz"], ["aeiou"]], "outputs": [[2], [0], [5]]}
        ),
        "difficulty": "introductory",
        "url": "https://example.invalid/problem/9101",
        "starter_code": "def count_vowels(s):\n\t",
    }
    good = "```python\ndef count_vowels(s):\n    return sum(c in 'aeiou' for c in s)\n```"
    method = (
        "```python\nclass Solution:\n    def count_vowels(self, s):\n        return sum(c in 'aeiou' for c in s)\n```"
    )
    wrong = "```python\ndef count_vowels(s):\n    return len(s)\n```"
    assert scores(client, "apps", row, [good, method, wrong]) == [1.0, 1.0, pytest.approx(1 / 3)]


def lcb_private(cases: list[dict[str, str]]) -> str:
    """How code_generation_lite stores private tests: JSON text, pickled, zlib-compressed, base64."""
    return base64.b64encode(zlib.compress(pickle.dumps(json.dumps(cases)))).decode("utf-8")


def test_livecodebench_standard_input(client: VerifierClient):
    row = {
        "question_title": "Sum of Two",
        "question_content": "Given A and B, print A+B.",
        "platform": "atcoder",
        "question_id": "abc900_a",
        "contest_id": "abc900",
        "contest_date": "2024-05-04T00:00:00",
        "starter_code": "",
        "difficulty": "easy",
        "public_test_cases": json.dumps([{"input": "3 4\n", "output": "7\n", "testtype": "stdin"}]),
        "private_test_cases": lcb_private(
            [
                {"input": "10 20\n", "output": "30\n", "testtype": "stdin"},
                {"input": "0 0\n", "output": "0\n", "testtype": "stdin"},
            ]
        ),
        "metadata": "{}",
    }
    good = "```python\na, b = map(int, input().split())\nprint(a + b)\n```"
    fixed = "```python\nprint(7)\n```"  # passes the public test only
    (ok, partial) = client.score("livecodebench", [good, fixed], references=[row, row])
    assert ok.score == 1.0 and ok.details["total"] == 3
    assert partial.score == pytest.approx(1 / 3)


def test_livecodebench_functional_and_plain_private_tests(client: VerifierClient):
    row = {
        "question_title": "Largest Pair Sum",
        "question_content": "Return the largest sum of two distinct elements of nums.",
        "platform": "leetcode",
        "question_id": "9200",
        "contest_id": "weekly-contest-900",
        "contest_date": "2024-06-01T00:00:00",
        "starter_code": "class Solution:\n    def maxPairSum(self, nums: List[int]) -> int:\n        ",
        "difficulty": "medium",
        "public_test_cases": json.dumps([{"input": "[1, 5, 3]", "output": "8", "testtype": "functional"}]),
        "private_test_cases": json.dumps([{"input": "[2, 2]", "output": "4", "testtype": "functional"},
                                          {"input": "[-1, -2, -3]", "output": "-3", "testtype": "functional"}]),
        "metadata": json.dumps({"func_name": "maxPairSum"}),
    }  # fmt: skip
    good = ("```python\nfrom typing import List\n\nclass Solution:\n    def maxPairSum(self, nums: List[int]) -> int:\n"
            "        a, b = sorted(nums)[-2:]\n        return a + b\n```")  # fmt: skip
    wrong = "```python\nclass Solution:\n    def maxPairSum(self, nums):\n        return max(nums) * 2\n```"
    assert scores(client, "livecodebench", row, [good, wrong]) == [1.0, pytest.approx(1 / 3)]


def test_livecodebench_two_argument_functional_tests(client: VerifierClient):
    cases = [{"input": '"abcab"\n"ab"', "output": "2", "testtype": "functional"}]
    row = {"public_test_cases": json.dumps(cases), "private_test_cases": lcb_private(cases),
           "metadata": json.dumps({"func_name": "countOccurrences"}), "platform": "leetcode"}  # fmt: skip
    good = "class Solution:\n    def countOccurrences(self, s: str, t: str) -> int:\n        return s.count(t)\n"
    assert scores(client, "livecodebench", row, [good]) == [1.0]


class _Planted:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_livecodebench_pickles_are_never_executed(client: VerifierClient, tmp_path: Path):
    marker = tmp_path / "pwned"
    planted = base64.b64encode(zlib.compress(pickle.dumps(_Planted(str(marker))))).decode()
    public = json.dumps([{"input": "1\n", "output": "1\n", "testtype": "stdin"}])
    bomb = base64.b64encode(zlib.compress(b"\0" * (300 * 1024 * 1024))).decode()
    rows = [
        {"public_test_cases": public, "private_test_cases": planted, "metadata": "{}"},
        {"public_test_cases": public, "private_test_cases": bomb, "metadata": "{}"},
        {"public_test_cases": public, "private_test_cases": "not base64 !!", "metadata": "{}"},
        {
            "public_test_cases": json.dumps([{"input": "[1]", "output": "1", "testtype": "functional"}]),
            "metadata": "{}",
        },
    ]
    results = client.score("livecodebench", ["print(input())"] * 4, references=rows)
    assert all(r.outcome is Outcome.INVALID_INPUT for r in results), [r.reason for r in results]
    assert "REDUCE" in results[0].reason or "STACK_GLOBAL" in results[0].reason
    assert "decompresses to more than" in results[1].reason
    assert "neither JSON nor base64" in results[2].reason
    assert "func_name" in results[3].reason
    assert not marker.exists()


def test_ifeval_rows(client: VerifierClient):
    google = {
        "key": 9300,
        "prompt": "Describe a lighthouse in lowercase letters only, and wrap the whole answer in double quotes.",
        "instruction_id_list": ["change_case:english_lowercase", "startend:quotation"],
        "kwargs": [{"num_highlights": None, "relation": None}, {"num_highlights": None, "relation": None}],
    }
    lowercase_quoted = '"a tall white tower guides ships home at night."'
    plain = "A tall white tower guides ships home at night."
    assert scores(client, "ifeval", google, [lowercase_quoted, plain]) == [1.0, 0.0]
    rlvr = {
        "messages": [{"role": "user", "content": "List two fruits. Your answer must contain exactly 2 bullet points."}],
        "ground_truth": json.dumps({"func_name": "verify_bullet_points", "N": 2, "quantifier": None,
                                    "end_phrase": None, "keyword_list": None, "word": None}),
        "dataset": "ifeval",
        "constraint_type": "Number Bullets",
        "constraint": "Your answer must contain exactly 2 bullet points.",
    }  # fmt: skip
    assert scores(client, "ifeval", rlvr, ["* apple\n* pear", "* apple"]) == [1.0, 0.0]
