"""Helpers for session tests: a private sandbox uid range per server, and a probe for their processes.

Each server a test starts gets its own range of sandbox uids (derived from this process's pid),
from which it claims its slots' and its sessions' uids, so sessions of concurrently running
test processes are never mistaken for survivors.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

from tests.host_claims import process_uid_base

_BLOCKS = itertools.count()
MAX_SESSIONS = 16
#: Room for the slots (2 x cores by default) and two uids per session tree.
BLOCK = 2 * MAX_SESSIONS + 2 * (os.cpu_count() or 1) + 8
#: Servers one test process may start before a range is reused (the module servers live longest).
BLOCKS_PER_PROCESS = 256


def session_config(**overrides: Any) -> dict[str, Any]:
    """A server config with a fresh sandbox uid range (room for its slots and MAX_SESSIONS session trees)."""
    base = process_uid_base("sessions", BLOCK * BLOCKS_PER_PROCESS) + next(_BLOCKS) % BLOCKS_PER_PROCESS * BLOCK
    return {"sandbox_uid_base": base, "sandbox_uid_range_size": BLOCK, "max_sessions": MAX_SESSIONS, **overrides}


def session_processes(config: dict[str, Any]) -> list[tuple[int, str]]:
    """Live processes running as one of the config's sandbox uids (zombies excluded)."""
    base = config["sandbox_uid_base"]
    uids = range(base, base + config["sandbox_uid_range_size"])
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
