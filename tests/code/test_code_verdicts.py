"""Verdicts on honest answers through the real service: values of subclassed plain types, strict
function-call equality, per-test isolation, checkers on returned values, the candidate's own traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sdk import VerifierClient

FUNCTION = {"kind": "code", "config": {"tests": "function"}}


def score(client: VerifierClient, spec: Any, completions: list[str], references: list[dict[str, Any]]) -> list[Any]:
    return list(client.score(spec, completions=completions, references=references))


def calls(fn_name: str, *cases: tuple[list[Any], Any]) -> dict[str, Any]:
    return {"inputs": [args for args, _ in cases], "outputs": [want for _, want in cases], "fn_name": fn_name}


def fenced(source: str) -> str:
    return f"```python\n{source}```"


#: (source defining f() that returns a subclass instance, the plain value expected)
HONEST_SUBCLASSES = {
    "Counter": ("from collections import Counter\ndef f():\n    return Counter('abb')\n", {"a": 1, "b": 2}),
    "defaultdict": (
        "from collections import defaultdict\ndef f():\n    d = defaultdict(list)\n    d['x'].append(1)\n"
        "    return d\n",
        {"x": [1]},
    ),
    "OrderedDict": ("from collections import OrderedDict\ndef f():\n    return OrderedDict(a=1)\n", {"a": 1}),
    "namedtuple": ("from collections import namedtuple\nP = namedtuple('P', 'x y')\ndef f():\n    return P(1, 2)\n",
                   (1, 2)),  # a tuple in the assert, a list in JSON
    "IntEnum": ("from enum import IntEnum\nclass C(IntEnum):\n    RED = 3\ndef f():\n    return C.RED\n", 3),
    "str Enum": ("from enum import Enum\nclass C(str, Enum):\n    A = 'yes'\ndef f():\n    return C.A\n", "yes"),
    "str subclass": ("class S(str):\n    pass\ndef f():\n    return S('hi')\n", "hi"),
    "int subclass": ("class I(int):\n    pass\ndef f():\n    return I(7)\n", 7),
    "float subclass": ("class F(float):\n    pass\ndef f():\n    return F(0.5)\n", 0.5),
    "list subclass": ("class L(list):\n    pass\ndef f():\n    return L([1, [2]])\n", [1, [2]]),
    "dict subclass": ("class D(dict):\n    pass\ndef f():\n    return D(k=[1, 2])\n", {"k": [1, 2]}),
    "nested": ("from collections import Counter, OrderedDict\ndef f():\n    return [OrderedDict(c=Counter('aa'))]\n",
               [{"c": {"a": 2}}]),
}


@pytest.mark.parametrize("kind", sorted(HONEST_SUBCLASSES))
def test_a_value_of_a_subclassed_plain_type_is_judged_by_its_plain_value(client: VerifierClient, kind: str) -> None:
    source, expected = HONEST_SUBCLASSES[kind]
    check = f"def check(candidate):\n    assert candidate() == {expected!r}\n"
    results = score(client, FUNCTION, [fenced(source)], [calls("f", ([], expected))])
    results += score(client, "python-tests", [fenced(source)], [{"test": check, "entry_point": "f"}])
    for result in results:
        assert (result.outcome, result.score) == ("ok", 1.0), (kind, result.details)


#: Subclasses whose own methods lie about their value: converting without calling them must see the truth.
LIARS = {
    "__eq__": "class L(list):\n    def __eq__(self, other):\n        return True\n"
              "    __hash__ = None\ndef f():\n    return L([0])\n",
    "__iter__ and __len__": "class L(list):\n    def __iter__(self):\n        return iter([1, 2])\n"
                            "    def __len__(self):\n        return 2\ndef f():\n    return L([0])\n",
    "__repr__ and __str__": "class S(str):\n    def __repr__(self):\n        return \"'12'\"\n"
                            "    def __str__(self):\n        return '12'\n"
                            "    def __eq__(self, o):\n        return True\n"
                            "    __hash__ = str.__hash__\ndef f():\n    return [S('0'), S('0')]\n",
    "dict views": "class D(dict):\n    def items(self):\n        return [(1, 2)]\n"
                  "    def keys(self):\n        return [1]\n"
                  "    def __iter__(self):\n        return iter([1])\n    def __getitem__(self, k):\n        return 2\n"
                  "def f():\n    return [D(x=0)]\n",
    "__int__ and __index__": "class I(int):\n    def __int__(self):\n        return 1\n    def __index__(self):\n"
                             "        return 1\n    def __eq__(self, o):\n        return True\n"
                             "    __hash__ = int.__hash__\n"
                             "def f():\n    return [I(0), I(0)]\n",
}
LIAR_EXPECTED = {"__eq__": [1, 2], "__iter__ and __len__": [1, 2], "__repr__ and __str__": ["1", "2"],
                 "dict views": [{"1": 2}], "__int__ and __index__": [1, 2]}


@pytest.mark.parametrize("lie", sorted(LIARS))
def test_a_subclass_cannot_lie_its_way_to_a_pass(client: VerifierClient, lie: str) -> None:
    expected = LIAR_EXPECTED[lie]
    check = f"def check(candidate):\n    assert candidate() == {expected!r}\n"
    results = score(client, FUNCTION, [fenced(LIARS[lie])], [calls("f", ([], expected))])
    results += score(client, "python-tests", [fenced(LIARS[lie])], [{"test": check, "entry_point": "f"}])
    for result in results:
        assert (result.outcome, result.score) == ("ok", 0.0), (lie, result.details)


def returns(value: str) -> str:
    return fenced(f"def f():\n    return {value}\n")


@pytest.mark.parametrize(("returned", "expected", "passes"), [
    ("7", [7], False),  # a one-element list is not its element...
    ("[7]", 7, False),
    ("True", 1, False),  # ...a bool is not a number...
    ("1", True, False),
    ("'7'", 7, False),  # ...nor a string a number
    ("None", [], False),
    ("1", 1.0, True),  # numbers compare by value: JSON writers disagree on 1.0
    ("(1, 2)", [1, 2], True),  # JSON has no tuples
    ("[(1, 'a')]", [[1, "a"]], True),
])
def test_function_results_compare_strictly(client: VerifierClient, returned: str, expected: Any, passes: bool) -> None:
    result = score(client, FUNCTION, [returns(returned)], [calls("f", ([], expected))])[0]
    assert result.outcome == "ok"
    assert result.score == (1.0 if passes else 0.0), result.details


def test_unwrapping_a_singleton_expected_list_is_an_option(client: VerifierClient) -> None:
    """APPS's harness accepts `x` for an expected `[x]`; here only when the spec says so."""
    lenient = {"kind": "code", "config": {"tests": "function", "unwrap_singleton": True}}
    reference = calls("f", ([], [7]))
    assert score(client, FUNCTION, [returns("7")], [reference])[0].score == 0.0
    assert score(client, lenient, [returns("7")], [reference])[0].score == 1.0
    assert score(client, lenient, [returns("[7]")], [reference])[0].score == 1.0
    assert score(client, lenient, [returns("8")], [reference])[0].score == 0.0


def test_the_float_checker_applies_both_tolerances_to_returned_values(client: VerifierClient) -> None:
    def spec(rel: float, abs_: float) -> dict[str, Any]:
        return {"kind": "code", "config": {"tests": "function", "checker": "float", "float_rel_tol": rel,
                                           "float_abs_tol": abs_}}

    reference = calls("f", ([], [0.3, {"k": 2.0}]))
    close = returns("[0.3000004, {'k': 2.0000004}]")
    assert score(client, spec(0.0, 1e-6), [close], [reference])[0].score == 1.0  # only the absolute tolerance
    assert score(client, spec(1e-5, 0.0), [close], [reference])[0].score == 1.0  # only the relative one
    assert score(client, spec(1e-9, 1e-9), [close], [reference])[0].score == 0.0
    assert score(client, FUNCTION, [close], [reference])[0].score == 0.0  # no checker: exact
    assert score(client, spec(1e-3, 1e-3), [returns("[True, {'k': 2.0}]")], [reference])[0].score == 0.0


def test_a_checker_program_judges_returned_values(client: VerifierClient) -> None:
    checker = "def check(args, output, expected):\n    return sorted(output) == sorted(expected) and args == [3]\n"
    spec = {"kind": "code", "config": {"tests": "function", "checker": "program", "checker_source": checker}}
    reference = calls("f", ([3], [1, 2, 3]))
    results = score(client, spec, [fenced("def f(n):\n    return {3, 1, 2}\n"),
                                   fenced("def f(n):\n    return (3, 2, 1)\n"),
                                   fenced("def f(n):\n    return [1, 2]\n")], [reference] * 3)
    assert [r.score for r in results] == [1.0, 1.0, 0.0], [r.details for r in results]


def checker_spec(checker: str) -> dict[str, Any]:
    return {"kind": "code", "config": {"tests": "function", "checker": "program", "checker_source": checker}}


def test_a_check_that_raises_rejects_that_output_only(client: VerifierClient) -> None:
    """One output the checker cannot read is that test's wrong answer; the other tests keep their verdicts."""
    checker = "def check(args, output, expected):\n    return float(output) == float(expected)\n"
    reference = calls("f", ([1], "1"), ([2], "2"), ([3], "3"))
    candidate = fenced("def f(n):\n    return 'two' if n == 2 else str(n)\n")
    result = score(client, checker_spec(checker), [candidate], [reference])[0]
    tests = result.details["tests"]
    assert [t["verdict"] for t in tests] == ["passed", "wrong_answer", "passed"], result.details
    assert "ValueError" in tests[1]["error"] and result.score == pytest.approx(2 / 3)


def test_a_checker_that_does_not_load_is_the_samples_error_not_the_candidates_zero(client: VerifierClient) -> None:
    reference = calls("f", ([1], 1))
    candidate = fenced("def f(n):\n    return n\n")
    # (a syntax error or a missing check() is refused with the spec)
    for broken in ("raise RuntimeError('no checker today')\ndef check(args, output, expected):\n    return True\n",
                   "import a_module_nobody_installed\ndef check(args, output, expected):\n    return True\n"):
        result = score(client, checker_spec(broken), [candidate], [reference])[0]
        assert result.outcome == "error" and result.score is None, (broken, result)
        assert "checker program did not load" in result.reason


def test_a_checker_that_dies_judging_fails_the_tests_it_judged(client: VerifierClient) -> None:
    """The outputs were its input: a checker killed mid-judging cannot turn the candidate's 0 into an abstention."""
    checker = "import os\ndef check(args, output, expected):\n    os._exit(3)\n"
    result = score(client, checker_spec(checker), [fenced("def f(n):\n    return n\n")], [calls("f", ([1], 1))])[0]
    assert result.outcome == "ok" and result.score == 0.0, result
    assert result.details["tests"][0]["verdict"] == "runtime_error"
    assert "checker program failed" in result.details["tests"][0]["error"]


STATEFUL = "calls = []\ndef f(x):\n    calls.append(x)\n    return len(calls)\n"


def test_per_test_isolation_gives_every_test_a_fresh_candidate_process(client: VerifierClient) -> None:
    """By default one candidate process serves all of a sample's tests, so module state carries over."""
    reference = calls("f", ([1], 1), ([2], 1), ([3], 1))
    asserts = {"test_list": ["assert f(1) == 1", "assert f(2) == 1", "assert f(3) == 1"]}
    script = {"test_script": "from solution import f\n\ndef test_a():\n    assert f(1) == 1\n\n"
                             "def test_b():\n    assert f(2) == 1\n"}
    for style, ref in (("function", reference), ("assert", asserts), ("script", script)):
        shared = {"kind": "code", "config": {"tests": style}}
        fresh = {"kind": "code", "config": {"tests": style, "isolation": "per_test"}}
        default, isolated = score(client, shared, [fenced(STATEFUL)], [ref])[0], score(client, fresh,
                                                                                        [fenced(STATEFUL)], [ref])[0]
        assert default.score < 1.0 and default.details["tests"][0]["verdict"] == "passed", (style, default.details)
        assert isolated.score == 1.0, (style, isolated.details)


def test_a_failing_test_shows_the_candidates_own_traceback_tail(client: VerifierClient) -> None:
    """At the default snippet length the exception line is there, and no frame of the harness."""
    syntax = fenced("x = 1\ndef broken(:\n    pass\n")
    raising = fenced("def f():\n    return helper()\n\ndef helper():\n    return {}['missing key']\n")
    stdio = score(client, "stdio-tests", [syntax], [{"tests": [{"input": "", "output": "1"}]}])
    function = score(client, FUNCTION, [raising, syntax], [calls("f", ([], 1))] * 2)
    asserts = score(client, "python-tests", [raising, syntax], [{"test_list": ["assert f() == 1"]}] * 2)
    errors = [r.details["tests"][0]["error"] for r in stdio + function + asserts]
    for error in errors:
        assert "_verifier_runner" not in error and "harness" not in error, error
    syntax_errors = [errors[0], errors[2], errors[4]]
    for error in syntax_errors:
        assert "SyntaxError" in error and "def broken(:" in error, error
    for error in (errors[1], errors[3]):
        assert 'solution.py", line 5, in helper' in error and "KeyError: 'missing key'" in error, error


def test_a_candidate_is_compiled_as_python3_would_compile_it(client: VerifierClient) -> None:
    """No compiler flag of ours reaches the candidate: an annotation naming something never imported fails at
    definition, as under `python3 main.py` (postponed annotations would let it pass), in every style."""
    source = "def f(xs: List[int]) -> int:\n    return 1\n"
    one_test = {"tests": [{"input": "", "output": "1"}]}
    stdio = score(client, "stdio-tests", [fenced(source + "print(f([]))\n")], [one_test])
    function = score(client, FUNCTION, [fenced(source)], [calls("f", ([[]], 1))])
    asserts = score(client, "python-tests", [fenced(source)], [{"test_list": ["assert f([]) == 1"]}])
    for result in stdio + function + asserts:
        assert result.score == 0.0, result.details
        assert "NameError: name 'List' is not defined" in result.details["tests"][0]["error"], result.details
    imported = fenced("from typing import List\n" + source)
    assert [r.score for r in score(client, FUNCTION, [imported], [calls("f", ([[]], 1))])] == [1.0]


def test_results_keep_their_shape_across_the_wire(client: VerifierClient) -> None:
    """Details stay JSON: the returned value as its repr, the expected one as JSON."""
    result = score(client, FUNCTION, [returns("{'a': (1, 2)}")], [calls("f", ([], {"a": [1, 2]}))])[0]
    test = result.details["tests"][0]
    assert result.score == 1.0 and test["returned"] == "{'a': (1, 2)}" and json.loads(test["expected"]) == {"a": [1, 2]}


@pytest.mark.parametrize("isolation", ["shared", "per_test"])
def test_a_solution_may_rely_on_the_globals_of_its_test_setup_code(client: VerifierClient, isolation: str) -> None:
    """MBPP runs solution, test_setup_code and asserts as one program: a solution that uses a name the setup
    code defines (a helper, a constant, an import) works, in the tests' namespace and in its own process."""
    setup = "import math\nSCALE = 10\ndef norm(xs):\n    return sorted(xs)\n"
    solution = fenced("def scaled(xs):\n    return norm([x * SCALE for x in xs])\n\n"
                      "def hyp(a, b):\n    return math.hypot(a, b)\n")
    reference = {"test_list": ["assert scaled([3, 1]) == norm([30, 10])", "assert hyp(3, 4) == 5.0"],
                 "test_setup_code": setup}
    spec = {"kind": "code", "config": {"tests": "assert", "isolation": isolation}}
    result = score(client, spec, [solution], [reference])[0]
    assert (result.outcome, result.score) == ("ok", 1.0), result.details
    wrong = fenced("def scaled(xs):\n    return xs\n\ndef hyp(a, b):\n    return a + b\n")
    assert score(client, spec, [wrong], [reference])[0].score == 0.0


#: How a candidate process ends mid-call -> the verdict, by the sandbox's own exit rules (sandboxes/exits.py).
ENDINGS = {
    "SIGKILL it sends itself": ("import os, signal\ndef f():\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                                "runtime_error"),
    "exit code 125": ("import os\ndef f():\n    os._exit(125)\n", "runtime_error"),
    "MemoryError": ("def f():\n    return bytearray(1 << 40)\n", "memory"),
    "CPU limit": ("def f():\n    while True:\n        pass\n", "timeout"),
}


@pytest.mark.parametrize("ending", sorted(ENDINGS))
def test_a_candidate_process_that_ends_mid_call_is_judged_like_a_sandbox_run(client: VerifierClient,
                                                                              ending: str) -> None:
    source, verdict = ENDINGS[ending]
    spec = {"kind": "code", "config": {"tests": "function", "time_limit_s": 1.0}}
    result = score(client, spec, [fenced(source)], [calls("f", ([], 1))])[0]
    assert (result.outcome, result.score) == ("ok", 0.0), result.reason
    assert result.details["tests"][0]["verdict"] == verdict, result.details
    stdio = score(client, "stdio-tests", [fenced(source + "f()\n")], [{"tests": [{"input": "", "output": "1"}]}])[0]
    assert stdio.details["tests"][0]["verdict"] == verdict or ending == "CPU limit", stdio.details


@pytest.mark.parametrize("script", ["from solution import f\nassert f(1) == 1\n", "import solution\n"])
def test_a_test_script_defining_no_tests_is_the_samples_invalid_input_not_the_candidates_zero(
    client: VerifierClient, script: str
) -> None:
    """Its top-level code may even have run and passed: no test of the candidate's failed, so no 0."""
    spec = {"kind": "code", "config": {"tests": "script"}}
    result = score(client, spec, [fenced("def f(x):\n    return x\n")], [{"test_script": script}])[0]
    assert (result.outcome, result.score) == ("invalid_input", None), (result.reason, result.details)
    assert "defines no tests" in result.reason


def test_stop_on_failure_counts_a_test_scripts_unrun_tests_as_skipped(client: VerifierClient) -> None:
    """As for listed tests: the tests after the first failure count against the reward, never out of it."""
    spec = {"kind": "code", "config": {"tests": "script", "stop_on_failure": True}}
    tests = (("a", 1), ("b", 2), ("c", 3), ("d", 4))
    script = "from solution import f\n\n" + "".join(f"def test_{n}():\n    assert f({x}) == {x}\n\n" for n, x in tests)
    fails_two = fenced("def f(x):\n    return 0 if x == 2 else x\n")
    result = score(client, spec, [fails_two], [{"test_script": script}])[0]
    verdicts = [t["verdict"] for t in result.details["tests"]]
    assert verdicts == ["passed", "wrong_answer", "skipped", "skipped"], result.details
    assert (result.outcome, result.score) == ("ok", 0.25), result.details
