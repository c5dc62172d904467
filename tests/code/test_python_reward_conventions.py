"""The python kind takes TRL's reward functions as written, and offers common packages to them, read-only."""

from __future__ import annotations

import uuid

import pytest

from sdk import InvalidArgumentError, VerifierClient


def register(client: VerifierClient, source: str) -> str:
    name = f"pyconv-{uuid.uuid4().hex[:8]}"
    client.register({"name": name, "kind": "python", "config": {"source": source}})
    return name


TRL_ACCURACY = '''
def accuracy_reward(completions, solution, **kwargs):
    """TRL's own shape: conversational completions, a dataset column, **kwargs."""
    contents = [completion[0]["content"] for completion in completions]
    return [1.0 if content.strip() == gold else 0.0 for content, gold in zip(contents, solution)]

reward = accuracy_reward
'''


def test_trl_signature_with_a_dataset_column_and_chat_completions(client: VerifierClient) -> None:
    source = TRL_ACCURACY.replace("reward = accuracy_reward\n", "").replace("def accuracy_reward", "def reward")
    name = register(client, source)
    completions = [[{"role": "assistant", "content": "42"}], [{"role": "assistant", "content": "41"}]]
    results = client.score(name, completions, references=[{"solution": "42"}, {"solution": "42"}])
    assert [(r.outcome, r.score) for r in results] == [("ok", 1.0), ("ok", 0.0)], [r.reason for r in results]


@pytest.mark.parametrize(
    "source",
    [
        "def reward(completions, **kwargs):\n    return [float(len(c)) for c in completions]\n",
        "def reward(prompts, completions, **kwargs):\n    return [float(len(c)) for c in completions]\n",
        "def reward(completions, answer=None, **kwargs):\n    return [float(len(c)) for c in completions]\n",
        "def reward(*, completions, prompts, answer):\n    return [float(len(c)) for c in completions]\n",
        "def reward(**kwargs):\n    return [float(len(c)) for c in kwargs['completions']]\n",
        "reward = lambda completions, **kw: [float(len(c)) for c in completions]\n",
    ],
    ids=[
        "completions-kwargs",
        "prompts-completions-kwargs",
        "defaulted-column",
        "keyword-only",
        "only-kwargs",
        "lambda",
    ],
)
def test_trl_calling_convention_variants(client: VerifierClient, source: str) -> None:
    name = register(client, source)
    results = client.score(name, ["ab", "abcd"], prompts=["p", "q"], references=[{"answer": "1"}, {"answer": "2"}])
    assert [(r.outcome, r.score) for r in results] == [("ok", 2.0), ("ok", 4.0)], [r.reason for r in results]


def test_keywords_see_every_column_and_none_where_a_row_lacks_it(client: VerifierClient) -> None:
    source = (
        "def reward(completions, prompts, completion_ids, **kwargs):\n"
        "    keys = sorted(kwargs)\n"
        "    n = len(completions)\n"
        "    return [{'score': 1.0, 'reason': f\"{keys} {kwargs['a'][i]} {prompts[i]}\"} for i in range(n)]\n"
    )
    results = client.score(register(client, source), ["x", "y"], prompts=["p0", "p1"], references=[{"a": 1}, {"b": 2}])
    assert [r.reason for r in results] == ["['a', 'b'] 1 p0", "['a', 'b'] None p1"]


def test_our_convention_still_works_and_positional_names_do_not_matter(client: VerifierClient) -> None:
    ours = "def reward(prompts, completions, references):\n    return [float(r['n']) for r in references]\n"
    short = "def reward(p, c, r, **extra):\n    return [float(len(c))] * len(c)\n"
    assert [r.score for r in client.score(register(client, ours), ["a", "b"], references=[{"n": 1}, {"n": 2}])] == [
        1.0,
        2.0,
    ]
    assert [r.score for r in client.score(register(client, short), ["a", "b"])] == [2.0, 2.0]


def test_a_column_the_function_requires_and_no_row_has_is_a_clear_invalid_input(client: VerifierClient) -> None:
    name = register(client, "def reward(completions, solution, **kwargs):\n    return [1.0] * len(completions)\n")
    result = client.score(name, ["x"], references=[{"answer": "1"}])[0]
    assert result.outcome == "invalid_input" and "'solution'" in result.reason


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def reward(x):\n    return [1.0]\n", "fits neither calling convention"),
        ("def reward(completions, /, **kwargs):\n    return [1.0]\n", "fits neither calling convention"),
    ],
)
def test_signatures_that_fit_no_convention_are_refused_at_registration(
    client: VerifierClient, source: str, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        register(client, source)


def test_the_signature_is_read_from_the_ast_without_running_anything() -> None:
    from verifier_server.kinds.python_reward import call_style

    source = "raise SystemExit('never runs')\nimport os\nos.abort()\ndef reward(completions, **kw):\n    return []\n"
    style, problem = call_style(source, "reward")
    assert style.keywords and style.accepts is None and problem == ""


def test_a_raised_exception_leads_with_its_own_message(client: VerifierClient) -> None:
    name = register(client, "def reward(completions, **kwargs):\n    raise ValueError('bad gold format')\n")
    result = client.score(name, ["x"])[0]
    assert result.outcome == "error" and result.reason == "reward function raised ValueError: bad gold format"
    assert 'File "user.py"' in result.details["traceback"] and "userfn" not in result.details["traceback"]


PACKAGES_PROBE = """
import numpy, sympy, regex
from math_verify import parse, verify

def reward(completions, **kwargs):
    scores = []
    for completion in completions:
        same = verify(parse("$\\\\frac{1}{2}$"), parse(completion))
        extra = float(sympy.Integer(0)) + len(regex.findall("z", ""))
        scores.append(float(numpy.float64(1.0 if same else 0.0)) + extra)
    return scores
"""

WRITE_PROBE = """
import numpy, os

def reward(completions, **kwargs):
    target = os.path.join(os.path.dirname(numpy.__file__), "planted.py")
    try:
        open(target, "w").write("print('pwned')")
        return [{"score": 0.0, "reason": "WROTE " + target}]
    except OSError as error:
        return [{"score": 1.0, "reason": f"refused: errno {error.errno}"}]
"""


def test_sandboxed_python_has_numpy_sympy_math_verify_and_regex(client: VerifierClient) -> None:
    caps = client.capabilities()
    if not {"numpy", "sympy", "math-verify", "regex"} <= {p.split("==")[0] for p in caps.sandbox_python_packages}:
        pytest.skip("the sandbox packages are not installed here (scripts/install_sandbox_python.py)")
    results = client.score(register(client, PACKAGES_PROBE), ["0.5", "0.25"])
    assert [(r.outcome, r.score) for r in results] == [("ok", 1.0), ("ok", 0.0)], [r.reason for r in results]


def test_sandboxed_python_cannot_change_the_offered_packages(client: VerifierClient) -> None:
    if not client.capabilities().sandbox_python_packages:
        pytest.skip("the sandbox packages are not installed here (scripts/install_sandbox_python.py)")
    result = client.score(register(client, WRITE_PROBE), ["x"])[0]
    assert result.score == 1.0 and result.reason.startswith("refused"), result.reason
