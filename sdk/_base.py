"""Everything the sync and async clients share that does not wait on the server.

Request building and chunking, channel options and target syntax, credentials, retry
decisions, error translation and the reading of a fleet's fan-out reply live here once.
The two clients hold every loop that sends and waits (retries, chunks in flight, streams,
fan-outs), written line for line alike, and differ only in how they wait: blocking calls
and a thread per chunk in flight, or coroutines and a task per chunk.

Two things here do block, once, when a client is made: a list of host names is resolved
to addresses (DNS), and a ``ray://`` target waits for its fleet's first membership (Ray).
"""

from __future__ import annotations

import ipaddress
import json
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import grpc

from protos.verifier.v1 import verifier_pb2 as pb
from sdk import _convert
from sdk._errors import InputError, RPCError, SessionLostError, StatusCode, VerifierError, error_for
from sdk._fleet import FanOutReply, FleetResolver, FleetStub, fleet_name
from sdk._types import Outcome, ScoreResult, SessionLimits, VerifierSpec

if TYPE_CHECKING:
    from sdk._session import SessionBase

SessionT = TypeVar("SessionT", bound="SessionBase")

DEFAULT_TARGET = "127.0.0.1:50051"
REQUEST_ID_HEADER = "x-request-id"
CLIENT_ID_HEADER = "x-client-id"
RETRY_AFTER_HEADER = "retry-after-ms"
SERVICE_NAME = "verifier.v1.VerifierService"

VerifierTarget = str | VerifierSpec | Mapping[str, Any]
"""A registered name (``name`` or ``name@version``), or an inline spec to score with."""

MIN_FLEET_CHUNK = 8
"""Over a fleet, a batch is split so every replica gets work, but no request is smaller than this."""
MIN_ATTEMPT_S = 0.1
"""A retry starts only with this long left before the call's deadline. An attempt begun with
nearly nothing left can only end in DEADLINE_EXCEEDED, which would hide the error that made
us retry: a server that stays down must be ServerUnavailableError, not a deadline."""

_FAN_OUT_RESPONSES: dict[str, Any] = {"RegisterVerifier": pb.VerifierInfo, "DeleteVerifier": pb.DeleteVerifierResponse}


@dataclass(frozen=True)
class RetryPolicy:
    """Retries for idempotent calls on UNAVAILABLE (server restarting, replica gone), CANCELLED
    by the server (a replica shutting down as the call arrived) and RESOURCE_EXHAUSTED (after the
    server's retry-after hint), always within the call's deadline; ``max_attempts`` counts the first."""

    max_attempts: int = 6
    initial_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    multiplier: float = 2.0

    def backoff_s(self, attempt: int) -> float:
        """Jittered exponential backoff before attempt ``attempt + 1`` (attempt counts from 1)."""
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * self.multiplier ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class TLSConfig:
    """TLS for the channel; ``client_cert_file``/``client_key_file`` enable mutual TLS."""

    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    server_name_override: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        def read(path: str | None) -> bytes | None:
            if path is None:
                return None
            with open(path, "rb") as handle:
                return handle.read()

        return grpc.ssl_channel_credentials(
            root_certificates=read(self.ca_file),
            private_key=read(self.client_key_file),
            certificate_chain=read(self.client_cert_file),
        )


@dataclass
class ScorePlan:
    """The requests for one ``score`` call and how their results map back to the caller's batch."""

    count: int
    requests: list[pb.ScoreRequest] = field(default_factory=list)
    positions: list[list[int]] = field(default_factory=list)
    """For each request, the batch index of each of its samples."""
    refused: dict[int, ScoreResult] = field(default_factory=dict)
    """Samples answered ``invalid_input`` without sending them (not encodable)."""

    def add(self, request: pb.ScoreRequest, positions: list[int]) -> None:
        self.requests.append(request)
        self.positions.append(positions)

    def results(self, responses: Sequence[pb.ScoreResponse]) -> list[ScoreResult]:
        """One result per sample of the caller's batch, in its order."""
        results: list[ScoreResult | None] = [None] * self.count
        for index, result in self.refused.items():
            results[index] = result
        for positions, response in zip(self.positions, responses, strict=True):
            if len(response.results) != len(positions):
                raise RPCError(
                    StatusCode.INTERNAL, f"server returned {len(response.results)} results for {len(positions)} samples"
                )
            for message in response.results:
                results[positions[message.index]] = _convert.result_from_proto(message)
        missing = [index for index, result in enumerate(results) if result is None]
        if missing:
            raise RPCError(StatusCode.INTERNAL, f"server returned no result for sample(s) {missing[:10]}")
        return results  # type: ignore[return-value]  # every position was filled above


class BaseClient(Generic[SessionT]):
    """Configuration and pure logic shared by ``VerifierClient`` and ``AsyncVerifierClient``."""

    _session_type: type[SessionT]

    def __init__(
        self,
        target: str | Sequence[str] = DEFAULT_TARGET,
        *,
        timeout_s: float = 300.0,
        token: str | None = None,
        tls: TLSConfig | None = None,
        retry: RetryPolicy | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
        max_chunk_samples: int = 1024,
        max_concurrent_chunks: int = 4,
        client_id: str | None = None,
    ) -> None:
        """
        Args:
            target: ``host:port``, several (a list or a comma-separated string, balanced
                round-robin), a gRPC target such as ``dns:///verifier.svc:50051``, or
                ``ray://NAME``: the replicas of a verifier fleet on this Ray cluster,
                those on the caller's node preferred (needs ``ray``; see ``verifier fleet``).
            timeout_s: the deadline of each call, retries included; a scoring call of
                several chunks shares one deadline.
            token: a bearer token sent with every call (servers with auth enabled).
            tls: TLS settings; None means a plaintext channel.
            max_chunk_samples: a batch larger than this is sent as several requests
                (over a ``ray://`` fleet, batches are split so each replica gets about two).
            max_concurrent_chunks: requests of one batch in flight at once (over a fleet, at
                least two per replica).
            client_id: who this client is, for the server's per-client fairness (default
                ``hostname:pid``, so each training process counts as one client). A server
                with auth on ignores it and keys fairness on the bearer token instead.
        """
        name = fleet_name(target)
        self.fleet = FleetResolver.get(name, wait_s=timeout_s) if name else None
        """The fleet behind a ``ray://NAME`` target, followed as replicas come and go; else None."""
        self.target = f"ray://{name}" if name else channel_target(target)
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.max_message_bytes = max_message_bytes
        self.max_chunk_samples = max_chunk_samples
        self.max_concurrent_chunks = max_concurrent_chunks
        self._token = token
        self.client_id = client_id or f"{socket.gethostname()}:{os.getpid()}"
        self._tls = tls
        self._balanced = self.fleet is not None or self.target.startswith(("ipv4:", "ipv6:", "dns:"))
        self._static_replicas = [] if self.fleet is not None else replica_addresses(target)
        self._next_replica = random.randrange(1 << 16)

    # -- channel ------------------------------------------------------------------

    def channel_options(self) -> list[tuple[str, Any]]:
        options: list[tuple[str, Any]] = [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.enable_retries", 0),  # retries are ours, so they respect our deadline and hints
            # gRPC's own reconnect backoff grows to 120 s: after a server restart of a minute, a
            # training run's calls would fail fast for minutes more. Keep reconnects within our
            # retry window instead.
            ("grpc.initial_reconnect_backoff_ms", 100),
            ("grpc.max_reconnect_backoff_ms", int(self.retry.max_backoff_s * 1000)),
        ]
        if self._balanced:
            service_config = {
                "loadBalancingConfig": [{"round_robin": {}}],
                "healthCheckConfig": {"serviceName": SERVICE_NAME},
            }
            options.append(("grpc.service_config", json.dumps(service_config)))
        return options

    def replica_channel_options(self) -> list[tuple[str, Any]]:
        """Options of a channel to one replica (no balancing: a session's calls must land there)."""
        return [option for option in self.channel_options() if option[0] != "grpc.service_config"]

    def fleet_stub(self, open_channel: Callable[[str], Any], close_channel: Callable[[Any], Any]) -> FleetStub[Any]:
        """A stub over the fleet's current replicas; a channel left behind closes after the deadline."""
        return FleetStub(
            self.require_fleet(),
            lambda addresses: open_channel(channel_target(addresses)),
            close_channel,
            self.timeout_s,
        )

    def credentials(self) -> grpc.ChannelCredentials | None:
        return self._tls.credentials() if self._tls else None

    def metadata(self, request_id: str | None = None) -> tuple[tuple[str, str], ...]:
        entries = [(REQUEST_ID_HEADER, request_id or new_request_id()), (CLIENT_ID_HEADER, self.client_id)]
        if self._token:
            entries.append(("authorization", f"Bearer {self._token}"))
        return tuple(entries)

    # -- requests -----------------------------------------------------------------

    def plan_score(
        self,
        verifier: VerifierTarget,
        completions: Sequence[Any],
        prompts: Sequence[Any] | None,
        references: Sequence[Mapping[str, Any] | None] | None,
        completion_ids: Sequence[Sequence[int] | None] | None,
    ) -> ScorePlan:
        """The batch as one or more requests, each under the message and sample limits, in order.

        Samples that cannot be encoded are not sent; the plan answers them ``invalid_input``.
        """
        if isinstance(completions, str):
            raise InputError("completions must be a list of completions, not one string")
        plan = ScorePlan(count=len(completions))
        limit = self.chunk_limit(len(completions))
        budget = self.max_message_bytes // 2  # headroom for framing and the response
        chunk: list[pb.Sample] = []
        positions: list[int] = []
        chunk_bytes = 0
        for index, sample in enumerate(_convert.build_samples(completions, prompts, references, completion_ids)):
            if isinstance(sample, str):
                plan.refused[index] = ScoreResult(score=None, outcome=Outcome.INVALID_INPUT, reason=sample)
                continue
            size = sample.ByteSize() + 8
            if size > budget:
                raise InputError(f"sample {index} is {size} bytes, over the {budget}-byte per-request budget")
            if chunk and (len(chunk) >= limit or chunk_bytes + size > budget):
                plan.add(self._score_request(verifier, chunk, positions[0]), positions)
                chunk, positions, chunk_bytes = [], [], 0
            chunk.append(sample)
            positions.append(index)
            chunk_bytes += size
        if chunk or not plan.requests:
            plan.add(self._score_request(verifier, chunk, positions[0] if positions else 0), positions)
        return plan

    def chunk_limit(self, count: int) -> int:
        """Samples per request: ``max_chunk_samples``; over a fleet also few enough that a batch
        of ``count`` reaches every replica (about two requests each)."""
        if self.fleet is None:
            return self.max_chunk_samples
        replicas = max(1, len(self.fleet.view.members))
        return min(self.max_chunk_samples, max(MIN_FLEET_CHUNK, math.ceil(count / (2 * replicas))))

    def chunk_workers(self, requests: int) -> int:
        """Requests of one batch of ``requests`` sent at once (``concurrent_chunks``, no more than there are)."""
        return max(1, min(self.concurrent_chunks(), requests))

    def concurrent_chunks(self) -> int:
        """Requests of one batch in flight at once: ``max_concurrent_chunks``, over a fleet at
        least two per replica (so one caller's batch keeps every replica busy)."""
        if self.fleet is None:
            return self.max_concurrent_chunks
        return max(self.max_concurrent_chunks, 2 * len(self.fleet.view.members))

    def _score_request(self, verifier: VerifierTarget, samples: list[pb.Sample], offset: int) -> pb.ScoreRequest:
        request = pb.ScoreRequest(samples=samples, index_offset=offset)
        if isinstance(verifier, str):
            request.name = verifier
        else:
            request.spec.CopyFrom(_convert.spec_to_proto(as_spec(verifier)))
        return request

    # -- sessions -------------------------------------------------------------------

    def session(
        self,
        language: str = "python",
        *,
        setup: str = "",
        files: Mapping[str, str | bytes] | None = None,
        env: Mapping[str, str] | None = None,
        limits: SessionLimits | None = None,
        timeout_s: float | None = None,
    ) -> SessionT:
        """A stateful sandbox (see ``Session``), opened by ``with`` (``async with`` on the async client) or ``open()``.

        ``language`` is "python" or "bash"; ``setup`` runs as the first cell (a failure raises
        ``SessionSetupError``); ``files`` go to the working directory /work first; ``limits``
        asks for other limits than the server's defaults. ``timeout_s`` is the deadline of
        each call of the session that is not a cell (default: the client's).
        """
        for path in files or {}:
            parts = str(path).split("/")
            if not path or str(path).startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise InputError(f"file path {path!r} must be relative, without '.' or '..' parts")
        encoded = {str(k): v.encode() if isinstance(v, str) else bytes(v) for k, v in (files or {}).items()}
        request = pb.OpenSessionRequest(
            language=language,
            setup=setup,
            files=encoded,
            env=dict(env or {}),
            limits=_convert.limits_to_proto(limits),
        )
        return self._session_type(self, request, timeout_s)

    @property
    def replicas(self) -> list[str]:
        """One address per replica: a session's calls go to the replica that opened it.

        A ``ray://`` fleet's are its current members (followed as replicas are replaced).
        """
        if self.fleet is not None:
            return sorted({member.address for member in self.fleet.view.members})
        return self._static_replicas

    def pick_replica(self) -> str:
        """The replica for the next new session (round robin over ``replicas``)."""
        replicas = self.replicas
        if not replicas:
            raise RPCError(StatusCode.UNAVAILABLE, f"{self.target} has no replica that serves")
        address = replicas[self._next_replica % len(replicas)]
        self._next_replica += 1
        return address

    def refused_unrun(self, error: RPCError) -> bool:
        """A session call the server refused before doing anything (full): safe to send again; nothing else is."""
        return error.status is StatusCode.RESOURCE_EXHAUSTED

    def session_error(self, error: RPCError, session_id: str, address: str) -> RPCError:
        """A failed call on a session, as the caller should see it: a gone session (or replica) is SessionLostError."""
        if error.status is StatusCode.NOT_FOUND:
            return SessionLostError(error.status, error.message, address, session_id)
        if error.status in (StatusCode.UNAVAILABLE, StatusCode.CANCELLED):
            why = f"the replica at {address} holding session {session_id!r} cannot be reached ({error.message}); "
            return SessionLostError(error.status, why + "the session is lost", address, session_id)
        return error

    # -- fleets -------------------------------------------------------------------

    def fans_out(self) -> bool:
        """Registry changes go to every replica (a ``ray://`` fleet whose replicas keep their own registries)."""
        return self.fleet is not None and self.fleet.view.fans_out

    def require_fleet(self) -> FleetResolver:
        if self.fleet is None:
            raise VerifierError(f"{self.target} is not a ray:// fleet target")
        return self.fleet

    def fan_out_response(self, method: str, reply: FanOutReply) -> Any:
        """The response of a fan-out (the first replica's), or its error, raised."""
        if reply.code != StatusCode.OK:
            raise error_for(StatusCode(reply.code), reply.details, self.target)
        return _FAN_OUT_RESPONSES[method].FromString(reply.response)

    # -- retries and errors -------------------------------------------------------

    def retry_delay_s(self, error: RPCError, attempt: int, deadline: float) -> float | None:
        """How long to wait before retrying, or None when the error is final."""
        if attempt >= self.retry.max_attempts:
            return None
        if error.status in (StatusCode.UNAVAILABLE, StatusCode.CANCELLED):
            # CANCELLED here comes from the server (a replica shutting down as the call
            # arrived): our own cancellations surface as CancelledError, never as an RPC
            # error, and only idempotent calls reach this retry path.
            delay = self.retry.backoff_s(attempt)
        elif error.status is StatusCode.RESOURCE_EXHAUSTED:
            hint = getattr(error, "retry_after_s", None)
            delay = hint if hint is not None else self.retry.backoff_s(attempt)
        else:
            return None
        return delay if time.monotonic() + delay + MIN_ATTEMPT_S < deadline else None

    def time_for_attempt(self, deadline: float) -> bool:
        """Whether a retry may still start: a backoff that overslept (a busy machine) may leave too little."""
        return deadline - time.monotonic() >= MIN_ATTEMPT_S

    def translate(self, error: grpc.RpcError) -> RPCError:
        code = error.code() if hasattr(error, "code") else None
        status = StatusCode(code.value[0]) if code is not None else StatusCode.UNKNOWN
        details = error.details() if hasattr(error, "details") else str(error)
        retry_after_s = None
        trailing: Any = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
        for key, value in trailing or ():
            if key == RETRY_AFTER_HEADER:
                retry_after_s = int(value) / 1000.0
        return error_for(status, details or status.name, self.target, retry_after_s)

    def remaining_s(self, deadline: float) -> float:
        return max(0.001, deadline - time.monotonic())

    def timeout(self, timeout_s: float | None) -> float:
        """A call's timeout: ``timeout_s``, or the client's when None."""
        return self.timeout_s if timeout_s is None else timeout_s

    def deadline(self, timeout_s: float | None) -> float:
        return time.monotonic() + self.timeout(timeout_s)


def replica_addresses(target: str | Sequence[str]) -> list[str]:
    """The addresses of the replicas behind `target`: each given address, or each of a DNS name's records."""
    addresses = [a.strip() for a in target.split(",")] if isinstance(target, str) else [a.strip() for a in target]
    addresses = [a for a in addresses if a]
    if len(addresses) == 1 and addresses[0].startswith("dns:"):
        name = addresses[0].split("dns:", 1)[1].lstrip("/")
        host, _, port = name.rpartition(":")
        try:
            records = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except (OSError, ValueError):
            return addresses
        found = sorted({str(record[4][0]) for record in records})
        return [f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}" for ip in found] or addresses
    return addresses or [DEFAULT_TARGET]


def as_spec(verifier: VerifierSpec | Mapping[str, Any]) -> VerifierSpec:
    return verifier if isinstance(verifier, VerifierSpec) else VerifierSpec.from_dict(verifier)


def new_request_id() -> str:
    return uuid.uuid4().hex[:16]


def channel_target(target: str | Sequence[str]) -> str:
    """A gRPC target for one address, several (round-robin), or a resolver URI as given."""
    addresses = [a.strip() for a in target.split(",")] if isinstance(target, str) else [a.strip() for a in target]
    addresses = [a for a in addresses if a]
    if not addresses:
        raise InputError("no server address given")
    if len(addresses) == 1:
        return addresses[0]
    resolved = [_resolve(address) for address in addresses]
    family = "ipv6" if any(":" in host for host, _ in resolved) else "ipv4"
    parts = [f"[{host}]:{port}" if family == "ipv6" else f"{host}:{port}" for host, port in resolved]
    return f"{family}:{','.join(parts)}"


def _resolve(address: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise InputError(f"address {address!r} must be host:port")
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return host, port
    except ValueError:
        return str(socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)[0][4][0]), port
