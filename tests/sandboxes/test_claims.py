"""Host-wide claims: slot uids exclusive per sandbox, and what a dead server left behind collected by lock, not pid."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sandbox_probe import UID_BASE, UID_RANGE_SIZE

from sandboxes import Job, SandboxError, available_backends, open_sandbox
from sandboxes._claims import OwnedDir, UidRange, claim_uids, orphans, owner_gone
from sandboxes.bwrap import BwrapSandbox

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or available_backends()["bwrap"] != "ok", reason="slot uids are claimed as root, with bwrap"
)
REPO = Path(__file__).resolve().parents[2]


def bwrap(base: int, size: int, concurrency: int) -> BwrapSandbox:
    box = open_sandbox("bwrap", uid_base=base, uid_range_size=size, concurrency=concurrency)
    assert isinstance(box, BwrapSandbox)
    return box


async def test_sandboxes_sharing_a_range_get_disjoint_uids_and_a_full_range_is_refused() -> None:
    first = bwrap(UID_BASE, 4, 2)
    second = bwrap(UID_BASE, 4, 2)
    try:
        assert set(first.slot_uids()).isdisjoint(second.slot_uids())
        assert set(first.slot_uids()) | set(second.slot_uids()) == set(range(UID_BASE, UID_BASE + 4))
        with pytest.raises(SandboxError, match=rf"only 0 of the 1 sandbox uids.*pid {os.getpid()}"):
            bwrap(UID_BASE, 4, 1)
    finally:
        await first.aclose()
        await second.aclose()
    third = bwrap(UID_BASE, 4, 4)  # closing released them
    await third.aclose()


def test_a_range_smaller_than_the_concurrency_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="8 sandbox slots need 8 uids"):
        claim_uids(UidRange(UID_BASE, 4), 8, tmp_path)
    with pytest.raises(SandboxError, match="must lie within"):
        UidRange(10, 4)


#: A server stand-in that dies without closing anything: claims uids, runs one job (so its fork
#: server's root exists), reports what it owns, and waits to be killed.
DOOMED = """
import asyncio, json, sys
sys.path.insert(0, sys.argv[1])
from sandboxes import Job, open_sandbox
async def main():
    box = open_sandbox("bwrap", uid_base=int(sys.argv[2]), uid_range_size=2, concurrency=2)
    assert (await box.run(Job("python", {"main.py": "print(1)"}))).stdout == b"1\\n"
    pool = box.pool()
    print(json.dumps({"pool": str(pool.base), "root": str(box._forkserver._root.path),
                      "cgroups": [str(d) for s in pool.slots for d in s.cgroup.dirs.values()]}), flush=True)
    await asyncio.sleep(600)
asyncio.run(main())
"""


async def claimed_once_free(base: int, pool: Path, timeout_s: float = 120.0) -> BwrapSandbox:
    """The dead server's locks go when the kernel has torn it down, which outlives our wait() on its parent.

    The kernel closes a dying process's files one by one: its uids can come free while its pool's
    lock is still held, and a pool still locked belongs to a server not yet dead. So wait for both.
    """
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (claim := owner_gone(pool)) is None:
        assert asyncio.get_running_loop().time() < deadline, f"{pool} still locked {timeout_s} s after its owner died"
        await asyncio.sleep(0.05)
    claim.release()  # only looked: the successor collects it
    while True:
        try:
            return bwrap(base, 2, 2)
        except SandboxError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("own_pid_namespace", [False, True], ids=["host", "own-pid-namespace"])
async def test_a_killed_server_frees_its_uids_and_its_leftovers_are_collected(own_pid_namespace: bool) -> None:
    """A crash skips close(): the uids come free with the dead process's locks, and the next pool and fork
    server remove its pool dir, cgroups and zygote root, whatever pid it had in whatever namespace."""
    base = UID_BASE + UID_RANGE_SIZE // 2
    wrapper = ["unshare", "--pid", "--fork", "--mount-proc"] if own_pid_namespace else []
    doomed = subprocess.Popen(  # noqa: ASYNC220 - started once, read from a thread
        [*wrapper, sys.executable, "-c", DOOMED, str(REPO), str(base)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert doomed.stdout is not None
        owned = json.loads(await asyncio.wait_for(asyncio.to_thread(doomed.stdout.readline), 120))
        with pytest.raises(SandboxError, match="other live servers hold"):
            bwrap(base, 2, 1)
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait()
    successor = await claimed_once_free(base, Path(owned["pool"]))
    try:
        assert sorted(successor.slot_uids()) == [base, base + 1]
        assert (await successor.run(Job("python", {"main.py": "print(2)"}))).stdout == b"2\n"
        owned_paths = (owned["pool"], owned["pool"] + ".lock", owned["root"], *owned["cgroups"])
        left = [path for path in owned_paths if Path(path).exists()]
        assert not left, f"left behind by the dead server: {left}"
    finally:
        await successor.aclose()


def test_a_live_owners_directory_is_never_collected(tmp_path: Path) -> None:
    live = OwnedDir.create(tmp_path, "pool.")
    dead_dir = tmp_path / "pool.0123"  # a directory whose lock is gone: its owner released it or died
    dead_dir.mkdir()
    found = dict(orphans(tmp_path, "pool."))
    assert set(found) == {dead_dir}
    for path, claim in found.items():
        path.rmdir()
        claim.release(unlink=True)
    live.path.rmdir()
    live.release()
    assert not any(tmp_path.iterdir())
