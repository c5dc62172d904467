"""PostgreSQL registry: the store several replicas share.

Same semantics as ``SqliteRegistry``: versions per name counting from 1, deleted
versions tombstoned so their numbers are never reused, and concurrent registrations
(from any replica) each get their own version. Registrations of one name serialize on a
transaction-scoped advisory lock keyed by the name, so they never collide on the
``(name, version)`` key; registrations of different names do not wait on each other.

The constructor connects once synchronously to create the schema, so a server with a
wrong URL or an unreachable database refuses to start instead of failing its first
call. Later calls use a small pool of async connections, opened lazily in the event
loop that uses them; a connection that breaks (database restart, failover) is dropped
and reads are retried once on a fresh one.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg

from verifier_server.domain import VerifierRecord, VerifierRef, VerifierSpec
from verifier_server.errors import InvalidArgument, Unavailable

T = TypeVar("T")

_SCHEMA_LOCK_KEY = 0x7665726966  # "verif": serializes CREATE TABLE across replicas starting at once
_SCHEMA = """
CREATE TABLE IF NOT EXISTS verifiers (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    config_json TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at DOUBLE PRECISION NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (name, version)
)
"""
_COLUMNS = "name, version, kind, config_json, description, created_at"

Row = tuple[str, int, str, str, str, float]


class PostgresRegistry:
    """A ``RegistryStore`` on one PostgreSQL database, shared by every replica."""

    def __init__(self, url: str, *, max_connections: int = 4, connect_timeout_s: float = 10.0) -> None:
        self._url = url
        self._connect_timeout_s = connect_timeout_s
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._closed = False
        self._create_schema()

    # -- connections ------------------------------------------------------------------

    def _create_schema(self) -> None:
        try:
            with psycopg.connect(self._url, connect_timeout=int(self._connect_timeout_s)) as conn:
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                conn.execute(_SCHEMA)
        except psycopg.Error as exc:
            raise InvalidArgument("registry_url", f"cannot open the PostgreSQL registry: {_first_line(exc)}") from None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """Borrow a connection; a broken one is closed instead of returned to the pool."""
        if self._closed:
            raise Unavailable("the registry is closed (server shutting down)")
        async with self._slots:
            conn = self._idle.pop() if self._idle else await self._open()
            try:
                yield conn
            except BaseException:
                await conn.close()
                raise
            if conn.closed or conn.broken or self._closed:
                await conn.close()
            else:
                self._idle.append(conn)

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        try:
            return await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=int(self._connect_timeout_s)
            )
        except psycopg.OperationalError as exc:
            raise Unavailable(f"registry database unreachable: {_first_line(exc)}") from None

    async def _read(self, query: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """Run an idempotent query, once more on a fresh connection if the first one broke."""
        for attempt in (1, 2):
            try:
                async with self._connection() as conn:
                    return await query(conn)
            except psycopg.OperationalError as exc:
                if attempt == 2:
                    raise Unavailable(f"registry database error: {_first_line(exc)}") from None
        raise AssertionError("unreachable")

    # -- RegistryStore ----------------------------------------------------------------

    async def register(self, spec: VerifierSpec) -> VerifierRecord:
        # Not retried on a broken connection: the commit may have happened, and a retry
        # would create a second version. The client sees UNAVAILABLE and decides.
        now = time.time()
        try:
            async with self._connection() as conn, conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (spec.name,))
                cursor = await conn.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM verifiers WHERE name = %s", (spec.name,)
                )
                row = await cursor.fetchone()
                version = int(row[0] if row else 0) + 1
                await conn.execute(
                    f"INSERT INTO verifiers ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)",
                    (spec.name, version, spec.kind, json.dumps(dict(spec.config)), spec.description, now),
                )
        except psycopg.OperationalError as exc:
            raise Unavailable(f"registry database error: {_first_line(exc)}") from None
        return VerifierRecord(spec=spec, version=version, created_at_unix_s=now)

    async def get(self, ref: VerifierRef) -> VerifierRecord | None:
        async def query(conn: psycopg.AsyncConnection[Any]) -> Row | None:
            base = f"SELECT {_COLUMNS} FROM verifiers WHERE name = %s AND NOT deleted"
            if ref.version is None:
                cursor = await conn.execute(base + " ORDER BY version DESC LIMIT 1", (ref.name,))
            else:
                cursor = await conn.execute(base + " AND version = %s", (ref.name, ref.version))
            return await cursor.fetchone()

        row = await self._read(query)
        return _record(row) if row else None

    async def list(self, *, all_versions: bool = False) -> list[VerifierRecord]:
        async def query(conn: psycopg.AsyncConnection[Any]) -> builtins.list[Row]:
            if all_versions:
                sql = f"SELECT {_COLUMNS} FROM verifiers WHERE NOT deleted ORDER BY name, version"
            else:
                sql = (
                    f"SELECT DISTINCT ON (name) {_COLUMNS} FROM verifiers WHERE NOT deleted ORDER BY name, version DESC"
                )
            cursor = await conn.execute(sql)
            return await cursor.fetchall()

        return [_record(row) for row in await self._read(query)]

    async def delete(self, ref: VerifierRef) -> int:
        # An UPDATE of live rows to deleted is idempotent, so a retry cannot over-delete
        # (at worst it reports 0 for rows the broken attempt already tombstoned).
        async def query(conn: psycopg.AsyncConnection[Any]) -> int:
            if ref.version is None:
                cursor = await conn.execute(
                    "UPDATE verifiers SET deleted = TRUE WHERE name = %s AND NOT deleted", (ref.name,)
                )
            else:
                cursor = await conn.execute(
                    "UPDATE verifiers SET deleted = TRUE WHERE name = %s AND version = %s AND NOT deleted",
                    (ref.name, ref.version),
                )
            return cursor.rowcount

        return await self._read(query)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


def _record(row: Row) -> VerifierRecord:
    name, version, kind, config_json, description, created_at = row
    spec = VerifierSpec(name=name, kind=kind, config=json.loads(config_json), description=description)
    return VerifierRecord(spec=spec, version=int(version), created_at_unix_s=float(created_at))


def _first_line(exc: BaseException) -> str:
    """psycopg messages can span lines (hints); the first says what went wrong without echoing the URL."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
