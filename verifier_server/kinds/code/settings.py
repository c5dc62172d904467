"""The ``[kinds.code]`` server settings: per-spec defaults, and the caps that bound one sample's work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class CodeSettings:
    """What the server's operator decides for every code spec; a spec may ask for less, never more.

    A spec field above its cap is refused at registration (INVALID_ARGUMENT naming the field),
    never silently lowered: the verifier would otherwise judge under limits its author did not set.
    """

    time_limit_s: float = 4.0
    """Default per-test time limit (CPU and wall) when a spec sets none."""
    memory_mb: int = 256
    """Default per-test memory limit when a spec sets none."""
    max_job_wall_s: float = 600.0
    """Wall-clock bound on one sample's whole job (compile + every test)."""
    max_time_limit_s: float = 120.0
    """Cap on a spec's `time_limit_s`."""
    max_compile_time_limit_s: float = 300.0
    """Cap on a spec's `compile_time_limit_s`."""
    max_memory_mb: int = 16384
    """Cap on a spec's `memory_mb`."""
    max_output_limit_bytes: int = 64 * MiB
    """Cap on a spec's per-test `output_limit_bytes`."""
    max_tests_per_sample: int = 1000
    """Most tests one sample may run; a spec's `max_tests` above it is refused, a sample with more is invalid_input."""
    max_report_bytes: int = 16 * MiB
    """Most bytes of per-test results (outputs, return values) the server holds for one sample."""
    processes: int = 64
    """Processes and threads alive at once: in each stdio run; in a harness job, the test harness's own included."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> CodeSettings:
        """From ``[kinds.code]``; a value of the wrong type raises ValueError naming the key."""
        values: dict[str, Any] = {}
        for spec in fields(cls):
            if spec.name not in settings:
                continue
            raw = settings[spec.name]
            kind = float if spec.type == "float" else int
            if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
                raise ValueError(f"[kinds.code] {spec.name}: must be a positive number, got {raw!r}")
            values[spec.name] = kind(raw)
        return cls(**values)
