"""Bearer-token authentication with roles, enforced by a server interceptor.

Roles: ``score`` may score and read the registry; ``admin`` may also register and
delete verifiers. Tokens come from a file of ``TOKEN ROLE`` lines (``#`` comments)
or the ``VERIFIER_AUTH_TOKENS`` variable (``token:role,token:role``); they are
compared in constant time and never logged. Health checking and reflection stay
open so that load balancers and Kubernetes probes work without credentials.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import grpc

from verifier_server.errors import InvalidArgument

ROLES = ("score", "admin")
ADMIN_METHODS = frozenset({"RegisterVerifier", "DeleteVerifier"})
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


def role_for_token(tokens: Mapping[str, str], presented: str) -> str | None:
    """The role of a presented token, or None; compared in constant time (both faces use this)."""
    encoded = presented.encode()
    for token, role in tokens.items():
        if hmac.compare_digest(encoded, token.encode()):
            return role
    return None


def needs_admin(method: str) -> bool:
    """Whether the service method (gRPC name, e.g. ``RegisterVerifier``) needs the admin role."""
    return method in ADMIN_METHODS


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):
    """Rejects calls without a known bearer token (UNAUTHENTICATED) or with too small a role
    (PERMISSION_DENIED), before the servicer sees them."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def role_for(self, metadata: Any) -> str | None:
        for key, value in metadata or ():
            if key == "authorization" and isinstance(value, str) and value.lower().startswith("bearer "):
                return role_for_token(self._tokens, value[7:].strip())
        return None

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        if not method.startswith(_SERVICE_PREFIX):
            return await continuation(handler_call_details)
        role = self.role_for(handler_call_details.invocation_metadata)
        name = method.removeprefix(_SERVICE_PREFIX)
        if role is None:
            return _rejecting(name, grpc.StatusCode.UNAUTHENTICATED, "missing or unknown bearer token")
        if needs_admin(name) and role != "admin":
            return _rejecting(
                name, grpc.StatusCode.PERMISSION_DENIED, f"{name} needs the admin role (token has {role})"
            )
        return await continuation(handler_call_details)


def _rejecting(method: str, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    async def reject(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def reject_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator, as streaming handlers must be

    if method == "ScoreStream":
        return grpc.unary_stream_rpc_method_handler(reject_stream)
    return grpc.unary_unary_rpc_method_handler(reject)
