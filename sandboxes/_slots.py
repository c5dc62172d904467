"""Concurrency slots: each concurrent run gets its own host uid, cgroups and work-dir mount point.

Distinct uids per slot mean two runs that happen to overlap can never signal, ptrace
or read each other's files even if both escaped their namespaces, and never share a
process limit; the uids are claimed exclusively per server (see _claims.py). The
cgroups are reused across runs (see cgroups.py). The pool size is the backend's concurrency.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import tempfile
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import _netns
from ._claims import OwnedDir, UidClaim, UidRange, claim_uids, orphans, owner_gone
from ._fairness import FairScheduler
from .cgroups import CgroupSlot, make_writable

log = logging.getLogger(__name__)
_libc = ctypes.CDLL(None, use_errno=True)
MNT_DETACH = 2
MS_NOSUID, MS_NODEV, MS_REMOUNT = 2, 4, 32


@dataclass
class Slot:
    index: int
    uid: int
    gid: int
    cgroup: CgroupSlot | None
    workdir: Path
    netns: Path | None = None
    """The slot's pinned network namespace (root only; see _netns.py)."""
    privileged: bool = False
    """Root with the capabilities of the full design: the work dir is a tmpfs owned by the slot's uid."""


RUN_DIR = Path("/run/sandboxes")


class SlotPool:
    """A fixed set of slots, handed out fairly across callers (see _fairness.py).

    As root, the pool claims its uids exclusively (see _claims.py) and owns its directory
    under /run/sandboxes by a lock, so what a crashed server left behind is collected by
    the next pool whatever pid namespace either ran in.
    """

    def __init__(self, size: int, *, uids: UidRange, tag: str, privileged: bool) -> None:
        self.privileged = privileged
        base = RUN_DIR if privileged else Path(tempfile.gettempdir())
        self.slots: list[Slot] = []
        # Uids first: a dead server frees them with its locks, so collecting after the claim
        # finds what it left (collecting first could run while it was still being torn down).
        self._uid_claims: list[UidClaim] = claim_uids(uids, size) if privileged else []
        self._dir: OwnedDir | None = None
        try:
            if privileged:
                remounted = make_writable()
                if remounted:
                    controllers = ",".join(remounted)
                    log.info("remounted the cgroup controllers %s read-write for the sandbox slots", controllers)
                collect_stale(base, tag)
            self._dir = OwnedDir.create(base, f"{tag}.")
            self.base = self._dir.path
            for i in range(size):
                self.slots.append(self._make_slot(i))
        except BaseException:
            self.close()
            raise
        # Round robin: the slot used longest ago goes next, so what the kernel still tears down of
        # a run (a pid namespace's last processes, counted against the uid) is gone by its turn.
        self._free = deque(self.slots)
        self._scheduler = FairScheduler(size)

    def _make_slot(self, i: int) -> Slot:
        uid = self._uid_claims[i].uid if self.privileged else os.getuid()
        gid = uid if self.privileged else os.getgid()
        cgroup = CgroupSlot.create(f"{self.base.name}-{i}") if self.privileged else None
        slot = Slot(i, uid, gid, cgroup, self.base / f"slot-{i}", privileged=self.privileged)
        try:
            slot.workdir.mkdir()
            if self.privileged:
                slot.netns = self.base / f"netns-{i}"
                _netns.create(slot.netns)
        except BaseException:
            # Not in self.slots yet, so close() would not find them: a half-made slot undoes itself.
            if cgroup is not None:
                cgroup.remove()
            if slot.netns is not None:
                _netns.remove(slot.netns)
            raise
        return slot

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Slot]:
        """A free slot, when the caller's turn comes (the caller is `current_caller()`)."""
        caller = await self._scheduler.acquire()
        slot = self._free.popleft()
        try:
            yield slot
        finally:
            self._free.append(slot)
            self._scheduler.release(caller)

    def close(self) -> None:
        for slot in self.slots:
            if slot.cgroup is not None:
                slot.cgroup.remove()
            if slot.netns is not None:
                _netns.remove(slot.netns)
            unmount_workdir(slot)
        self.slots.clear()
        if self._dir is not None:
            shutil.rmtree(self._dir.path, ignore_errors=True)
            self._dir.release()
            self._dir = None
        for claim in self._uid_claims:
            claim.release()
        self._uid_claims.clear()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _unmount_entries(pool_dir: Path) -> None:
    with contextlib.suppress(OSError):
        for entry in pool_dir.iterdir():
            while _libc.umount2(str(entry).encode(), MNT_DETACH) == 0:
                pass


def collect_stale(base: Path, tag: str) -> None:
    """Remove what pools of dead servers left behind (a crash skips `close`): mounts, dirs, cgroups.

    A pool is dead when nobody holds its lock (see _claims.OwnedDir). Pools of older
    versions (`<tag>-<pid>-...`, no lock) are judged by their pid, as those versions did.
    """
    from .cgroups import stale_slot_names

    for pool_dir, claim in orphans(base, f"{tag}."):
        _unmount_entries(pool_dir)
        shutil.rmtree(pool_dir, ignore_errors=True)
        claim.release(unlink=True)
    for pool_dir in base.glob(f"{tag}-*-*"):
        pid = pool_dir.name.split("-")[1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            _unmount_entries(pool_dir)
            shutil.rmtree(pool_dir, ignore_errors=True)
    for name in stale_slot_names(tag):
        pool, _, _index = name.rpartition("-")
        if pool.startswith(f"{tag}."):
            owner = owner_gone(base / pool)
            if owner is None:
                continue
            owner.release()
        else:
            pid = name.split("-")[1]
            if not pid.isdigit() or _pid_alive(int(pid)):
                continue
        stale = CgroupSlot.create(name)
        if stale is not None:
            stale.remove()


def mount_workdir(slot: Slot, size_bytes: int, inodes: int = 16384) -> None:
    """A fresh, size-capped tmpfs owned by the slot's uid (root); a plain empty dir otherwise."""
    unmount_workdir(slot)
    if not slot.workdir.exists():
        slot.workdir.mkdir()
    if slot.privileged:
        opts = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={slot.uid},gid={slot.gid}".encode()
        if _libc.mount(b"tmpfs", str(slot.workdir).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mounting the work dir tmpfs failed: {os.strerror(err)}")


def unmount_workdir(slot: Slot) -> None:
    """Drop the previous run's work dir entirely: nothing written there survives."""
    path = str(slot.workdir).encode()
    if slot.privileged:
        while _libc.umount2(path, MNT_DETACH) == 0:
            pass
    if slot.workdir.exists():
        for child in slot.workdir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()


@contextlib.contextmanager
def cleared_after(slot: Slot) -> Iterator[None]:
    """On leaving (however): every process of the slot killed, then its work dir dropped, ready for the next run."""
    try:
        yield
    finally:
        if slot.cgroup is not None:
            slot.cgroup.kill_all()
        unmount_workdir(slot)


def write_files(slot: Slot, files: dict[str, bytes], executables: frozenset[str] = frozenset()) -> None:
    """Write the job's files into the work dir, owned by the slot's uid (`executables` with the execute bit)."""
    for rel, content in files.items():
        path = slot.workdir / rel
        for parent in reversed(path.relative_to(slot.workdir).parents[:-1]):
            d = slot.workdir / parent
            if not d.exists():
                d.mkdir()
                os.chown(d, slot.uid, slot.gid) if slot.privileged else None
        path.write_bytes(content)
        if rel in executables:
            path.chmod(0o755)
        if slot.privileged:
            os.chown(path, slot.uid, slot.gid)
