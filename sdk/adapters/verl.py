"""verl ``compute_score`` functions backed by a remote verifier (checked against verl 0.9.1).

verl loads ``custom_reward_function.path`` / ``.name`` and calls it with
``reward_kwargs`` from the config merged in:

- per sample (``NaiveRewardManager``, ``DAPORewardManager`` and the async reward loop):
  ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **kw)``;
  the reward loop awaits it when it is ``async def`` (``acompute_score`` here);
- batched (``reward_model.reward_manager=batch``): ``compute_score(data_sources=,
  solution_strs=, ground_truths=, extra_infos=, **kw)`` returning one value per sample.

A value is a float or a dict with ``score`` and extras; verl appends every key of a
dict to per-key lists, so every dict here has the same keys: ``score`` and ``verified``
(1.0 when the verifier scored the sample, else 0.0, for filtering and dashboards).

Skip value: verl has none (rewards go into a dense tensor), so a sample the verifier
could not score gets ``failure_score`` (default 0.0) with ``verified=0.0``.

The reference is ``ground_truth`` as ``{"answer": ground_truth}`` (a dict ground truth is
used as the reference itself), plus the JSON data in ``extra_info`` and ``data_source``.
Pick the verifier with ``reward_kwargs`` (``verifier: math``, ``server: host:port``) or the
``VERIFIER_NAME`` / ``VERIFIER_SERVER`` environment variables.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from sdk._async_client import AsyncVerifierClient
from sdk._types import ScoreResult
from sdk.adapters._common import AdapterSettings, BatchScorer, json_safe, score_or_none

_scorers: dict[tuple[Any, ...], BatchScorer] = {}
_loop_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AsyncVerifierClient]] = (
    weakref.WeakKeyDictionary()
)


def compute_score(
    data_source: Any = None,
    solution_str: str = "",
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    verifier: str | None = None,
    server: str | None = None,
    timeout_s: float | None = None,
    failure_score: float = 0.0,
    return_dict: bool = True,
    **kwargs: Any,
) -> float | dict[str, float] | list[float | dict[str, float]]:
    """verl's per-sample form; called with the batched keywords it scores the whole batch."""
    if "solution_strs" in kwargs:
        return compute_score_batch(
            verifier=verifier,
            server=server,
            timeout_s=timeout_s,
            failure_score=failure_score,
            return_dict=return_dict,
            **kwargs,
        )
    scorer = _scorer(verifier, server, timeout_s)
    results = scorer.score([solution_str], None, [reference(data_source, ground_truth, extra_info)])
    return _value(results[0], failure_score, return_dict)


async def acompute_score(
    data_source: Any = None,
    solution_str: str = "",
    ground_truth: Any = None,
    extra_info: Mapping[str, Any] | None = None,
    *,
    verifier: str | None = None,
    server: str | None = None,
    timeout_s: float | None = None,
    failure_score: float = 0.0,
    return_dict: bool = True,
    **kwargs: Any,
) -> float | dict[str, float]:
    """The async per-sample form for verl's reward loop; one channel per event loop, reused."""
    scorer = _scorer(verifier, server, timeout_s)
    client = _loop_client(scorer)
    results = await scorer.ascore([solution_str], None, [reference(data_source, ground_truth, extra_info)], client)
    return _value(results[0], failure_score, return_dict)


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Mapping[str, Any] | None] | None = None,
    *,
    verifier: str | None = None,
    server: str | None = None,
    timeout_s: float | None = None,
    failure_score: float = 0.0,
    return_dict: bool = True,
    **kwargs: Any,
) -> list[float | dict[str, float]]:
    """verl's batched form (``BatchRewardManager``): one RPC for the whole batch."""
    infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
    references = [
        reference(source, truth, info) for source, truth, info in zip(data_sources, ground_truths, infos, strict=True)
    ]
    results = _scorer(verifier, server, timeout_s).score(list(solution_strs), None, references)
    return [_value(result, failure_score, return_dict) for result in results]


def reference(data_source: Any, ground_truth: Any, extra_info: Mapping[str, Any] | None) -> dict[str, Any]:
    """One sample's reference: extra_info's JSON data, then data_source, then the ground truth on top."""
    ref: dict[str, Any] = {}
    info = json_safe(extra_info) if extra_info else {}
    if isinstance(info, dict):
        ref.update({key: value for key, value in info.items() if value is not None})
    source = json_safe(data_source)
    if isinstance(source, str):
        ref["data_source"] = source
    truth = json_safe(ground_truth)
    if isinstance(truth, dict):
        ref.update(truth)
    elif truth is not None and isinstance(truth, str | int | float | list):
        ref["answer"] = truth
    return ref


def _value(result: ScoreResult | None, failure_score: float, return_dict: bool) -> float | dict[str, float]:
    score = score_or_none(result)
    value = failure_score if score is None else score
    if not return_dict:
        return value
    return {"score": value, "verified": 0.0 if score is None else 1.0}


def _scorer(verifier: str | None, server: str | None, timeout_s: float | None) -> BatchScorer:
    """One scorer (and so one channel) per settings, shared by every call in this worker."""
    settings = AdapterSettings.from_env(verifier, server, timeout_s)
    key = (settings.verifier, settings.target, settings.timeout_s, settings.token)
    scorer = _scorers.get(key)
    if scorer is None:
        scorer = _scorers[key] = BatchScorer(settings)
    return scorer


def _loop_client(scorer: BatchScorer) -> AsyncVerifierClient:
    loop = asyncio.get_running_loop()
    clients = _loop_clients.setdefault(loop, {})
    key = f"{scorer.settings.target}|{scorer.settings.token}|{scorer.settings.timeout_s}"
    if key not in clients:
        clients[key] = scorer.new_async_client()
    return clients[key]
