"""Concurrency slots: each concurrent run gets its own host uid, cgroups and work-dir mount point.

Distinct uids per slot mean two runs that happen to overlap can never signal, ptrace
or read each other's files even if both escaped their namespaces; the cgroups are
reused across runs (see cgroups.py). The pool size is the backend's concurrency.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from . import _netns
from .cgroups import CgroupSlot

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


class SlotPool:
    """A fixed set of slots handed out by an asyncio queue."""

    def __init__(self, size: int, *, uid_base: int, tag: str, privileged: bool) -> None:
        self.privileged = privileged
        base = Path("/run/sandboxes") if privileged else Path(tempfile.gettempdir())
        base.mkdir(parents=True, exist_ok=True)
        if privileged:
            collect_stale(base, tag)
        self.base = Path(tempfile.mkdtemp(prefix=f"{tag}-{os.getpid()}-", dir=base))
        self.base.chmod(0o711)
        self.slots: list[Slot] = []
        self._free: asyncio.Queue[Slot] = asyncio.Queue()
        for i in range(size):
            uid = uid_base + i if privileged else os.getuid()
            gid = uid_base + i if privileged else os.getgid()
            cgroup = CgroupSlot.create(f"{tag}-{os.getpid()}-{i}") if privileged else None
            slot = Slot(i, uid, gid, cgroup, self.base / f"slot-{i}")
            slot.workdir.mkdir()
            if privileged:
                slot.netns = self.base / f"netns-{i}"
                _netns.create(slot.netns)
            self.slots.append(slot)
            self._free.put_nowait(slot)

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[Slot]:
        slot = await self._free.get()
        try:
            yield slot
        finally:
            self._free.put_nowait(slot)

    def close(self) -> None:
        for slot in self.slots:
            if slot.cgroup is not None:
                slot.cgroup.remove()
            if slot.netns is not None:
                _netns.remove(slot.netns)
            unmount_workdir(slot)
        shutil.rmtree(self.base, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def collect_stale(base: Path, tag: str) -> None:
    """Remove what pools of dead server processes left behind (a crash skips `close`): mounts, dirs, cgroups."""
    from .cgroups import CgroupSlot, stale_slot_names

    for pool_dir in base.glob(f"{tag}-*-*"):
        pid = pool_dir.name.split("-")[1]
        if not pid.isdigit() or _pid_alive(int(pid)):
            continue
        for entry in pool_dir.iterdir():
            while _libc.umount2(str(entry).encode(), MNT_DETACH) == 0:
                pass
        shutil.rmtree(pool_dir, ignore_errors=True)
    for name in stale_slot_names(tag):
        pid = name.split("-")[1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            stale = CgroupSlot.create(name)
            if stale is not None:
                stale.remove()


def mount_workdir(slot: Slot, size_bytes: int, inodes: int = 16384) -> None:
    """A fresh, size-capped tmpfs owned by the slot's uid (root); a plain empty dir otherwise."""
    unmount_workdir(slot)
    if not slot.workdir.exists():
        slot.workdir.mkdir()
    if os.geteuid() == 0:
        opts = f"size={size_bytes},nr_inodes={inodes},mode=0700,uid={slot.uid},gid={slot.gid}".encode()
        if _libc.mount(b"tmpfs", str(slot.workdir).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mounting the work dir tmpfs failed: {os.strerror(err)}")


def resize_workdir(slot: Slot, size_bytes: int) -> None:
    """Shrink the work dir to the run phase's limit after a compile phase needed more (never below its usage)."""
    if os.geteuid() != 0:
        return
    st = os.statvfs(slot.workdir)
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    opts = f"size={max(size_bytes, used)}".encode()
    _libc.mount(b"tmpfs", str(slot.workdir).encode(), b"tmpfs", MS_REMOUNT | MS_NOSUID | MS_NODEV, opts)


def unmount_workdir(slot: Slot) -> None:
    """Drop the previous run's work dir entirely: nothing written there survives."""
    path = str(slot.workdir).encode()
    if os.geteuid() == 0:
        while _libc.umount2(path, MNT_DETACH) == 0:
            pass
    if slot.workdir.exists():
        for child in slot.workdir.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()


def write_files(slot: Slot, files: dict[str, bytes]) -> None:
    """Write the job's files into the work dir, owned by the slot's uid."""
    for rel, content in files.items():
        path = slot.workdir / rel
        for parent in reversed(path.relative_to(slot.workdir).parents[:-1]):
            d = slot.workdir / parent
            if not d.exists():
                d.mkdir()
                os.chown(d, slot.uid, slot.gid) if os.geteuid() == 0 else None
        path.write_bytes(content)
        if os.geteuid() == 0:
            os.chown(path, slot.uid, slot.gid)
