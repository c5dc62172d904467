"""Test support over the launcher: the fixture type, and a throwaway-namespace wrapper for destructive tests.

Tests start real servers with ``launcher.start_server_process`` (re-exported here, so test
modules import their server helpers from one place); training code uses ``launcher`` itself.
"""

from __future__ import annotations

from collections.abc import Callable

from verifier_server.launcher import REPO_ROOT, ServerProcess, start_server_process

__all__ = ["REPO_ROOT", "THROWAWAY_NAMESPACES", "ServerProcess", "StartServer", "start_server_process"]

StartServer = Callable[..., ServerProcess]
"""The ``start_server`` test fixture: starts a dedicated server (kwargs of ``start_server_process``)."""

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
