"""Turns what the kernel reported about a finished run into an `ExecStatus` and a reason, once for all backends."""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass

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
    """Best-effort memory-limit detection from the tail of stderr, for hosts without cgroups."""
    tail = stderr[-4096:]
    return any(marker in tail for marker in _OOM_MARKERS)


def classify(raw: RawOutcome, limits: Limits) -> tuple[ExecStatus, str]:
    """Order matters: a run killed for one limit often trips a second one on the way down."""
    if raw.error:
        return ExecStatus.SANDBOX_ERROR, raw.error
    if raw.output_overflow:
        return ExecStatus.OUTPUT_LIMIT, f"output exceeded {limits.output_bytes} bytes on a stream"
    if raw.wall_timeout:
        return ExecStatus.TIMEOUT, f"wall time limit of {limits.wall_time_s:g}s exceeded"
    if raw.signal == _signal.SIGXCPU or (raw.signal == _signal.SIGKILL and raw.cpu_time_s >= limits.cpu_time_s):
        return ExecStatus.TIMEOUT, f"CPU time limit of {limits.cpu_time_s:g}s exceeded"
    failed = raw.signal is not None or (raw.exit_code or 0) != 0
    if raw.memory_hit and failed:
        return ExecStatus.MEMORY, f"memory limit of {limits.memory_bytes} bytes exceeded"
    if raw.signal is not None:
        name = _signal.Signals(raw.signal).name if raw.signal in _signal.valid_signals() else str(raw.signal)
        return ExecStatus.NONZERO_EXIT, f"killed by signal {name}"
    if raw.exit_code:
        return ExecStatus.NONZERO_EXIT, f"exit code {raw.exit_code}"
    return ExecStatus.OK, ""


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
