"""The registry contract: named, versioned verifier specs that survive restarts.

Every backend (SQLite for one server, PostgreSQL for replicas that share one) keeps
the same semantics: registering a name creates its next version (1, 2, ...), old
versions stay readable until deleted, version numbers are never reused, and two
concurrent registrations of one name get two distinct versions.
"""

from __future__ import annotations

from typing import Protocol

from verifier_server.domain import VerifierRecord, VerifierRef, VerifierSpec


class RegistryStore(Protocol):
    """Persistent storage of user-registered verifier specs."""

    async def register(self, spec: VerifierSpec) -> VerifierRecord:
        """Store ``spec`` as the next version of its name."""
        ...

    async def get(self, ref: VerifierRef) -> VerifierRecord | None:
        """The named version, or the latest when ``ref.version`` is None; None if absent."""
        ...

    async def list(self, *, all_versions: bool = False) -> list[VerifierRecord]:
        """Latest version of every name (or every live version), sorted by name and version."""
        ...

    async def delete(self, ref: VerifierRef) -> int:
        """Delete one version or all of a name; returns how many were deleted."""
        ...

    async def aclose(self) -> None: ...
