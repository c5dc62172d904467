"""Both SDK clients end to end against a real server process: scoring, chunking, retries, errors, registry."""

from __future__ import annotations

import asyncio
import inspect
import random
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from sdk import (
    AlreadyExistsError,
    AsyncVerifierClient,
    DeadlineExceededError,
    InputError,
    InvalidArgumentError,
    NotFoundError,
    Outcome,
    RetryPolicy,
    ScoreResult,
    ServerUnavailableError,
    StatusCode,
    VerifierClient,
    specs,
)
from verifier_server.testing import ServerProcess, StartServer

GOOD = "<think>because</think><answer>4</answer>"
BAD = "the answer is 4"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def comparable(result: ScoreResult) -> tuple[Any, ...]:
    """A result without its latency, which legitimately differs between calls."""
    return (result.score, result.outcome, result.reason, dict(result.components), dict(result.details))


# -- the two clients mirror each other -------------------------------------------------------


def _public_methods(cls: type) -> dict[str, Any]:
    return {
        name: member
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_") or name in ("__enter__", "__exit__", "__aenter__", "__aexit__")
    }


_ASYNC_NAME = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def test_clients_have_the_same_public_surface():
    sync_methods = _public_methods(VerifierClient)
    async_methods = _public_methods(AsyncVerifierClient)
    assert {_ASYNC_NAME.get(name, name) for name in sync_methods} == set(async_methods)
    for name, sync_method in sync_methods.items():
        async_method = async_methods[_ASYNC_NAME.get(name, name)]
        sync_params = list(inspect.signature(sync_method).parameters.values())
        async_params = list(inspect.signature(async_method).parameters.values())
        assert [(p.name, p.kind, p.default, p.annotation) for p in sync_params] == [
            (p.name, p.kind, p.default, p.annotation) for p in async_params
        ], name
        if name in vars(VerifierClient) and inspect.isgeneratorfunction(sync_method):  # streams
            assert inspect.isasyncgenfunction(async_method), f"AsyncVerifierClient.{async_method.__name__}"
        elif name in vars(VerifierClient):  # I/O methods: blocking on one side, coroutines on the other
            assert not inspect.iscoroutinefunction(sync_method), name
            assert inspect.iscoroutinefunction(async_method), f"AsyncVerifierClient.{async_method.__name__}"
        else:  # shared pure logic from the base: literally the same function
            assert sync_method is async_method, name


def test_clients_take_the_same_constructor_options():
    sync_init = inspect.signature(VerifierClient.__init__).parameters
    async_init = inspect.signature(AsyncVerifierClient.__init__).parameters
    assert list(sync_init) == list(async_init)


_ASYNC_ONLY = {"_ensure_stub"}  # the async stub is made lazily, in the event loop that uses it


def test_clients_keep_the_same_plumbing_in_the_same_shape():
    """Private loops too (retries, chunks in flight, fan-outs): the same names and parameters on both sides,
    each blocking on one side and a coroutine on the other, or plain on both (no I/O)."""
    sync_own = {name: member for name, member in vars(VerifierClient).items() if inspect.isfunction(member)}
    async_own = {name: member for name, member in vars(AsyncVerifierClient).items() if inspect.isfunction(member)}
    assert {_ASYNC_NAME.get(name, name) for name in sync_own} == set(async_own) - _ASYNC_ONLY
    for name, sync_method in sync_own.items():
        async_method = async_own[_ASYNC_NAME.get(name, name)]
        sync_params = [(p.name, p.kind, p.default) for p in inspect.signature(sync_method).parameters.values()]
        async_params = [(p.name, p.kind, p.default) for p in inspect.signature(async_method).parameters.values()]
        assert sync_params == async_params, name
        if inspect.iscoroutinefunction(async_method) or inspect.isasyncgenfunction(async_method):
            assert not inspect.iscoroutinefunction(sync_method), name
        else:
            assert not inspect.isgeneratorfunction(sync_method), f"{name} streams on one side only"


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_a_slow_chunk_does_not_hold_up_the_others(twin: str):
    """Chunk 0 is held until chunk 3 has been sent: with two in flight, chunks 1, 2 and 3 must pass it.

    The client's own loop, driven by a plain function standing in for one chunk's call (so
    the test decides which chunk is slow); a loop that sent chunks in windows would wait on
    chunk 0 and never send chunk 3.
    """
    started: list[int] = []
    if twin == "sync":
        passed = threading.Event()

        def send(request: int) -> int:
            started.append(request)
            if request == 3:
                passed.set()
            if request == 0:
                assert passed.wait(60), "chunk 3 was not sent while chunk 0 was in flight"
            return request * 10

        with VerifierClient("127.0.0.1:1", max_concurrent_chunks=2) as sync_client:
            responses = sync_client._each_chunk(send, [0, 1, 2, 3, 4])
    else:

        async def run() -> list[int]:
            passed = asyncio.Event()

            async def send(request: int) -> int:
                started.append(request)
                if request == 3:
                    passed.set()
                if request == 0:
                    await asyncio.wait_for(passed.wait(), 60)
                return request * 10

            async with AsyncVerifierClient("127.0.0.1:1", max_concurrent_chunks=2) as async_client:
                return await async_client._each_chunk(send, [0, 1, 2, 3, 4])

        responses = asyncio.run(run())
    assert responses == [0, 10, 20, 30, 40]  # in request order, whatever order they finished in
    assert started[:2] == [0, 1] and sorted(started) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("twin", ["sync", "async"])
def test_the_first_failed_chunk_is_raised_while_others_are_still_in_flight(twin: str):
    release = threading.Event()

    def send_sync(request: int) -> int:
        if request == 1:
            raise ServerUnavailableError(StatusCode.UNAVAILABLE, "chunk 1 failed", "here")
        release.wait(60)
        return request

    async def send_async(request: int) -> int:
        if request == 1:
            raise ServerUnavailableError(StatusCode.UNAVAILABLE, "chunk 1 failed", "here")
        await asyncio.sleep(60)  # cancelled when chunk 1 fails
        return request

    with pytest.raises(ServerUnavailableError, match="chunk 1 failed"):
        if twin == "sync":
            with VerifierClient("127.0.0.1:1", max_concurrent_chunks=2) as sync_client:
                sync_client._each_chunk(send_sync, [0, 1, 2, 3])
        else:

            async def run() -> None:
                async with AsyncVerifierClient("127.0.0.1:1", max_concurrent_chunks=2) as async_client:
                    await async_client._each_chunk(send_async, [0, 1, 2, 3])

            asyncio.run(run())
    assert not release.is_set()  # chunk 0 was still held when the failure came back
    release.set()


# -- scoring -----------------------------------------------------------------------------------


async def test_both_clients_score_identically(verifier_server: ServerProcess, client: VerifierClient):
    completions = [GOOD, BAD, "<think>a</think><answer>b</answer> trailing", "<answer>x</answer>"]
    prompts = ["q1", "q2", "q3", "q4"]
    expected = client.score("think-answer-format", completions, prompts=prompts)
    assert [r.score for r in expected] == [1.0, 0.0, 0.0, 0.0]
    assert all(r.outcome is Outcome.OK for r in expected)
    async with AsyncVerifierClient(verifier_server.address, timeout_s=60) as aclient:
        got = await aclient.score("think-answer-format", completions, prompts=prompts)
    assert [comparable(r) for r in got] == [comparable(r) for r in expected]


def _patterned_batch(count: int) -> tuple[list[str], list[float]]:
    """Distinct completions whose valid/invalid pattern is random, so any reordering shows."""
    rng = random.Random(1234)
    completions, expected = [], []
    for i in range(count):
        if rng.random() < 0.5:
            completions.append(f"<think>step {i}</think><answer>{i}</answer>")
            expected.append(1.0)
        else:
            completions.append(f"answer {i} without tags")
            expected.append(0.0)
    return completions, expected


def test_twenty_thousand_samples_are_chunked_and_kept_in_order(client: VerifierClient):
    completions, expected = _patterned_batch(20_000)
    requests = client.plan_score("think-answer-format", completions, None, None, None).requests
    assert len(requests) == 20  # 1,024 samples per request by default
    assert [r.index_offset for r in requests[:3]] == [0, 1024, 2048]
    results = client.score("think-answer-format", completions)
    assert len(results) == 20_000
    mismatched = [i for i, (r, e) in enumerate(zip(results, expected, strict=True)) if r.score != e]
    assert mismatched == []


async def test_async_client_chunks_in_order_too(verifier_server: ServerProcess):
    completions, expected = _patterned_batch(5_000)
    async with AsyncVerifierClient(verifier_server.address, max_chunk_samples=300, max_concurrent_chunks=3) as aclient:
        assert len(aclient.plan_score("think-answer-format", completions, None, None, None).requests) == 17
        results = await aclient.score("think-answer-format", completions)
    assert [r.score for r in results] == expected


def test_chunking_is_needed_for_a_server_with_a_small_limit(start_server: StartServer):
    server = start_server(config={"max_samples_per_request": 100})
    completions, expected = _patterned_batch(450)
    with VerifierClient(server.address, max_chunk_samples=1000) as unchunked:
        with pytest.raises(InvalidArgumentError, match="samples"):
            unchunked.score("think-answer-format", completions)
    with VerifierClient(server.address, max_chunk_samples=100) as chunked:
        assert [r.score for r in chunked.score("think-answer-format", completions)] == expected


async def test_empty_batch_is_an_empty_result(verifier_server: ServerProcess, client: VerifierClient):
    assert client.score("think-answer-format", []) == []
    async with AsyncVerifierClient(verifier_server.address) as aclient:
        assert await aclient.score("think-answer-format", []) == []


async def test_mismatched_lengths_are_refused_before_sending(verifier_server: ServerProcess, client: VerifierClient):
    with pytest.raises(InputError, match="prompts has 1 items but completions has 2"):
        client.score("think-answer-format", [GOOD, BAD], prompts=["only one"])
    with pytest.raises(InputError, match="references has 3 items"):
        client.score("think-answer-format", [GOOD, BAD], references=[{}, {}, {}])
    async with AsyncVerifierClient(verifier_server.address) as aclient:
        with pytest.raises(InputError, match="completion_ids has 1 items"):
            await aclient.score("think-answer-format", [GOOD, BAD], completion_ids=[[1]])


def test_one_string_instead_of_a_list_is_refused(client: VerifierClient):
    with pytest.raises(InputError, match="not one string"):
        client.score("think-answer-format", GOOD)


def test_bad_samples_get_their_own_outcome_and_the_rest_is_scored(client: VerifierClient):
    completions: list[Any] = [GOOD, None, BAD, 42, GOOD]
    references: list[Any] = [{"answer": "4"}, {}, ["not", "an", "object"], {}, None]
    results = client.score("think-answer-format", completions, references=references)
    assert [r.outcome for r in results] == [
        Outcome.OK,
        Outcome.INVALID_INPUT,
        Outcome.INVALID_INPUT,
        Outcome.INVALID_INPUT,
        Outcome.OK,
    ]
    assert [r.score for r in results] == [1.0, None, None, None, 1.0]
    assert "completion" in results[1].reason
    assert "reference" in results[2].reason
    assert "completion" in results[3].reason and "int" in results[3].reason


async def test_async_client_answers_bad_samples_the_same_way(verifier_server: ServerProcess, client: VerifierClient):
    completions: list[Any] = [GOOD, None, BAD, 42]
    references: list[Any] = [None, None, "gold", None]
    expected = client.score("think-answer-format", completions, references=references)
    async with AsyncVerifierClient(verifier_server.address) as aclient:
        got = await aclient.score("think-answer-format", completions, references=references)
    assert [comparable(r) for r in got] == [comparable(r) for r in expected]
    assert [r.outcome for r in got].count(Outcome.INVALID_INPUT) == 3


def test_conversational_completions(client: VerifierClient):
    prompts = [[{"role": "user", "content": "2+2?"}]] * 2
    completions = [[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": BAD}]]
    results = client.score("think-answer-format", completions, prompts=prompts)
    assert [r.score for r in results] == [1.0, 0.0]


def test_inline_spec_scores_without_registering(client: VerifierClient):
    results = client.score(specs.regex("digits", r"^\d+$", mode="fullmatch"), ["123", "12a"])
    assert [r.score for r in results] == [1.0, 0.0]


# -- transport: unavailable, retries, deadlines -----------------------------------------------


async def test_server_not_running_names_the_address():
    address = f"127.0.0.1:{free_port()}"
    retry = RetryPolicy(max_attempts=2, initial_backoff_s=0.05)
    with VerifierClient(address, timeout_s=2.0, retry=retry) as dead:
        with pytest.raises(ServerUnavailableError) as raised:
            dead.score("think-answer-format", [GOOD])
    assert address in str(raised.value)
    assert raised.value.status is StatusCode.UNAVAILABLE
    async with AsyncVerifierClient(address, timeout_s=2.0, retry=retry) as adead:
        with pytest.raises(ServerUnavailableError, match=address):
            await adead.list()


def _start_later(start_server: StartServer, port: int, delay_s: float) -> threading.Thread:
    def run() -> None:
        time.sleep(delay_s)
        start_server(port=port)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_unavailable_is_retried_until_the_server_comes_up(start_server: StartServer):
    port = free_port()
    thread = _start_later(start_server, port, 1.0)
    retry = RetryPolicy(max_attempts=100, initial_backoff_s=0.1, max_backoff_s=0.5)
    with VerifierClient(f"127.0.0.1:{port}", timeout_s=60, retry=retry) as late:
        results = late.score("think-answer-format", [GOOD, BAD])
    thread.join()
    assert [r.score for r in results] == [1.0, 0.0]


async def test_async_unavailable_is_retried_until_the_server_comes_up(start_server: StartServer):
    port = free_port()
    thread = _start_later(start_server, port, 1.0)
    retry = RetryPolicy(max_attempts=100, initial_backoff_s=0.1, max_backoff_s=0.5)
    async with AsyncVerifierClient(f"127.0.0.1:{port}", timeout_s=60, retry=retry) as late:
        info = await late.get("think-answer-format")
    thread.join()
    assert info.builtin and info.version == 1


async def test_every_call_has_a_deadline(verifier_server: ServerProcess, client: VerifierClient):
    completions, _ = _patterned_batch(5_000)
    with pytest.raises(DeadlineExceededError) as raised:
        client.score("think-answer-format", completions, timeout_s=0.001)
    assert raised.value.status is StatusCode.DEADLINE_EXCEEDED
    async with AsyncVerifierClient(verifier_server.address) as aclient:
        with pytest.raises(DeadlineExceededError):
            await aclient.score("think-answer-format", completions, timeout_s=0.001)


# -- errors cross the wire with clear messages ------------------------------------------------


def test_unknown_verifier_is_not_found_with_close_matches(client: VerifierClient):
    with pytest.raises(NotFoundError) as raised:
        client.score("think-answer-fromat", [GOOD])
    assert raised.value.status is StatusCode.NOT_FOUND
    assert "think-answer-fromat" in raised.value.message
    assert "think-answer-format" in raised.value.message.split("did you mean", 1)[1]
    with pytest.raises(NotFoundError, match="json-vlid"):
        client.get("json-vlid")
    with pytest.raises(NotFoundError):
        client.delete(unique("never-registered"))


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (specs.regex("bad-regex", "(unclosed"), "config.pattern"),
        (specs.json_format("bad-schema", schema={"type": "no-such-type"}), "config.schema"),
        (
            specs.composite("bad-weight", [{"verifier": "json-valid", "weight": "heavy"}]),
            "config.children[0].weight",
        ),
        ({"name": "bad-kind", "kind": "telepathy", "config": {}}, "kind"),
        ({"name": "bad-type", "kind": "format", "config": {"type": "vibes"}}, "config.type"),
        (specs.composite("self-ref", ["self-ref"]), "config.children"),
    ],
    ids=["regex", "schema", "weight", "kind", "format-type", "self-reference"],
)
def test_invalid_spec_names_the_field(client: VerifierClient, spec: Any, field: str):
    with pytest.raises(InvalidArgumentError) as raised:
        client.register(spec)
    assert raised.value.status is StatusCode.INVALID_ARGUMENT
    assert field in raised.value.message
    # the same spec given inline to Score is refused the same way
    with pytest.raises(InvalidArgumentError, match=field.replace("[", r"\[").replace("]", r"\]")):
        client.score(spec, [GOOD])


def test_composite_cycle_is_invalid(client: VerifierClient):
    a, b = unique("cyc-a"), unique("cyc-b")
    client.register(specs.composite(a, ["json-valid"]))
    client.register(specs.composite(b, [a]))
    with pytest.raises(InvalidArgumentError, match=f"cycle: {a} -> {b} -> {a}"):
        client.register(specs.composite(a, [b]))


def test_invalid_names_are_refused(client: VerifierClient):
    with pytest.raises(InvalidArgumentError, match="name"):
        client.register(specs.regex("has space", "x"))
    with pytest.raises(InvalidArgumentError, match="name"):
        client.register(specs.regex("pinned@2", "x"))


def test_builtin_names_are_reserved(client: VerifierClient):
    with pytest.raises(AlreadyExistsError, match="think-answer-format") as raised:
        client.register(specs.regex("think-answer-format", "x"))
    assert raised.value.status is StatusCode.ALREADY_EXISTS
    assert client.get("think-answer-format").spec.kind == "format"


# -- registry -----------------------------------------------------------------------------------


def test_register_versions_pin_list_get_delete(client: VerifierClient):
    name = unique("reg")
    first = client.register(specs.regex(name, "a", description="first"))
    second = client.register(specs.regex(name, "b", description="second"))
    assert (first.name, first.version, first.ref) == (name, 1, f"{name}@1")
    assert second.version == 2 and not second.builtin

    assert [r.score for r in client.score(name, ["a", "b"])] == [0.0, 1.0]
    assert [r.score for r in client.score(f"{name}@1", ["a", "b"])] == [1.0, 0.0]
    assert client.get(name).spec.config["pattern"] == "b"
    assert client.get(f"{name}@1").spec.description == "first"

    latest = [info for info in client.list() if info.name == name]
    assert [info.version for info in latest] == [2]
    every = [info for info in client.list(all_versions=True) if info.name == name]
    assert [info.version for info in every] == [1, 2]
    assert {"think-answer-format", "json-valid"} <= {info.name for info in client.list() if info.builtin}

    assert client.delete(f"{name}@1") == 1
    with pytest.raises(NotFoundError, match="version 1"):
        client.get(f"{name}@1")
    with pytest.raises(NotFoundError):
        client.score(f"{name}@1", ["a"])
    assert client.get(name).version == 2
    assert client.delete(name) == 1
    with pytest.raises(NotFoundError):
        client.get(name)
    assert name not in {info.name for info in client.list(all_versions=True)}


async def test_async_registry_round_trip(verifier_server: ServerProcess):
    name = unique("areg")
    async with AsyncVerifierClient(verifier_server.address) as aclient:
        assert (await aclient.register(specs.regex(name, "x"))).version == 1
        assert (await aclient.register(specs.regex(name, "y"))).version == 2
        assert (await aclient.get(f"{name}@1")).spec.config["pattern"] == "x"
        assert [i.version for i in await aclient.list(all_versions=True) if i.name == name] == [1, 2]
        assert await aclient.delete(name) == 2
        with pytest.raises(NotFoundError):
            await aclient.get(name)


def test_concurrent_registration_gets_distinct_versions(client: VerifierClient):
    name = unique("race")
    barrier = threading.Barrier(8)
    versions: list[int] = []
    errors: list[BaseException] = []

    def register(i: int) -> None:
        try:
            barrier.wait()
            versions.append(client.register(specs.regex(name, f"p{i}")).version)
        except BaseException as exc:  # surfaced below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(versions) == list(range(1, 9))
    assert [i.version for i in client.list(all_versions=True) if i.name == name] == list(range(1, 9))


def test_registry_survives_a_restart(start_server: StartServer, tmp_path: Path):
    data_dir = tmp_path / "persistent"
    name = unique("durable")
    first = start_server(data_dir=data_dir)
    with VerifierClient(first.address) as before:
        before.register(specs.regex(name, "old"))
        before.register(specs.regex(name, "new", description="kept"))
    assert first.stop() == 0
    second = start_server(data_dir=data_dir)
    with VerifierClient(second.address) as after:
        info = after.get(name)
        assert (info.version, info.spec.config["pattern"], info.spec.description) == (2, "new", "kept")
        assert after.get(f"{name}@1").spec.config["pattern"] == "old"
        assert [r.score for r in after.score(f"{name}@1", ["old", "new"])] == [1.0, 0.0]
        assert after.register(specs.regex(name, "newer")).version == 3


def test_capabilities(client: VerifierClient):
    caps = client.capabilities()
    assert {"format", "composite"} <= set(caps.kinds)
    assert {"think-answer-format", "json-valid"} <= set(caps.builtin_verifiers)
    assert caps.max_samples_per_request > 0 and caps.max_message_bytes > 0


def test_client_recovers_after_the_server_restarts(start_server: StartServer, tmp_path: Path):
    port = free_port()
    first = start_server(data_dir=tmp_path / "restart", port=port)
    retry = RetryPolicy(max_attempts=1000, initial_backoff_s=0.05, max_backoff_s=0.5)
    with VerifierClient(first.address, timeout_s=30, retry=retry) as long_lived:
        assert long_lived.score("think-answer-format", [GOOD])[0].score == 1.0
        first.stop()
        for _ in range(4):  # an outage long enough to grow gRPC's own reconnect backoff
            with pytest.raises(ServerUnavailableError):
                long_lived.score("think-answer-format", [GOOD], timeout_s=1.0)
        start_server(data_dir=tmp_path / "restart", port=port)
        assert long_lived.score("think-answer-format", [GOOD, BAD], timeout_s=60.0)[1].score == 0.0
