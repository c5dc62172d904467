"""What ``LimitsRequest.grant`` gives: the server's default for 0, the ask up to its ceiling, never above."""

from __future__ import annotations

import dataclasses

from sandboxes.sessions import SessionLimits
from verifier_server.sessions.model import MAX_OUTPUT_BYTES, LimitsRequest, SessionSettings

SETTINGS = SessionSettings(max_cell_time_s=20.0, max_memory_bytes=2 << 30, max_processes=100, max_disk_bytes=1 << 30)


def test_zero_asks_get_the_defaults():
    limits, idle, lifetime = LimitsRequest().grant(SETTINGS)
    default = SessionLimits()
    assert (limits.cell_wall_time_s, limits.cell_cpu_time_s) == (20.0, 20.0)  # the default 30 s, over the cap
    assert (limits.memory_bytes, limits.processes) == (default.memory_bytes, default.processes)
    assert (limits.disk_bytes, limits.output_bytes) == (default.disk_bytes, default.output_bytes)
    assert (idle, lifetime, limits.cpu_lifetime_s) == (SETTINGS.idle_ttl_s, SETTINGS.max_lifetime_s, 3600.0)


def test_asks_are_granted_up_to_the_ceilings_and_no_further():
    modest = LimitsRequest(5.0, 4.0, 1 << 20, 8, 1 << 20, 1 << 10, 60.0, 120.0)
    limits, idle, lifetime = modest.grant(SETTINGS)
    assert (limits.cell_wall_time_s, limits.cell_cpu_time_s, limits.memory_bytes) == (5.0, 4.0, 1 << 20)
    assert (limits.processes, limits.disk_bytes, limits.output_bytes, idle, lifetime) == (
        8,
        1 << 20,
        1 << 10,
        60.0,
        120.0,
    )
    greedy = LimitsRequest(*(1e12 for _ in dataclasses.fields(LimitsRequest)))
    limits, idle, lifetime = greedy.grant(SETTINGS)
    ceilings = LimitsRequest.ceilings(SETTINGS)
    granted = LimitsRequest(
        limits.cell_wall_time_s, limits.cell_cpu_time_s, limits.memory_bytes, limits.processes, limits.disk_bytes,
        limits.output_bytes, idle, lifetime,
    )  # fmt: skip
    assert granted == ceilings and ceilings.output_bytes == MAX_OUTPUT_BYTES
    assert isinstance(limits.memory_bytes, int) and isinstance(limits.processes, int)
