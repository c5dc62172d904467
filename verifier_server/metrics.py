"""Prometheus metrics: RPC latency by method and code, per-kind scoring latency, samples by
outcome, admission rejections, samples in flight (queue depth), and counters other
parts report into (sandbox runs by status, cache hits and misses, cascade hand-overs and flips).

Each server owns a private registry, so several servers in one process (tests) do
not collide, and the HTTP endpoint serves exactly this server's numbers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from verifier_server.admission import AdmissionController
from verifier_server.domain import ScoreResult

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The server's metric families; also the service's ``ScoringObserver``."""

    def __init__(self, admission: AdmissionController | None = None, kinds: Iterable[str] = ()) -> None:
        """`kinds`: those whose in-flight gauge exists from the start (any other appears with its first batch),
        so a replica busy with its first long batch already shows it."""
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "verifier_requests", "RPCs handled, by method and status code", ["method", "code"], registry=self.registry
        )
        self.request_latency = Histogram(
            "verifier_request_latency_seconds",
            "RPC latency by method",
            ["method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_latency = Histogram(
            "verifier_kind_batch_latency_seconds",
            "Time to score one batch, by verifier kind",
            ["kind"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.samples = Counter(
            "verifier_samples", "Samples scored, by kind and outcome", ["kind", "outcome"], registry=self.registry
        )
        self.rejections = Counter(
            "verifier_admission_rejections",
            "Requests refused with RESOURCE_EXHAUSTED, by kind",
            ["kind"],
            registry=self.registry,
        )
        self.sandbox_runs = Counter(
            "verifier_sandbox_runs",
            "Sandboxed program runs, by backend and status",
            ["backend", "status"],
            registry=self.registry,
        )
        self.cache_events = Counter(
            "verifier_cache_events",
            "Verifier cache lookups, by cache and result (hit/miss)",
            ["cache", "result"],
            registry=self.registry,
        )
        self.cascade_consulted = Counter(
            "verifier_cascade_consulted",
            "Samples a cascade composite passed on to a later child, by the child's position (1 = second)",
            ["position"],
            registry=self.registry,
        )
        self.cascade_flips = Counter(
            "verifier_cascade_flips",
            "Samples on which a later cascade child reversed the first child's verdict, by its position",
            ["position"],
            registry=self.registry,
        )
        self.inflight = Gauge(
            "verifier_inflight_samples",
            "Samples being scored now, by kind (queue depth)",
            ["kind"],
            registry=self.registry,
        )
        self.session_events = Counter(
            "verifier_session_events",
            "Sessions opened, forked, closed, expired and lost",
            ["event"],
            registry=self.registry,
        )
        self.session_cells = Counter(
            "verifier_session_cells",
            "Session cells run, by language and status",
            ["language", "status"],
            registry=self.registry,
        )
        self.session_cell_latency = Histogram(
            "verifier_session_cell_latency_seconds",
            "Time to run one session cell, by language",
            ["language"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.sessions_open = Gauge("verifier_sessions_open", "Sessions this replica holds now", registry=self.registry)
        self._admission = admission
        self._kinds_seen: set[str] = set()
        for kind in kinds:
            self._track_inflight(kind)

    # -- ScoringObserver ----------------------------------------------------------------

    def scored(self, kind: str, results: Sequence[ScoreResult], elapsed_s: float) -> None:
        self.batch_latency.labels(kind).observe(elapsed_s)
        counts: dict[str, int] = {}
        for result in results:
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
        for outcome, count in counts.items():
            self.samples.labels(kind, outcome).inc(count)
        self._track_inflight(kind)

    def rejected(self, kind: str) -> None:
        self.rejections.labels(kind).inc()

    # -- SessionObserver ------------------------------------------------------------------

    def session_event(self, event: str) -> None:
        self.session_events.labels(event).inc()

    def cell_ran(self, language: str, status: str, elapsed_s: float) -> None:
        self.session_cells.labels(language, status).inc()
        self.session_cell_latency.labels(language).observe(elapsed_s)

    def track_sessions(self, sessions: Any) -> None:
        """Report `sessions.open_count` as the open-sessions gauge."""
        self.sessions_open.set_function(lambda: sessions.open_count)

    def _track_inflight(self, kind: str) -> None:
        if self._admission is not None and kind not in self._kinds_seen:
            self._kinds_seen.add(kind)
            admission = self._admission
            self.inflight.labels(kind).set_function(lambda: admission.inflight(kind))

    # -- serving ----------------------------------------------------------------------------

    def serve_http(self, host: str, port: int) -> int:
        """Expose ``/metrics``; returns the bound port (``port`` 0 picks a free one)."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return int(server.server_address[1])

    def interceptor(self) -> grpc.aio.ServerInterceptor:
        return _MetricsInterceptor(self)


class _MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Times every RPC and counts it by status code; health and reflection calls are left out."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method or ""
        if handler is None or not method.startswith("/verifier."):
            return handler
        name = method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._timed_unary(name, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._timed_stream(name, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _record(self, name: str, started: float, context: grpc.aio.ServicerContext) -> None:
        code = context.code() if hasattr(context, "code") else None
        code_name = code.name if isinstance(code, grpc.StatusCode) else "OK"
        self._metrics.requests.labels(name, code_name).inc()
        self._metrics.request_latency.labels(name).observe(time.perf_counter() - started)

    def _timed_unary(self, name: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                return await behavior(request, context)
            finally:
                self._record(name, started, context)

        return timed

    def _timed_stream(self, name: str, behavior: Callable[..., Any]) -> Callable[..., Any]:
        async def timed(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            try:
                async for item in behavior(request, context):
                    yield item
            finally:
                self._record(name, started, context)

        return timed
