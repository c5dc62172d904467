"""Fixtures for operations tests: a real throwaway PostgreSQL cluster, replica sets, metrics polling.

The cluster comes from ``scripts/start_postgres.sh`` (initdb + pg_ctl as the ``postgres``
user on a free loopback port), started once per session; each test gets its own
database so tests never see each other's verifiers.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
START_POSTGRES = REPO_ROOT / "scripts" / "start_postgres.sh"
T = TypeVar("T")


def _postgres_binaries() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb") is not None


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[str]:
    """URL of a PostgreSQL server that lives for the session (its ``postgres`` database)."""
    if not _postgres_binaries():
        pytest.skip("PostgreSQL binaries not installed (apt-get install postgresql); needed for the shared registry")
    started = subprocess.run([str(START_POSTGRES)], capture_output=True, text=True, timeout=120)
    if started.returncode != 0:
        pytest.fail(f"could not start PostgreSQL:\n{started.stderr}")
    url, directory = started.stdout.split()
    yield url
    subprocess.run([str(START_POSTGRES), "--stop", directory], check=False, timeout=60)
    shutil.rmtree(directory, ignore_errors=True)


_database_numbers = itertools.count()


@pytest.fixture
def postgres_url(postgres_cluster: str) -> str:
    """A fresh, empty database on the session's cluster."""
    name = f"registry_{next(_database_numbers)}_{time.monotonic_ns()}"
    with psycopg.connect(postgres_cluster, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_cluster.rsplit("/", 1)[0] + f"/{name}"
