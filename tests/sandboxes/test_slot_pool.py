"""The slot pool's own resources: a pool that cannot be completed leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sandbox_probe import UID_BASE, UID_RANGE_SIZE

from sandboxes import _netns, cgroups
from sandboxes._claims import UidRange
from sandboxes._slots import SlotPool

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="slots with cgroups and network namespaces need root")


def slot_cgroups(tag: str) -> list[Path]:
    """The slot cgroups (in every controller) whose names start with `tag`."""
    found = []
    for controller in cgroups.CONTROLLERS:
        own = cgroups.own_dir(controller)
        if own is not None and (own / "sandboxes").is_dir():
            found.extend(p for p in (own / "sandboxes").iterdir() if p.name.startswith(tag))
    return found


def test_a_pool_whose_network_namespace_fails_removes_the_slots_it_made_injected_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second slot's namespace cannot be made (a kernel refusal we inject): the first slot, and the
    half-made second one's cgroups, are gone when the error reaches the caller."""
    made: list[Path] = []
    real_create = _netns.create

    def create_then_fail(path: Path) -> None:
        if made:
            raise OSError(f"could not create a network namespace at {path}: injected")
        real_create(path)
        made.append(path)

    monkeypatch.setattr(_netns, "create", create_then_fail)
    tag = f"slotpool-test-{os.getpid()}"
    with pytest.raises(OSError, match="injected"):
        SlotPool(2, uids=UidRange(UID_BASE, UID_RANGE_SIZE), tag=tag, privileged=True)
    assert made and not made[0].exists()
    assert slot_cgroups(tag) == []
