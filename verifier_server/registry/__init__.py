"""Registry backends, chosen by URL: ``sqlite:///path/to/registry.db`` or ``postgresql://...``."""

from __future__ import annotations

from verifier_server.errors import InvalidArgument
from verifier_server.registry.base import RegistryStore
from verifier_server.registry.sqlite import SqliteRegistry

__all__ = ["RegistryStore", "SqliteRegistry", "open_registry"]


def open_registry(url: str) -> RegistryStore:
    """Open the store a URL names; errors name the ``registry_url`` setting."""
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        return SqliteRegistry(path.removeprefix("/") if path.startswith("//") else path or ":memory:")
    if url.startswith(("postgresql://", "postgres://")):
        from verifier_server.registry.postgres import PostgresRegistry

        return PostgresRegistry(url)
    raise InvalidArgument("registry_url", f"unsupported registry URL {url!r} (use sqlite:///PATH or postgresql://...)")
