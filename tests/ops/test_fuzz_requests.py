"""Fuzzing the request surface of a real server with hypothesis, through raw gRPC stubs.

Raw stubs (not the SDK) so requests the SDK would refuse reach the server too: unset
oneofs, invalid JSON in ``reference_json``/``config_json``, non-object JSON, huge and
deeply nested values. The server may only answer with the documented status codes,
every OK response must carry one well-formed result per sample, and the server must
still be healthy afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from verifier_server.testing import ServerProcess, start_server_process

MAX_SAMPLES = 48
DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)

# -- strategies -------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


def deeply_nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# Any string may arrive in a *_json field: valid objects, other JSON, NaN, garbage, deep nesting.
json_fields = st.one_of(
    json_objects.map(json.dumps),
    json_values.map(json.dumps),
    st.just(""),
    st.sampled_from(["NaN", "{", '{"a": NaN}', "[1,", "null", '{"answer": Infinity}']),
    st.integers(100, 500).map(deeply_nested),  # deeper: test_deeply_nested_json below
    st.text(max_size=40),
)

texts = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["\\boxed{2}", "<think>x</think><answer>42</answer>", "The answer is 1/2.", "```python\n1\n```"]),
    st.integers(10_000, 300_000).map(lambda n: "ü" * n),  # big, multi-byte
)
messages = st.lists(st.builds(pb.ChatMessage, role=st.text(max_size=10), content=texts), max_size=5)
contents = st.one_of(
    st.none(),
    st.just(pb.Content()),  # the oneof left unset
    texts.map(lambda t: pb.Content(text=t)),
    messages.map(lambda m: pb.Content(messages=pb.Conversation(messages=m))),
)


@st.composite
def samples(draw: st.DrawFn) -> pb.Sample:
    sample = pb.Sample(
        reference_json=draw(json_fields),
        completion_ids=draw(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=5)),
    )
    for name in ("prompt", "completion"):
        content = draw(contents)
        if content is not None:
            getattr(sample, name).CopyFrom(content)
    return sample


format_configs = st.one_of(
    st.fixed_dictionaries(
        {"type": st.just("regex"), "pattern": st.text(max_size=15)},
        optional={
            "mode": st.sampled_from(["match", "search", "fullmatch", "x"]),
            "flags": st.lists(st.text(max_size=8)),
        },
    ),
    st.fixed_dictionaries({"type": st.just("tags"), "tags": st.lists(st.text(max_size=8), max_size=3)}),
    st.fixed_dictionaries({"type": st.just("json")}, optional={"schema": json_values}),
    st.fixed_dictionaries(
        {"type": st.just("length")}, optional={"min": st.integers(-5, 50), "max": st.integers(-5, 500)}
    ),
    st.fixed_dictionaries({"type": st.just("repetition")}, optional={"ngram_size": st.integers(-2, 6)}),
    json_objects,
)
kinds = st.one_of(
    st.sampled_from(["format", "format", "math", "composite", "composite", "judge", "code", "python"]),
    st.text(max_size=12),
)
names = st.from_regex(r"[a-z][a-z0-9_.-]{0,15}", fullmatch=True) | st.text(max_size=20)


def spec_configs(kind: str) -> st.SearchStrategy[Any]:
    children = st.lists(
        st.one_of(
            st.sampled_from(["think-answer-format", "math", "no-such-verifier", "math@7", ""]),
            format_configs.map(lambda c: {"verifier": {"kind": "format", "config": c}}),
            json_values,
        ),
        max_size=4,
    )
    if kind == "composite":
        return st.fixed_dictionaries(
            {"children": children},
            optional={"combine": st.sampled_from(["weighted_sum", "min", "max", "gate", "?"])},
        )
    if kind == "format":
        return format_configs
    return json_objects


@st.composite
def specs(draw: st.DrawFn) -> pb.VerifierSpec:
    kind = draw(kinds)
    config = draw(spec_configs(kind))
    config_json = (
        draw(st.one_of(st.just(json.dumps(config)), json_fields)) if draw(st.booleans()) else json.dumps(config)
    )
    return pb.VerifierSpec(name=draw(names), kind=kind, config_json=config_json, description=draw(st.text(max_size=20)))


@st.composite
def score_requests(draw: st.DrawFn) -> pb.ScoreRequest:
    request = pb.ScoreRequest(
        samples=draw(st.lists(samples(), max_size=MAX_SAMPLES + 8)), index_offset=draw(st.integers(0, 2**64 - 1))
    )
    verifier = draw(st.sampled_from(["name", "name", "spec", "spec", "unset"]))
    if verifier == "name":
        request.name = draw(
            st.sampled_from(["think-answer-format", "math", "json-valid", "math@1", "math@2", "x@-1", "@", ""])
            | st.text(max_size=20)
        )
    elif verifier == "spec":
        request.spec.CopyFrom(draw(specs()))
    return request


# -- server -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_server_process(
        tmp_path_factory.mktemp("fuzz"), config={"max_samples_per_request": MAX_SAMPLES, "workers": 1}
    )
    yield server
    assert server.process.poll() is None, f"the server died while fuzzed:\n{server.log_text()[-3000:]}"
    with grpc.insecure_channel(server.address) as channel:
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status
    assert status == health_pb2.HealthCheckResponse.SERVING
    assert server.stop() == 0


@pytest.fixture(scope="module")
def stub(fuzzed_server: ServerProcess) -> Iterator[pb_grpc.VerifierServiceStub]:
    options = [("grpc.max_send_message_length", 256 << 20), ("grpc.max_receive_message_length", 256 << 20)]
    with grpc.insecure_channel(fuzzed_server.address, options=options) as channel:
        yield pb_grpc.VerifierServiceStub(channel)


def note_code(code: grpc.StatusCode) -> None:
    """Counted in ``--hypothesis-show-statistics``, to see the fuzzing reaches past validation."""
    if currently_in_test_context():
        event(code.name)


def call(method: Any, request: Any) -> tuple[grpc.StatusCode, Any]:
    try:
        response = method(request, timeout=60)
        note_code(grpc.StatusCode.OK)
        return grpc.StatusCode.OK, response
    except grpc.RpcError as error:
        code = error.code()
        note_code(code)
        assert code in DOCUMENTED, f"undocumented status {code}: {error.details()}"
        assert error.details(), "an error must say what is wrong"
        return code, None


def check_results(request: pb.ScoreRequest, results: list[pb.ScoreResult]) -> None:
    assert sorted(r.index for r in results) == list(range(len(request.samples)))
    for result in results:
        assert result.outcome != pb.OUTCOME_UNSPECIFIED
        assert result.outcome == pb.OUTCOME_OK or result.reason, "a failed sample must say why"
        if result.details_json:
            assert isinstance(json.loads(result.details_json), dict)


# -- tests ------------------------------------------------------------------------------


@FUZZ
@given(request=score_requests())
def test_score_answers_documented_codes_and_one_result_per_sample(stub: pb_grpc.VerifierServiceStub, request):
    code, response = call(stub.Score, request)
    if code is grpc.StatusCode.OK:
        check_results(request, list(response.results))
        assert [r.index for r in response.results] == list(range(len(request.samples))), "results in input order"
    if len(request.samples) > MAX_SAMPLES:
        assert code is grpc.StatusCode.INVALID_ARGUMENT


@settings(FUZZ, max_examples=50)
@given(request=score_requests())
def test_score_stream_answers_documented_codes(stub: pb_grpc.VerifierServiceStub, request):
    def stream() -> list[pb.ScoreResult]:
        return list(stub.ScoreStream(request, timeout=60))

    code, results = call(lambda r, timeout: stream(), request)
    if code is grpc.StatusCode.OK:
        check_results(request, results)


@settings(FUZZ, max_examples=100)
@given(spec=specs(), name=st.text(max_size=20), all_versions=st.booleans())
def test_registry_calls_answer_documented_codes(stub: pb_grpc.VerifierServiceStub, spec, name, all_versions):
    code, info = call(stub.RegisterVerifier, pb.RegisterVerifierRequest(spec=spec))
    if code is grpc.StatusCode.OK:
        assert info.version >= 1
        name = f"{spec.name}@{info.version}"
        scored, _ = call(stub.Score, pb.ScoreRequest(name=name, samples=[pb.Sample()]))
        assert scored is grpc.StatusCode.OK
    call(stub.GetVerifier, pb.GetVerifierRequest(name=name))
    call(stub.ListVerifiers, pb.ListVerifiersRequest(all_versions=all_versions))
    call(stub.DeleteVerifier, pb.DeleteVerifierRequest(name=name))
    call(stub.RegisterVerifier, pb.RegisterVerifierRequest())  # the spec left unset


def test_edge_requests(stub: pb_grpc.VerifierServiceStub):
    """Fixed corners the strategies reach only by luck."""
    assert call(stub.Score, pb.ScoreRequest())[0] is grpc.StatusCode.INVALID_ARGUMENT
    code, response = call(stub.Score, pb.ScoreRequest(name="think-answer-format"))
    assert code is grpc.StatusCode.OK and len(response.results) == 0
    huge = pb.Sample(completion=pb.Content(text="x" * (8 << 20)), reference_json=json.dumps({"answer": "y" * 10_000}))
    code, response = call(stub.Score, pb.ScoreRequest(name="math", samples=[huge, pb.Sample()]))
    assert code is grpc.StatusCode.OK
    check_results(pb.ScoreRequest(samples=[huge, pb.Sample()]), list(response.results))
    too_many = pb.ScoreRequest(name="math", samples=[pb.Sample()] * (MAX_SAMPLES + 1))
    assert call(stub.Score, too_many)[0] is grpc.StatusCode.INVALID_ARGUMENT
    assert call(stub.GetCapabilities, pb.GetCapabilitiesRequest())[0] is grpc.StatusCode.OK


@pytest.mark.parametrize("field", ["reference_json", "config_json"])
def test_deeply_nested_json(stub: pb_grpc.VerifierServiceStub, field: str):
    deep = deeply_nested(100_000)
    if field == "reference_json":
        code, response = call(stub.Score, pb.ScoreRequest(name="math", samples=[pb.Sample(reference_json=deep)]))
        assert code is grpc.StatusCode.OK and response.results[0].outcome == pb.OUTCOME_INVALID_INPUT
    else:
        spec = pb.VerifierSpec(name="deep", kind="format", config_json=deep)
        assert call(stub.Score, pb.ScoreRequest(spec=spec))[0] is grpc.StatusCode.INVALID_ARGUMENT
