"""Turns what the kernel reported about a finished run into an `ExecStatus` and a reason, once for all backends."""

from __future__ import annotations

from dataclasses import dataclass

from . import exits
from ._types import ExecStatus, Execution, Limits


@dataclass
class RawOutcome:
    """Facts a backend gathered: how the process ended and which limits tripped."""

    exit_code: int | None = None
    signal: int | None = None
    wall_timeout: bool = False
    output_overflow: bool = False
    memory_hit: bool = False
    cpu_time_s: float = 0.0
    error: str = ""


#: What programs print when an allocation fails under RLIMIT_AS (no cgroup to ask).
_OOM_MARKERS = (
    b"MemoryError",
    b"std::bad_alloc",
    b"Cannot allocate memory",
    b"out of memory",
    b"OutOfMemoryError",
    b"JavaScript heap out of memory",
)


def looks_like_oom(stderr: bytes) -> bool:
    """The program said an allocation failed (the tail of its stderr): evidence of memory beside the cgroup's.

    Without cgroups it is the only evidence (RLIMIT_AS makes allocations fail); with them, an
    allocation the kernel refuses outright (far beyond the machine) fails the same way. A
    program can print it falsely, which only turns its failed run's word from nonzero_exit to memory.
    """
    tail = stderr[-4096:]
    return any(marker in tail for marker in _OOM_MARKERS)


def classify(raw: RawOutcome, limits: Limits) -> tuple[ExecStatus, str]:
    """The one classification (exits.py) over what a backend gathered."""
    word, reason = exits.classify(
        raw.exit_code,
        raw.signal,
        cpu_time_s=raw.cpu_time_s,
        wall_time_limit_s=limits.wall_time_s,
        cpu_time_limit_s=limits.cpu_time_s,
        memory_bytes=limits.memory_bytes,
        output_bytes=limits.output_bytes,
        error=raw.error,
        output_overflow=raw.output_overflow,
        wall_timeout=raw.wall_timeout,
        memory_hit=raw.memory_hit,
    )
    return ExecStatus(word), reason


def finish(
    raw: RawOutcome,
    limits: Limits,
    *,
    stdout: bytes,
    stderr: bytes,
    stdout_truncated: bool,
    stderr_truncated: bool,
    wall_time_s: float,
    peak_memory_bytes: int | None,
    backend: str,
) -> Execution:
    """The `Execution` every backend returns for a finished run: classified once, here."""
    status, reason = classify(raw, limits)
    return Execution(
        status,
        raw.exit_code,
        raw.signal,
        stdout,
        stderr,
        stdout_truncated,
        stderr_truncated,
        wall_time_s,
        raw.cpu_time_s,
        peak_memory_bytes,
        reason=reason,
        backend=backend,
    )


def compile_failed(compilation: Execution, wall_time_s: float, compile_output: str, backend: str) -> Execution:
    """The run's result when its compile step did not succeed: the program never ran.

    A sandbox failure while compiling stays SANDBOX_ERROR (not the candidate's fault);
    anything else the compiler reported is COMPILE_ERROR.
    """
    failed = compilation.status is ExecStatus.SANDBOX_ERROR
    return Execution(
        ExecStatus.SANDBOX_ERROR if failed else ExecStatus.COMPILE_ERROR,
        compilation.exit_code,
        compilation.signal,
        b"",
        b"",
        False,
        False,
        wall_time_s,
        compilation.cpu_time_s,
        compilation.peak_memory_bytes,
        compile_output=compile_output,
        reason=f"compile failed: {compilation.reason}",
        backend=backend,
    )
