"""A loopback address nothing answers on, for tests of a server that is down."""

from __future__ import annotations

import socket

_held: socket.socket | None = None


def refused_address() -> str:
    """``127.0.0.1:PORT`` where PORT stays bound by this test process but never listens.

    Every connect is refused at once, and, unlike a port bound and released, no other process
    (another test worker's server started on port 0) can take it while the tests run.
    """
    global _held
    if _held is None:
        _held = socket.socket()
        _held.bind(("127.0.0.1", 0))
    return f"127.0.0.1:{_held.getsockname()[1]}"
