"""Who is calling: the identity and role of the RPC being served, as one ``Caller``.

``Caller.client`` is THE key for per-client fairness everywhere in the server (admission control,
and sandbox slot scheduling): with auth on it is derived from the bearer token, so a caller cannot
choose it or rotate it to escape its share; with auth off it is the SDK's ``x-client-id`` header
(else the peer's host), which is advisory only. The auth interceptor sets ``current_caller`` for
the RPC's task; the servicer reads it through ``caller_for``.
"""

from __future__ import annotations

import contextvars
import hashlib
from dataclasses import dataclass

ADMIN = "admin"
SCORE = "score"


@dataclass(frozen=True, slots=True)
class Caller:
    client: str
    """Stable identity for fairness: ``token:<12 hex of sha256(token)>`` when authenticated (never
    the token itself, so it is safe in logs, metrics and error messages), else the caller's own id."""
    role: str
    """``admin`` or ``score``; every caller is ``admin`` when the server runs without auth."""
    authenticated: bool

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


def token_identity(token: str) -> str:
    """The public name of a bearer token: a hash prefix, enough to tell tokens apart, useless to replay."""
    return "token:" + hashlib.sha256(token.encode()).hexdigest()[:12]


current_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("verifier_caller", default=None)
"""Set by the auth interceptor for the RPC's task; ``None`` when the server runs without auth."""


def caller_for(unauthenticated_client: str) -> Caller:
    """The authenticated caller of this RPC, or (auth off) an admin known by ``unauthenticated_client``."""
    caller = current_caller.get()
    if caller is not None:
        return caller
    return Caller(client=unauthenticated_client, role=ADMIN, authenticated=False)
