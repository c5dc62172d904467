"""Python SDK for the verifier service: clients, specs, results, and trainer adapters.

from sdk import VerifierClient, RemoteReward
client = VerifierClient("127.0.0.1:50051")
client.score("math", completions=[...], references=[{"answer": "42"}])
"""

from sdk import specs
from sdk._async_client import AsyncVerifierClient
from sdk._base import RetryPolicy, TLSConfig
from sdk._client import VerifierClient
from sdk._errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    InputError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    RPCError,
    ServerUnavailableError,
    SessionLostError,
    SessionSetupError,
    StatusCode,
    UnauthenticatedError,
    VerifierError,
)
from sdk._session import AsyncSession, Session
from sdk._types import (
    Capabilities,
    CellResult,
    CellStatus,
    Outcome,
    ScoreResult,
    SessionCapabilities,
    SessionInfo,
    SessionLimits,
    VerifierInfo,
    VerifierSpec,
)
from sdk.rewards import AsyncRemoteReward, RemoteReward

__all__ = [
    "AlreadyExistsError",
    "AsyncRemoteReward",
    "AsyncSession",
    "AsyncVerifierClient",
    "Capabilities",
    "CellResult",
    "CellStatus",
    "DeadlineExceededError",
    "InputError",
    "InvalidArgumentError",
    "NotFoundError",
    "Outcome",
    "PermissionDeniedError",
    "RPCError",
    "RemoteReward",
    "ResourceExhaustedError",
    "RetryPolicy",
    "ScoreResult",
    "ServerUnavailableError",
    "Session",
    "SessionCapabilities",
    "SessionInfo",
    "SessionLimits",
    "SessionLostError",
    "SessionSetupError",
    "StatusCode",
    "TLSConfig",
    "UnauthenticatedError",
    "VerifierClient",
    "VerifierError",
    "VerifierInfo",
    "VerifierSpec",
    "specs",
]
