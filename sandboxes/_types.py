"""The sandbox contract: what a job asks for (`Job`, `Limits`) and what a run reports (`Execution`).

Every backend consumes and produces exactly these types, so callers never learn which
backend ran a job. The types know nothing of rewards, gRPC or test cases.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

MiB = 1024 * 1024


class SandboxError(Exception):
    """A backend could not run a job at all (not the program's fault): setup, engine, kernel."""


@dataclass(frozen=True)
class Limits:
    """Kernel-enforced limits for one phase (compile or run) of a job. Safe by default."""

    wall_time_s: float = 10.0
    """Elapsed time before every process of the phase is killed (status TIMEOUT)."""
    cpu_time_s: float = 5.0
    """CPU seconds per process (RLIMIT_CPU); the wall limit bounds a tree of spinners."""
    memory_bytes: int = 256 * MiB
    """Memory of the whole process tree (cgroup) or per process (RLIMIT_AS) without cgroups."""
    processes: int = 64
    """Processes and threads alive at once in the job (pids cgroup / RLIMIT_NPROC)."""
    open_files: int = 64
    """File descriptors per process (RLIMIT_NOFILE)."""
    output_bytes: int = 1 * MiB
    """Bytes kept per stream (stdout, stderr); more kills the run with status OUTPUT_LIMIT."""
    file_size_bytes: int = 16 * MiB
    """Largest file a process may write (RLIMIT_FSIZE)."""
    workdir_bytes: int = 64 * MiB
    """Size of the private tmpfs work dir (and, separately, of /tmp)."""
    network: bool = False
    """Only the docker and unsafe-local backends can grant network; bwrap always denies it."""

    def __post_init__(self) -> None:
        for name in (
            "wall_time_s",
            "cpu_time_s",
            "memory_bytes",
            "processes",
            "open_files",
            "output_bytes",
            "file_size_bytes",
            "workdir_bytes",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be positive, got {getattr(self, name)!r}")


#: Compilers need more room than the programs they build (memory: each recipe's `compile_memory_bytes`).
DEFAULT_COMPILE_LIMITS = Limits(
    wall_time_s=30.0,
    cpu_time_s=20.0,
    memory_bytes=1024 * MiB,
    processes=64,
    open_files=256,
    output_bytes=256 * 1024,
    file_size_bytes=128 * MiB,
    workdir_bytes=256 * MiB,
)


@dataclass(frozen=True)
class Job:
    """One untrusted program to run: its files, how to start it, its input and limits."""

    language: str
    """Key of `LANGUAGES` (python, c, cpp, javascript, bash, java, rust, ...)."""
    files: Mapping[str, str | bytes]
    """Relative path in the work dir -> content. The entrypoint must be among them."""
    command: tuple[str, ...] | None = None
    """Argv to run instead of the language recipe's run command; None means the recipe's."""
    stdin: bytes | str = b""
    """The run's standard input (`Sandbox.run_many` takes one per run instead)."""
    limits: Limits = field(default_factory=Limits)
    compile_limits: Limits | None = None
    """Limits of the compile phase; None means `DEFAULT_COMPILE_LIMITS`."""
    entrypoint: str | None = None
    """File the recipe compiles/runs; None means `main.<ext>` of the language."""
    env: Mapping[str, str] = field(default_factory=dict)
    """Extra environment variables; the program otherwise gets a minimal fixed environment."""

    def __post_init__(self) -> None:
        for path in self.files:
            parts = path.split("/")
            if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ValueError(f"Job.files path {path!r} must be relative, without '.' or '..' parts")

    @property
    def stdin_bytes(self) -> bytes:
        return self.stdin.encode() if isinstance(self.stdin, str) else self.stdin

    def file_bytes(self) -> dict[str, bytes]:
        return {p: (c.encode() if isinstance(c, str) else c) for p, c in self.files.items()}


class ExecStatus(enum.Enum):
    """How a run ended, from the caller's point of view (decided once, by exits.classify)."""

    OK = "ok"
    NONZERO_EXIT = "nonzero_exit"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    COMPILE_ERROR = "compile_error"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True)
class Execution:
    """The result of one job. `signal` is set when the program was killed by a signal."""

    status: ExecStatus
    exit_code: int | None
    signal: int | None
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    wall_time_s: float
    cpu_time_s: float
    peak_memory_bytes: int | None
    compile_output: str = ""
    reason: str = ""
    """Human-readable why for any status but OK (which limit, which error)."""
    backend: str = ""

    @property
    def ok(self) -> bool:
        return self.status is ExecStatus.OK

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: text streams decoded with replacement, raw bytes in base64."""
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "stdout_b64": base64.b64encode(self.stdout).decode(),
            "stderr_b64": base64.b64encode(self.stderr).decode(),
            "stdout_truncated": self.stdout_truncated,
            "stderr_truncated": self.stderr_truncated,
            "wall_time_s": round(self.wall_time_s, 6),
            "cpu_time_s": round(self.cpu_time_s, 6),
            "peak_memory_bytes": self.peak_memory_bytes,
            "compile_output": self.compile_output,
            "reason": self.reason,
            "backend": self.backend,
        }


def sandbox_error(reason: str, backend: str, wall_time_s: float = 0.0) -> Execution:
    """An Execution for a run the backend could not carry out."""
    return Execution(
        ExecStatus.SANDBOX_ERROR,
        None,
        None,
        b"",
        b"",
        False,
        False,
        wall_time_s,
        0.0,
        None,
        reason=reason,
        backend=backend,
    )


@runtime_checkable
class Sandbox(Protocol):
    """A backend. `run` and `run_many` are safe to call concurrently; `aclose` kills warm state (pools, zygotes)."""

    name: str

    def languages(self) -> list[str]: ...

    async def run(self, job: Job) -> Execution: ...

    def run_many(self, job: Job, stdins: Sequence[bytes | str]) -> AsyncIterator[Execution]:
        """One program, many runs: compile once, then one run per stdin, in order, each a fresh process in a
        fresh work dir under the same isolation and `job.limits`; `job.stdin` is not used.

        Yields one Execution per stdin, each carrying the compile output. A compile that fails yields
        its Execution (COMPILE_ERROR, or SANDBOX_ERROR) and ends. A backend may keep one slot for the
        program's runs: a caller that stops early (judging each run as it comes) closes the iterator
        (`contextlib.aclosing`).
        """
        ...

    async def aclose(self) -> None: ...
