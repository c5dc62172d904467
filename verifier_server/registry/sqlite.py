"""Embedded SQLite registry: the default for a single server.

Writes use ``BEGIN IMMEDIATE`` so concurrent registrations (threads, or several
processes on one file) serialize on the database lock and each gets its own version.
Deleted versions are tombstoned rather than removed so their numbers are never reused:
``name@3`` must never silently mean a different spec than it once did.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import sqlite3
import threading
import time
from pathlib import Path

from verifier_server.domain import VerifierRecord, VerifierRef, VerifierSpec

_SCHEMA = """
CREATE TABLE IF NOT EXISTS verifiers (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    kind TEXT NOT NULL,
    config_json TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (name, version)
)
"""


class SqliteRegistry:
    """A ``RegistryStore`` on one SQLite file, safe across threads and processes."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self._path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    async def register(self, spec: VerifierSpec) -> VerifierRecord:
        return await asyncio.to_thread(self._register, spec)

    def _register(self, spec: VerifierSpec) -> VerifierRecord:
        conn = self._connect()
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        try:
            (latest,) = conn.execute(
                "SELECT COALESCE(MAX(version), 0) FROM verifiers WHERE name = ?", (spec.name,)
            ).fetchone()
            version = int(latest) + 1
            conn.execute(
                "INSERT INTO verifiers (name, version, kind, config_json, description, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (spec.name, version, spec.kind, json.dumps(dict(spec.config)), spec.description, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return VerifierRecord(spec=spec, version=version, created_at_unix_s=now)

    async def get(self, ref: VerifierRef) -> VerifierRecord | None:
        return await asyncio.to_thread(self._get, ref)

    def _get(self, ref: VerifierRef) -> VerifierRecord | None:
        query = (
            "SELECT name, version, kind, config_json, description, created_at FROM verifiers"
            " WHERE name = ? AND deleted = 0"
        )
        if ref.version is None:
            row = self._connect().execute(query + " ORDER BY version DESC LIMIT 1", (ref.name,)).fetchone()
        else:
            row = self._connect().execute(query + " AND version = ?", (ref.name, ref.version)).fetchone()
        return _record(row) if row else None

    async def list(self, *, all_versions: bool = False) -> list[VerifierRecord]:
        return await asyncio.to_thread(self._list, all_versions)

    def _list(self, all_versions: bool) -> builtins.list[VerifierRecord]:
        rows = (
            self._connect()
            .execute(
                "SELECT name, version, kind, config_json, description, created_at FROM verifiers"
                " WHERE deleted = 0 ORDER BY name, version"
            )
            .fetchall()
        )
        records = [_record(row) for row in rows]
        if all_versions:
            return records
        latest: dict[str, VerifierRecord] = {}
        for record in records:
            latest[record.spec.name] = record
        return list(latest.values())

    async def delete(self, ref: VerifierRef) -> int:
        return await asyncio.to_thread(self._delete, ref)

    def _delete(self, ref: VerifierRef) -> int:
        if ref.version is None:
            cursor = self._connect().execute(
                "UPDATE verifiers SET deleted = 1 WHERE name = ? AND deleted = 0", (ref.name,)
            )
        else:
            cursor = self._connect().execute(
                "UPDATE verifiers SET deleted = 1 WHERE name = ? AND version = ? AND deleted = 0",
                (ref.name, ref.version),
            )
        return cursor.rowcount

    async def aclose(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _record(row: tuple[str, int, str, str, str, float]) -> VerifierRecord:
    name, version, kind, config_json, description, created_at = row
    spec = VerifierSpec(name=name, kind=kind, config=json.loads(config_json), description=description)
    return VerifierRecord(spec=spec, version=int(version), created_at_unix_s=float(created_at))
