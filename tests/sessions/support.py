"""Helpers for session tests: a private session uid range per server, and a probe for their processes.

Each server a test starts gets its own block of session uids (derived from this process's pid),
so sessions of concurrently running test processes are never mistaken for survivors.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

_BLOCKS = itertools.count()
BLOCK = 40
MAX_SESSIONS = 16


def session_config(**overrides: Any) -> dict[str, Any]:
    """A server config with a fresh session uid block (room for MAX_SESSIONS session trees)."""
    base = 400_000 + (os.getpid() % 4000) * BLOCK * 8 + next(_BLOCKS) % 8 * BLOCK
    return {"session_uid_base": base, "max_sessions": MAX_SESSIONS, **overrides}


def session_processes(config: dict[str, Any]) -> list[tuple[int, str]]:
    """Live processes running as one of the config's session uids (zombies excluded)."""
    base = config["session_uid_base"]
    uids = range(base, base + 2 * config["max_sessions"])
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
        except (OSError, ValueError):
            continue
        if int(status["Uid"].split()[1]) in uids and status["State"].split()[0] not in ("Z", "X"):
            found.append((int(entry.name), cmdline))
    return found
