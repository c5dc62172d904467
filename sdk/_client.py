"""``VerifierClient``: the blocking client. Mirrors ``AsyncVerifierClient`` method for method."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import grpc

from protos.verifier.v1 import verifier_pb2 as pb
from protos.verifier.v1 import verifier_pb2_grpc as pb_grpc
from sdk import _convert
from sdk._base import BaseClient, VerifierTarget, as_spec
from sdk._errors import RPCError
from sdk._types import Capabilities, ScoreResult, VerifierInfo, VerifierSpec

R = TypeVar("R")


class VerifierClient(BaseClient):
    """Talks to a verifier server; safe to share between threads.

    >>> with VerifierClient("127.0.0.1:50051") as client:
    ...     results = client.score("think-answer-format", completions=["<think>…</think><answer>4</answer>"])
    """

    def __init__(self, target: str | Sequence[str] = "127.0.0.1:50051", **options: Any) -> None:
        super().__init__(target, **options)
        if self.fleet is None:
            self._channel = self._open_channel(self.target)
            self._stub = pb_grpc.VerifierServiceStub(self._channel)
        else:  # the replicas of a ray:// fleet, followed as they change
            self._stub = self.fleet_stub(self._open_channel, lambda channel: channel.close())

    def _open_channel(self, target: str) -> grpc.Channel:
        credentials = self.credentials()
        if credentials is None:
            return grpc.insecure_channel(target, options=self.channel_options())
        return grpc.secure_channel(target, credentials, options=self.channel_options())

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
        Batches above the message limit are sent as several requests, several at a
        time, sharing one deadline (``timeout_s``, default the client's).
        """
        plan = self.plan_score(verifier, completions, prompts, references, completion_ids)
        requests = plan.requests
        deadline = self.deadline(timeout_s)
        metadata = self.metadata(request_id)
        responses: list[pb.ScoreResponse | None] = [None] * len(requests)
        concurrent = self.concurrent_chunks()
        for window_start in range(0, len(requests), concurrent):
            window = range(window_start, min(window_start + concurrent, len(requests)))
            futures = {
                i: self._stub.Score.future(requests[i], timeout=self.remaining_s(deadline), metadata=metadata)
                for i in window
            }
            for i, future in futures.items():
                try:
                    responses[i] = future.result()
                except grpc.RpcError as error:
                    responses[i] = self._retry_after_failure(
                        self._stub.Score, requests[i], self.translate(error), deadline, metadata
                    )
        return plan.results([response for response in responses if response is not None])

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
            return _convert.info_from_proto(self.fan_out("RegisterVerifier", request, timeout_s))
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
            return int(self.fan_out("DeleteVerifier", request, timeout_s).deleted_versions)
        return int(self._call(self._stub.DeleteVerifier, request, timeout_s, retry=False).deleted_versions)

    def capabilities(self, *, timeout_s: float | None = None) -> Capabilities:
        response = self._call(self._stub.GetCapabilities, pb.GetCapabilitiesRequest(), timeout_s)
        return _convert.capabilities_from_proto(response)

    # -- plumbing ---------------------------------------------------------------------

    def _call(self, method: Callable[..., R], request: Any, timeout_s: float | None, *, retry: bool = True) -> R:
        deadline = self.deadline(timeout_s)
        metadata = self.metadata()
        try:
            return method(request, timeout=self.remaining_s(deadline), metadata=metadata)
        except grpc.RpcError as error:
            if not retry:
                raise self.translate(error) from None
            return self._retry_after_failure(method, request, self.translate(error), deadline, metadata)

    def _retry_after_failure(
        self,
        method: Callable[..., R],
        request: Any,
        error: RPCError,
        deadline: float,
        metadata: tuple[tuple[str, str], ...],
    ) -> R:
        attempt = 1
        while True:
            delay = self.retry_delay_s(error, attempt, deadline)
            if delay is None:
                raise error
            time.sleep(delay)
            attempt += 1
            try:
                return method(request, timeout=self.remaining_s(deadline), metadata=metadata)
            except grpc.RpcError as next_error:
                error = self.translate(next_error)

    def close(self) -> None:
        for channel in [self._channel] if self.fleet is None else self._stub.channels():
            channel.close()

    def __enter__(self) -> VerifierClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
