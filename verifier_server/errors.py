"""Domain errors: what can go wrong with a whole request (not with one sample).

Per-sample problems never raise; they become a ``ScoreResult`` with an outcome.
The servicer maps these classes to gRPC status codes in one table
(``verifier_server.status_map``), looked up along the class hierarchy.

    VerifierError
    ├── NotFound               unknown verifier / version
    ├── InvalidArgument        bad spec or request; names the offending field
    │   └── SpecError          a spec that does not compile
    ├── AlreadyExists          e.g. registering over a built-in name
    ├── ResourceExhausted      admission control; carries a retry-after hint
    ├── Unauthenticated / PermissionDenied
    │                      └── NotAllowed   a spec field names what this server's config does not allow
    ├── Unavailable            a backend (sandbox, judge) is not available
    ├── FailedPrecondition     the server cannot do this at all (e.g. sessions without their sandbox)
    └── InternalError
"""

from __future__ import annotations

from collections.abc import Sequence


class VerifierError(Exception):
    """Base of every error that fails a whole request."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(VerifierError):
    pass


class InvalidArgument(VerifierError):
    """A request or spec field is wrong; ``field`` names it (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class SpecError(InvalidArgument):
    """A verifier spec that cannot be compiled into a verifier; ``problems`` lists every (field, message) found."""

    def __init__(self, field: str, message: str, problems: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(field, message)
        self.problems: tuple[tuple[str, str], ...] = tuple(problems) or ((field, message),)

    @classmethod
    def of(cls, problems: Sequence[tuple[str, str]]) -> SpecError:
        """One error for all of a spec's problems, so a user fixes them in one round."""
        if len(problems) == 1:
            return cls(*problems[0])
        listed = "".join(f"\n  - {field}: {message}" for field, message in problems)
        return cls("", f"{len(problems)} problems in the spec:{listed}", problems)


class AlreadyExists(VerifierError):
    pass


class ResourceExhausted(VerifierError):
    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Unauthenticated(VerifierError):
    pass


class PermissionDenied(VerifierError):
    pass


class NotAllowed(PermissionDenied):
    """A spec field asks for something outside this server's configuration (an endpoint, a key
    variable, a model path, remote code); ``field`` names it (dotted path)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Unavailable(VerifierError):
    pass


class FailedPrecondition(VerifierError):
    pass


class InternalError(VerifierError):
    pass
