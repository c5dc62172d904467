"""The SDK's exceptions and status codes; users never need to import grpc.

VerifierError                    any failure of a call
├── RPCError                     the server answered with a non-OK status
│   ├── NotFoundError            unknown verifier or version (NOT_FOUND)
│   ├── InvalidArgumentError     bad spec or request; the message names the field
│   ├── AlreadyExistsError       e.g. registering over a built-in name
│   ├── ResourceExhaustedError   overloaded; ``retry_after_s`` says when to come back
│   ├── UnauthenticatedError / PermissionDeniedError
│   ├── DeadlineExceededError    the call's deadline passed
│   ├── ServerUnavailableError   nobody answered at ``target`` (after retries)
│   └── SessionLostError         a session is gone (closed, expired, lost, or its replica is); never retried
├── SessionSetupError            a session's setup cell failed (the session was closed)
└── InputError                   the SDK refused the input before sending it
"""

from __future__ import annotations

import enum


class StatusCode(enum.IntEnum):
    """gRPC status codes, mirrored so callers can branch without importing grpc."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


class VerifierError(Exception):
    """Base of every error the SDK raises."""


class InputError(VerifierError, ValueError):
    """The arguments cannot be turned into a request (e.g. lists of different lengths)."""


class RPCError(VerifierError):
    """The server (or the transport) answered with a non-OK status."""

    def __init__(self, status: StatusCode, message: str, target: str = "") -> None:
        super().__init__(f"{status.name}: {message}" + (f" (server {target})" if target else ""))
        self.status = status
        self.message = message
        self.target = target


class NotFoundError(RPCError):
    pass


class InvalidArgumentError(RPCError):
    pass


class AlreadyExistsError(RPCError):
    pass


class ResourceExhaustedError(RPCError):
    def __init__(self, status: StatusCode, message: str, target: str = "", retry_after_s: float | None = None):
        super().__init__(status, message, target)
        self.retry_after_s = retry_after_s


class UnauthenticatedError(RPCError):
    pass


class PermissionDeniedError(RPCError):
    pass


class DeadlineExceededError(RPCError):
    pass


class ServerUnavailableError(RPCError):
    pass


class SessionLostError(RPCError):
    """The session is gone: closed, expired, lost (out of memory, killed), or its replica stopped.

    A session lives on one replica, so this is final: the SDK never retries it elsewhere.
    ``session_id`` names the session; ``status`` is NOT_FOUND (the replica said so) or
    UNAVAILABLE / CANCELLED (the replica holding it cannot be reached).
    """

    def __init__(self, status: StatusCode, message: str, target: str = "", session_id: str = "") -> None:
        super().__init__(status, message, target)
        self.session_id = session_id


class SessionSetupError(VerifierError):
    """The ``setup`` code of a new session did not run cleanly; ``result`` is its cell result."""

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result


_ERROR_FOR_STATUS: dict[StatusCode, type[RPCError]] = {
    StatusCode.NOT_FOUND: NotFoundError,
    StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    StatusCode.UNAVAILABLE: ServerUnavailableError,
}


def error_for(status: StatusCode, message: str, target: str = "", retry_after_s: float | None = None) -> RPCError:
    cls = _ERROR_FOR_STATUS.get(status, RPCError)
    if cls is ResourceExhaustedError:
        return ResourceExhaustedError(status, message, target, retry_after_s)
    if cls is ServerUnavailableError:
        message = f"cannot reach the verifier server at {target}: {message}"
    return cls(status, message, target)
