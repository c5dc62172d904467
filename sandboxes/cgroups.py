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
import ctypes
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CONTROLLERS = ("memory", "pids", "cpuacct", "freezer")
_libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND = 1, 2, 4, 8, 32, 4096


def _own_path(controller: str) -> str:
    """This process's cgroup in `controller` as /proc/self/cgroup names it (relative to our cgroup namespace)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, names, path = line.split(":", 2)
            if controller in names.split(","):
                return path.lstrip("/")
    return ""


@dataclass(frozen=True)
class _Mount:
    point: Path
    root: str
    """The cgroup this mount shows at its mount point (a container sees only its own subtree)."""
    read_only: bool


def _v1_mount(controller: str) -> _Mount | None:
    """The cgroup v1 mount of `controller`, from /proc/self/mountinfo."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            fields = line.split()
            sep = fields.index("-")
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")
            if fstype == "cgroup" and controller in options:
                return _Mount(Path(fields[4]), fields[3].strip("/"), "ro" in fields[5].split(","))
    return None


def own_dir(controller: str) -> Path | None:
    """The directory of our own cgroup in `controller`, so our slots nest under whatever confines us.

    Resolved through the mount's root: a container whose cgroup is mounted at
    /sys/fs/cgroup/<controller> while /proc/self/cgroup names its full path still
    finds itself (None when our cgroup is not visible under the mount).
    """
    mount = _v1_mount(controller)
    if mount is None:
        return None
    own = _own_path(controller)
    if mount.root and own != mount.root and not own.startswith(mount.root + "/"):
        return None
    return mount.point / own[len(mount.root) :].lstrip("/")


def make_writable(controllers: tuple[str, ...] = CONTROLLERS) -> list[str]:
    """As root, remount read-only controller mounts read-write (Docker and Kubernetes mount them read-only).

    Only the mount's flag changes (a bind remount): what it shows stays our own subtree
    under a private cgroup namespace. Returns the controllers remounted.
    """
    remounted: list[str] = []
    if os.geteuid() != 0:
        return remounted
    for controller in controllers:
        mount = _v1_mount(controller)
        if mount is None or not mount.read_only:
            continue
        flags = MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC
        if _libc.mount(None, str(mount.point).encode(), None, flags, None) == 0:
            remounted.append(controller)
    return remounted


def unavailable_reason() -> str:
    """Why slots get no cgroups here, in a sentence that says what to change ("" when they do)."""
    if (ROOT / "cgroup.controllers").exists():
        return (
            "this host has only the cgroup v2 (unified) hierarchy, and the sandbox needs cgroup v1 memory, pids, "
            "cpuacct and freezer controllers (boot the node with systemd.unified_cgroup_hierarchy=0)"
        )
    problems = []
    for controller in ("memory", "pids"):
        mount = _v1_mount(controller)
        directory = own_dir(controller)
        if mount is None:
            problems.append(f"no cgroup v1 {controller} controller is mounted")
        elif directory is None:
            problems.append(
                f"our own {controller} cgroup is not visible under {mount.point} (run in a private cgroup namespace)"
            )
        elif mount.read_only:
            problems.append(f"{mount.point} is mounted read-only (needs CAP_SYS_ADMIN to remount it)")
        elif not os.access(directory, os.W_OK):
            problems.append(f"{directory} is not writable (the server must run as root)")
    return "; ".join(problems) or "creating the slot cgroups failed"


def stale_slot_names(tag: str) -> list[str]:
    """Slot cgroup names `<tag>...` present in the pids hierarchy (for cleanup of dead servers)."""
    own = own_dir("pids")
    if own is None:
        return []
    try:
        return [p.name for p in (own / "sandboxes").iterdir() if p.is_dir() and p.name.startswith(tag)]
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
            own = own_dir(controller)
            if own is None or not (own / "cgroup.procs").exists():
                continue
            path = own / "sandboxes" / name
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
        if not self.empty():
            self.kill_all()
        if self._limits != (memory_bytes, processes):
            # memory.limit may never exceed memsw.limit (no swap escape hatch): lowering writes the
            # first, raising needs the second first; writing memory twice covers both directions.
            self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            self._write("memory", "memory.memsw.limit_in_bytes", str(memory_bytes))
            self._write("memory", "memory.limit_in_bytes", str(memory_bytes))
            self._write("pids", "pids.max", str(processes))
            self._limits = (memory_bytes, processes)
        self.reset_counters()

    def reset_counters(self) -> None:
        """Zero what a run is measured by (peak memory, allocation failures, CPU time, OOM kills)."""
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

    def empty(self) -> bool:
        """No process is in the slot: its pids counter, read through a kept fd (no open per run), is 0.

        A task is counted from its fork until it is reaped, longer than cgroup.procs lists it,
        so 0 here means cgroup.procs is empty too; anything else (or no answer) is not empty.
        """
        return self._read_int("pids", "pids.current") == 0

    def kill_all(self, timeout_s: float = 5.0, spare: int | None = None, wait: bool = True) -> bool:
        """SIGKILL every process in the slot but `spare`; True once none other is left.

        `wait=False` returns after one round: every process then has SIGKILL pending and runs no
        more of its own code, but may still be leaving (and counted); `prepare` waits for them.
        """
        if spare is None and self.empty():
            return True
        deadline = time.monotonic() + timeout_s
        frozen = False
        while pids := [pid for pid in self.pids() if pid != spare]:
            if not frozen:
                frozen = self._write("freezer", "freezer.state", "FROZEN")
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if frozen:
                self._write("freezer", "freezer.state", "THAWED")  # killed tasks only die once thawed
                frozen = False
            if not wait:
                return False
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
