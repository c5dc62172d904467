"""``AsyncVerifierClient``: the asyncio client. Mirrors ``VerifierClient`` method for method.

The ``grpc.aio`` channel belongs to the event loop that created it, so it is created
lazily on first use inside the loop that uses it (TRL runs async rewards on its own
background loop), and using the client from another loop fails with a clear message.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from sdk import _convert
from sdk._base import BaseClient, VerifierTarget, as_spec
from sdk._errors import RPCError, StatusCode, VerifierError
from sdk._session import AsyncSession
from sdk._types import Capabilities, ScoreResult, SessionInfo, VerifierInfo, VerifierSpec

R = TypeVar("R")
Q = TypeVar("Q")


class AsyncVerifierClient(BaseClient[AsyncSession]):
    """Talks to a verifier server from asyncio code; use one client per event loop.

    >>> async with AsyncVerifierClient("127.0.0.1:50051") as client:
    ...     results = await client.score("math", completions=["\\\\boxed{4}"], references=[{"answer": "4"}])
    """

    _session_type = AsyncSession

    def __init__(self, target: str | Sequence[str] = "127.0.0.1:50051", **options: Any) -> None:
        super().__init__(target, **options)
        self._channel: grpc.aio.Channel | None = None
        self._stub: pb_grpc.VerifierServiceStub | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._replicas: dict[str, tuple[grpc.aio.Channel, pb_grpc.VerifierServiceStub]] = {}
        """Channels to single replicas, for the calls of the sessions they hold."""

    def _ensure_stub(self) -> pb_grpc.VerifierServiceStub:
        loop = asyncio.get_running_loop()
        if self._stub is None:
            if self.fleet is None:
                self._channel = self._open_channel(self.target)
                self._stub = pb_grpc.VerifierServiceStub(self._channel)
            else:  # the replicas of a ray:// fleet, followed as they change
                self._stub = self.fleet_stub(self._open_channel, lambda channel: channel.close(None))
            self._loop = loop
        elif self._loop is not loop:
            raise VerifierError(
                "this AsyncVerifierClient was first used in another event loop; create one client per loop"
            )
        return self._stub

    def _open_channel(self, target: str, options: builtins.list[tuple[str, Any]] | None = None) -> grpc.aio.Channel:
        options = self.channel_options() if options is None else options
        credentials = self.credentials()
        if credentials is None:
            return grpc.aio.insecure_channel(target, options=options)
        return grpc.aio.secure_channel(target, credentials, options=options)

    # -- scoring ----------------------------------------------------------------------

    async def score(
        self,
        verifier: VerifierTarget,
        completions: Sequence[Any],
        prompts: Sequence[Any] | None = None,
        references: Sequence[Mapping[str, Any] | None] | None = None,
        completion_ids: Sequence[Sequence[int] | None] | None = None,
        *,
        timeout_s: float | None = None,
        request_id: str | None = None,
    ) -> list[ScoreResult]:
        """Score a batch; one result per completion, in order. See ``VerifierClient.score``."""
        stub = self._ensure_stub()
        plan = self.plan_score(verifier, completions, prompts, references, completion_ids)
        deadline = self.deadline(timeout_s)
        metadata = self.metadata(request_id)

        async def send(request: pb.ScoreRequest) -> pb.ScoreResponse:
            return await self._call_until(stub.Score, request, deadline, metadata, retry=True)

        return plan.results(await self._each_chunk(send, plan.requests))

    async def score_stream(
        self,
        verifier: VerifierTarget,
        completions: Sequence[Any],
        prompts: Sequence[Any] | None = None,
        references: Sequence[Mapping[str, Any] | None] | None = None,
        completion_ids: Sequence[Sequence[int] | None] | None = None,
        *,
        timeout_s: float | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[tuple[int, ScoreResult]]:
        """Yield ``(index, result)`` as each sample is scored. See ``VerifierClient.score_stream``."""
        stub = self._ensure_stub()
        plan = self.plan_score(verifier, completions, prompts, references, completion_ids)
        deadline = self.deadline(timeout_s)
        metadata = self.metadata(request_id)
        for item in plan.refused.items():
            yield item
        for request, positions in zip(plan.requests, plan.positions, strict=True):
            if not positions:
                continue
            try:
                call = stub.ScoreStream(request, timeout=self.remaining_s(deadline), metadata=metadata)
                async for message in call:
                    yield positions[message.index], _convert.result_from_proto(message)
            except grpc.RpcError as error:
                raise self.translate(error) from None

    # -- registry -------------------------------------------------------------------

    async def register(
        self, spec: VerifierSpec | Mapping[str, Any], *, dry_run: bool = False, timeout_s: float | None = None
    ) -> VerifierInfo:
        """Register ``spec``; an existing name gets its next version. Not retried (not idempotent).

        ``dry_run`` has the server check the spec exactly as registering would and store
        nothing (the returned info has version 0); a bad spec raises ``InvalidArgumentError``.
        """
        request = pb.RegisterVerifierRequest(spec=_convert.spec_to_proto(as_spec(spec)), dry_run=dry_run)
        if self.fans_out() and not dry_run:
            return _convert.info_from_proto(await self._fan_out("RegisterVerifier", request, timeout_s))
        stub = self._ensure_stub()
        return _convert.info_from_proto(await self._call(stub.RegisterVerifier, request, timeout_s, retry=False))

    async def get(self, name: str, *, timeout_s: float | None = None) -> VerifierInfo:
        """The latest version of ``name``, or the one ``name@version`` pins."""
        stub = self._ensure_stub()
        return _convert.info_from_proto(await self._call(stub.GetVerifier, pb.GetVerifierRequest(name=name), timeout_s))

    async def list(self, *, all_versions: bool = False, timeout_s: float | None = None) -> list[VerifierInfo]:
        stub = self._ensure_stub()
        response = await self._call(stub.ListVerifiers, pb.ListVerifiersRequest(all_versions=all_versions), timeout_s)
        return [_convert.info_from_proto(info) for info in response.verifiers]

    async def delete(self, name: str, *, timeout_s: float | None = None) -> int:
        """Delete every version of ``name`` (or one, ``name@version``); returns how many."""
        stub = self._ensure_stub()
        request = pb.DeleteVerifierRequest(name=name)
        if self.fans_out():
            return int((await self._fan_out("DeleteVerifier", request, timeout_s)).deleted_versions)
        return int((await self._call(stub.DeleteVerifier, request, timeout_s, retry=False)).deleted_versions)

    async def capabilities(self, *, timeout_s: float | None = None) -> Capabilities:
        stub = self._ensure_stub()
        response = await self._call(stub.GetCapabilities, pb.GetCapabilitiesRequest(), timeout_s)
        return _convert.capabilities_from_proto(response)

    # -- sessions ---------------------------------------------------------------------

    async def list_sessions(self, *, timeout_s: float | None = None) -> builtins.list[SessionInfo]:
        """Every live session on every replica (needs the admin role)."""
        found: builtins.list[SessionInfo] = []
        for address in self.replicas:
            response = await self._call(self._replica(address).ListSessions, pb.ListSessionsRequest(), timeout_s)
            found += [_convert.session_from_proto(info) for info in response.sessions]
        return found

    async def _open_session(self, request: pb.OpenSessionRequest, timeout_s: float | None) -> tuple[str, SessionInfo]:
        """Open on the next replica; a replica that is down or full is retried (the next one first)."""
        deadline = self.deadline(timeout_s)
        metadata = self.metadata()
        attempt = 0
        while True:
            attempt += 1
            address = self.pick_replica()
            try:
                rpc = self._replica(address).OpenSession
                info = await rpc(request, timeout=self.remaining_s(deadline), metadata=metadata)
                return address, _convert.session_from_proto(info)
            except grpc.RpcError as raw:
                error = self.translate(raw)
            delay = self.retry_delay_s(error, attempt, deadline)
            if delay is None:
                raise error
            await asyncio.sleep(0.0 if error.status is StatusCode.UNAVAILABLE and len(self.replicas) > 1 else delay)
            if not self.time_for_attempt(deadline):
                raise error

    async def _session_call(
        self, address: str, method: str, request: Any, session_id: str, timeout_s: float | None
    ) -> Any:
        """One call on a session, to its replica; retried only when refused unrun (RESOURCE_EXHAUSTED)."""
        rpc = getattr(self._replica(address), method)
        deadline = self.deadline(timeout_s)
        metadata = self.metadata()
        attempt = 0
        while True:
            attempt += 1
            try:
                return await rpc(request, timeout=self.remaining_s(deadline), metadata=metadata)
            except grpc.RpcError as raw:
                error = self.translate(raw)
            delay = self.retry_delay_s(error, attempt, deadline) if self.refused_unrun(error) else None
            if delay is None:
                raise self.session_error(error, session_id, address) from None
            await asyncio.sleep(delay)
            if not self.time_for_attempt(deadline):
                raise self.session_error(error, session_id, address) from None

    def _replica(self, address: str) -> pb_grpc.VerifierServiceStub:
        stub = self._ensure_stub()
        if address == self.target:
            return stub
        if address not in self._replicas:
            channel = self._open_channel(address, self.replica_channel_options())
            self._replicas[address] = (channel, pb_grpc.VerifierServiceStub(channel))
        return self._replicas[address][1]

    # -- plumbing ---------------------------------------------------------------------

    async def _call(
        self, method: Callable[..., Awaitable[R]], request: Any, timeout_s: float | None, *, retry: bool = True
    ) -> R:
        return await self._call_until(method, request, self.deadline(timeout_s), self.metadata(), retry=retry)

    async def _call_until(
        self,
        method: Callable[..., Awaitable[R]],
        request: Any,
        deadline: float,
        metadata: tuple[tuple[str, str], ...],
        *,
        retry: bool,
    ) -> R:
        attempt = 0
        while True:
            attempt += 1
            try:
                return await method(request, timeout=self.remaining_s(deadline), metadata=metadata)
            except grpc.RpcError as raw:
                error: RPCError = self.translate(raw)
            delay = self.retry_delay_s(error, attempt, deadline) if retry else None
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            if not self.time_for_attempt(deadline):
                raise error

    async def _each_chunk(self, send: Callable[[Q], Awaitable[R]], requests: Sequence[Q]) -> builtins.list[R]:
        """``send`` applied to every request, ``chunk_workers`` at a time; the first failure is raised at once."""
        if len(requests) == 1:
            return [await send(requests[0])]
        workers = asyncio.Semaphore(self.chunk_workers(len(requests)))
        sending = [asyncio.ensure_future(_gated(workers, send, request)) for request in requests]
        try:
            return builtins.list(await asyncio.gather(*sending))
        finally:
            for future in sending:
                future.cancel()

    async def _fan_out(self, method: str, request: Any, timeout_s: float | None) -> Any:
        """A registry change applied on every replica of the fleet, by its controller (a Ray call, in a thread)."""
        fleet = self.require_fleet()
        reply = await asyncio.to_thread(
            fleet.fan_out, method, request.SerializeToString(), self.metadata(), self.timeout(timeout_s)
        )
        return self.fan_out_response(method, reply)

    async def aclose(self) -> None:
        for channel in [self._channel] if self.fleet is None or self._stub is None else self._stub.channels():
            if channel is not None:
                await channel.close(None)
        for channel, _ in self._replicas.values():
            await channel.close(None)
        self._replicas.clear()
        self._channel = self._stub = self._loop = None

    async def __aenter__(self) -> AsyncVerifierClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


async def _gated(gate: asyncio.Semaphore, send: Callable[[Q], Awaitable[R]], request: Q) -> R:
    async with gate:
        return await send(request)
