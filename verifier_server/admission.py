"""Admission control: a bound on samples in flight per kind, and per client within it.

When a kind is full the request fails fast with RESOURCE_EXHAUSTED and a retry-after
hint (the SDK waits that long and retries) instead of queueing without bound: a GRPO
step on N ranks would otherwise pile work up until every caller's deadline passes.
The per-client share keeps one training job from starving another that shares the
fleet: a client may hold at most ``per_client_fraction`` of a kind's capacity while
others are waiting or active. ``client`` is ``identity.Caller.client``: the bearer
token's identity when auth is on, so a caller cannot rotate ids to escape its share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

from verifier_server.errors import ResourceExhausted


@dataclass(frozen=True)
class AdmissionLimits:
    max_inflight_samples: int = 0
    """Samples in flight per kind; 0 disables admission control."""
    per_client_fraction: float = 1.0
    """Share of a kind's capacity one client may hold when other clients are active."""
    retry_after_s: float = 0.5
    """Hint sent with RESOURCE_EXHAUSTED."""
    per_kind: Mapping[str, int] | None = None
    """Overrides of ``max_inflight_samples`` by kind name."""

    def limit_for(self, kind: str) -> int:
        if self.per_kind and kind in self.per_kind:
            return self.per_kind[kind]
        return self.max_inflight_samples


class AdmissionController:
    """Counts samples in flight; ``admit`` raises ``ResourceExhausted`` when a bound is hit."""

    def __init__(self, limits: AdmissionLimits | None = None) -> None:
        self.limits = limits or AdmissionLimits()
        self._inflight: dict[str, int] = defaultdict(int)
        self._by_client: dict[tuple[str, str], int] = defaultdict(int)
        self._clients_active: dict[str, int] = defaultdict(int)
        """Clients holding samples of each kind (kept, not recounted: admitting is O(1) however many)."""

    def inflight(self, kind: str) -> int:
        return self._inflight.get(kind, 0)

    def admit(self, kind: str, samples: int, client: str = "") -> Ticket:
        """Reserve capacity now (raising ``ResourceExhausted`` if there is none); the
        returned ticket releases it when its ``with`` block ends."""
        if samples <= 0:  # holds nothing, so it neither counts as an active client nor releases anything
            return Ticket(self, kind, client, 0, released=True)
        limit = self.limits.limit_for(kind)
        if limit > 0:
            current = self._inflight[kind]
            # A batch larger than the whole limit still runs when the kind is idle,
            # otherwise it could never succeed.
            if current > 0 and current + samples > limit:
                raise ResourceExhausted(
                    f"{kind} verifiers are at capacity ({current} of {limit} samples in flight); retry shortly",
                    self.limits.retry_after_s,
                )
            clients_active = self._clients_active[kind]
            held = self._by_client.get((kind, client), 0)
            share = int(limit * self.limits.per_client_fraction)
            if clients_active > 1 and held > 0 and held + samples > share:
                raise ResourceExhausted(
                    f"client {client!r} holds {held} of its {share}-sample share of {kind} capacity; retry shortly",
                    self.limits.retry_after_s,
                )
        self._inflight[kind] += samples
        if self._by_client.get((kind, client), 0) == 0:
            self._clients_active[kind] += 1
        self._by_client[(kind, client)] += samples
        return Ticket(self, kind, client, samples)

    def _release(self, kind: str, client: str, samples: int) -> None:
        self._inflight[kind] -= samples
        self._by_client[(kind, client)] -= samples
        if self._by_client[(kind, client)] == 0:
            del self._by_client[(kind, client)]
            self._clients_active[kind] -= 1


@dataclass
class Ticket:
    """Capacity held by one request; released exactly once when the ``with`` block exits."""

    controller: AdmissionController
    kind: str
    client: str
    samples: int
    released: bool = False

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.released:
            self.released = True
            self.controller._release(self.kind, self.client, self.samples)
