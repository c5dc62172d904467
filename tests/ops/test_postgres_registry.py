"""The PostgreSQL registry against a real PostgreSQL: SQLite's semantics, shared by replicas."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sdk import NotFoundError, VerifierClient, specs
from verifier_server.domain import VerifierRef, VerifierSpec
from verifier_server.errors import InvalidArgument
from verifier_server.registry import open_registry
from verifier_server.registry.postgres import PostgresRegistry
from verifier_server.testing import StartServer

pytestmark = pytest.mark.postgres


async def test_versions_are_per_name_and_never_reused(postgres_url: str):
    registry = open_registry(postgres_url)
    assert isinstance(registry, PostgresRegistry)
    try:
        first = await registry.register(VerifierSpec("a", "format", {"type": "regex", "pattern": "x"}, "first"))
        second = await registry.register(VerifierSpec("a", "format", {"type": "regex", "pattern": "y"}))
        other = await registry.register(VerifierSpec("b", "format", {"nested": {"ü": [1, 2.5, None]}}))
        assert (first.version, second.version, other.version) == (1, 2, 1)

        assert await registry.delete(VerifierRef("a", 2)) == 1
        assert await registry.delete(VerifierRef("a", 2)) == 0
        latest = await registry.get(VerifierRef("a"))
        assert latest is not None and latest.version == 1 and latest.spec.description == "first"
        third = await registry.register(VerifierSpec("a", "format", {}))
        assert third.version == 3, "a tombstoned version number must not be handed out again"
        assert await registry.get(VerifierRef("a", 2)) is None

        pinned = await registry.get(VerifierRef("b", 1))
        assert pinned is not None and pinned.spec.config == {"nested": {"ü": [1, 2.5, None]}}
        assert [r.ref for r in await registry.list()] == ["a@3", "b@1"]
        assert [r.ref for r in await registry.list(all_versions=True)] == ["a@1", "a@3", "b@1"]

        assert await registry.delete(VerifierRef("a")) == 2
        assert await registry.get(VerifierRef("a")) is None
        assert (await registry.register(VerifierSpec("a", "format", {}))).version == 4
    finally:
        await registry.aclose()


async def test_concurrent_registrations_get_distinct_versions(postgres_url: str):
    # Two stores stand in for two replicas: separate connection pools on one database.
    stores = [PostgresRegistry(postgres_url, max_connections=4) for _ in range(2)]
    try:
        records = await asyncio.gather(
            *(stores[i % 2].register(VerifierSpec("shared", "format", {"i": i})) for i in range(24))
        )
        assert sorted(r.version for r in records) == list(range(1, 25))
        listed = await stores[0].list(all_versions=True)
        assert sorted(r.spec.config["i"] for r in listed) == list(range(24))
    finally:
        for store in stores:
            await store.aclose()


async def test_schema_is_created_once_by_replicas_starting_together(postgres_url: str):
    stores = await asyncio.gather(*(asyncio.to_thread(PostgresRegistry, postgres_url) for _ in range(4)))
    try:
        assert await stores[3].list() == []
    finally:
        for store in stores:
            await store.aclose()


def test_unreachable_database_is_a_clear_config_error(postgres_cluster: str):
    bad = postgres_cluster.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(InvalidArgument) as raised:
        PostgresRegistry(bad, connect_timeout_s=5)
    assert raised.value.field == "registry_url"
    assert "no_such_database" in raised.value.message


def test_two_replicas_share_one_registry(start_server: StartServer, postgres_url: str):
    replicas = [start_server(extra_args=["--registry-url", postgres_url]) for _ in range(2)]
    a, b = (VerifierClient(r.address, timeout_s=60) for r in replicas)
    with a, b:
        info = a.register(specs.regex("starts-ok", "^ok"))
        assert info.version == 1
        results = b.score("starts-ok", ["ok then", "not ok"])
        assert [r.score for r in results] == [1.0, 0.0]
        assert b.get("starts-ok@1").version == 1

        versions: list[int] = []
        lock = threading.Lock()

        def register(client: VerifierClient, i: int) -> None:
            version = client.register(specs.regex("contended", f"p{i}")).version
            with lock:
                versions.append(version)

        threads = [threading.Thread(target=register, args=((a, b)[i % 2], i)) for i in range(10)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(versions) == list(range(1, 11))

        assert b.delete("starts-ok") == 1
        with pytest.raises(NotFoundError):
            a.score("starts-ok@1", ["ok"])
