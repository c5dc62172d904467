"""``VerifierClient``: the blocking client. Mirrors ``AsyncVerifierClient`` method for method."""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from types import TracebackType
from typing import Any, TypeVar

import grpc

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from sdk import _convert
from sdk._base import BaseClient, VerifierTarget, as_spec
from sdk._errors import RPCError, StatusCode
from sdk._session import Session
from sdk._types import Capabilities, ScoreResult, SessionInfo, VerifierInfo, VerifierSpec

R = TypeVar("R")
Q = TypeVar("Q")


class VerifierClient(BaseClient[Session]):
    """Talks to a verifier server; safe to share between threads.

    >>> with VerifierClient("127.0.0.1:50051") as client:
    ...     results = client.score("think-answer-format", completions=["<think>…</think><answer>4</answer>"])
    """

    _session_type = Session

    def __init__(self, target: str | Sequence[str] = "127.0.0.1:50051", **options: Any) -> None:
        super().__init__(target, **options)
        self._replicas: dict[str, tuple[grpc.Channel, pb_grpc.VerifierServiceStub]] = {}
        """Channels to single replicas, for the calls of the sessions they hold."""
        if self.fleet is None:
            self._channel = self._open_channel(self.target)
            self._stub = pb_grpc.VerifierServiceStub(self._channel)
        else:  # the replicas of a ray:// fleet, followed as they change
            self._stub = self.fleet_stub(self._open_channel, lambda channel: channel.close())

    def _open_channel(self, target: str, options: builtins.list[tuple[str, Any]] | None = None) -> grpc.Channel:
        options = self.channel_options() if options is None else options
        credentials = self.credentials()
        if credentials is None:
            return grpc.insecure_channel(target, options=options)
        return grpc.secure_channel(target, credentials, options=options)

    # -- scoring ----------------------------------------------------------------------

    def score(
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
        """Score a batch; one result per completion, in order.

        ``verifier`` is a registered name (``name`` or ``name@version``) or an inline
        spec. ``references`` are per-sample dataset columns (gold answer, tests, ...).
        Batches above the sample or message limit are sent as several requests, up to
        ``max_concurrent_chunks`` in flight (the next one starts as soon as one finishes),
        sharing one deadline (``timeout_s``, default the client's).
        """
        plan = self.plan_score(verifier, completions, prompts, references, completion_ids)
        deadline = self.deadline(timeout_s)
        metadata = self.metadata(request_id)

        def send(request: pb.ScoreRequest) -> pb.ScoreResponse:
            return self._call_until(self._stub.Score, request, deadline, metadata, retry=True)

        return plan.results(self._each_chunk(send, plan.requests))

    def score_stream(
        self,
        verifier: VerifierTarget,
        completions: Sequence[Any],
        prompts: Sequence[Any] | None = None,
        references: Sequence[Mapping[str, Any] | None] | None = None,
        completion_ids: Sequence[Sequence[int] | None] | None = None,
        *,
        timeout_s: float | None = None,
        request_id: str | None = None,
    ) -> Iterator[tuple[int, ScoreResult]]:
        """Yield ``(index, result)`` as each sample is scored (completion order, not input order).

        Chunks are streamed one after another; indices are positions in ``completions``.
        Not retried once results have started to arrive, so none is ever yielded twice.
        """
        plan = self.plan_score(verifier, completions, prompts, references, completion_ids)
        deadline = self.deadline(timeout_s)
        metadata = self.metadata(request_id)
        yield from plan.refused.items()
        for request, positions in zip(plan.requests, plan.positions, strict=True):
            if not positions:
                continue
            try:
                call = self._stub.ScoreStream(request, timeout=self.remaining_s(deadline), metadata=metadata)
                for message in call:
                    yield positions[message.index], _convert.result_from_proto(message)
            except grpc.RpcError as error:
                raise self.translate(error) from None

    # -- registry -------------------------------------------------------------------

    def register(
        self, spec: VerifierSpec | Mapping[str, Any], *, dry_run: bool = False, timeout_s: float | None = None
    ) -> VerifierInfo:
        """Register ``spec``; an existing name gets its next version. Not retried (not idempotent).

        ``dry_run`` has the server check the spec exactly as registering would and store
        nothing (the returned info has version 0); a bad spec raises ``InvalidArgumentError``.
        """
        request = pb.RegisterVerifierRequest(spec=_convert.spec_to_proto(as_spec(spec)), dry_run=dry_run)
        if self.fans_out() and not dry_run:
            return _convert.info_from_proto(self._fan_out("RegisterVerifier", request, timeout_s))
        return _convert.info_from_proto(self._call(self._stub.RegisterVerifier, request, timeout_s, retry=False))

    def get(self, name: str, *, timeout_s: float | None = None) -> VerifierInfo:
        """The latest version of ``name``, or the one ``name@version`` pins."""
        return _convert.info_from_proto(self._call(self._stub.GetVerifier, pb.GetVerifierRequest(name=name), timeout_s))

    def list(self, *, all_versions: bool = False, timeout_s: float | None = None) -> list[VerifierInfo]:
        response = self._call(self._stub.ListVerifiers, pb.ListVerifiersRequest(all_versions=all_versions), timeout_s)
        return [_convert.info_from_proto(info) for info in response.verifiers]

    def delete(self, name: str, *, timeout_s: float | None = None) -> int:
        """Delete every version of ``name`` (or one, ``name@version``); returns how many."""
        request = pb.DeleteVerifierRequest(name=name)
        if self.fans_out():
            return int(self._fan_out("DeleteVerifier", request, timeout_s).deleted_versions)
        return int(self._call(self._stub.DeleteVerifier, request, timeout_s, retry=False).deleted_versions)

    def capabilities(self, *, timeout_s: float | None = None) -> Capabilities:
        response = self._call(self._stub.GetCapabilities, pb.GetCapabilitiesRequest(), timeout_s)
        return _convert.capabilities_from_proto(response)

    # -- sessions ---------------------------------------------------------------------

    def list_sessions(self, *, timeout_s: float | None = None) -> builtins.list[SessionInfo]:
        """Every live session on every replica (needs the admin role)."""
        found: builtins.list[SessionInfo] = []
        for address in self.replicas:
            response = self._call(self._replica(address).ListSessions, pb.ListSessionsRequest(), timeout_s)
            found += [_convert.session_from_proto(info) for info in response.sessions]
        return found

    def _open_session(self, request: pb.OpenSessionRequest, timeout_s: float | None) -> tuple[str, SessionInfo]:
        """Open on the next replica; a replica that is down or full is retried (the next one first)."""
        deadline = self.deadline(timeout_s)
        metadata = self.metadata()
        attempt = 0
        while True:
            attempt += 1
            address = self.pick_replica()
            try:
                info = self._replica(address).OpenSession(
                    request, timeout=self.remaining_s(deadline), metadata=metadata
                )
                return address, _convert.session_from_proto(info)
            except grpc.RpcError as raw:
                error = self.translate(raw)
            delay = self.retry_delay_s(error, attempt, deadline)
            if delay is None:
                raise error
            time.sleep(0.0 if error.status is StatusCode.UNAVAILABLE and len(self.replicas) > 1 else delay)
            if not self.time_for_attempt(deadline):
                raise error

    def _session_call(self, address: str, method: str, request: Any, session_id: str, timeout_s: float | None) -> Any:
        """One call on a session, to its replica; retried only when refused unrun (RESOURCE_EXHAUSTED)."""
        rpc = getattr(self._replica(address), method)
        deadline = self.deadline(timeout_s)
        metadata = self.metadata()
        attempt = 0
        while True:
            attempt += 1
            try:
                return rpc(request, timeout=self.remaining_s(deadline), metadata=metadata)
            except grpc.RpcError as raw:
                error = self.translate(raw)
            delay = self.retry_delay_s(error, attempt, deadline) if self.refused_unrun(error) else None
            if delay is None:
                raise self.session_error(error, session_id, address) from None
            time.sleep(delay)
            if not self.time_for_attempt(deadline):
                raise self.session_error(error, session_id, address) from None

    def _replica(self, address: str) -> pb_grpc.VerifierServiceStub:
        if address == self.target:
            return self._stub
        if address not in self._replicas:
            channel = self._open_channel(address, self.replica_channel_options())
            self._replicas[address] = (channel, pb_grpc.VerifierServiceStub(channel))
        return self._replicas[address][1]

    # -- plumbing ---------------------------------------------------------------------

    def _call(self, method: Callable[..., R], request: Any, timeout_s: float | None, *, retry: bool = True) -> R:
        return self._call_until(method, request, self.deadline(timeout_s), self.metadata(), retry=retry)

    def _call_until(
        self,
        method: Callable[..., R],
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
                return method(request, timeout=self.remaining_s(deadline), metadata=metadata)
            except grpc.RpcError as raw:
                error: RPCError = self.translate(raw)
            delay = self.retry_delay_s(error, attempt, deadline) if retry else None
            if delay is None:
                raise error
            time.sleep(delay)
            if not self.time_for_attempt(deadline):
                raise error

    def _each_chunk(self, send: Callable[[Q], R], requests: Sequence[Q]) -> builtins.list[R]:
        """``send`` applied to every request, ``chunk_workers`` at a time; the first failure is raised at once."""
        if len(requests) == 1:
            return [send(requests[0])]
        workers = ThreadPoolExecutor(self.chunk_workers(len(requests)), thread_name_prefix="verifier-chunk")
        sending = [workers.submit(send, request) for request in requests]
        try:
            for finished in as_completed(sending):  # gather's order: the first failure is raised as it happens
                finished.result()
            return [future.result() for future in sending]
        finally:
            workers.shutdown(wait=False, cancel_futures=True)

    def _fan_out(self, method: str, request: Any, timeout_s: float | None) -> Any:
        """A registry change applied on every replica of the fleet, by its controller (a Ray call)."""
        fleet = self.require_fleet()
        reply = fleet.fan_out(method, request.SerializeToString(), self.metadata(), self.timeout(timeout_s))
        return self.fan_out_response(method, reply)

    def close(self) -> None:
        for channel in [self._channel] if self.fleet is None else self._stub.channels():
            channel.close()
        for channel, _ in self._replicas.values():
            channel.close()
        self._replicas.clear()

    def __enter__(self) -> VerifierClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
