"""A verifier server beside the trainer, for single-machine runs (``--serve-in-process``).

It is a child process rather than a thread: scoring (math-verify, regexes) would
otherwise compete with the training loop for the GIL, which is exactly the stall the
service exists to remove. The trainer talks to it through the SDK like any server.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)


@contextlib.contextmanager
def local_server(data_dir: Path) -> Iterator[str]:
    """Start a server on a free loopback port; yields its address; drains and stops it on exit."""
    from verifier_server.launcher import start_server_process

    server = start_server_process(data_dir)
    log.info("started a local verifier server at %s (log: %s)", server.address, server.log_path)
    try:
        yield server.address
    finally:
        server.stop()
