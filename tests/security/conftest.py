"""Fixtures for the security tests: the attacker's listener on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from security_support import Listener, serve_listener


@pytest.fixture
def listener() -> Iterator[Listener]:
    yield from serve_listener()
