"""Turning a judge's answer into a reward in [0, 1].

Three rules (``scoring.method``):

* ``number``: find a number in the generated text (``Score: 7``), check it lies in
  ``[min, max]`` and normalize it to ``(x - min) / (max - min)``.
* ``label``: find one of ``labels`` (``{"Yes": 1, "No": 0}``) in the text.
* ``logprobs``: ask the model for the log-probability of each label instead of
  sampling one, and return the probability-weighted label value. This is smoother
  than a parsed label (a GRPO group gets distinct rewards) and never fails to parse.
  ``min``/``max`` without ``labels`` means the integer labels ``min..max``.

Returning ``None`` from ``parse`` means "could not read an answer": the judge retries
and finally reports an error, never a zero. A spec's own ``pattern`` runs on the
``regex`` engine with a per-match timeout (``re`` could not be stopped); one that runs
out of time reads as "no answer".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex as safe_regex

from verifier_server.kinds.base import ConfigReader

METHODS = ("number", "label", "logprobs")
PATTERN_TIMEOUT_S = 1.0
_NUMBER = r"[-+]?\d+(?:\.\d+)?"
_SCORE_KEYWORD = re.compile(rf"(?i)\b(?:score|rating|grade)\s*(?:is|=|:)?\s*\**\s*({_NUMBER})")
_ANY_NUMBER = re.compile(_NUMBER)
_VERDICT_KEYWORD = r"(?i)\b(?:verdict|answer|judg(?:e)?ment|decision)\s*(?:is|=|:)\s*\**\s*"


@dataclass(frozen=True, slots=True)
class Parsed:
    """An answer read from the judge's text: the normalized value and what was matched."""

    value: float
    matched: str


@dataclass(frozen=True, slots=True)
class ScoringRule:
    method: str
    labels: tuple[tuple[str, float], ...] = ()
    minimum: float = 0.0
    maximum: float = 1.0
    pattern: Any = None
    """A spec's own pattern, compiled with the ``regex`` engine (matched with ``PATTERN_TIMEOUT_S``)."""

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.labels)

    def parse(self, text: str, *, reasoning: bool) -> Parsed | None:
        """Read the answer from generated ``text``; with reasoning, the *last* answer counts."""
        if self.method == "number":
            return self._parse_number(text, reasoning)
        return self._parse_label(text, reasoning)

    def from_logprobs(self, logprobs: Mapping[str, float]) -> tuple[float, dict[str, float]] | None:
        """Probability-weighted label value, renormalized over the labels; ``None`` if none is possible."""
        finite = {name: lp for name, lp in logprobs.items() if lp is not None and math.isfinite(lp)}
        if not finite:
            return None
        top = max(finite.values())
        weights = {name: math.exp(lp - top) for name, lp in finite.items()}
        total = sum(weights.values())
        probs = {name: weights.get(name, 0.0) / total for name in self.label_names}
        value = sum(probs[name] * label_value for name, label_value in self.labels)
        return value, probs

    def _parse_number(self, text: str, reasoning: bool) -> Parsed | None:
        candidates = self._matches(text, _SCORE_KEYWORD)
        if not candidates and self.pattern is None:
            stripped = text.strip().rstrip(".")
            if _ANY_NUMBER.fullmatch(stripped):
                candidates = [stripped]
            elif not reasoning:
                candidates = _ANY_NUMBER.findall(text)[:1]
        if not candidates:
            return None
        raw = candidates[-1] if reasoning or self.pattern is not None else candidates[0]
        number = float(raw)
        if not self.minimum <= number <= self.maximum:
            return None
        return Parsed((number - self.minimum) / (self.maximum - self.minimum), raw)

    def _parse_label(self, text: str, reasoning: bool) -> Parsed | None:
        names = sorted(self.label_names, key=len, reverse=True)
        alternatives = "|".join(re.escape(name) for name in names)
        word = rf"(?<!\w)({alternatives})(?!\w)"
        candidates = self._matches(text, re.compile(_VERDICT_KEYWORD + word))
        if not candidates and self.pattern is None:
            candidates = re.findall(rf"(?i){word}", text)
            if not reasoning:
                candidates = candidates[:1]
        if not candidates:
            return None
        raw = candidates[-1]
        by_name = {name.lower(): value for name, value in self.labels}
        value = by_name.get(raw.strip().lower())
        return None if value is None else Parsed(value, raw)

    def _matches(self, text: str, default: re.Pattern[str]) -> list[str]:
        if self.pattern is None:
            return [m.group(1) if m.groups() else m.group(0) for m in default.finditer(text)]
        try:
            matches = list(self.pattern.finditer(text, timeout=PATTERN_TIMEOUT_S))
        except TimeoutError:
            return []
        return [m.group(1) if m.groups() else m.group(0) for m in matches]


def read_scoring(reader: ConfigReader, template_defaults: Mapping[str, Any]) -> ScoringRule:
    """Read ``config.scoring``; a template's defaults apply unless the spec names its own ``method``."""
    own = reader.mapping("scoring")
    merged = dict(own) if "method" in own else {**template_defaults, **own}
    sub = ConfigReader(merged, reader.path("scoring"))
    method = sub.str("method", "number" if not merged.get("labels") else "label", choices=METHODS)
    pattern = _user_pattern(sub) if sub.has("pattern") else None
    if pattern is not None and pattern.groups > 1:
        raise sub.error("pattern", "must have at most one capturing group (the answer)")
    if method == "number" or (method == "logprobs" and not sub.has("labels")):
        rule = _numeric_rule(sub, method, pattern)
    else:
        rule = ScoringRule(method=method, labels=_read_labels(sub), pattern=pattern)
    sub.finish()
    return rule


def _user_pattern(sub: ConfigReader) -> Any:
    source = sub.str("pattern")
    if len(source) > 10_000:
        raise sub.error("pattern", "is longer than 10000 characters")
    try:
        return safe_regex.compile(source)
    except (safe_regex.error, RecursionError, OverflowError) as exc:
        raise sub.error("pattern", f"invalid regular expression {source[:200]!r}: {exc}") from None


def _numeric_rule(sub: ConfigReader, method: str, pattern: Any) -> ScoringRule:
    minimum = sub.float("min", 0.0 if method == "number" else None)
    maximum = sub.float("max", 1.0 if method == "number" else None)
    if maximum <= minimum:
        raise sub.error("max", f"must be greater than min ({minimum})")
    if method == "number":
        return ScoringRule(method=method, minimum=minimum, maximum=maximum, pattern=pattern)
    if not (minimum.is_integer() and maximum.is_integer()) or maximum - minimum > 100:
        raise sub.error("max", "logprobs over a numeric scale needs integer min and max at most 100 apart")
    low, high = int(minimum), int(maximum)
    labels = tuple((str(i), (i - low) / (high - low)) for i in range(low, high + 1))
    return ScoringRule(method=method, labels=labels, minimum=minimum, maximum=maximum)


def _read_labels(sub: ConfigReader) -> tuple[tuple[str, float], ...]:
    raw = sub.mapping("labels")
    if len(raw) < 2:
        raise sub.error("labels", 'must map at least two labels to values, e.g. {"Yes": 1, "No": 0}')
    labels: list[tuple[str, float]] = []
    for name, value in raw.items():
        if not isinstance(name, str) or not name.strip():
            raise sub.error("labels", "label names must be non-empty strings")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
            raise sub.error(f"labels.{name}", f"must be a number in [0, 1], got {value!r}")
        labels.append((name, float(value)))
    return tuple(labels)
