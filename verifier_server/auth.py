"""Bearer-token authentication with roles, enforced by a server interceptor.

Roles: ``score`` may score, read the registry and use sessions; ``admin`` may also
register and delete verifiers and list every session. Tokens come from a file of ``TOKEN ROLE`` lines (``#`` comments)
or the ``VERIFIER_AUTH_TOKENS`` variable (``token:role,token:role``); they are
compared in constant time and never logged. Health checking and reflection stay
open so that load balancers and Kubernetes probes work without credentials.

An accepted call runs with ``identity.current_caller`` set to its ``Caller`` (the token's public
identity and role), which is what per-client fairness and spec visibility key on.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from verifier_server.errors import InvalidArgument
from verifier_server.identity import Caller, current_caller, token_identity

ROLES = ("score", "admin")
ADMIN_METHODS = frozenset({"RegisterVerifier", "DeleteVerifier", "ListSessions"})
_SERVICE_PREFIX = "/verifier.v1.VerifierService/"


def load_tokens(path: str = "", env_value: str = "") -> dict[str, str]:
    """Token -> role from a tokens file and/or an environment value; errors name the source."""
    tokens: dict[str, str] = {}
    entries: list[tuple[str, str, str]] = []
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise InvalidArgument("auth_tokens_file", f"cannot read {path}: {exc}") from None
        for number, line in enumerate(lines, 1):
            line = line.split("#", 1)[0].strip()
            if line:
                token, _, role = line.partition(" ")
                entries.append((token.strip(), role.strip(), f"{path}:{number}"))
    for item in filter(None, (part.strip() for part in env_value.split(","))):
        token, _, role = item.rpartition(":")
        entries.append((token, role, "VERIFIER_AUTH_TOKENS"))
    for token, role, source in entries:
        if not token or role not in ROLES:
            raise InvalidArgument(source, f"expected 'TOKEN ROLE' with ROLE one of {', '.join(ROLES)}")
        tokens[token] = role
    return tokens


def caller_for_token(tokens: Mapping[str, str], presented: str) -> Caller | None:
    """The caller a presented token identifies, or None; compared in constant time (both faces use this)."""
    encoded = presented.encode()
    for token, role in tokens.items():
        if hmac.compare_digest(encoded, token.encode()):
            return Caller(client=token_identity(token), role=role, authenticated=True)
    return None


def needs_admin(method: str) -> bool:
    """Whether the service method (gRPC name, e.g. ``RegisterVerifier``) needs the admin role."""
    return method in ADMIN_METHODS


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without a known bearer token (UNAUTHENTICATED) or with too small a role
    (PERMISSION_DENIED), before the servicer sees them."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def caller_for(self, metadata: Any) -> Caller | None:
        """The caller a presented bearer token identifies, or None when no known token is presented."""
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.lower().startswith("bearer "):
                return caller_for_token(self._tokens, value[7:].strip())
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        if not method.startswith(_SERVICE_PREFIX):
            return await continuation(handler_call_details)
        caller = self.caller_for(handler_call_details.invocation_metadata)
        name = method.removeprefix(_SERVICE_PREFIX)
        if caller is None:
            return _rejecting(name, grpc.StatusCode.UNAUTHENTICATED, "missing or unknown bearer token")
        if needs_admin(name) and not caller.is_admin:
            return _rejecting(
                name, grpc.StatusCode.PERMISSION_DENIED, f"{name} needs the admin role (token has {caller.role})"
            )
        handler = await continuation(handler_call_details)
        return _as_caller(handler, caller) if handler is not None else handler


def _as_caller(handler: grpc.RpcMethodHandler, caller: Caller) -> grpc.RpcMethodHandler:
    """The same handler, run with ``current_caller`` set (in the task that serves the RPC)."""
    if handler.unary_unary is not None:
        unary = handler.unary_unary

        async def serve_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            current_caller.set(caller)  # the RPC's own task: the value dies with it
            return await unary(request, context)

        return grpc.unary_unary_rpc_method_handler(
            serve_unary,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    if handler.unary_stream is not None:
        stream = handler.unary_stream

        async def serve_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            current_caller.set(caller)
            async for item in stream(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(
            serve_stream,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
    return handler


def _rejecting(method: str, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    async def reject(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def reject_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator, as streaming handlers must be

    if method == "ScoreStream":
        return grpc.unary_stream_rpc_method_handler(reject_stream)
    return grpc.unary_unary_rpc_method_handler(reject)
