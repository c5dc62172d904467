"""The gRPC choke point: every servicer method runs inside ``unary_rpc`` or ``stream_rpc``.

Both bind the caller's request id (the ``x-request-id`` header, else a fresh one) to the logs
for the whole call, turn domain errors into gRPC statuses through the one table
(``status_map``; RESOURCE_EXHAUSTED carries its retry-after hint as trailing metadata), and
turn anything else into INTERNAL: logged with its traceback and the request id, answered with
the request id and nothing of the server's internals. Without them an unexpected exception
reaches the caller as grpc's UNKNOWN and the log never ties it to a request. The HTTP face's
choke point (``http.app.HttpApi._guard``) does the same for HTTP.

Adding an RPC: write the servicer method as a plain translation (raise domain errors, never
catch them) and decorate it with ``@unary_rpc`` or ``@stream_rpc``.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import NoReturn, TypeAlias, TypeVar

import grpc

from verifier_server import logs
from verifier_server.errors import ResourceExhausted, VerifierError
from verifier_server.status_map import status_for

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
RETRY_AFTER_HEADER = "retry-after-ms"

Self = TypeVar("Self")
Request = TypeVar("Request")
Response = TypeVar("Response")
Context: TypeAlias = grpc.aio.ServicerContext
UnaryMethod = Callable[[Self, Request, Context], Awaitable[Response]]
StreamMethod = Callable[[Self, Request, Context], AsyncIterator[Response]]


def unary_rpc(method: UnaryMethod[Self, Request, Response]) -> UnaryMethod[Self, Request, Response]:
    """Run a unary servicer method behind the choke point (see the module docstring)."""

    @functools.wraps(method)
    async def guarded(servicer: Self, request: Request, context: Context) -> Response:
        with bound_request_id(context) as request_id:
            try:
                return await method(servicer, request, context)
            except Exception as error:
                await _answer_failure(context, error, request_id, method.__name__)

    return guarded


def stream_rpc(method: StreamMethod[Self, Request, Response]) -> StreamMethod[Self, Request, Response]:
    """Run a server-streaming servicer method behind the choke point (see the module docstring)."""

    @functools.wraps(method)
    async def guarded(servicer: Self, request: Request, context: Context) -> AsyncIterator[Response]:
        with bound_request_id(context) as request_id:
            try:
                async for item in method(servicer, request, context):
                    yield item
            except Exception as error:
                await _answer_failure(context, error, request_id, method.__name__)

    return guarded


@contextlib.contextmanager
def bound_request_id(context: Context) -> Iterator[str]:
    """The caller's request id (or a fresh one), bound to every log line until the block ends."""
    metadata = dict(context.invocation_metadata() or ())
    request_id = str(metadata.get(REQUEST_ID_HEADER) or uuid.uuid4().hex[:16])
    token = logs.request_id.set(request_id)
    try:
        yield request_id
    finally:
        logs.request_id.reset(token)


async def _answer_failure(context: Context, error: Exception, request_id: str, rpc: str) -> NoReturn:
    """Abort the call with the status ``error`` stands for (``context.abort`` raises, ending the call)."""
    if isinstance(error, grpc.aio.AbortError):  # the method aborted the call itself
        raise error
    if isinstance(error, VerifierError):
        code, message = status_for(error), error.message
        if isinstance(error, ResourceExhausted):
            context.set_trailing_metadata(((RETRY_AFTER_HEADER, str(int(error.retry_after_s * 1000))),))
        if code is grpc.StatusCode.INTERNAL:
            log.error("internal error in %s: %s", rpc, message)
    else:
        log.error("unexpected error in %s", rpc, exc_info=error)
        code, message = grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})"
    await context.abort(code, message)
    raise AssertionError("context.abort returned")  # it raises; this line tells the type checker so
