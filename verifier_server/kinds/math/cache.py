"""A bounded LRU of verdicts shared by every math verifier on a server.

Keyed by (comparison-options hash, normalized gold, normalized answer): GRPO
revisits the same prompts every epoch and models repeat answers, so verdicts
repay being kept across batches; the options hash keeps verifiers with different
tolerances from sharing wrong verdicts. Only used from the event loop (no lock).
"""

from __future__ import annotations

from collections import OrderedDict

from verifier_server.kinds.math.compare import Verdict

CacheKey = tuple[str, str, str]


class VerdictCache:
    """Least-recently-used mapping from ``CacheKey`` to ``Verdict``, at most ``max_entries``."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[CacheKey, Verdict] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Verdict | None:
        verdict = self._data.get(key)
        if verdict is None:
            self.misses += 1
            return None
        self._data.move_to_end(key)
        self.hits += 1
        return verdict

    def put(self, key: CacheKey, verdict: Verdict) -> None:
        if self.max_entries <= 0:
            return
        self._data[key] = verdict
        self._data.move_to_end(key)
        while len(self._data) > self.max_entries:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
