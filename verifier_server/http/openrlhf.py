"""OpenRLHF's remote reward protocol (``--remote_rm_url http://host:port/openrlhf/<verifier>``).

OpenRLHF (``openrlhf/utils/remote_rm_utils.py``, checked against 0.11) posts
``{"query": [...], "prompts": [...], "labels": [...]}`` with ``requests.post(json=...)``
and reads back ``rewards`` (advantages), ``scores`` (dynamic filtering) and
``extra_logs`` (logged); it turns each into a tensor, concatenates the batches it sent
and splits them per sample, so every value must be one number per sample.

- ``query[i]`` is the decoded prompt + response *with* special tokens; the completion is
  what follows ``prompts[i]`` in it (the first occurrence, so a BOS the tokenizer added
  in front does not matter), with trailing end-of-turn tokens removed.
- ``labels[i]`` is the ``--label_key`` column: a JSON-object string is the whole
  reference, any other non-empty value the gold ``answer``; ``""`` or null means none.
- OpenRLHF has no "skip" reward, so a sample the verifier did not score (any outcome but
  ``ok``) gets ``failure_reward`` (query parameter, default 0.0), and ``extra_logs``
  carries ``verified`` (1/0) and ``unscored`` (0/1) per sample: their sums count them.

The split is ``protos.openrlhf.response_text``, shared with the SDK's file adapter
(``sdk/adapters/openrlhf.py``), which reads labels by the same rules.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from protos.openrlhf import response_text
from verifier_server.domain import Outcome, Sample, ScoreResult
from verifier_server.errors import InvalidArgument
from verifier_server.http.wire import check_fields

REQUEST_FIELDS = ("query", "prompts", "labels")


def failure_reward(query: Mapping[str, str]) -> float:
    raw = query.get("failure_reward", "0")
    try:
        value = float(raw)
    except ValueError:
        raise InvalidArgument("failure_reward", f"must be a number, got {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidArgument("failure_reward", f"must be a finite number, got {raw!r}")
    return value


def samples_from_request(payload: Mapping[str, Any], limit: int) -> list[Sample]:
    check_fields(payload, REQUEST_FIELDS)
    queries = payload.get("query")
    if not isinstance(queries, list):
        raise InvalidArgument("query", "is required: a list of prompt + response strings")
    if len(queries) > limit:
        raise InvalidArgument("query", f"{len(queries)} samples exceed this server's limit of {limit}")
    prompts = _parallel(payload, "prompts", len(queries))
    labels = _parallel(payload, "labels", len(queries))
    return [_sample(q, p, label) for q, p, label in zip(queries, prompts, labels, strict=True)]


def _parallel(payload: Mapping[str, Any], key: str, count: int) -> list[Any]:
    value = payload.get(key)
    if value is None:
        return [None] * count
    if not isinstance(value, list):
        raise InvalidArgument(key, "must be a list with one entry per query")
    if len(value) != count:
        raise InvalidArgument(key, f"has {len(value)} entries for {count} queries")
    return value


def _sample(query: Any, prompt: Any, label: Any) -> Sample:
    if not isinstance(query, str):
        return Sample(completion=None, input_error=f"query must be a string, got {type(query).__name__}")
    if prompt is not None and not isinstance(prompt, str):
        return Sample(completion=None, input_error=f"prompts entry must be a string, got {type(prompt).__name__}")
    reference, problem = label_reference(label)
    completion = response_text(query, prompt or "")
    return Sample(completion=completion, prompt=prompt, reference=reference, input_error=problem)


def label_reference(label: Any) -> tuple[dict[str, Any], str]:
    """(reference, problem): a JSON object label is the reference, anything else the ``answer``."""
    if label is None or label == "":
        return {}, ""
    if isinstance(label, dict):
        return label, ""
    if isinstance(label, str) and label.lstrip().startswith("{"):
        try:
            parsed = json.loads(label)
        except (ValueError, RecursionError) as exc:
            return {}, f"label looks like a JSON object but does not parse: {exc}"
        if isinstance(parsed, dict):
            return parsed, ""
    if isinstance(label, str | int | float) and not isinstance(label, bool):
        return {"answer": label}, ""
    return {}, f"label must be a string, got {type(label).__name__}"


def response_body(results: Sequence[ScoreResult], failure: float) -> dict[str, Any]:
    scores = [
        r.score if r.outcome is Outcome.OK and r.score is not None and math.isfinite(r.score) else None for r in results
    ]
    verified = [0.0 if s is None else 1.0 for s in scores]
    rewards = [failure if s is None else float(s) for s in scores]
    return {
        "rewards": rewards,
        "scores": list(rewards),
        "extra_logs": {"verified": verified, "unscored": [1.0 - v for v in verified]},
    }
