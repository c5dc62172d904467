"""The ``math`` spec's configuration: one frozen dataclass, read with errors that name the field."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier_server.kinds.base import ConfigReader
from verifier_server.kinds.caps import capped_float
from verifier_server.kinds.math.compare import CompareOptions
from verifier_server.kinds.math.extraction import STRATEGIES, STRICT_STRATEGIES
from verifier_server.kinds.math.numeric import Tolerance
from verifier_server.kinds.math.settings import MathSettings

DEFAULT_GOLD_FIELDS: tuple[str, ...] = ("answer", "solution", "ground_truth", "gold")


@dataclass(frozen=True, slots=True)
class MathConfig:
    """A compiled ``math`` spec."""

    gold_fields: tuple[str, ...] = DEFAULT_GOLD_FIELDS
    """Reference fields that may hold the gold; the first present is used."""
    strategies: tuple[str, ...] = STRATEGIES
    """Answer extraction strategies in priority order (``strict`` keeps only explicit markers)."""
    compare: CompareOptions = field(default_factory=CompareOptions)
    no_answer_score: float = 0.0
    """Score (outcome ok) for a completion in which no answer was found."""
    timeout_s: float = 5.0
    """Hard limit per parse or comparison; past it the worker is killed and the item times out."""
    chunk_size: int = 32
    """Distinct (gold, answer) pairs sent to a worker in one message."""

    @property
    def compare_key(self) -> str:
        """Hash of everything that changes a verdict for a given (gold, answer): the cache key prefix."""
        return hashlib.sha1(repr(self.compare).encode()).hexdigest()[:16]

    @classmethod
    def from_config(cls, config: Mapping[str, Any], settings: MathSettings | None = None) -> MathConfig:
        """Read a spec's config; ``settings`` are the server's (``[kinds.math] cap_timeout_s`` caps ``timeout_s``)."""
        reader = ConfigReader(config)
        timeout_cap = (settings or MathSettings()).cap("timeout_s")
        gold_field = reader.optional_str("gold_field")
        strategies = reader.str_list("strategies", STRATEGIES)
        for name in strategies:
            if name not in STRATEGIES:
                raise reader.error("strategies", f"unknown strategy {name!r} (known: {', '.join(STRATEGIES)})")
        if not strategies:
            raise reader.error("strategies", "must name at least one strategy")
        if reader.bool("strict", False):
            strategies = tuple(s for s in strategies if s in STRICT_STRATEGIES)
            if not strategies:
                raise reader.error("strict", f"leaves no strategy; strict mode uses {', '.join(STRICT_STRATEGIES)}")
        tolerance = Tolerance(
            rel=reader.float("rel_tol", 1e-6, minimum=0.0, maximum=1.0),
            abs=reader.float("abs_tol", 0.0, minimum=0.0),
            percent_as_fraction=reader.bool("percent_as_fraction", True),
        )
        compare = CompareOptions(tolerance=tolerance, equation_as_value=reader.bool("equation_as_value", True))
        built = cls(
            gold_fields=(gold_field,) if gold_field else DEFAULT_GOLD_FIELDS,
            strategies=tuple(strategies),
            compare=compare,
            no_answer_score=reader.float("no_answer_score", 0.0),
            timeout_s=capped_float(reader, "timeout_s", 5.0, timeout_cap, minimum=0.01),
            chunk_size=reader.int("chunk_size", 32, minimum=1, maximum=10_000),
        )
        reader.finish()
        return built
