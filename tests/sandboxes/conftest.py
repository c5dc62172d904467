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
from sandbox_probe import UID_BASE, UID_RANGE_SIZE

from sandboxes import Sandbox, available_backends, open_sandbox

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
    return open_sandbox("bwrap", forkserver=(name == "bwrap"), uid_base=UID_BASE, uid_range_size=UID_RANGE_SIZE)


@pytest_asyncio.fixture(scope="module", loop_scope="module", params=BACKENDS)
async def sandbox(request: pytest.FixtureRequest) -> AsyncIterator[Sandbox]:
    box = _open(request.param)
    try:
        yield box
    finally:
        await box.aclose()
