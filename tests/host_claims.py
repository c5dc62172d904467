"""What a test process claims on the shared host, kept apart from every other test process.

Tests run in several processes at once (pytest-xdist) on a machine that also runs other work,
so a port or a sandbox uid that one process relies on must never be one another can take.
"""

from __future__ import annotations

import os
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


#: Sandbox uid bands, one per scheme of test uid ranges: band -> (first uid, process slots).
#: A process takes the slot its pid picks, so two processes share a uid only if their pids
#: pick the same slot of the same band; the default range servers share (60000+) is below all.
UID_BANDS: dict[str, tuple[int, int]] = {
    "sandboxes": (1_000_000, 5000),
    "server_isolation": (2_000_000, 1000),
    "deploy_image": (3_000_000, 1000),
    "adversarial_service": (50_000_000, 1000),
    "sessions": (100_000_000, 4000),
}


def process_uid_base(band: str, uids_per_process: int) -> int:
    """The first uid of this process's slot in ``band`` (``uids_per_process`` uids long)."""
    first, slots = UID_BANDS[band]
    later = [start for start, _ in UID_BANDS.values() if start > first]
    assert not later or first + slots * uids_per_process <= min(later), f"uid band {band!r} overruns the next"
    return first + (os.getpid() % slots) * uids_per_process
