"""The session contract: what a session may use (`SessionLimits`) and what a cell reports (`CellResult`).

A session is a sandboxed interpreter that lives across calls (see sessions.py); these types
are all a caller sees of it. They know nothing of rewards, gRPC or trainers.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

MiB = 1024 * 1024
LANGUAGES = ("python", "bash")


class SessionError(Exception):
    """A session could not be opened, forked or used (not a cell's fault): setup, kernel, a copy that failed checks."""


class SessionsFull(SessionError):
    """Every session tree this host has uids for is in use: a root session (and its forks) must close first."""


class SessionLost(SessionError):
    """The session's interpreter is gone (killed, out of memory, exited, timed out hard): its state is lost."""


@dataclass(frozen=True)
class SessionLimits:
    """Limits of one session; cell limits are per cell, the rest hold for the session as a whole."""

    cell_wall_time_s: float = 30.0
    """Default wall time of a cell (a call may ask for less or more, up to the server's cap)."""
    cell_cpu_time_s: float = 30.0
    """CPU seconds a cell may use (all its processes); past it the cell ends with status timeout."""
    memory_bytes: int = 512 * MiB
    """Memory of the session's whole process tree, files in its tmpfs included (cgroup)."""
    processes: int = 64
    """Processes and threads alive at once in the session (pids cgroup)."""
    disk_bytes: int = 64 * MiB
    """Size of each private tmpfs: /work, and /tmp (with /dev/shm)."""
    output_bytes: int = 1 * MiB
    """Bytes kept per stream per cell; the rest is dropped and the stream marked truncated."""
    open_files: int = 256
    """File descriptors per process (RLIMIT_NOFILE)."""
    file_size_bytes: int = 64 * MiB
    """Largest file a process may write (RLIMIT_FSIZE)."""
    cpu_lifetime_s: float = 3600.0
    """CPU seconds the interpreter may use over its whole life (RLIMIT_CPU)."""

    def __post_init__(self) -> None:
        for name in (
            "cell_wall_time_s",
            "cell_cpu_time_s",
            "memory_bytes",
            "processes",
            "disk_bytes",
            "output_bytes",
            "open_files",
            "file_size_bytes",
            "cpu_lifetime_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"SessionLimits.{name} must be positive, got {getattr(self, name)!r}")


class CellStatus(enum.Enum):
    """How a cell ended."""

    OK = "ok"
    ERROR = "error"
    """The cell raised (Python) or exited non-zero (bash); the session keeps its state."""
    TIMEOUT = "timeout"
    """The cell ran past its wall or CPU time; `session_lost` says whether the state survived."""
    LOST = "lost"
    """The session ended during the cell (killed, out of memory, exited); its state is gone."""


@dataclass(frozen=True)
class CellResult:
    """What one cell did. `result` is the repr of a Python cell's last expression ("" if none)."""

    status: CellStatus
    stdout: bytes
    stderr: bytes
    error: str = ""
    result: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_time_s: float = 0.0
    cpu_time_s: float = 0.0
    session_lost: bool = False
    """True when the session is gone after this cell (status lost, or a timeout that needed a kill)."""

    @property
    def ok(self) -> bool:
        return self.status is CellStatus.OK
