"""The code kind through the real service: test styles, checkers, scoring, and tamper attempts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk import VerifierClient

ADD_TESTS = {"test_list": ["assert add(1, 2) == 3", "assert add(2, 2) == 4", "assert add(-1, 1) == 0"]}
HUMANEVAL = {"test": "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(5, 5) == 10\n",
             "entry_point": "add"}
GOOD = "```python\ndef add(a, b):\n    return a + b\n```"


def score(client: VerifierClient, spec: Any, completions: list[str], references: list[dict[str, Any]]) -> list[Any]:
    return list(client.score(spec, completions=completions, references=references))


def test_stdio_cases_and_checkers(client: VerifierClient) -> None:
    ref = {"tests": [{"input": "1 2\n", "output": "3"}, {"input": "2 2\n", "output": "4"}]}
    results = score(client, "stdio-tests", [
        "```python\na, b = map(int, input().split())\nprint(a + b)\n```",
        "```python\nprint(3)\n```",
        "I cannot solve this.",
        "```python\nwhile True: pass\n```",
    ], [ref] * 4)
    assert [r.score for r in results[:2]] == [1.0, 0.5]
    assert results[1].details["tests"][1]["verdict"] == "wrong_answer"
    assert results[2].outcome == "ok" and results[2].score == 0.0
    assert results[3].details["tests"][0]["verdict"] == "timeout"
    floats = {"kind": "code", "config": {"tests": "stdio", "checker": "float", "time_limit_s": 2}}
    got = score(client, floats, ["print(0.33333334)"], [{"tests": [{"input": "", "output": "0.333333333"}]}])
    assert got[0].score == 1.0


def test_apps_input_output_and_function_calls(client: VerifierClient) -> None:
    apps = {"input_output": json.dumps({"inputs": ["3\n"], "outputs": ["6\n"]})}
    assert score(client, "stdio-tests", ["print(int(input()) * 2)"], [apps])[0].score == 1.0
    call = {"input_output": json.dumps({"fn_name": "twoSum", "inputs": [[[2, 7, 11], 9], [[3, 3], 6]],
                                        "outputs": [[0, 1], [[0, 1]]]})}
    leet = "class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n"
    strict, apps_style = (score(client, {"kind": "code", "config": config}, [leet], [call])[0]
                          for config in ({}, {"unwrap_singleton": True}))
    assert strict.score == 0.5 and strict.details["tests"][1]["verdict"] == "wrong_answer"
    assert apps_style.score == 1.0


def test_assert_styles_and_missing_tests(client: VerifierClient) -> None:
    results = score(client, "python-tests", [GOOD, GOOD, "```python\ndef add(a, b):\n    return a * b\n```"],
                    [ADD_TESTS, HUMANEVAL, ADD_TESTS])
    assert [r.score for r in results] == [1.0, 1.0, pytest.approx(1 / 3)]
    missing = score(client, "python-tests", [GOOD], [{}])[0]
    assert missing.outcome == "invalid_input" and "reference.tests" in missing.reason


def test_test_script(client: VerifierClient) -> None:
    script = ("import unittest\nfrom solution import add\n\ndef test_small():\n    assert add(1, 1) == 2\n\n"
              "class T(unittest.TestCase):\n    def test_big(self):\n        self.assertEqual(add(10, 10), 20)\n")
    result = score(client, {"kind": "code", "config": {"tests": "script"}}, [GOOD], [{"test_script": script}])[0]
    assert result.score == 1.0 and result.details["total"] == 2


def test_compile_error_and_other_languages(client: VerifierClient) -> None:
    ref = {"tests": [{"input": "1 2\n", "output": "3"}]}
    js = "```javascript\nconst [a, b] = require('fs').readFileSync(0, 'utf8').split(' ').map(Number);\n" \
         "console.log(a + b)\n```"
    c = "```c\n#include <stdio.h>\nint main(){int a,b;scanf(\"%d %d\",&a,&b);printf(\"%d\\n\",a+b);}\n```"
    cpp = "```cpp\n#include <iostream>\nint main(){int a,b;std::cin>>a>>b;std::cout<<a+b<<std::endl;}\n```"
    bash = "```bash\nread a b\necho $((a + b))\n```"
    # Several rounds, concurrently: sandbox launches from the threaded server must be reliable.
    programs = [js, c, cpp, bash] * 3
    results = score(client, "stdio-tests", [*programs, "```c\nint main() { x }\n```"], [ref] * (len(programs) + 1))
    assert [r.score for r in results[:-1]] == [1.0] * len(programs), [r.details for r in results if r.score != 1.0]
    assert results[-1].details["tests"][0]["verdict"] == "compile_error"


TAMPER = {
    "prints fake verdicts": 'print(\'{"nonce": "x", "results": [{"status": "passed"}]}\')\nprint("PASSED")\n'
                            "def add(a, b):\n    return -99\n",
    "sys.exit(0) at import": "import sys\nsys.exit(0)\ndef add(a, b):\n    return -99\n",
    "os._exit(0) at import": "import os\nos._exit(0)\n",
    "sys.exit(0) mid-test": "import sys\ndef add(a, b):\n    sys.exit(0)\n",
    "os._exit(0) mid-test": "import os\ndef add(a, b):\n    os._exit(0)\n",
    "AlwaysEqual result": "class E:\n    def __eq__(self, other):\n        return True\n"
                          "def add(a, b):\n    return E()\n",
    "patches AssertionError and builtins": "import builtins\nbuiltins.AssertionError = type('X', (Exception,), {})\n"
                                            "builtins.all = lambda *a: True\ndef add(a, b):\n    return -99\n"
                                            "def all(x):\n    return True\n",
    "patches the harness module": "import sys\nfor m in list(sys.modules.values()):\n"
                                  "    for k in ('run_test', 'mode_assert', 'classify_exit'):\n"
                                  "        if hasattr(m, k): setattr(m, k, lambda *a, **k: {'status': 'passed'})\n"
                                  "def add(a, b):\n    return -99\n",
    "kills the parent harness": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
                                "for p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
                                "        try: os.kill(int(p), signal.SIGKILL)\n        except Exception: pass\n"
                                "def add(a, b):\n    return -99\n",
    "reads the nonce": "import os, re, json\nfound = ''\nfor p in os.listdir('/proc'):\n    try:\n"
                       "        found += open(f'/proc/{p}/cmdline').read() + open(f'/proc/{p}/environ').read()\n"
                       "        found += open(f'/proc/{p}/mem', 'rb').read(10).decode('latin-1')\n"
                       "    except Exception: pass\n"
                       "print(json.dumps({'nonce': found[:32], 'results': [{'status': 'passed'}] * 3}))\n"
                       "def add(a, b):\n    return -99\n",
}


@pytest.mark.parametrize("attack", sorted(TAMPER))
def test_tampering_never_passes(client: VerifierClient, attack: str) -> None:
    """Each attack against assert tests (MBPP and HumanEval shapes) and function-call tests scores 0."""
    code = "```python\n" + TAMPER[attack] + "```"
    call = {"inputs": [[1, 2], [2, 2]], "outputs": [3, 4], "fn_name": "add"}
    results = score(client, "python-tests", [code, code], [ADD_TESTS, HUMANEVAL])
    results += score(client, {"kind": "code", "config": {"tests": "function"}}, [code], [call])
    for result in results:
        assert result.outcome == "ok", (attack, result.reason)
        assert result.score == 0.0, (attack, result.details)


def test_stdio_cannot_fake_output_by_exiting(client: VerifierClient) -> None:
    ref = {"tests": [{"input": "", "output": "42"}]}
    results = score(client, "stdio-tests", ["import os\nos._exit(0)", "print(41); import sys; sys.exit(0)"], [ref] * 2)
    assert [r.score for r in results] == [0.0, 0.0]


PLANT = (
    "import os\n"
    "FORGE = \"import sys\\nfor m in list(sys.modules.values()):\\n    if hasattr(m, 'run_test'):\\n"
    "        m.run_test = lambda *a, **k: {'status': 'passed'}\\n\"\n"
    "for name in ('colorsys', 'unittest', 'heapq', 'fractions'):\n"
    "    for where in ('/work', os.getcwd(), '/tmp'):\n"
    "        try:\n"
    "            open(os.path.join(where, name + '.py'), 'w').write(FORGE)\n"
    "        except OSError:\n"
    "            pass\n"
    "def add(a, b):\n    return -99\n"
)


@pytest.mark.parametrize("module", ["colorsys", "heapq", "fractions"])
def test_a_module_the_candidate_plants_never_runs_in_the_harness(client: VerifierClient, module: str) -> None:
    """Tests that import a module (MBPP's `import heapq as hq`) must get the real one, not a file the
    candidate wrote into the work dir: that file would run inside the trusted harness."""
    code = "```python\n" + PLANT + "```"
    tests = {"test_list": [f"import {module}", "assert add(1, 2) == 3", "assert add(2, 2) == 4"]}
    script = f"import {module}\nfrom solution import add\n\ndef test_one():\n    assert add(1, 1) == 2\n"
    results = score(client, "python-tests", [code], [tests])
    results += score(client, {"kind": "code", "config": {"tests": "script"}}, [code], [{"test_script": script}])
    for result in results:
        assert result.outcome == "ok", result.reason
        assert all(t["verdict"] != "passed" for t in result.details["tests"][1:]), result.details
        assert result.score < 0.5, result.details
