"""The python kind: user reward functions run in the sandbox; their failures become per-sample outcomes."""

from __future__ import annotations

import pytest

from sdk import VerifierClient


def register(client: VerifierClient, name: str, source: str, **config: object) -> None:
    client.register({"name": name, "kind": "python", "config": {"source": source, **config}})


def test_values_none_and_dicts(client: VerifierClient) -> None:
    register(client, "pyrew-values", "def reward(prompts, completions, references):\n"
             "    print('noise on stdout')\n"
             "    return [1.5, None, {'score': 0.25, 'reason': 'partial', 'details': {'k': 1}}, 'bad']\n")
    results = client.score("pyrew-values", completions=["a", "b", "c", "d"])
    assert [r.outcome for r in results] == ["ok", "not_applicable", "ok", "error"]
    assert results[0].score == 1.5 and results[2].score == 0.25 and results[2].reason == "partial"


def test_exceptions_wrong_length_and_timeouts(client: VerifierClient) -> None:
    register(client, "pyrew-raise", "def reward(p, c, r):\n    raise ValueError('boom')\n")
    register(client, "pyrew-len", "def reward(p, c, r):\n    return [1.0]\n")
    register(client, "pyrew-slow", "def reward(p, c, r):\n    while True: pass\n", time_limit_s=1.0)
    raised = client.score("pyrew-raise", completions=["a", "b"])
    assert [r.outcome for r in raised] == ["error", "error"] and "boom" in raised[0].reason
    assert [r.outcome for r in client.score("pyrew-len", completions=["a", "b"])] == ["error", "error"]
    assert [r.outcome for r in client.score("pyrew-slow", completions=["a"])] == ["timeout"]


@pytest.mark.parametrize("source", ["def reward(:\n", "def score(p, c, r):\n    return []\n"])
def test_bad_source_rejected_at_registration(client: VerifierClient, source: str) -> None:
    with pytest.raises(Exception, match=r"config\.source"):
        register(client, "pyrew-bad", source)


def test_runs_sandboxed_not_in_server(client: VerifierClient) -> None:
    register(client, "pyrew-where", "import os\ndef reward(p, c, r):\n    return [float(os.getuid())] * len(c)\n")
    result = client.score("pyrew-where", completions=["a"])[0]
    assert result.score is not None and result.score >= 60000  # a sandbox slot uid, never the server's
