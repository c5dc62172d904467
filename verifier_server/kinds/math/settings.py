"""The ``[kinds.math]`` server settings: the shared worker pool, the verdict cache, and the cap on ``timeout_s``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from verifier_server.kinds.math.pool import DEFAULT_MEMORY_MB
from verifier_server.kinds.settings import KindSettings, cap, setting


@dataclass(frozen=True, slots=True)
class MathSettings(KindSettings):
    """What the server's operator decides for every math verifier on the server."""

    kind: ClassVar[str] = "math"

    workers: int = setting(0, minimum=0)
    """Worker processes of the shared pool; 0 follows the server's ``workers`` (0 there: one per core)."""
    start_method: str = setting("forkserver", choices=("forkserver", "spawn", "fork"))
    """How workers start (``multiprocessing``); ``forkserver`` starts each from a warm, import-ready parent."""
    worker_memory_mb: int = setting(DEFAULT_MEMORY_MB, minimum=0)
    """Address space each worker may allocate above its warm size (past it the item fails, the worker
    lives); 0 sets no cap."""
    cache_size: int = setting(100_000, minimum=0)
    """Verdicts remembered (LRU), shared by every math verifier; 0 keeps none."""
    cap_timeout_s: float = cap(60.0)
    """Most a spec's ``timeout_s`` (per parse or comparison) may be."""
