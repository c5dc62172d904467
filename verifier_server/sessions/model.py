"""The session domain types: server settings, what a client asks for, and what it is told about a session."""

from __future__ import annotations

from dataclasses import dataclass

from sandboxes.sessions import CellResult, SessionLimits
from verifier_server.config import ServerConfig

MiB = 1024 * 1024
MAX_OUTPUT_BYTES = 64 * MiB
"""Output a session may ask to keep per stream per cell, at most."""


@dataclass(frozen=True)
class SessionSettings:
    """This replica's session policy (from ServerConfig's ``*session*`` fields)."""

    max_sessions: int = 256
    max_trees: int = 64
    """Root sessions (with their forks) at once; each needs a uid pair claimed at start."""
    max_sessions_per_client: int = 64
    idle_ttl_s: float = 300.0
    max_lifetime_s: float = 3600.0
    max_cell_time_s: float = 300.0
    max_memory_bytes: int = 4096 * MiB
    max_processes: int = 256
    max_disk_bytes: int = 1024 * MiB
    retry_after_s: float = 0.5
    """Shortest retry-after hint sent when a cap is reached."""

    @property
    def trees(self) -> int:
        """Session trees this replica can hold: no more than sessions, and no more than it claims uids for."""
        return max(0, min(self.max_trees, self.max_sessions))

    @classmethod
    def from_config(cls, config: ServerConfig) -> SessionSettings:
        return cls(
            max_sessions=config.max_sessions,
            max_trees=config.max_session_trees,
            max_sessions_per_client=config.max_sessions_per_client,
            idle_ttl_s=config.session_idle_ttl_s,
            max_lifetime_s=config.session_max_lifetime_s,
            max_cell_time_s=config.session_max_cell_time_s,
            max_memory_bytes=config.session_max_memory_mb * MiB,
            max_processes=config.session_max_processes,
            max_disk_bytes=config.session_max_disk_mb * MiB,
            retry_after_s=config.retry_after_s,
        )


@dataclass(frozen=True)
class SessionOffer:
    """What sessions this replica offers (for GetCapabilities)."""

    languages: tuple[str, ...]
    max_sessions: int
    max_trees: int
    max_sessions_per_client: int
    max_fork: int
    ceilings: LimitsRequest
    """The most a session may ask for (idle TTL and lifetime are also the defaults)."""


@dataclass(frozen=True)
class LimitsRequest:
    """What a client asks for; 0 means the server's default. `grant` lowers anything above the ceilings."""

    cell_wall_time_s: float = 0.0
    cell_cpu_time_s: float = 0.0
    memory_bytes: int = 0
    processes: int = 0
    disk_bytes: int = 0
    output_bytes: int = 0
    idle_ttl_s: float = 0.0
    max_lifetime_s: float = 0.0

    @classmethod
    def ceilings(cls, settings: SessionSettings) -> LimitsRequest:
        """The most `grant` gives under `settings`."""
        return cls(
            cell_wall_time_s=settings.max_cell_time_s,
            cell_cpu_time_s=settings.max_cell_time_s,
            memory_bytes=settings.max_memory_bytes,
            processes=settings.max_processes,
            disk_bytes=settings.max_disk_bytes,
            output_bytes=MAX_OUTPUT_BYTES,
            idle_ttl_s=settings.idle_ttl_s,
            max_lifetime_s=settings.max_lifetime_s,
        )

    def grant(self, settings: SessionSettings) -> tuple[SessionLimits, float, float]:
        """(sandbox limits, idle ttl, lifetime) this replica grants; the ceilings are ``ceilings``'s, the one map
        from a limit to the setting that caps it."""
        default, ceiling = SessionLimits(), LimitsRequest.ceilings(settings)

        def pick(asked: float, fallback: float, most: float) -> float:
            return min(asked if asked > 0 else fallback, most)

        limits = SessionLimits(
            cell_wall_time_s=pick(self.cell_wall_time_s, default.cell_wall_time_s, ceiling.cell_wall_time_s),
            cell_cpu_time_s=pick(self.cell_cpu_time_s, default.cell_cpu_time_s, ceiling.cell_cpu_time_s),
            memory_bytes=int(pick(self.memory_bytes, default.memory_bytes, ceiling.memory_bytes)),
            processes=int(pick(self.processes, default.processes, ceiling.processes)),
            disk_bytes=int(pick(self.disk_bytes, default.disk_bytes, ceiling.disk_bytes)),
            output_bytes=int(pick(self.output_bytes, default.output_bytes, ceiling.output_bytes)),
            cpu_lifetime_s=settings.max_lifetime_s,
        )
        idle = pick(self.idle_ttl_s, settings.idle_ttl_s, ceiling.idle_ttl_s)
        lifetime = pick(self.max_lifetime_s, settings.max_lifetime_s, ceiling.max_lifetime_s)
        return limits, idle, lifetime


@dataclass(frozen=True)
class SessionInfo:
    """A live session as clients see it (times are Unix seconds)."""

    session_id: str
    language: str
    parent_id: str
    replica_id: str
    client_id: str
    created_at_unix_s: float
    idle_expires_at_unix_s: float
    lifetime_ends_at_unix_s: float
    limits: SessionLimits
    idle_ttl_s: float
    max_lifetime_s: float
    cells_run: int
    setup_result: CellResult | None = None


CellOutcome = CellResult
"""A cell's result, as the sandbox reports it."""
