"""The gRPC servicer: proto in, domain call, proto out — and nothing else.

Every RPC runs inside ``_rpc``, the single place where domain errors become gRPC
statuses (via ``status_map``) and where the caller's request id is bound to logs.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Iterator

import grpc

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from verifier_server import convert, logs
from verifier_server.capabilities import capabilities
from verifier_server.domain import VerifierRef, VerifierSpec
from verifier_server.errors import InvalidArgument, ResourceExhausted, VerifierError
from verifier_server.service import VerifierService
from verifier_server.status_map import status_for

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
CLIENT_ID_HEADER = "x-client-id"
RETRY_AFTER_HEADER = "retry-after-ms"


class VerifierServicer(pb_grpc.VerifierServiceServicer):
    def __init__(self, service: VerifierService, max_samples_per_request: int, max_message_bytes: int) -> None:
        self._service = service
        self._max_samples = max_samples_per_request
        self._max_message_bytes = max_message_bytes

    async def Score(self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResponse:
        with _bound_request_id(context):
            try:
                target, samples = self._score_input(request)
                scored = await self._service.score(target, samples, _client_id(context))
            except VerifierError as error:
                await _abort(context, error)
            return pb.ScoreResponse(results=convert.results_to_proto(scored.results), verifier=scored.verifier)

    async def ScoreStream(
        self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ScoreResult]:
        with _bound_request_id(context):
            try:
                target, samples = self._score_input(request)
                async for index, result in self._service.score_stream(target, samples, _client_id(context)):
                    yield convert.result_to_proto(index, result)
            except VerifierError as error:
                await _abort(context, error)

    async def RegisterVerifier(
        self, request: pb.RegisterVerifierRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifierInfo:
        with _bound_request_id(context):
            try:
                record = await self._service.register(convert.spec_from_proto(request.spec), dry_run=request.dry_run)
            except VerifierError as error:
                await _abort(context, error)
            return convert.record_to_proto(record)

    async def GetVerifier(self, request: pb.GetVerifierRequest, context: grpc.aio.ServicerContext) -> pb.VerifierInfo:
        with _bound_request_id(context):
            try:
                record = await self._service.get(VerifierRef.parse(request.name))
            except VerifierError as error:
                await _abort(context, error)
            return convert.record_to_proto(record)

    async def ListVerifiers(
        self, request: pb.ListVerifiersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVerifiersResponse:
        with _bound_request_id(context):
            try:
                records = await self._service.list(all_versions=request.all_versions)
            except VerifierError as error:
                await _abort(context, error)
            return pb.ListVerifiersResponse(verifiers=[convert.record_to_proto(r) for r in records])

    async def DeleteVerifier(
        self, request: pb.DeleteVerifierRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteVerifierResponse:
        with _bound_request_id(context):
            try:
                deleted = await self._service.delete(VerifierRef.parse(request.name))
            except VerifierError as error:
                await _abort(context, error)
            return pb.DeleteVerifierResponse(deleted_versions=deleted)

    async def GetCapabilities(
        self, request: pb.GetCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.Capabilities:
        info = capabilities(self._service)
        return pb.Capabilities(
            server_version=info.server_version,
            kinds=info.kinds,
            languages=info.languages,
            sandbox_backends=info.sandbox_backends,
            judge_backends=info.judge_backends,
            max_samples_per_request=self._max_samples,
            max_message_bytes=self._max_message_bytes,
            builtin_verifiers=info.builtin_verifiers,
            sandbox_python_packages=info.sandbox_python_packages,
        )

    def _score_input(self, request: pb.ScoreRequest) -> tuple[str | VerifierSpec, list]:  # type: ignore[type-arg]
        if len(request.samples) > self._max_samples:
            raise InvalidArgument(
                "samples", f"{len(request.samples)} samples exceed this server's limit of {self._max_samples}"
            )
        which = request.WhichOneof("verifier")
        if which == "name":
            target: str | VerifierSpec = request.name
        elif which == "spec":
            target = convert.spec_from_proto(request.spec, "spec")
        else:
            raise InvalidArgument("verifier", "give a verifier name or an inline spec")
        return target, convert.samples_from_proto(request.samples)


async def _abort(context: grpc.aio.ServicerContext, error: VerifierError) -> None:
    code = status_for(error)
    if isinstance(error, ResourceExhausted):
        context.set_trailing_metadata(((RETRY_AFTER_HEADER, str(int(error.retry_after_s * 1000))),))
    if code is grpc.StatusCode.INTERNAL:
        log.error("internal error: %s", error.message)
    await context.abort(code, error.message)


def _client_id(context: grpc.aio.ServicerContext) -> str:
    """Who is asking, for per-client fairness: the SDK's client id, else the peer's host."""
    for key, value in context.invocation_metadata() or ():
        if key == CLIENT_ID_HEADER and isinstance(value, str):
            return value
    peer = context.peer() or ""
    return peer.rsplit(":", 1)[0]


@contextlib.contextmanager
def _bound_request_id(context: grpc.aio.ServicerContext) -> Iterator[None]:
    metadata = dict(context.invocation_metadata() or ())
    token = logs.request_id.set(str(metadata.get(REQUEST_ID_HEADER) or uuid.uuid4().hex[:16]))
    try:
        yield
    finally:
        logs.request_id.reset(token)
