"""The gRPC servicer: proto in, domain call, proto out — and nothing else.

Every RPC runs inside the choke point of ``rpc_guard`` (``@unary_rpc`` / ``@stream_rpc``):
the single place where the caller's request id is bound to logs, domain errors become gRPC
statuses (via ``status_map``) and anything unexpected is logged and answered INTERNAL.
Who is calling comes from ``identity.caller_for`` (the authenticated token when auth is on).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from verifier_server import convert
from verifier_server.capabilities import capabilities
from verifier_server.domain import Sample, VerifierRef, VerifierSpec
from verifier_server.errors import FailedPrecondition, InvalidArgument
from verifier_server.identity import Caller, caller_for
from verifier_server.rpc_guard import stream_rpc, unary_rpc
from verifier_server.service import VerifierService
from verifier_server.sessions import SessionManager
from verifier_server.spec_bounds import check_spec_bounds

CLIENT_ID_HEADER = "x-client-id"


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

    @unary_rpc
    async def Score(self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResponse:
        target, samples = await self._score_input(request)
        scored = await self._service.score(target, samples, _caller(context).client)
        return pb.ScoreResponse(results=convert.results_to_proto(scored.results), verifier=scored.verifier)

    @stream_rpc
    async def ScoreStream(
        self, request: pb.ScoreRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ScoreResult]:
        target, samples = await self._score_input(request)
        async for index, result in self._service.score_stream(target, samples, _caller(context).client):
            yield convert.result_to_proto(index, result)

    @unary_rpc
    async def RegisterVerifier(
        self, request: pb.RegisterVerifierRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifierInfo:
        record = await self._service.register(await self._spec(request.spec, "spec"), dry_run=request.dry_run)
        return convert.record_to_proto(record)

    @unary_rpc
    async def GetVerifier(self, request: pb.GetVerifierRequest, context: grpc.aio.ServicerContext) -> pb.VerifierInfo:
        record = await self._service.get(VerifierRef.parse(request.name), full_spec=_caller(context).is_admin)
        return convert.record_to_proto(record)

    @unary_rpc
    async def ListVerifiers(
        self, request: pb.ListVerifiersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListVerifiersResponse:
        records = await self._service.list(all_versions=request.all_versions, full_specs=_caller(context).is_admin)
        return pb.ListVerifiersResponse(verifiers=[convert.record_to_proto(r) for r in records])

    @unary_rpc
    async def DeleteVerifier(
        self, request: pb.DeleteVerifierRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteVerifierResponse:
        deleted = await self._service.delete(VerifierRef.parse(request.name))
        return pb.DeleteVerifierResponse(deleted_versions=deleted)

    @unary_rpc
    async def GetCapabilities(
        self, request: pb.GetCapabilitiesRequest, context: grpc.aio.ServicerContext
    ) -> pb.Capabilities:
        offer = self._sessions.offer() if self._sessions is not None else None
        return convert.capabilities_to_proto(
            capabilities(self._service), self._max_samples, self._max_message_bytes, offer
        )

    # -- sessions -------------------------------------------------------------------------

    @unary_rpc
    async def OpenSession(self, request: pb.OpenSessionRequest, context: grpc.aio.ServicerContext) -> pb.SessionInfo:
        info = await self._session_manager().open(
            _caller(context),
            request.language,
            setup=request.setup,
            files=dict(request.files),
            env=dict(request.env),
            limits=convert.limits_from_proto(request.limits),
        )
        return convert.session_to_proto(info)

    @unary_rpc
    async def RunCell(self, request: pb.RunCellRequest, context: grpc.aio.ServicerContext) -> pb.CellResult:
        result = await self._session_manager().run(
            request.session_id, request.code, request.timeout_s, _caller(context), request.language
        )
        return convert.cell_to_proto(result)

    @unary_rpc
    async def ForkSession(
        self, request: pb.ForkSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ForkSessionResponse:
        infos = await self._session_manager().fork(request.session_id, request.count, _caller(context))
        return pb.ForkSessionResponse(sessions=[convert.session_to_proto(info) for info in infos])

    @unary_rpc
    async def ScoreSession(self, request: pb.ScoreSessionRequest, context: grpc.aio.ServicerContext) -> pb.ScoreResult:
        target = await self._target(request)
        reference = convert.reference_from_json(request.reference_json, "reference_json")
        result = await self._session_manager().score(request.session_id, target, reference, _caller(context))
        return convert.result_to_proto(0, result)

    @unary_rpc
    async def CloseSession(
        self, request: pb.CloseSessionRequest, context: grpc.aio.ServicerContext
    ) -> pb.CloseSessionResponse:
        closed = await self._session_manager().close(request.session_id, _caller(context))
        return pb.CloseSessionResponse(closed=closed)

    @unary_rpc
    async def ListSessions(
        self, request: pb.ListSessionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSessionsResponse:
        infos = self._session_manager().list(_caller(context))
        return pb.ListSessionsResponse(sessions=[convert.session_to_proto(info) for info in infos])

    def _session_manager(self) -> SessionManager:
        if self._sessions is None:
            raise FailedPrecondition("this server does not serve sessions")
        return self._sessions

    async def _spec(self, spec: pb.VerifierSpec, field: str) -> VerifierSpec:
        """The domain spec, refused unparsed when over ``max_spec_bytes``; big ones decode off the loop."""
        size = len(spec.config_json)
        check_spec_bounds(
            spec.name, spec.description, size, self._max_spec_bytes, field=field, config_field=f"{field}.config_json"
        )
        if size > _DECODE_OFF_LOOP_BYTES:
            return await asyncio.to_thread(convert.spec_from_proto, spec, field)
        return convert.spec_from_proto(spec, field)

    async def _score_input(self, request: pb.ScoreRequest) -> tuple[str | VerifierSpec, list[Sample]]:
        if len(request.samples) > self._max_samples:
            raise InvalidArgument(
                "samples", f"{len(request.samples)} samples exceed this server's limit of {self._max_samples}"
            )
        return await self._target(request), convert.samples_from_proto(request.samples)

    async def _target(self, request: pb.ScoreRequest | pb.ScoreSessionRequest) -> str | VerifierSpec:
        """The verifier a request names (``name``) or carries (``spec``)."""
        which = request.WhichOneof("verifier")
        if which == "name":
            return request.name
        if which == "spec":
            return await self._spec(request.spec, "spec")
        raise InvalidArgument("verifier", "give a verifier name or an inline spec")


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
