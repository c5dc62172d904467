"""How a finished process is classified: one decision for a sandbox's runs and for the processes a trusted
program inside a sandbox starts.

Standard library only and no imports from this package, on purpose: the code kind ships this
file into its jobs, so its harness judges the candidate processes it starts exactly as the
sandbox judges a run (`_outcome.classify` is this function over a backend's facts). The
words are the values of `ExecStatus`. Runs on the sandbox's own Python (>= 3.9).
"""

from __future__ import annotations

import signal as _signal

OK = "ok"
NONZERO_EXIT = "nonzero_exit"
TIMEOUT = "timeout"
MEMORY = "memory"
OUTPUT_LIMIT = "output_limit"
SANDBOX_ERROR = "sandbox_error"


def classify(
    exit_code: int | None,
    signal: int | None,
    *,
    cpu_time_s: float,
    wall_time_limit_s: float,
    cpu_time_limit_s: float,
    memory_bytes: int,
    output_bytes: int,
    error: str = "",
    output_overflow: bool = False,
    wall_timeout: bool = False,
    memory_hit: bool = False,
) -> tuple[str, str]:
    """(status word, reason) for a process that ended with `exit_code` or by `signal`.

    Order matters: a run killed for one limit often trips a second one on the way down.
    `error` is a failure of the sandbox itself (the program never ran, or we lost it);
    `memory_hit` is evidence that memory ran out (the cgroup says so, or the program
    reported a failed allocation). A SIGKILL without evidence is the program's own exit
    by a signal: it may have sent it itself.
    """
    if error:
        return SANDBOX_ERROR, error
    if output_overflow:
        return OUTPUT_LIMIT, f"output exceeded {output_bytes} bytes on a stream"
    if wall_timeout:
        return TIMEOUT, f"wall time limit of {wall_time_limit_s:g}s exceeded"
    if signal == _signal.SIGXCPU or (signal == _signal.SIGKILL and cpu_time_s >= cpu_time_limit_s):
        return TIMEOUT, f"CPU time limit of {cpu_time_limit_s:g}s exceeded"
    failed = signal is not None or (exit_code or 0) != 0
    if memory_hit and failed:
        return MEMORY, f"memory limit of {memory_bytes} bytes exceeded"
    if signal is not None:
        name = _signal.Signals(signal).name if signal in _signal.valid_signals() else str(signal)
        return NONZERO_EXIT, f"killed by signal {name}"
    if exit_code:
        return NONZERO_EXIT, f"exit code {exit_code}"
    return OK, ""
