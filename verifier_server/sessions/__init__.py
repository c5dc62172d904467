"""Sessions on the server: stateful sandboxes that live across calls, with their caps and lifetimes.

The sandbox does the isolation (sandboxes.sessions); this package owns what a service needs
around it: ids, owners, idle and hard lifetimes, per-client and per-replica caps, scoring a
session's end state with a registered verifier, and the record of why a session is gone.
"""

from verifier_server.sessions.manager import SessionManager
from verifier_server.sessions.model import CellOutcome, LimitsRequest, SessionInfo, SessionOffer, SessionSettings

__all__ = ["CellOutcome", "LimitsRequest", "SessionInfo", "SessionManager", "SessionOffer", "SessionSettings"]
