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

import pytest  # noqa: E402
import pytest_asyncio  # noqa: E402

from sandboxes import Sandbox, available_backends, open_sandbox  # noqa: E402

#: uids our backends run programs as: bwrap slots (60000 + slot) and the docker image's nobody.
SANDBOX_UIDS = frozenset(range(60000, 60100)) | {65534}
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
    return open_sandbox("bwrap", forkserver=(name == "bwrap"))


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    box = _open(request.param)
    try:
        yield box
    finally:
        await box.aclose()


def sandbox_processes() -> list[tuple[int, str]]:
    """Host processes running as a sandbox uid (excluding idle pool containers): must be empty between runs."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            uids = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("Uid:"))
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, StopIteration):
            continue
        if int(uids.split()[1]) in SANDBOX_UIDS and cmdline != POOL_IDLE_CMDLINE:
            found.append((int(entry.name), cmdline.replace(b"\0", b" ").decode("utf-8", "replace")))
    return found


async def assert_no_survivors(timeout_s: float = 5.0) -> None:
    """Poll (the kernel reaps asynchronously) until no sandboxed process is left, else fail naming them."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while (left := sandbox_processes()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not left, f"processes of a finished run survived: {left}"
