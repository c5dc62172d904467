"""Spec builders: keyword functions that return a ``VerifierSpec`` for each kind.

The format, ``composite``, ``cascade`` and ``child`` builders name every option as a typed keyword, so a misspelled
option fails in the editor. The ``math``, ``code``, ``python_reward`` and ``judge`` builders
pass their options through as given (``**config``): a misspelled one is found by the server,
which refuses any unknown option by its path (``config.tolerance: unknown option; did you
mean ...``) when the spec is registered or scored inline; ``client.register(spec,
dry_run=True)`` checks one without storing it. ``ifeval`` has no
builder (write its spec as a dict). Options left None are left out, so the
server's default applies.

    from sdk import specs
    client.register(specs.composite("math-and-format", [
        specs.child("think-answer-format", gate=True),
        specs.child("math", weight=1.0),
    ]))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sdk._types import VerifierSpec


def _spec(name: str, kind: str, config: Mapping[str, Any], description: str) -> VerifierSpec:
    return VerifierSpec(
        name=name, kind=kind, config={k: v for k, v in config.items() if v is not None}, description=description
    )


# -- format --------------------------------------------------------------------------


def regex(
    name: str,
    pattern: str,
    *,
    mode: str = "search",
    flags: Sequence[str] = (),
    score_pass: float = 1.0,
    score_fail: float = 0.0,
    description: str = "",
) -> VerifierSpec:
    """``mode`` is ``match``, ``search`` or ``fullmatch``; ``flags`` like ``["DOTALL", "MULTILINE"]``."""
    config = {
        "type": "regex",
        "pattern": pattern,
        "mode": mode,
        "flags": list(flags),
        "score_pass": score_pass,
        "score_fail": score_fail,
    }
    return _spec(name, "format", config, description)


def tags(
    name: str,
    tags: Sequence[str],
    *,
    ordered: bool = True,
    allow_text_outside: bool = False,
    require_content: bool = True,
    counts: Mapping[str, int | Sequence[int]] | None = None,
    score_pass: float = 1.0,
    score_fail: float = 0.0,
    description: str = "",
) -> VerifierSpec:
    """Required tag structure, e.g. ``tags("r1", ["think", "answer"])``; each tag once unless ``counts``."""
    config = {
        "type": "tags",
        "tags": list(tags),
        "ordered": ordered,
        "allow_text_outside": allow_text_outside,
        "require_content": require_content,
        "counts": dict(counts or {}),
        "score_pass": score_pass,
        "score_fail": score_fail,
    }
    return _spec(name, "format", config, description)


def json_format(
    name: str,
    *,
    schema: Mapping[str, Any] | None = None,
    extract: str = "whole",
    score_pass: float = 1.0,
    score_fail: float = 0.0,
    description: str = "",
) -> VerifierSpec:
    """Valid JSON (optionally against a JSON Schema); ``extract`` is ``whole``, ``fenced`` or ``answer_tag``."""
    config = {"type": "json", "schema": schema, "extract": extract, "score_pass": score_pass, "score_fail": score_fail}
    return _spec(name, "format", config, description)


def length(
    name: str,
    *,
    min: int = 0,
    max: int | None = None,
    unit: str = "auto",
    score_pass: float = 1.0,
    score_fail: float = 0.0,
    description: str = "",
) -> VerifierSpec:
    """A length window; ``unit`` is ``chars``, ``words``, ``tokens`` or ``auto`` (tokens when ids are sent)."""
    config = {
        "type": "length",
        "min": min,
        "max": max,
        "unit": unit,
        "score_pass": score_pass,
        "score_fail": score_fail,
    }
    return _spec(name, "format", config, description)


def repetition(name: str, *, ngram_size: int = 3, max_penalty: float = -1.0, description: str = "") -> VerifierSpec:
    """open-r1's n-gram repetition penalty, in ``[max_penalty, 0]``."""
    config = {"type": "repetition", "ngram_size": ngram_size, "max_penalty": max_penalty}
    return _spec(name, "format", config, description)


def overlong(
    name: str,
    *,
    max_length: int,
    soft_cache: int,
    penalty_factor: float = 1.0,
    unit: str = "auto",
    description: str = "",
) -> VerifierSpec:
    """DAPO's soft over-length penalty: 0 up to ``max_length - soft_cache``, then linear down to -1."""
    config = {
        "type": "overlong",
        "max_length": max_length,
        "soft_cache": soft_cache,
        "penalty_factor": penalty_factor,
        "unit": unit,
    }
    return _spec(name, "format", config, description)


# -- composite -------------------------------------------------------------------------


def child(
    verifier: str | VerifierSpec,
    *,
    weight: float = 1.0,
    gate: bool | None = None,
    threshold: float = 1.0,
    label: str | None = None,
) -> dict[str, Any]:
    """One composite child: a registered name (``name@version`` pins) or an inline spec.

    ``gate`` None leaves it to the composite (with ``combine="gate"`` the first child gates).
    """
    target: Any = verifier if isinstance(verifier, str) else verifier.to_dict()
    entry: dict[str, Any] = {"verifier": target, "weight": weight, "threshold": threshold}
    if gate is not None:
        entry["gate"] = gate
    if label is not None:
        entry["label"] = label
    return entry


def composite(
    name: str,
    children: Sequence[str | VerifierSpec | Mapping[str, Any]],
    *,
    combine: str = "weighted_sum",
    gate_fail_score: float = 0.0,
    description: str = "",
) -> VerifierSpec:
    """Children scored concurrently and combined: ``weighted_sum``, ``min``, ``max`` or ``gate``."""
    entries = [dict(c) if isinstance(c, Mapping) else child(c) for c in children]
    config = {"combine": combine, "gate_fail_score": gate_fail_score, "children": entries}
    return _spec(name, "composite", config, description)


def cascade(
    name: str,
    children: Sequence[str | VerifierSpec | Mapping[str, Any]],
    *,
    cascade_on_failure: bool = False,
    description: str = "",
) -> VerifierSpec:
    """Children in order, a later one asked only where the earlier ones scored below their ``threshold``.

    ``specs.cascade("math-then-judge", [specs.child("math"), specs.child(judge, threshold=0.5)])``
    runs the judge only on answers ``math`` could not show equal; ``details["decided_by"]`` names
    the child that decided. ``cascade_on_failure`` also passes on samples a child failed on.
    """
    entries = [dict(c) if isinstance(c, Mapping) else child(c) for c in children]
    config = {"combine": "cascade", "cascade_on_failure": cascade_on_failure, "children": entries}
    return _spec(name, "composite", config, description)


# -- other kinds -------------------------------------------------------------------------


def math(name: str, **config: Any) -> VerifierSpec:
    """A ``math`` verifier; its options (gold field, extraction, tolerance) are in ``docs/kinds.md``, section math."""
    description = config.pop("description", "")
    return _spec(name, "math", config, description)


def code(name: str, **config: Any) -> VerifierSpec:
    """A ``code`` verifier: language, test style and limits; its options are in ``docs/kinds.md``, section code."""
    description = config.pop("description", "")
    return _spec(name, "code", config, description)


def python_reward(name: str, source: str, **config: Any) -> VerifierSpec:
    """A user reward function, run sandboxed: ``def reward(prompts, completions, references)`` or TRL's
    ``def reward(completions, **kwargs)`` (dataset columns as keywords); per sample it returns a number, None
    (does not apply) or a dict with a ``score``.
    """
    description = config.pop("description", "")
    return _spec(name, "python", {"source": source, **config}, description)


def judge(name: str, **config: Any) -> VerifierSpec:
    """A model-based ``judge`` (``type``: llm, reward_model, similarity).

    Its options are in ``verifier_server/kinds/judge/README.md``.
    """
    description = config.pop("description", "")
    return _spec(name, "judge", config, description)
