"""The ``math`` kind: extract the final answer, compare it with the gold, score 1 or 0.

A batch flows: gold lookup and extraction (event loop) -> normalization ->
deduplication of (gold, answer) pairs -> verdict cache -> fast path -> the rest,
grouped by gold and chunked, to the shared worker pool -> results in input order.
GRPO groups repeat both gold and answers, so a batch of 1024 completions is
typically a few hundred distinct pairs, most of them decided without sympy.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.kinds.base import BaseKind, BuildContext, reference_value
from verifier_server.kinds.math.boxes import MAX_ANSWER_CHARS
from verifier_server.kinds.math.builtins import builtin_specs
from verifier_server.kinds.math.cache import VerdictCache
from verifier_server.kinds.math.compare import Verdict
from verifier_server.kinds.math.config import MathConfig
from verifier_server.kinds.math.extraction import extract_answer, extract_gold
from verifier_server.kinds.math.fastpath import fast_verdict
from verifier_server.kinds.math.normalize import normalize
from verifier_server.kinds.math.pool import CRASHED, TIMEOUT, ChunkResult, MathPool
from verifier_server.kinds.math.settings import MathSettings
from verifier_server.kinds.settings import kind_settings

Pair = tuple[str, str]
"""(normalized gold, normalized answer)."""


def shared_pool(context: BuildContext) -> MathPool:
    """The server's one math pool: ``[kinds.math] workers``, else the server's ``workers``; 0 means every core.

    ``[kinds.math] worker_memory_mb`` caps what each worker may allocate beyond its warm size.
    """
    resources = context.resources
    settings = kind_settings(resources, MathSettings)

    def create() -> MathPool:
        size = settings.workers or resources.settings.get("workers") or None
        return MathPool(size, start_method=settings.start_method, memory_mb=settings.worker_memory_mb)

    return resources.get_or_create("math.pool", create, close=lambda pool: pool.aclose())


def shared_cache(context: BuildContext) -> VerdictCache:
    settings = kind_settings(context.resources, MathSettings)
    return context.resources.get_or_create("math.cache", lambda: VerdictCache(settings.cache_size))


class MathKind(BaseKind):
    name: ClassVar[str] = "math"
    settings_type = MathSettings

    @classmethod
    def from_spec(cls, config: Mapping[str, Any], context: BuildContext) -> MathVerifier:
        parsed = MathConfig.from_config(config, kind_settings(context.resources, MathSettings))
        return MathVerifier(parsed, shared_pool(context), shared_cache(context))

    @classmethod
    def builtin_specs(cls) -> list[dict[str, Any]]:
        return builtin_specs()


@dataclass(slots=True)
class _Item:
    """Per-sample state while a batch is scored."""

    gold_field: str
    gold_norm: str
    extracted: str
    strategy: str
    answer_norm: str


@dataclass(frozen=True, slots=True)
class MathVerifier:
    config: MathConfig
    pool: MathPool
    cache: VerdictCache

    async def score_batch(self, samples: Sequence[Sample]) -> list[ScoreResult]:
        started = time.perf_counter()
        results: list[ScoreResult | None] = [None] * len(samples)
        items: dict[int, _Item] = {}
        gold_norms: dict[str, str] = {}
        for index, sample in enumerate(samples):
            prepared = self._prepare(sample, gold_norms)
            if isinstance(prepared, ScoreResult):
                results[index] = prepared
            else:
                items[index] = prepared
        verdicts = await self._verdicts({(item.gold_norm, item.answer_norm) for item in items.values()})
        for index, item in items.items():
            results[index] = self._result(item, verdicts[(item.gold_norm, item.answer_norm)])
        latency = (time.perf_counter() - started) / max(1, len(samples))
        final = [result for result in results if result is not None]
        for result in final:
            result.latency_s = result.latency_s or latency
        return final

    # -- per sample, on the event loop ---------------------------------------------------

    def _prepare(self, sample: Sample, gold_norms: dict[str, str]) -> _Item | ScoreResult:
        field_name, gold = reference_value(sample, self.config.gold_fields)
        if field_name is None:
            looked = ", ".join(repr(f) for f in self.config.gold_fields)
            return ScoreResult.invalid(f"reference has no gold answer field (looked for {looked})")
        gold_text = gold if isinstance(gold, str) else _gold_to_text(gold)
        if gold_text not in gold_norms:
            gold_answer = extract_gold(gold_text)
            if len(gold_answer) > MAX_ANSWER_CHARS:  # normalize runs on the event loop: never on unbounded text
                return ScoreResult.invalid(
                    f"gold answer in reference field {field_name!r} is longer than {MAX_ANSWER_CHARS} characters "
                    "(answers are compared up to that length)",
                    gold_field=field_name,
                )
            gold_norms[gold_text] = normalize(gold_answer)
        gold_norm = gold_norms[gold_text]
        if not gold_norm:
            return ScoreResult.invalid(f"gold in reference field {field_name!r} is empty", gold_field=field_name)
        found = extract_answer(_clean(sample.completion_text or ""), self.config.strategies)
        answer_norm = normalize(found.text) if found is not None else ""
        if found is None or not answer_norm:
            return ScoreResult.ok(
                self.config.no_answer_score,
                reason="no answer found",
                gold_field=field_name,
                normalized_gold=gold_norm,
                extracted_answer=found.text if found else None,
                match_method="none",
            )
        return _Item(field_name, gold_norm, found.text, found.strategy, answer_norm)

    def _result(self, item: _Item, verdict: Verdict | str) -> ScoreResult:
        details: dict[str, Any] = {
            "gold_field": item.gold_field,
            "extracted_answer": item.extracted,
            "extraction_strategy": item.strategy,
            "normalized_gold": item.gold_norm,
            "normalized_answer": item.answer_norm,
        }
        if verdict == TIMEOUT:
            reason = f"timeout: verification ran past {self.config.timeout_s:g}s and its worker was killed"
            return ScoreResult.failed(Outcome.TIMEOUT, reason, match_method="timeout", **details)
        if verdict == CRASHED or not isinstance(verdict, Verdict):
            return ScoreResult.failed(Outcome.ERROR, "the math worker crashed on this item", **details)
        details["match_method"] = verdict.method
        if verdict.method in ("gold_unparseable", "gold_too_large"):
            return ScoreResult.invalid(verdict.reason or "gold could not be parsed", **details)
        if verdict.method == "error":
            return ScoreResult.failed(Outcome.ERROR, verdict.reason, **details)
        return ScoreResult.ok(1.0 if verdict.match else 0.0, reason=verdict.reason, **details)

    # -- deciding distinct pairs ---------------------------------------------------------

    async def _verdicts(self, pairs: set[Pair]) -> dict[Pair, Verdict | str]:
        decided: dict[Pair, Verdict | str] = {}
        options, prefix = self.config.compare, self.config.compare_key
        slow: list[Pair] = []
        for gold, answer in pairs:
            verdict = self.cache.get((prefix, gold, answer)) or fast_verdict(gold, answer, options)
            if verdict is None:
                slow.append((gold, answer))
            else:
                decided[(gold, answer)] = verdict
        for pair, outcome in (await self._from_workers(slow)).items():
            decided[pair] = outcome
            if isinstance(outcome, Verdict):
                self.cache.put((prefix, *pair), outcome)
        return decided

    async def _from_workers(self, pairs: list[Pair]) -> dict[Pair, Verdict | str]:
        if not pairs:
            return {}
        chunks = self._chunks(pairs)
        outcomes = await asyncio.gather(
            *(self.pool.run_chunk(self.config.compare, golds, tasks, self.config.timeout_s) for golds, tasks in chunks)
        )
        return _collect(pairs, outcomes)

    def _chunks(self, pairs: list[Pair]) -> list[tuple[list[tuple[str, str]], list[tuple[int, str, str]]]]:
        """Pairs grouped by gold (each gold parsed once per chunk), cut into chunks that spread over the pool."""
        by_gold: dict[str, list[int]] = defaultdict(list)
        for pair_id, (gold, _) in enumerate(pairs):
            by_gold[gold].append(pair_id)
        size = max(1, min(self.config.chunk_size, -(-len(pairs) // self.pool.size)))
        chunks: list[tuple[list[tuple[str, str]], list[tuple[int, str, str]]]] = []
        golds: list[str] = []
        tasks: list[tuple[int, str, str]] = []
        for gold, ids in by_gold.items():
            for pair_id in ids:
                if not golds or golds[-1] != gold:
                    golds.append(gold)
                # The gold text is its own key: workers cache parsed golds across chunks and batches.
                tasks.append((pair_id, gold, pairs[pair_id][1]))
                if len(tasks) >= size:
                    chunks.append(([(g, g) for g in golds], tasks))
                    golds, tasks = [], []
        if tasks:
            chunks.append(([(g, g) for g in golds], tasks))
        return chunks


def _collect(pairs: list[Pair], outcomes: Sequence[ChunkResult]) -> dict[Pair, Verdict | str]:
    decided: dict[Pair, Verdict | str] = {}
    for outcome in outcomes:
        for pair_id, verdict in outcome.pairs.items():
            decided[pairs[pair_id]] = verdict
    for pair in pairs:
        decided.setdefault(pair, CRASHED)
    return decided


def _gold_to_text(gold: Any) -> str:
    if isinstance(gold, list | tuple):
        return ", ".join(str(g) for g in gold)
    return str(gold)


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]+")


def _clean(text: str) -> str:
    """Drop NUL and other control bytes that binary garbage brings, so details stay printable."""
    return _CONTROL_RE.sub("", text) if _CONTROL_RE.search(text) else text
