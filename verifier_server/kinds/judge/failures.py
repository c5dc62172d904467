"""Why a judge call failed: the one exception every backend and the batcher raise.

A judge that cannot answer (server down, model failed to load, output that never
parses) must never look like a zero reward, so failures carry the outcome the
sample should get (``error`` or ``timeout``) and a reason a user can act on.
"""

from __future__ import annotations

from verifier_server.domain import Outcome


class JudgeFailure(Exception):
    """One judge call (or a whole model batch) did not produce a usable answer."""

    def __init__(self, reason: str, outcome: Outcome = Outcome.ERROR) -> None:
        super().__init__(reason)
        self.reason = reason
        self.outcome = outcome


class JudgeTimeout(JudgeFailure):
    """The call ran past its deadline; the sample gets outcome ``timeout``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, Outcome.TIMEOUT)
