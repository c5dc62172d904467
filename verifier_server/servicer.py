"""The gRPC servicer: proto in, domain call, proto out — and nothing else.

Every RPC runs inside ``_rpc``, the single place where domain errors become gRPC
statuses (via ``status_map``) and where the caller's request id is bound to logs.
Who is calling comes from ``identity.caller_for`` (the authenticated token when auth is on).
"""

from __future__ import annotations

import asyncio
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
from verifier_server.errors import FailedPrecondition, InvalidArgument, ResourceExhausted, VerifierError
from verifier_server.identity import Caller, caller_for
from verifier_server.service import VerifierService
from verifier_server.sessions import SessionManager
from verifier_server.status_map import status_for

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
CLIENT_ID_HEADER = "x-client-id"
RETRY_AFTER_HEADER = "retry-after-ms"


_MAX_NAME_CHARS = 1024
_MAX_DESCRIPTION_CHARS = 64 * 1024
_DECODE_OFF_LOOP_BYTES = 64 * 1024
"""Specs larger than this are decoded on a worker thread, so one request cannot stall the others."""


class VerifierServicer(pb_grpc.VerifierServiceServicer):
    def __init__(
        self,
        service: VerifierService,
        max_samples_per_request: int,
        max_message_bytes: int,
        max_spec_bytes: int = 1024 * 1024,
        sessions: SessionManager | None = None,
    ) -> None:
        self._service = service
        self._max_samples = max_samples_per_request
        self._max_message_bytes = max_message_bytes
        self._max_spec_bytes = max_spec_bytes
        self._sessions = sessions

    async def Score(self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResponse:
        with _bound_request_id(context):
            try:
                target, samples = await self._score_input(request)
                scored = await self._service.score(target, samples, _caller(context).client)
            except VerifierError as error:
                await _abort(context, error)
            return pb.ScoreResponse(results=convert.results_to_proto(scored.results), verifier=scored.verifier)

    async def ScoreStream(
        self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ScoreResult]:
        with _bound_request_id(context):
            try:
                target, samples = await self._score_input(request)
                async for index, result in self._service.score_stream(target, samples, _caller(context).client):
                    yield convert.result_to_proto(index, result)
            except VerifierError as error:
                await _abort(context, error)

    async def RegisterVerifier(
        self, request: pb.RegisterVerifierRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifierInfo:
        with _bound_request_id(context):
            try:
                record = await self._service.register(await self._spec(request.spec, "spec"), dry_run=request.dry_run)
            except VerifierError as error:
                await _abort(context, error)
            return convert.record_to_proto(record)

    async def GetVerifier(self, request: pb.GetVerifierRequest, context: grpc.aio.ServicerContext) -> pb.VerifierInfo:
        with _bound_request_id(context):
            try:
                record = await self._service.get(VerifierRef.parse(request.name), full_spec=_caller(context).is_admin)
            except VerifierError as error:
                await _abort(context, error)
            return convert.record_to_proto(record)

    async def ListVerifiers(
        self, request: pb.ListVerifiersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVerifiersResponse:
        with _bound_request_id(context):
            try:
                records = await self._service.list(
                    all_versions=request.all_versions, full_specs=_caller(context).is_admin
                )
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
        offer = self._sessions.offer() if self._sessions is not None else None
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
            sessions=convert.offer_to_proto(offer) if offer is not None else None,
        )

    # -- sessions -------------------------------------------------------------------------

    async def OpenSession(self, request: pb.OpenSessionRequest, context: grpc.aio.ServicerContext) -> pb.SessionInfo:
        with _bound_request_id(context):
            try:
                info = await self._session_manager().open(
                    _caller(context),
                    request.language,
                    setup=request.setup,
                    files=dict(request.files),
                    env=dict(request.env),
                    limits=convert.limits_from_proto(request.limits),
                )
            except VerifierError as error:
                await _abort(context, error)
            return convert.session_to_proto(info)

    async def RunCell(self, request: pb.RunCellRequest, context: grpc.aio.ServicerContext) -> pb.CellResult:
        with _bound_request_id(context):
            try:
                if request.timeout_s < 0:
                    raise InvalidArgument("timeout_s", "must not be negative")
                result = await self._session_manager().run(
                    request.session_id, request.code, request.timeout_s, _caller(context), request.language
                )
            except VerifierError as error:
                await _abort(context, error)
            return convert.cell_to_proto(result)

    async def ForkSession(
        self, request: pb.ForkSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ForkSessionResponse:
        with _bound_request_id(context):
            try:
                infos = await self._session_manager().fork(request.session_id, request.count, _caller(context))
            except VerifierError as error:
                await _abort(context, error)
            return pb.ForkSessionResponse(sessions=[convert.session_to_proto(info) for info in infos])

    async def ScoreSession(self, request: pb.ScoreSessionRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResult:
        with _bound_request_id(context):
            try:
                which = request.WhichOneof("verifier")
                if which == "name":
                    target: str | VerifierSpec = request.name
                elif which == "spec":
                    target = await self._spec(request.spec, "spec")
                else:
                    raise InvalidArgument("verifier", "give a verifier name or an inline spec")
                reference = convert.reference_from_json(request.reference_json, "reference_json")
                result = await self._session_manager().score(request.session_id, target, reference, _caller(context))
            except VerifierError as error:
                await _abort(context, error)
            return convert.result_to_proto(0, result)

    async def CloseSession(
        self, request: pb.CloseSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseSessionResponse:
        with _bound_request_id(context):
            try:
                closed = await self._session_manager().close(request.session_id, _caller(context))
            except VerifierError as error:
                await _abort(context, error)
            return pb.CloseSessionResponse(closed=closed)

    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSessionsResponse:
        with _bound_request_id(context):
            try:
                infos = self._session_manager().list(_caller(context))
            except VerifierError as error:
                await _abort(context, error)
            return pb.ListSessionsResponse(sessions=[convert.session_to_proto(info) for info in infos])

    def _session_manager(self) -> SessionManager:
        if self._sessions is None:
            raise FailedPrecondition("this server does not serve sessions")
        return self._sessions

    async def _spec(self, spec: pb.VerifierSpec, field: str) -> VerifierSpec:
        """The domain spec, refused unparsed when over ``max_spec_bytes``; big ones decode off the loop."""
        size = len(spec.config_json)
        if len(spec.description) > _MAX_DESCRIPTION_CHARS or len(spec.name) > _MAX_NAME_CHARS:
            raise InvalidArgument(
                field,
                f"name and description may have at most {_MAX_NAME_CHARS} and {_MAX_DESCRIPTION_CHARS} characters",
            )
        if size > self._max_spec_bytes:
            raise InvalidArgument(
                f"{field}.config_json", f"is {size} bytes; this server accepts specs up to {self._max_spec_bytes}"
            )
        if size > _DECODE_OFF_LOOP_BYTES:
            return await asyncio.to_thread(convert.spec_from_proto, spec, field)
        return convert.spec_from_proto(spec, field)

    async def _score_input(self, request: pb.ScoreRequest) -> tuple[str | VerifierSpec, list]:  # type: ignore[type-arg]
        if len(request.samples) > self._max_samples:
            raise InvalidArgument(
                "samples", f"{len(request.samples)} samples exceed this server's limit of {self._max_samples}"
            )
        which = request.WhichOneof("verifier")
        if which == "name":
            target: str | VerifierSpec = request.name
        elif which == "spec":
            target = await self._spec(request.spec, "spec")
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


def _caller(context: grpc.aio.ServicerContext) -> Caller:
    """Who is asking: the authenticated token's caller, else (auth off) the SDK's client id."""
    return caller_for(_unauthenticated_client_id(context))


def _unauthenticated_client_id(context: grpc.aio.ServicerContext) -> str:
    """The SDK's client id, else the peer's host: caller-chosen, so only trusted when auth is off."""
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
