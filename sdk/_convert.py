"""Protobuf <-> SDK types: the SDK's only proto edge besides the generated stubs."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from protos.verifier.v1 import verifier_pb2 as pb
from sdk._columns import jsonable, read_content
from sdk._errors import InputError
from sdk._types import (
    Capabilities,
    CellResult,
    CellStatus,
    Outcome,
    ScoreResult,
    SessionCapabilities,
    SessionInfo,
    SessionLimits,
    VerifierInfo,
    VerifierSpec,
)

_OUTCOMES = {
    pb.OUTCOME_OK: Outcome.OK,
    pb.OUTCOME_INVALID_INPUT: Outcome.INVALID_INPUT,
    pb.OUTCOME_ERROR: Outcome.ERROR,
    pb.OUTCOME_TIMEOUT: Outcome.TIMEOUT,
    pb.OUTCOME_NOT_APPLICABLE: Outcome.NOT_APPLICABLE,
    pb.OUTCOME_UNSPECIFIED: Outcome.ERROR,
}


def content(value: Any, what: str, index: int) -> pb.Content | None:
    """A Content message (read by ``_columns.read_content``); raises ``InputError`` naming the sample."""
    read = read_content(value, what, index)
    if read is None:
        return None
    if isinstance(read, str):
        return pb.Content(text=read)
    messages = [pb.ChatMessage(role=role, content=text) for role, text in read]
    return pb.Content(messages=pb.Conversation(messages=messages))


def build_samples(
    completions: Sequence[Any],
    prompts: Sequence[Any] | None,
    references: Sequence[Mapping[str, Any] | None] | None,
    completion_ids: Sequence[Sequence[int] | None] | None,
) -> list[pb.Sample | str]:
    """One Sample per completion, or the reason it cannot be encoded.

    Per-sample columns must match the completions' length (else ``InputError``: the
    batch as a whole is wrong). A single value that cannot be sent (a completion that
    is neither text nor chat messages, a reference that is not a mapping) is answered
    by its reason instead, so that sample alone comes back ``invalid_input``.
    """
    count = len(completions)
    for name, column in (("prompts", prompts), ("references", references), ("completion_ids", completion_ids)):
        if column is not None and len(column) != count:
            raise InputError(f"{name} has {len(column)} items but completions has {count}")
    samples: list[pb.Sample | str] = []
    for i in range(count):
        try:
            samples.append(
                _sample(
                    i,
                    completions[i],
                    None if prompts is None else prompts[i],
                    None if references is None else references[i],
                    None if completion_ids is None else completion_ids[i],
                )
            )
        except InputError as problem:
            samples.append(str(problem))
    return samples


def _sample(index: int, completion: Any, prompt: Any, reference: Any, ids: Sequence[int] | None) -> pb.Sample:
    sample = pb.Sample()
    if isinstance(completion, str):
        sample.completion.text = completion
    elif completion is not None:
        sample.completion.CopyFrom(content(completion, "completions", index))
    if isinstance(prompt, str):
        sample.prompt.text = prompt
    elif prompt is not None:
        sample.prompt.CopyFrom(content(prompt, "prompts", index))
    if reference is not None:
        encoded = _reference_json(reference, index)
        if encoded != "{}":
            sample.reference_json = encoded
    if ids is not None:
        try:
            sample.completion_ids.extend(int(t) for t in ids)
        except (TypeError, ValueError) as exc:
            raise InputError(f"completion_ids[{index}] must be a list of token ids ({exc})") from None
    return sample


def _reference_json(reference: Any, index: int) -> str:
    if not isinstance(reference, Mapping):
        raise InputError(f"references[{index}] must be a mapping of dataset columns, got {type(reference).__name__}")
    try:
        return json.dumps(reference, ensure_ascii=False, default=jsonable)
    except (TypeError, ValueError) as exc:
        raise InputError(f"references[{index}] is not JSON-serializable: {exc}") from None


def result_from_proto(message: pb.ScoreResult) -> ScoreResult:
    outcome = _OUTCOMES.get(message.outcome, Outcome.ERROR)
    return ScoreResult(
        score=message.score if outcome is Outcome.OK else None,
        outcome=outcome,
        reason=message.reason,
        components=dict(message.components),
        details=json.loads(message.details_json) if message.details_json else {},
        latency_ms=message.latency_ms,
    )


def spec_to_proto(spec: VerifierSpec) -> pb.VerifierSpec:
    return pb.VerifierSpec(
        name=spec.name, kind=spec.kind, config_json=json.dumps(dict(spec.config)), description=spec.description
    )


def info_from_proto(message: pb.VerifierInfo) -> VerifierInfo:
    spec = VerifierSpec(
        name=message.spec.name,
        kind=message.spec.kind,
        config=json.loads(message.spec.config_json) if message.spec.config_json else {},
        description=message.spec.description,
    )
    return VerifierInfo(
        spec=spec, version=message.version, created_at_unix_s=message.created_at_unix_s, builtin=message.builtin
    )


def capabilities_from_proto(message: pb.Capabilities) -> Capabilities:
    return Capabilities(
        server_version=message.server_version,
        kinds=tuple(message.kinds),
        languages=tuple(message.languages),
        sandbox_backends=tuple(message.sandbox_backends),
        judge_backends=tuple(message.judge_backends),
        max_samples_per_request=message.max_samples_per_request,
        max_message_bytes=message.max_message_bytes,
        builtin_verifiers=tuple(message.builtin_verifiers),
        sandbox_python_packages=tuple(message.sandbox_python_packages),
        sessions=_session_capabilities(message.sessions) if message.HasField("sessions") else None,
    )


def _session_capabilities(message: pb.SessionCapabilities) -> SessionCapabilities:
    return SessionCapabilities(
        languages=tuple(message.languages),
        max_sessions=message.max_sessions,
        max_sessions_per_client=message.max_sessions_per_client,
        max_fork=message.max_fork,
        max_session_trees=message.max_session_trees,
        max_limits=limits_from_proto(message.max_limits),
    )


# -- sessions ---------------------------------------------------------------------------------

_CELL_STATUSES = {
    pb.CELL_STATUS_OK: CellStatus.OK,
    pb.CELL_STATUS_ERROR: CellStatus.ERROR,
    pb.CELL_STATUS_TIMEOUT: CellStatus.TIMEOUT,
    pb.CELL_STATUS_LOST: CellStatus.LOST,
}


_LIMIT_FIELDS = tuple(field.name for field in dataclasses.fields(SessionLimits))
"""Session limits, named alike in ``pb.SessionLimits`` and ``SessionLimits``."""


def limits_to_proto(limits: SessionLimits | None) -> pb.SessionLimits:
    if limits is None:
        return pb.SessionLimits()
    return pb.SessionLimits(**dataclasses.asdict(limits))


def limits_from_proto(limits: pb.SessionLimits) -> SessionLimits:
    return SessionLimits(**{name: getattr(limits, name) for name in _LIMIT_FIELDS})


def cell_from_proto(message: pb.CellResult) -> CellResult:
    return CellResult(
        status=_CELL_STATUSES.get(message.status, CellStatus.LOST),
        stdout=message.stdout,
        stderr=message.stderr,
        error=message.error,
        result=message.result,
        stdout_truncated=message.stdout_truncated,
        stderr_truncated=message.stderr_truncated,
        wall_s=message.wall_s,
        cpu_s=message.cpu_s,
        session_lost=message.session_lost,
    )


def session_from_proto(message: pb.SessionInfo) -> SessionInfo:
    limits = message.limits
    return SessionInfo(
        session_id=message.session_id,
        language=message.language,
        parent_id=message.parent_id,
        replica_id=message.replica_id,
        client_id=message.client_id,
        created_at_unix_s=message.created_at_unix_s,
        idle_expires_at_unix_s=message.idle_expires_at_unix_s,
        lifetime_ends_at_unix_s=message.lifetime_ends_at_unix_s,
        limits=limits_from_proto(limits),
        cells_run=message.cells_run,
        setup_result=cell_from_proto(message.setup_result) if message.HasField("setup_result") else None,
    )


def reference_to_json(reference: Mapping[str, Any] | None) -> str:
    if reference is None:
        return ""
    if not isinstance(reference, Mapping):
        raise InputError(f"reference must be a mapping of dataset columns, got {type(reference).__name__}")
    try:
        return json.dumps(reference, ensure_ascii=False, default=jsonable)
    except (TypeError, ValueError) as exc:
        raise InputError(f"reference is not JSON-serializable: {exc}") from None
