"""Probes for processes that outlive a sandboxed run, shared by the sandbox suites.

A module with its own name (not ``conftest``): several test folders have a conftest.py, and
``from conftest import ...`` resolves to whichever was imported first.
"""

from __future__ import annotations

from pathlib import Path

from tests.host_claims import process_uid_base

#: A uid range of our own for bwrap slots, so sandboxes that other processes on this host run
#: (default base 60000) are never mistaken for survivors of ours.
UID_RANGE_SIZE = 64
UID_BASE = process_uid_base("sandboxes", UID_RANGE_SIZE)
#: uids our backends run programs as: bwrap slots and the docker image's nobody.
SANDBOX_UIDS = frozenset(range(UID_BASE, UID_BASE + UID_RANGE_SIZE)) | {65534}
#: The docker pool's idle containers run this as nobody; it is not a leftover of any run.
POOL_IDLE_CMDLINE = b"sleep\0infinity\0"


def sandbox_processes() -> list[tuple[int, str]]:
    """Live host processes running as one of our sandbox uids (zombies hold no code; idle pool containers are
    not runs): must be empty between runs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines() if ":" in line)
            cmdline = (entry / "cmdline").read_bytes()
            cgroups = (entry / "cgroup").read_text()
        except (OSError, ValueError):
            continue  # exited meanwhile
        uid, state = int(status["Uid"].split()[1]), status["State"].split()[0]
        if uid == 65534 and "docker" not in cgroups:
            continue
        if uid in SANDBOX_UIDS and state not in ("Z", "X") and cmdline != POOL_IDLE_CMDLINE:
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode("utf-8", "replace")))
    return found


async def assert_no_survivors(timeout_s: float = 60.0) -> None:
    """Poll (the kernel reaps asynchronously) until no sandboxed process is left, else fail naming them.

    The limit is far above the reaping it waits for: on a busy machine killing a fork bomb's
    remnants can take seconds, and a real survivor is still there a minute later."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while (left := sandbox_processes()) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling /proc
        await asyncio.sleep(0.02)
    assert not left, f"processes of a finished run survived: {left}"
