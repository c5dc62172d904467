"""The ``[kinds.code]`` server settings: per-spec defaults, and the caps that bound one sample's work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from verifier_server.kinds.settings import KindSettings, setting

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CodeSettings(KindSettings):
    """What the server's operator decides for every code spec; a spec may ask for less, never more.

    A spec field above its cap (``cap_<field>``) is refused at registration (INVALID_ARGUMENT naming
    the field), never silently lowered: the verifier would otherwise judge under limits its author
    did not set.
    """

    kind: ClassVar[str] = "code"
    renamed: ClassVar[dict[str, str]] = {
        "max_time_limit_s": "cap_time_limit_s",
        "max_compile_time_limit_s": "cap_compile_time_limit_s",
        "max_memory_mb": "cap_memory_mb",
        "max_output_limit_bytes": "cap_output_limit_bytes",
        "max_tests_per_sample": "cap_max_tests",
    }

    time_limit_s: float = setting(4.0, positive=True)
    """Default per-test time limit (CPU and wall) when a spec sets none."""
    memory_mb: int = setting(256, positive=True)
    """Default per-test memory limit when a spec sets none."""
    max_job_wall_s: float = setting(600.0, positive=True)
    """Wall-clock bound on one sample's whole job (compile + every test)."""
    cap_time_limit_s: float = setting(120.0, positive=True)
    """Cap on a spec's `time_limit_s`."""
    cap_compile_time_limit_s: float = setting(300.0, positive=True)
    """Cap on a spec's `compile_time_limit_s`."""
    cap_memory_mb: int = setting(16384, positive=True)
    """Cap on a spec's `memory_mb`."""
    cap_output_limit_bytes: int = setting(64 * MiB, positive=True)
    """Cap on a spec's per-test `output_limit_bytes`."""
    cap_max_tests: int = setting(1000, positive=True)
    """Most tests one sample may run; a spec's `max_tests` above it is refused, a sample with more is invalid_input."""
    max_report_bytes: int = setting(16 * MiB, positive=True)
    """Most bytes of per-test results (outputs, return values) the server holds for one sample."""
    processes: int = setting(64, positive=True)
    """Processes and threads alive at once: in each stdio run; in a harness job, the test harness's own included."""
