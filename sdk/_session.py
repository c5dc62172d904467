"""``Session`` and ``AsyncSession``: a stateful sandbox on the server. Mirror each other method for method.

A session is a Python interpreter (or a shell) on one server replica whose variables,
imports, working directory and files persist from cell to cell. ``fork(n)`` makes n
independent copy-on-write copies (one per rollout of a GRPO group); ``score`` scores the
end state with a code-kind verifier in a throwaway copy. Every call of a session goes to
the replica that opened it; if that replica is gone, so is the session (``SessionLostError``),
and nothing is retried elsewhere.

    with client.session(language="python", setup="import math") as s:
        s.run("x = math.pi").ok
        forks = s.fork(8)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from protos.verifier.v1 import verifier_pb2 as pb
from sdk import _convert
from sdk._base import VerifierTarget, as_spec
from sdk._errors import InputError, SessionLostError, SessionSetupError, VerifierError
from sdk._types import CellResult, ScoreResult, SessionInfo

if TYPE_CHECKING:
    from sdk._async_client import AsyncVerifierClient
    from sdk._client import VerifierClient

#: A cell's call gets this long past the cell's own time limit (the server kills a runaway cell at its limit + 1 s).
CELL_DEADLINE_MARGIN_S = 30.0


class SessionBase:
    """What both session classes share that does no I/O: identity, state and request building."""

    def __init__(self, client: Any, request: pb.OpenSessionRequest | None, timeout_s: float | None) -> None:
        self._client, self._request, self._timeout_s = client, request, timeout_s
        self._address = ""
        self._info: SessionInfo | None = None
        self._closed = False

    @property
    def info(self) -> SessionInfo:
        """What the server said about this session when it was opened or forked."""
        if self._info is None:
            raise VerifierError("the session is not open yet: use `with`/`async with`, or open()")
        return self._info

    @property
    def session_id(self) -> str:
        return self.info.session_id

    @property
    def replica(self) -> str:
        """The address of the replica holding this session."""
        return self._address

    def _bind(self, address: str, info: SessionInfo) -> None:
        self._address, self._info = address, info

    def _child(self, info: SessionInfo) -> Any:
        copy = type(self)(self._client, None, self._timeout_s)
        copy._bind(self._address, info)
        return copy

    def _setup_failure(self) -> SessionSetupError | None:
        result = self.info.setup_result
        if result is None or result.ok:
            return None
        return SessionSetupError(f"the session's setup failed ({result.status.value}): {result.error}", result)

    def _run_request(self, code: str, timeout_s: float | None, language: str | None) -> tuple[pb.RunCellRequest, float]:
        """The request and its call deadline: the cell's own limit plus a margin."""
        if not isinstance(code, str):
            raise InputError(f"code must be a string, got {type(code).__name__}")
        cell_s = timeout_s if timeout_s is not None else self.info.limits.cell_wall_time_s
        request = pb.RunCellRequest(
            session_id=self.session_id, code=code, timeout_s=timeout_s or 0.0, language=language or ""
        )
        return request, cell_s + CELL_DEADLINE_MARGIN_S

    def _fork_request(self, n: int) -> pb.ForkSessionRequest:
        if not isinstance(n, int) or n < 1:
            raise InputError(f"fork(n) needs a positive number of copies, got {n!r}")
        return pb.ForkSessionRequest(session_id=self.session_id, count=n)

    def _score_request(self, verifier: VerifierTarget, reference: Mapping[str, Any] | None) -> pb.ScoreSessionRequest:
        request = pb.ScoreSessionRequest(
            session_id=self.session_id, reference_json=_convert.reference_to_json(reference)
        )
        if isinstance(verifier, str):
            request.name = verifier
        else:
            request.spec.CopyFrom(_convert.spec_to_proto(as_spec(verifier)))
        return request

    def _close_request(self) -> pb.CloseSessionRequest | None:
        """None when there is nothing to close (never opened, or closed already)."""
        if self._info is None or self._closed:
            return None
        self._closed = True
        return pb.CloseSessionRequest(session_id=self.session_id)

    def __repr__(self) -> str:
        state = "unopened" if self._info is None else ("closed" if self._closed else self._info.session_id)
        return f"<{type(self).__name__} {state} at {self._address or '?'}>"


class Session(SessionBase):
    """A session of ``VerifierClient`` (blocking). Safe to use from one thread at a time."""

    _client: VerifierClient

    def open(self) -> Session:
        """Open it on the next replica (no-op if open); raises SessionSetupError if the setup cell failed."""
        if self._info is not None:
            return self
        assert self._request is not None  # only forks are made without one, and they are open
        self._bind(*self._client._open_session(self._request, self._timeout_s))
        failure = self._setup_failure()
        if failure is not None:
            self.close()
            raise failure
        return self

    def run(self, code: str, *, timeout_s: float | None = None, language: str | None = None) -> CellResult:
        """Run one cell (its wall time: ``timeout_s``, default the session's); state persists across cells.

        ``language="bash"`` runs a shell cell in a Python session (same files; the shell keeps its own
        working directory and variables).
        """
        request, deadline_s = self._run_request(code, timeout_s, language)
        message = self._client._session_call(self._address, "RunCell", request, self.session_id, deadline_s)
        return _convert.cell_from_proto(message)

    def fork(self, n: int, *, timeout_s: float | None = None) -> list[Session]:
        """``n`` independent copies of this session as it is now (memory and files), on the same replica."""
        request = self._fork_request(n)
        message = self._client._session_call(self._address, "ForkSession", request, self.session_id, timeout_s)
        return [self._child(_convert.session_from_proto(info)) for info in message.sessions]

    def score(
        self, verifier: VerifierTarget, reference: Mapping[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> ScoreResult:
        """Score the end state with a code-kind verifier (its tests in ``reference``), in a throwaway copy."""
        request = self._score_request(verifier, reference)
        message = self._client._session_call(self._address, "ScoreSession", request, self.session_id, timeout_s)
        return _convert.result_from_proto(message)

    def close(self, *, timeout_s: float | None = None) -> bool:
        """Close it (every process it started dies); False if it was gone already. Idempotent."""
        request = self._close_request()
        if request is None:
            return False
        try:
            message = self._client._session_call(self._address, "CloseSession", request, self.session_id, timeout_s)
        except SessionLostError:
            return False
        return bool(message.closed)

    def __enter__(self) -> Session:
        return self.open()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncSession(SessionBase):
    """A session of ``AsyncVerifierClient``. Use it from the event loop of its client."""

    _client: AsyncVerifierClient

    async def open(self) -> AsyncSession:
        """Open it on the next replica (no-op if open); raises SessionSetupError if the setup cell failed."""
        if self._info is not None:
            return self
        assert self._request is not None  # only forks are made without one, and they are open
        self._bind(*await self._client._open_session(self._request, self._timeout_s))
        failure = self._setup_failure()
        if failure is not None:
            await self.aclose()
            raise failure
        return self

    async def run(self, code: str, *, timeout_s: float | None = None, language: str | None = None) -> CellResult:
        """Run one cell (its wall time: ``timeout_s``, default the session's); state persists across cells.

        ``language="bash"`` runs a shell cell in a Python session (same files; the shell keeps its own
        working directory and variables).
        """
        request, deadline_s = self._run_request(code, timeout_s, language)
        message = await self._client._session_call(self._address, "RunCell", request, self.session_id, deadline_s)
        return _convert.cell_from_proto(message)

    async def fork(self, n: int, *, timeout_s: float | None = None) -> list[AsyncSession]:
        """``n`` independent copies of this session as it is now (memory and files), on the same replica."""
        request = self._fork_request(n)
        message = await self._client._session_call(self._address, "ForkSession", request, self.session_id, timeout_s)
        return [self._child(_convert.session_from_proto(info)) for info in message.sessions]

    async def score(
        self, verifier: VerifierTarget, reference: Mapping[str, Any] | None = None, *, timeout_s: float | None = None
    ) -> ScoreResult:
        """Score the end state with a code-kind verifier (its tests in ``reference``), in a throwaway copy."""
        request = self._score_request(verifier, reference)
        message = await self._client._session_call(self._address, "ScoreSession", request, self.session_id, timeout_s)
        return _convert.result_from_proto(message)

    async def aclose(self, *, timeout_s: float | None = None) -> bool:
        """Close it (every process it started dies); False if it was gone already. Idempotent."""
        request = self._close_request()
        if request is None:
            return False
        try:
            message = await self._client._session_call(
                self._address, "CloseSession", request, self.session_id, timeout_s
            )
        except SessionLostError:
            return False
        return bool(message.closed)

    async def __aenter__(self) -> AsyncSession:
        return await self.open()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
