"""Fixtures for the sandbox suites: one sandbox per backend per module, and a probe for surviving processes."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

# pytest puts tests/ on sys.path, where this directory looks like a namespace package named
# `sandboxes`; with the repository root also on sys.path the real (regular) package wins.
sys.path.append(str(Path(__file__).resolve().parents[2]))
if getattr(sys.modules.get("sandboxes"), "__file__", "") is None:
    del sys.modules["sandboxes"]

import pytest
import pytest_asyncio

from sandboxes import Sandbox, available_backends, open_sandbox

#: A uid range of our own for bwrap slots, so sandboxes that other processes on this host run
#: (default base 60000) are never mistaken for survivors of ours.
UID_BASE = 200_000 + (os.getpid() % 5000) * 64
#: uids our backends run programs as: bwrap slots and the docker image's nobody.
SANDBOX_UIDS = frozenset(range(UID_BASE, UID_BASE + 64)) | {65534}
#: The docker pool's idle containers run this as nobody; it is not a leftover of any run.
POOL_IDLE_CMDLINE = b"sleep\0infinity\0"

BACKENDS = [
    pytest.param("bwrap", id="bwrap"),
    pytest.param("bwrap-per-run", id="bwrap-per-run"),
    pytest.param("docker", id="docker", marks=pytest.mark.docker),
]


def _open(name: str) -> Sandbox:
    if name == "docker":
        reason = available_backends()["docker"]
        if reason != "ok":
            pytest.skip(f"docker backend unavailable: {reason}")
        from sandboxes.docker_backend import DEFAULT_IMAGES, DockerSandbox
        from sandboxes.docker_image import image_exists

        if not image_exists(DEFAULT_IMAGES["python"]):
            pytest.skip(f"image {DEFAULT_IMAGES['python']} not built; run python -m sandboxes.docker_image")
        return DockerSandbox(pool_size=2)
    if os.geteuid() != 0 and name == "bwrap":
        pytest.skip("the bwrap fork server needs root; bwrap-per-run covers unprivileged hosts")
    reason = available_backends()["bwrap"]
    if reason != "ok":
        pytest.skip(f"bwrap backend unavailable: {reason}")
    return open_sandbox("bwrap", forkserver=(name == "bwrap"), uid_base=UID_BASE)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    box = _open(request.param)
    try:
        yield box
    finally:
        await box.aclose()


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


async def assert_no_survivors(timeout_s: float = 5.0) -> None:
    """Poll (the kernel reaps asynchronously) until no sandboxed process is left, else fail naming them."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while (left := sandbox_processes()) and time.monotonic() < deadline:  # noqa: ASYNC110 - polling /proc
        await asyncio.sleep(0.02)
    assert not left, f"processes of a finished run survived: {left}"
