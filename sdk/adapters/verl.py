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

The reference is the JSON data in ``extra_info``, ``data_source``, and on top the ground truth:
``{"answer": ground_truth}``, or the ground truth itself when it is a dict or a string holding
a JSON object (``sdk._columns.answer_reference``, the rule OpenRLHF's labels follow too).
Pick the verifier with ``reward_kwargs`` (``verifier: math``, ``server: host:port``) or the
``VERIFIER_NAME`` / ``VERIFIER_SERVER`` environment variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sdk._columns import Samples, answer_reference, json_data, mapping_data
from sdk._types import ScoreResult
from sdk.adapters._common import AdapterSettings, BatchScorer, score_or_none

_scorers: dict[tuple[Any, ...], BatchScorer] = {}


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
    samples = Samples([solution_str], references=[reference(data_source, ground_truth, extra_info)])
    results = _scorer(verifier, server, timeout_s).score(samples)
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
    samples = Samples([solution_str], references=[reference(data_source, ground_truth, extra_info)])
    results = await _scorer(verifier, server, timeout_s).ascore(samples)
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
    results = _scorer(verifier, server, timeout_s).score(Samples(list(solution_strs), references=references))
    return [_value(result, failure_score, return_dict) for result in results]


def reference(data_source: Any, ground_truth: Any, extra_info: Mapping[str, Any] | None) -> dict[str, Any]:
    """One sample's reference: extra_info's JSON data, then data_source, then the ground truth on top."""
    ref = mapping_data(extra_info)
    source = json_data(data_source)
    if isinstance(source, str):
        ref["data_source"] = source
    ref.update(answer_reference(ground_truth))
    return ref


def _value(result: ScoreResult, failure_score: float, return_dict: bool) -> float | dict[str, float]:
    score = score_or_none(result)
    value = failure_score if score is None else score
    if not return_dict:
        return value
    return {"score": value, "verified": 0.0 if score is None else 1.0}


def _scorer(verifier: str | None, server: str | None, timeout_s: float | None) -> BatchScorer:
    """One scorer (and so one channel, and one per event loop) per settings, shared by every call in this worker."""
    settings = AdapterSettings.from_env(verifier, server, timeout_s)
    key = (settings.verifier, settings.target, settings.timeout_s, settings.token)
    scorer = _scorers.get(key)
    if scorer is None:
        scorer = _scorers[key] = BatchScorer(settings, unscored_as="failure_score")
    return scorer
