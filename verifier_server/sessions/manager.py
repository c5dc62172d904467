"""SessionManager: the live sessions of this replica, their owners, caps, lifetimes and end-state scoring.

Rules it owns, for every session call:
- a session id names the replica that holds it; calls on a session this replica does not
  hold (closed, expired, lost, or another replica's) are NOT_FOUND and say which;
- a session belongs to the client that opened it (or forked its parent): with auth on,
  another token's calls on it are NOT_FOUND, as if it did not exist (admins may close it);
- opening or forking past the replica's or the client's cap is RESOURCE_EXHAUSTED, with a
  retry-after of when the soonest session will expire; the client is the authenticated
  caller (`identity.Caller.client`), as for scoring;
- an idle session is closed after its TTL, any session after its lifetime, never in the
  middle of a call; a cell never runs past the session's lifetime;
- cells, forks and scoring go through the same admission control as scoring (kind
  ``session``), so a replica's `max_inflight_samples` bounds them too;
- listing every session is for admins only.

Sessions take no sandbox slots (each has its own uid pair, cgroup and namespaces), so the
slot scheduler's per-caller fairness (`sandboxes.as_caller`) has nothing to share here: the
per-client cap and admission control are what keep one client from crowding out another.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sandboxes.sessions import (
    CellResult,
    SandboxSession,
    SessionError,
    SessionHost,
    SessionLimits,
    SessionLost,
    SessionsFull,
)
from verifier_server.admission import AdmissionController
from verifier_server.domain import Outcome, ScoreResult, VerifierSpec
from verifier_server.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
)
from verifier_server.identity import Caller
from verifier_server.kinds.base import ResourceBag, Verifier
from verifier_server.sessions.model import LimitsRequest, SessionInfo, SessionOffer, SessionSettings

log = logging.getLogger(__name__)

ADMISSION_KIND = "session"
LANGUAGES = ("python", "bash")
MAX_FORK = 64
_GONE_MEMORY = 10_000
_TICK_S = 0.25

Resolve = Callable[[str | VerifierSpec], Awaitable[tuple[str, str, Verifier]]]
"""The service's verifier lookup: target -> (label, kind, compiled verifier)."""


class SessionObserver(Protocol):
    """Told about session events and cells (metrics implement it)."""

    def session_event(self, event: str) -> None: ...

    def cell_ran(self, language: str, status: str, elapsed_s: float) -> None: ...

    def rejected(self, kind: str) -> None: ...


class _NoObserver:
    def session_event(self, event: str) -> None:
        pass

    def cell_ran(self, language: str, status: str, elapsed_s: float) -> None:
        pass

    def rejected(self, kind: str) -> None:
        pass


@dataclass
class _Live:
    """One session this replica holds."""

    session_id: str
    client: str
    """The caller that opened it (`Caller.client`): the key of the per-client cap and of ownership."""
    authenticated: bool
    """Opened by an authenticated caller: only that caller may use it."""
    language: str
    parent_id: str
    session: SandboxSession
    limits: SessionLimits
    idle_ttl_s: float
    lifetime_s: float
    created_unix: float
    created: float
    last_used: float
    cells: int = 0
    busy: int = 0

    def idle_left_s(self, now: float) -> float:
        return self.idle_ttl_s - (now - self.last_used)

    def lifetime_left_s(self, now: float) -> float:
        return self.lifetime_s - (now - self.created)


@dataclass
class _Context:
    """What `shared_sandbox` needs of a build context."""

    resources: ResourceBag


class SessionManager:
    def __init__(
        self,
        settings: SessionSettings,
        resources: ResourceBag,
        *,
        resolve: Resolve,
        admission: AdmissionController | None = None,
        observer: SessionObserver | None = None,
    ) -> None:
        self.settings, self.resources, self.resolve = settings, resources, resolve
        self.admission = admission or AdmissionController()
        self.observer: SessionObserver = observer or _NoObserver()
        self.replica_id = secrets.token_hex(4)
        self._live: dict[str, _Live] = {}
        self._gone: OrderedDict[str, str] = OrderedDict()
        self._reserved: dict[str, int] = {}
        self._host: SessionHost | None = None
        self._host_lock = asyncio.Lock()
        self._expiry: asyncio.Task[None] | None = None
        self._uids: list[int] = []
        #: Why sessions would fail here though uids were claimed (see BwrapSandbox.sessions_unavailable).
        self.unavailable: str | None = None

    @property
    def open_count(self) -> int:
        return len(self._live)

    def offer(self) -> SessionOffer | None:
        """What this replica offers, or None where sessions are off or cannot run (no uids claimed, `unavailable`)."""
        if not self._uids or self.unavailable:
            return None
        return SessionOffer(
            languages=LANGUAGES,
            max_sessions=self.settings.max_sessions,
            max_trees=self.settings.trees,
            max_sessions_per_client=self.settings.max_sessions_per_client,
            max_fork=MAX_FORK,
            ceilings=LimitsRequest.ceilings(self.settings),
        )

    # -- calls ----------------------------------------------------------------------------------

    async def open(
        self,
        caller: Caller,
        language: str,
        *,
        setup: str = "",
        files: Mapping[str, bytes] | None = None,
        env: Mapping[str, str] | None = None,
        limits: LimitsRequest | None = None,
    ) -> SessionInfo:
        if language not in LANGUAGES:
            raise InvalidArgument("language", f"sessions run {' or '.join(LANGUAGES)}, not {language!r}")
        files = dict(files or {})
        for path in files:
            parts = path.split("/")
            if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise InvalidArgument("files", f"path {path!r} must be relative, without '.' or '..' parts")
        granted, idle, lifetime = (limits or LimitsRequest()).grant(self.settings)
        host = await self._sessions_host()
        with self._reservation(caller.client, 1):
            try:
                session = await host.open(language, files=files, env=dict(env or {}), limits=granted)
            except SessionsFull:
                self.observer.rejected(ADMISSION_KIND)
                raise ResourceExhausted(
                    f"this replica runs {self.settings.trees} session trees, its most (max_session_trees; a tree is "
                    "an opened session with its forks); close one or retry later",
                    self._retry_after_s(None),
                ) from None
            except SessionError as exc:
                raise Unavailable(f"could not open a session: {exc}") from None
        live = self._register(session, caller.client, caller.authenticated, language, "", granted, idle, lifetime)
        self.observer.session_event("opened")
        setup_result = None
        if setup:
            setup_result = await self._run_cell(live, setup, 0.0)
        return self._info(live, setup_result)

    async def run(self, session_id: str, code: str, timeout_s: float, caller: Caller, language: str = "") -> CellResult:
        if timeout_s < 0:
            raise InvalidArgument("timeout_s", "must not be negative")
        live = self._get(session_id, caller)
        if language not in ("", live.language) and not (language == "bash" and live.language == "python"):
            allowed = "python or bash" if live.language == "python" else live.language
            raise InvalidArgument("language", f"a {live.language} session runs {allowed} cells, not {language!r}")
        return await self._run_cell(live, code, timeout_s, language or None)

    async def fork(self, session_id: str, count: int, caller: Caller) -> list[SessionInfo]:
        if not 1 <= count <= MAX_FORK:
            raise InvalidArgument("count", f"a fork makes 1 to {MAX_FORK} copies, not {count}")
        live = self._get(session_id, caller)
        with self._reservation(live.client, count), self._admitted(count, live.client), self._using(live):
            try:
                copies = await live.session.fork(count)
            except SessionLost as exc:
                await self._drop(live, "lost", f"was lost: {exc}")
                raise NotFound(self._gone_message(session_id)) from None
            except SessionError as exc:
                raise FailedPrecondition(f"session {session_id!r} could not be forked: {exc}") from None
        infos = []
        for copy in copies:
            child = self._register(
                copy, live.client, live.authenticated, live.language, live.session_id, live.limits, live.idle_ttl_s,
                live.lifetime_s,
            )  # fmt: skip
            infos.append(self._info(child))
        self.observer.session_event("forked")
        return infos

    async def score(
        self, session_id: str, target: str | VerifierSpec, reference: Mapping[str, Any], caller: Caller
    ) -> ScoreResult:
        from verifier_server.kinds.code.kind import CodeVerifier
        from verifier_server.kinds.code.live import score_live

        live = self._get(session_id, caller)
        label, kind, verifier = await self.resolve(target)
        if kind != "code" or not isinstance(verifier, CodeVerifier):
            raise InvalidArgument(
                "verifier", f"a session's end state is scored by a code-kind verifier; {label} is {kind}"
            )
        started = time.perf_counter()
        with self._admitted(1, live.client), self._using(live):
            try:
                result = await score_live(verifier, reference, live.session.judge)
            except SessionLost as exc:
                await self._drop(live, "lost", f"was lost: {exc}")
                raise NotFound(self._gone_message(session_id)) from None
            except SessionError as exc:
                result = ScoreResult.failed(Outcome.ERROR, f"could not copy the session to score it: {exc}")
        result.latency_s = time.perf_counter() - started
        result.details.setdefault("verifier", label)
        return result

    async def close(self, session_id: str, caller: Caller) -> bool:
        """False when the session was already gone (closing is idempotent); admins may close anyone's."""
        live = self._live.get(session_id)
        if live is None or not (caller.is_admin or self._owns(caller, live)):
            return False
        await self._drop(live, "closed", "was closed")
        return True

    def list(self, caller: Caller) -> list[SessionInfo]:
        """Every session of this replica, for admins (the auth interceptor refuses others first)."""
        if not caller.is_admin:
            raise PermissionDenied("listing sessions needs the admin role")
        return [self._info(live) for live in self._live.values()]

    async def aclose(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._expiry
        for live in list(self._live.values()):
            await self._drop(live, "closed", "was closed when the server stopped")

    # -- cells ----------------------------------------------------------------------------------

    async def _run_cell(self, live: _Live, code: str, timeout_s: float, language: str | None = None) -> CellResult:
        now = time.monotonic()
        asked = timeout_s if timeout_s > 0 else live.limits.cell_wall_time_s
        timeout = max(0.001, min(asked, self.settings.max_cell_time_s, live.lifetime_left_s(now)))
        with self._admitted(1, live.client), self._using(live):
            started = time.perf_counter()
            try:
                result = await live.session.run(code, timeout_s=timeout, language=language)
            except SessionLost as exc:
                await self._drop(live, "lost", f"was lost: {exc}")
                raise NotFound(self._gone_message(live.session_id)) from None
        live.cells += 1
        self.observer.cell_ran(language or live.language, result.status.value, time.perf_counter() - started)
        if result.session_lost:
            await self._drop(live, "lost", f"was lost: {result.error}")
        return result

    # -- bookkeeping ----------------------------------------------------------------------------

    async def claim_uids(self) -> Sequence[int]:
        """At server start: claim the uids sessions will run as, exclusively (as the sandbox's slots are).

        So a clash with another server on this kernel stops this one from starting, with the
        holders named, instead of failing sessions later. Nothing is claimed where sessions
        are off (`max_sessions` 0) or cannot run (no bwrap sandbox, not root): opening one
        says why then. Returns the uids claimed.
        """
        from sandboxes import SandboxError
        from verifier_server.kinds.sandboxed.access import shared_sandbox

        if self.settings.trees <= 0:
            return []
        try:
            shared = shared_sandbox(_Context(self.resources), "sessions")  # type: ignore[arg-type]  # reads .resources only
        except Unavailable:
            return []
        claim = getattr(shared.sandbox, "claim_session_uids", None)
        if claim is None:
            return []
        try:
            self._uids = list(claim(self.settings.trees))
        except SandboxError as exc:
            raise Unavailable(
                f"refusing to start: the uids for {self.settings.trees} session trees (max_session_trees, at most "
                f"max_sessions) cannot be claimed: {exc}"
            ) from None
        self.unavailable = shared.sandbox.sessions_unavailable()  # type: ignore[attr-defined]  # claim's backend has it
        return self._uids

    async def _sessions_host(self) -> SessionHost:
        from verifier_server.kinds.sandboxed.access import shared_sandbox

        if self.settings.max_sessions <= 0:
            raise FailedPrecondition("sessions are turned off on this server (max_sessions = 0)")
        async with self._host_lock:
            if self._host is None:
                shared = shared_sandbox(_Context(self.resources), "sessions")  # type: ignore[arg-type]  # reads .resources only
                open_host = getattr(shared.sandbox, "sessions", None)
                if open_host is None:
                    raise FailedPrecondition(f"sessions need the bwrap sandbox; this server uses {shared.backend!r}")
                try:
                    self._host = await open_host(max_trees=self.settings.trees)
                except SessionError as exc:
                    raise FailedPrecondition(f"sessions cannot run on this server: {exc}") from None
                self._expiry = asyncio.create_task(self._expire_forever())
        return self._host

    def _register(
        self,
        session: SandboxSession,
        client: str,
        authenticated: bool,
        language: str,
        parent_id: str,
        limits: SessionLimits,
        idle_ttl_s: float,
        lifetime_s: float,
    ) -> _Live:
        now = time.monotonic()
        session_id = f"{self.replica_id}-{secrets.token_urlsafe(18)}"
        live = _Live(session_id, client, authenticated, language, parent_id, session, limits,
                     idle_ttl_s, lifetime_s, time.time(), now, now)  # fmt: skip
        self._live[session_id] = live
        return live

    def _get(self, session_id: str, caller: Caller) -> _Live:
        live = self._live.get(session_id)
        if live is None or not self._owns(caller, live):
            raise NotFound(self._gone_message(session_id) if live is None else f"unknown session {session_id!r}")
        return live

    @staticmethod
    def _owns(caller: Caller, live: _Live) -> bool:
        """Whether `caller` may use `live`: its opener; anyone when neither side authenticated (auth off)."""
        if not live.authenticated and not caller.authenticated:
            return True
        return caller.authenticated and caller.client == live.client

    def _gone_message(self, session_id: str) -> str:
        why = self._gone.get(session_id)
        if why is not None:
            return f"session {session_id!r} {why}"
        replica = session_id.split("-", 1)[0] if "-" in session_id else ""
        if replica and replica != self.replica_id:
            return (
                f"session {session_id!r} is not on this replica ({self.replica_id}): it was opened on replica "
                f"{replica}, and was lost if that replica stopped"
            )
        return f"unknown session {session_id!r}"

    async def _drop(self, live: _Live, event: str, why: str) -> None:
        if self._live.pop(live.session_id, None) is None:
            return
        self._gone[live.session_id] = why
        while len(self._gone) > _GONE_MEMORY:
            self._gone.popitem(last=False)
        self.observer.session_event(event)
        log.info("session %s", event, extra={"session": live.session_id, "why": why})
        try:
            await live.session.close()
        except Exception:
            log.exception("closing a session failed")

    @contextlib.contextmanager
    def _using(self, live: _Live) -> Iterator[None]:
        live.busy += 1
        try:
            yield
        finally:
            live.busy -= 1
            live.last_used = time.monotonic()

    @contextlib.contextmanager
    def _admitted(self, count: int, client: str) -> Iterator[None]:
        try:
            ticket = self.admission.admit(ADMISSION_KIND, count, client)
        except ResourceExhausted:
            self.observer.rejected(ADMISSION_KIND)
            raise
        with ticket:
            yield

    @contextlib.contextmanager
    def _reservation(self, client: str, count: int) -> Iterator[None]:
        """Hold `count` places under both caps while they are being made (or raise ResourceExhausted)."""
        total = len(self._live) + sum(self._reserved.values())
        mine = sum(1 for live in self._live.values() if live.client == client) + self._reserved.get(client, 0)
        if total + count > self.settings.max_sessions:
            self.observer.rejected(ADMISSION_KIND)
            raise ResourceExhausted(
                f"this replica holds {total} of its {self.settings.max_sessions} sessions; close some or retry later",
                self._retry_after_s(None),
            )
        if mine + count > self.settings.max_sessions_per_client:
            self.observer.rejected(ADMISSION_KIND)
            raise ResourceExhausted(
                f"client {client!r} holds {mine} of its {self.settings.max_sessions_per_client} sessions on this "
                "replica; close some or retry later",
                self._retry_after_s(client),
            )
        self._reserved[client] = self._reserved.get(client, 0) + count
        try:
            yield
        finally:
            self._reserved[client] -= count
            if not self._reserved[client]:
                del self._reserved[client]

    def _retry_after_s(self, client: str | None) -> float:
        """When the soonest idle session (of `client`, or any) will expire; at least the configured hint."""
        now = time.monotonic()
        soonest = [
            max(0.0, min(live.idle_left_s(now), live.lifetime_left_s(now)))
            for live in self._live.values()
            if (client is None or live.client == client) and not live.busy
        ]
        return max(self.settings.retry_after_s, min(soonest, default=self.settings.retry_after_s) + _TICK_S)

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(_TICK_S)
            now = time.monotonic()
            for live in list(self._live.values()):
                if live.busy:
                    continue
                if live.idle_left_s(now) <= 0:
                    await self._drop(live, "expired", f"expired after {live.idle_ttl_s:g}s without a call")
                elif live.lifetime_left_s(now) <= 0:
                    await self._drop(live, "expired", f"reached the end of its {live.lifetime_s:g}s lifetime")

    def _info(self, live: _Live, setup_result: CellResult | None = None) -> SessionInfo:
        now, now_unix = time.monotonic(), time.time()
        return SessionInfo(
            session_id=live.session_id,
            language=live.language,
            parent_id=live.parent_id,
            replica_id=self.replica_id,
            client_id=live.client,
            created_at_unix_s=live.created_unix,
            idle_expires_at_unix_s=now_unix + live.idle_left_s(now),
            lifetime_ends_at_unix_s=now_unix + live.lifetime_left_s(now),
            limits=live.limits,
            idle_ttl_s=live.idle_ttl_s,
            max_lifetime_s=live.lifetime_s,
            cells_run=live.cells,
            setup_result=setup_result,
        )
