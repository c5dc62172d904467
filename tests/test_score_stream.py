"""ScoreStream through both clients: every index exactly once, results equal to Score's."""

from __future__ import annotations

import pytest

from sdk import AsyncVerifierClient, NotFoundError, VerifierClient
from verifier_server.testing import ServerProcess

COMPLETIONS = [f"<think>{i}</think><answer>{i}</answer>" if i % 3 else f"plain {i}" for i in range(100)]


def test_sync_stream_yields_every_index_once(verifier_server: ServerProcess):
    with VerifierClient(verifier_server.address, max_chunk_samples=30) as client:
        streamed = dict(client.score_stream("think-answer-format", COMPLETIONS))
        batch = client.score("think-answer-format", COMPLETIONS)
    assert sorted(streamed) == list(range(len(COMPLETIONS)))
    assert [streamed[i].score for i in range(len(COMPLETIONS))] == [r.score for r in batch]


async def test_async_stream_matches_sync(verifier_server: ServerProcess):
    async with AsyncVerifierClient(verifier_server.address, max_chunk_samples=30) as client:
        streamed = {index: result async for index, result in client.score_stream("json-valid", ["{}", "x"] * 40)}
    assert sorted(streamed) == list(range(80))
    assert all(streamed[i].score == (1.0 if i % 2 == 0 else 0.0) for i in range(80))


def test_stream_errors_are_translated(verifier_server: ServerProcess):
    with VerifierClient(verifier_server.address) as client, pytest.raises(NotFoundError):
        list(client.score_stream("no-such-verifier", ["x"]))
