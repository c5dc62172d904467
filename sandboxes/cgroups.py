"""Per-slot cgroups (v1 memory, pids, cpuacct, freezer) that bound and measure a run's process tree.

A slot is one concurrent run. Its cgroups are created once and reused: before each run
the limits are rewritten and the counters reset; after each run every process still in
it is killed (frozen first, so a fork bomb cannot outrun the killer). Processes join by
writing "0" to a `cgroup.procs` fd opened here, which works from inside any namespace.
Where the host offers no writable v1 controllers (unprivileged, pure v2 without
delegation) `CgroupSlot.create` returns None and callers fall back to rlimits only.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpuacct", "freezer")


def _own_path(controller: str) -> str:
    """This process's cgroup in `controller`, so our slots nest under whatever confines us."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path.lstrip("/")
    return ""


def stale_slot_names(tag: str) -> list[str]:
    """Slot cgroup names `<tag>-<pid>-<n>` present in the pids hierarchy (for cleanup of dead servers)."""
    parent = ROOT / "pids" / _own_path("pids") / "sandboxes"
    try:
        return [p.name for p in parent.iterdir() if p.is_dir() and p.name.startswith(f"{tag}-")]
    except OSError:
        return []


@dataclass
class CgroupSlot:
    """The cgroups of one slot, one directory per controller."""

    name: str
    dirs: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def create(cls, name: str) -> CgroupSlot | None:
        """Create (or adopt) `sandboxes/<name>` in each controller; None if memory or pids is missing."""
        slot = cls(name)
        for controller in CONTROLLERS:
            base = ROOT / controller
            if not (base / "cgroup.procs").exists():
                continue
            path = base / _own_path(controller) / "sandboxes" / name
            try:
                path.mkdir(parents=True, exist_ok=True)
            except OSError:
                continue
            slot.dirs[controller] = path
        if "memory" not in slot.dirs or "pids" not in slot.dirs:
            slot.remove()
            return None
        return slot

    _fds: dict[str, int] = field(default_factory=dict)
    _limits: tuple[int, int] | None = None
    oom_kills_before: int = 0

    def _fd(self, controller: str, knob: str, flags: int) -> int:
        """Knob files stay open: a run touches about ten, and open/close would dominate."""
        key = f"{controller}/{knob}/{flags}"
        fd = self._fds.get(key)
        if fd is None:
            fd = self._fds[key] = os.open(self.dirs[controller] / knob, flags | os.O_CLOEXEC)
        return fd

    def _write(self, controller: str, knob: str, value: str) -> bool:
        if controller not in self.dirs:
            return False
        try:
            os.write(self._fd(controller, knob, os.O_WRONLY), value.encode())
            return True
        except OSError:
            return False

    def _read(self, controller: str, knob: str) -> str:
        try:
            return os.pread(self._fd(controller, knob, os.O_RDONLY), 65536, 0).decode()
        except (KeyError, OSError):
            return ""

    def _read_int(self, controller: str, knob: str) -> int | None:
        try:
            return int(self._read(controller, knob).split()[0])
        except (ValueError, IndexError):
            return None

    def prepare(self, memory_bytes: int, processes: int) -> None:
        """Empty the slot, set this run's limits (when they changed) and zero its counters."""
        if self.pids():
            self.kill_all()
        if self._limits != (memory_bytes, processes):
            self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            self._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))  # no swap escape hatch
            self._write("pids", "pids.max", str(processes))
            self._limits = (memory_bytes, processes)
        self._write("memory", "memory.max_usage_in_bytes", "0")
        self._write("memory", "memory.failcnt", "0")
        self._write("cpuacct", "cpuacct.usage", "0")
        self.oom_kills_before = self.oom_kills()

    def procs_fds(self) -> list[int]:
        """Write-only fds on each cgroup.procs (owned by the slot; send copies, never close them).

        Writing a pid (or b"0" for the writer itself) moves that process into the slot.
        """
        return [self._fd(controller, "cgroup.procs", os.O_WRONLY) for controller in self.dirs]

    def add(self, pid: int) -> None:
        """Move process `pid` (host pid) into the slot in every controller."""
        for fd in self.procs_fds():
            os.write(fd, str(pid).encode())

    def pids(self) -> list[int]:
        """Processes in the slot. Every process joins all controllers before it runs, so pids/ suffices.

        Opened afresh each time: v1 caches a pid list per open file, so a kept fd reads stale pids.
        """
        try:
            with open(self.dirs["pids"] / "cgroup.procs") as f:
                return [int(x) for x in f.read().split()]
        except (KeyError, OSError, ValueError):
            return []

    def kill_all(self, timeout_s: float = 5.0) -> bool:
        """SIGKILL every process in the slot; True once it is empty."""
        deadline = time.monotonic() + timeout_s
        frozen = False
        while pids := self.pids():
            if not frozen:
                frozen = self._write("freezer", "freezer.state", "FROZEN")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if frozen:
                self._write("freezer", "freezer.state", "THAWED")  # killed tasks only die once thawed
                frozen = False
            if time.monotonic() > deadline:
                return False
            time.sleep(0.0002)
        return True

    def peak_memory(self) -> int | None:
        return self._read_int("memory", "memory.max_usage_in_bytes")

    def cpu_time_s(self) -> float | None:
        ns = self._read_int("cpuacct", "cpuacct.usage")
        return None if ns is None else ns / 1e9

    def oom_kills(self) -> int:
        for line in self._read("memory", "memory.oom_control").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def hit_memory_limit(self) -> bool:
        """An OOM kill happened in this run, or an allocation failed at the limit."""
        failcnt = self._read_int("memory", "memory.failcnt") or 0
        return self.oom_kills() > self.oom_kills_before or failcnt > 0

    def hit_pids_limit(self) -> bool:
        current, limit = self._read_int("pids", "pids.current"), self._read_int("pids", "pids.max")
        return current is not None and limit is not None and current >= limit

    def remove(self) -> None:
        self.kill_all(timeout_s=2.0)
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                path.rmdir()
