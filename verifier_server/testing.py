"""Test support over the launcher: the fixture type, and a throwaway-namespace wrapper for destructive tests.

Tests start real servers with ``start_server_process`` (the launcher's, with a test default for
sessions, see below), so test modules import their server helpers from one place; training
code uses ``launcher`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verifier_server import launcher
from verifier_server.launcher import REPO_ROOT, ServerProcess

__all__ = ["REPO_ROOT", "THROWAWAY_NAMESPACES", "ServerProcess", "StartServer", "start_server_process"]

StartServer = Callable[..., ServerProcess]
"""The ``start_server`` test fixture: starts a dedicated server (kwargs of ``start_server_process``)."""

TEST_MAX_SESSIONS = 8
"""Sessions a test server holds unless its config says otherwise (see `start_server_process`)."""


def start_server_process(
    data_dir: str | Path | None = None,
    *,
    config: dict[str, Any] | None = None,
    extra_args: list[str] | None = None,
    env: dict[str, str] | None = None,
    **options: Any,
) -> ServerProcess:
    """``launcher.start_server_process``, holding at most ``TEST_MAX_SESSIONS`` sessions unless told otherwise.

    Each session tree runs as two uids claimed at start from the host's shared sandbox uid
    range, and many test servers run at once on one machine: a server's default (64 trees)
    times a few dozen servers would fill it. ``config``'s ``max_sessions``, a ``--config``
    in ``extra_args`` or ``VERIFIER_MAX_SESSIONS`` (in ``env`` or ours) decide instead.
    """
    env = dict(env or {})
    told = "max_sessions" in (config or {}) or any(a.startswith("--config") for a in extra_args or [])
    if not told and "VERIFIER_MAX_SESSIONS" not in os.environ:
        env.setdefault("VERIFIER_MAX_SESSIONS", str(TEST_MAX_SESSIONS))
    return launcher.start_server_process(data_dir, config=config, extra_args=extra_args, env=env, **options)


#: An outer layer for destructive tests (root only): the server runs as pid 1 of its own pid,
#: mount, ipc and uts namespaces, so whatever a sandbox bug let through (a stray process, a
#: mount, a reboot or hostname call) stays in namespaces that vanish with the server.
#: SIGTERM to the wrapper reaches the server (--kill-child) for a normal drain.
THROWAWAY_NAMESPACES = [
    "unshare",
    "--pid",
    "--fork",
    "--kill-child=SIGTERM",
    "--mount",
    "--propagation",
    "private",
    "--mount-proc",
    "--ipc",
    "--uts",
]
