"""Domain errors as HTTP responses: the status code, our status name, and a JSON body.

The domain error -> status-code table is ``verifier_server.status_map`` (shared with
gRPC); this module only maps each status code to its HTTP status, as Google's API
design guide does, so the two faces can never disagree about what an error is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import grpc

from verifier_server.errors import InvalidArgument, ResourceExhausted, VerifierError
from verifier_server.status_map import status_for

HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
}


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """Everything an error response carries; ``body()`` is the JSON object sent."""

    http_status: int
    status: str
    """Our status name (the gRPC code's name, as the SDK's ``StatusCode``)."""
    message: str
    field: str = ""
    retry_after_s: float | None = None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.http_status, "status": self.status, "message": self.message}
        if self.field:
            error["field"] = self.field
        if self.retry_after_s is not None:
            error["retry_after_s"] = self.retry_after_s
        return {"error": error}

    def headers(self) -> dict[str, str]:
        """``Retry-After`` in whole seconds (the header has no fractions), ``WWW-Authenticate`` on 401."""
        if self.retry_after_s is not None:
            return {"Retry-After": str(max(1, math.ceil(self.retry_after_s)))}
        if self.http_status == 401:
            return {"WWW-Authenticate": 'Bearer realm="verifier"'}
        return {}


def reply_for(error: VerifierError) -> ErrorReply:
    code = status_for(error)
    return ErrorReply(
        http_status=HTTP_STATUS.get(code, 500),
        status=code.name,
        message=error.message,
        field=error.field if isinstance(error, InvalidArgument) else "",
        retry_after_s=error.retry_after_s if isinstance(error, ResourceExhausted) else None,
    )


def reply_for_http(http_status: int, message: str, field: str = "") -> ErrorReply:
    """A transport-level refusal (no route, wrong method, body too large) in the same shape."""
    name = {404: "NOT_FOUND", 405: "INVALID_ARGUMENT", 413: "INVALID_ARGUMENT", 415: "INVALID_ARGUMENT"}.get(
        http_status, "INVALID_ARGUMENT" if 400 <= http_status < 500 else "INTERNAL"
    )
    return ErrorReply(http_status=http_status, status=name, message=message, field=field)
