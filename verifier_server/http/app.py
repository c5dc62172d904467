"""The HTTP/JSON routes over the same ``VerifierService`` the gRPC servicer uses.

Every request passes one choke point (``HttpApi._guard``, an aiohttp middleware): it
binds the request id to logs, enforces the bearer token and the role the matching
service method needs (``verifier_server.auth``), turns domain errors into HTTP statuses
with a JSON body (``http.status``), turns anything unexpected into a 500 without a
traceback, and counts the request in the server's metrics. Handlers only translate
JSON to domain calls and back (``http.wire``). The gRPC face's twin is ``rpc_guard``.

    POST   /v1/score                 {"verifier", "samples"} -> {"verifier", "results"}
    POST   /v1/score/stream          same request; one result per line (NDJSON) or SSE events
    GET    /v1/verifiers             ?all_versions=true
    POST   /v1/verifiers             a spec (or {"spec": ...}) -> 201 and the registered version
    GET    /v1/verifiers/{name}      name or name@version
    DELETE /v1/verifiers/{name}
    GET    /v1/capabilities
    POST   /openrlhf/{verifier}      OpenRLHF's remote reward protocol (``http.openrlhf``)
    GET    /healthz                  200 while serving, 503 once draining (no token needed)
    GET    /metrics                  Prometheus text (no token needed)
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from verifier_server import logs
from verifier_server.auth import caller_for_token, needs_admin
from verifier_server.capabilities import capabilities
from verifier_server.domain import Sample, ScoreResult, VerifierRef, VerifierSpec
from verifier_server.errors import InvalidArgument, PermissionDenied, Unauthenticated, VerifierError
from verifier_server.http import openrlhf, wire
from verifier_server.http.status import ErrorReply, reply_for, reply_for_http
from verifier_server.identity import Caller, caller_for, current_caller
from verifier_server.metrics import Metrics
from verifier_server.service import VerifierService

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
CLIENT_ID_HEADER = "X-Client-Id"
JSON = "application/json"
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: str
    """Name of the ``HttpApi`` method that serves it."""
    rpc: str | None
    """The service method it stands for (decides the role needed); None: open to all."""
    label: str
    """The ``method`` label of its request metrics."""


ROUTES = (
    Route("POST", "/v1/score", "score", "Score", "http:Score"),
    Route("POST", "/v1/score/stream", "score_stream", "ScoreStream", "http:ScoreStream"),
    Route("GET", "/v1/verifiers", "list_verifiers", "ListVerifiers", "http:ListVerifiers"),
    Route("POST", "/v1/verifiers", "register", "RegisterVerifier", "http:RegisterVerifier"),
    Route("GET", "/v1/verifiers/{name}", "get_verifier", "GetVerifier", "http:GetVerifier"),
    Route("DELETE", "/v1/verifiers/{name}", "delete_verifier", "DeleteVerifier", "http:DeleteVerifier"),
    Route("GET", "/v1/capabilities", "get_capabilities", "GetCapabilities", "http:GetCapabilities"),
    Route("POST", "/openrlhf/{verifier}", "openrlhf", "Score", "http:OpenRLHF"),
    Route("GET", "/healthz", "get_health", None, ""),
    Route("GET", "/metrics", "get_metrics", None, ""),
)


@dataclass
class ServingState:
    """Whether ``/healthz`` says SERVING; the server clears it when it starts to drain."""

    serving: bool = False


class HttpApi:
    """The HTTP face's handlers; ``application()`` wires them behind the choke point."""

    def __init__(
        self,
        service: VerifierService,
        *,
        max_samples_per_request: int,
        max_message_bytes: int,
        max_spec_bytes: int,
        tokens: Mapping[str, str] | None = None,
        metrics: Metrics | None = None,
        state: ServingState | None = None,
    ) -> None:
        self.service = service
        self.max_samples = max_samples_per_request
        self.max_message_bytes = max_message_bytes
        self.max_spec_bytes = max_spec_bytes
        self.tokens = dict(tokens or {})
        self.metrics = metrics
        self.state = state or ServingState()
        self._routes: dict[Any, Route] = {}

    def application(self) -> web.Application:
        app = web.Application(client_max_size=self.max_message_bytes, middlewares=[self._guard])
        for route in ROUTES:
            added = app.router.add_route(route.method, route.path, getattr(self, route.handler))
            self._routes[added] = route
        return app

    # -- the choke point ------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = self._routes.get(request.match_info.route)
        request_id = request.headers.get(REQUEST_ID_HEADER) or uuid.uuid4().hex[:16]
        bound = logs.request_id.set(request_id)
        started = time.perf_counter()
        try:
            if route is not None and route.rpc is not None:
                self._authorize(request, route.rpc)
            response = await handler(request)
            status = "OK"
        except VerifierError as error:
            reply = reply_for(error)
            if reply.status == "INTERNAL":
                log.error("internal error: %s", error.message)
            response, status = error_response(reply), reply.status
        except web.HTTPException as exc:
            reply = self._transport_reply(exc)
            response, status = error_response(reply), reply.status
            if "Allow" in exc.headers:
                response.headers["Allow"] = exc.headers["Allow"]
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            reply = ErrorReply(500, "INTERNAL", f"internal error (request id {request_id})")
            response, status = error_response(reply), reply.status
        finally:
            logs.request_id.reset(bound)
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        if route is not None and route.label and self.metrics is not None:
            self.metrics.requests.labels(route.label, status).inc()
            self.metrics.request_latency.labels(route.label).observe(time.perf_counter() - started)
        return response

    def _authorize(self, request: web.Request, rpc: str) -> None:
        """Check the token and set ``current_caller`` for this request's task (as the gRPC interceptor does)."""
        if not self.tokens:
            return
        presented = presented_token(request.headers.get("Authorization", ""))
        caller = caller_for_token(self.tokens, presented) if presented else None
        if caller is None:
            raise Unauthenticated("missing or unknown bearer token")
        if needs_admin(rpc) and not caller.is_admin:
            raise PermissionDenied(f"{rpc} needs the admin role (token has {caller.role})")
        current_caller.set(caller)

    def _transport_reply(self, exc: web.HTTPException) -> ErrorReply:
        if exc.status == 413:
            return reply_for_http(
                413, f"request body is larger than this server accepts ({self.max_message_bytes} bytes)", "body"
            )
        if exc.status == 404:
            return reply_for_http(404, "no such route (see /v1/score, /v1/verifiers, /openrlhf/<verifier>)")
        if isinstance(exc, web.HTTPMethodNotAllowed):
            allowed = ", ".join(sorted(exc.allowed_methods))
            return reply_for_http(405, f"{exc.method} is not allowed on this route (allowed: {allowed})")
        return reply_for_http(exc.status, exc.text or exc.reason)

    # -- scoring ----------------------------------------------------------------------------

    async def score(self, request: web.Request) -> web.StreamResponse:
        target, samples = self._score_input(await _body(request))
        scored = await self.service.score(target, samples, _caller(request).client)
        return json_response({"verifier": scored.verifier, "results": wire.results_to_json(scored.results)})

    async def score_stream(self, request: web.Request) -> web.StreamResponse:
        target, samples = self._score_input(await _body(request))
        events = SSE in request.headers.get("Accept", "")
        stream = self.service.score_stream(target, samples, _caller(request).client)
        first = await anext(stream, None)  # resolution and admission errors are still a plain JSON reply
        response = web.StreamResponse(headers={"Content-Type": SSE if events else NDJSON, "Cache-Control": "no-cache"})
        response.headers[REQUEST_ID_HEADER] = logs.request_id.get()
        await response.prepare(request)
        try:
            async for index, result in _chain(first, stream):
                await response.write(_frame(wire.result_to_json(index, result), "result", events))
            if events:
                await response.write(_frame({}, "done", events))
        except VerifierError as error:  # after the first result the status is sent: report in the stream
            await response.write(_frame(reply_for(error).body(), "error", events))
        finally:
            close = getattr(stream, "aclose", None)
            if close is not None:
                await close()
        await response.write_eof()
        return response

    def _score_input(self, payload: dict[str, Any]) -> tuple[str | VerifierSpec, list[Sample]]:
        wire.check_fields(payload, ("verifier", "samples"))
        target = wire.target_from_json(payload.get("verifier"), self.max_spec_bytes)
        return target, wire.samples_from_json(payload.get("samples"), self.max_samples)

    async def openrlhf(self, request: web.Request) -> web.StreamResponse:
        failure = openrlhf.failure_reward(request.query)
        samples = openrlhf.samples_from_request(await _body(request), self.max_samples)
        scored = await self.service.score(request.match_info["verifier"], samples, _caller(request).client)
        return json_response(openrlhf.response_body(scored.results, failure))

    # -- the registry -----------------------------------------------------------------------

    async def list_verifiers(self, request: web.Request) -> web.StreamResponse:
        all_versions = request.query.get("all_versions", "false").lower() in ("1", "true", "yes")
        records = await self.service.list(all_versions=all_versions, full_specs=_caller(request).is_admin)
        return json_response({"verifiers": [wire.record_to_json(r) for r in records]})

    async def register(self, request: web.Request) -> web.StreamResponse:
        payload = await _body(request)
        whole = set(payload) != {"spec"}
        spec = wire.spec_from_json(payload if whole else payload["spec"], "" if whole else "spec", self.max_spec_bytes)
        record = await self.service.register(spec)
        return json_response(wire.record_to_json(record), status=201)

    async def get_verifier(self, request: web.Request) -> web.StreamResponse:
        record = await self.service.get(
            VerifierRef.parse(request.match_info["name"]), full_spec=_caller(request).is_admin
        )
        return json_response(wire.record_to_json(record))

    async def delete_verifier(self, request: web.Request) -> web.StreamResponse:
        deleted = await self.service.delete(VerifierRef.parse(request.match_info["name"]))
        return json_response({"deleted_versions": deleted})

    async def get_capabilities(self, request: web.Request) -> web.StreamResponse:
        info = capabilities(self.service)
        return json_response(wire.capabilities_to_json(info, self.max_samples, self.max_message_bytes))

    # -- operations -------------------------------------------------------------------------

    async def get_health(self, request: web.Request) -> web.StreamResponse:
        if self.state.serving:
            return json_response({"status": "SERVING"})
        return json_response({"status": "NOT_SERVING"}, status=503)

    async def get_metrics(self, request: web.Request) -> web.StreamResponse:
        if self.metrics is None:
            return error_response(reply_for_http(404, "metrics are not collected by this server"))
        response = web.Response(body=generate_latest(self.metrics.registry))
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response


def presented_token(authorization: str) -> str:
    """The token in ``Bearer TOKEN``, or the password of ``Basic user:TOKEN`` — what a client
    that can only put credentials in a URL (``http://x:TOKEN@host/...``, OpenRLHF) sends."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def client_id(request: web.Request) -> str:
    """The client's own id, else the peer's host: caller-chosen, so only trusted when auth is off."""
    return request.headers.get(CLIENT_ID_HEADER) or request.remote or ""


def _caller(request: web.Request) -> Caller:
    """Who is asking: the authenticated token's caller, else (auth off) the client's own id."""
    return caller_for(client_id(request))


def json_response(payload: Any, status: int = 200) -> web.Response:
    return web.Response(body=wire.dumps(payload), status=status, content_type=JSON)


def error_response(reply: ErrorReply) -> web.Response:
    response = json_response(reply.body(), status=reply.http_status)
    response.headers.update(reply.headers())
    return response


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        raise InvalidArgument("body", "is empty; send a JSON object")
    return wire.parse_body(await request.read())


async def _chain(
    first: tuple[int, ScoreResult] | None, rest: AsyncIterator[tuple[int, ScoreResult]]
) -> AsyncIterator[tuple[int, ScoreResult]]:
    if first is None:
        return
    yield first
    async for item in rest:
        yield item


def _frame(payload: dict[str, Any], event: str, sse: bool) -> bytes:
    data = wire.dumps(payload)
    if sse:
        return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
    return data + b"\n"
