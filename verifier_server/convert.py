"""Translation between protobuf messages and domain types: the server's only proto edge.

Hot path: ``samples_from_proto`` and ``results_to_proto`` run per sample on every
request, so they avoid per-field helper calls and skip JSON work for empty fields.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from typing import Any

from protos.verifier.v1 import verifier_pb2 as pb
from verifier_server.capabilities import ServerCapabilities
from verifier_server.domain import Content, Message, Outcome, Sample, ScoreResult, VerifierRecord, VerifierSpec
from verifier_server.errors import InvalidArgument
from verifier_server.sessions.model import CellOutcome as CellResult
from verifier_server.sessions.model import LimitsRequest, SessionInfo, SessionOffer

OUTCOME_TO_PROTO = {
    Outcome.OK: pb.OUTCOME_OK,
    Outcome.INVALID_INPUT: pb.OUTCOME_INVALID_INPUT,
    Outcome.ERROR: pb.OUTCOME_ERROR,
    Outcome.TIMEOUT: pb.OUTCOME_TIMEOUT,
    Outcome.NOT_APPLICABLE: pb.OUTCOME_NOT_APPLICABLE,
}


def content_from_proto(content: pb.Content) -> Content | None:
    which = content.WhichOneof("value")
    if which == "text":
        return content.text
    if which == "messages":
        return tuple(Message(m.role, m.content) for m in content.messages.messages)
    return None


def samples_from_proto(samples: Sequence[pb.Sample]) -> list[Sample]:
    """Domain samples; one whose reference does not decode carries ``input_error`` instead of failing."""
    out: list[Sample] = []
    for sample in samples:
        reference: Any = {}
        error = ""
        if sample.reference_json:
            try:
                reference = json.loads(sample.reference_json)
            except (ValueError, RecursionError) as exc:
                reference, error = {}, f"reference is not valid JSON: {exc}"
            if not isinstance(reference, dict):
                reference, error = {}, "reference must be a JSON object"
        out.append(
            Sample(
                completion=content_from_proto(sample.completion) if sample.HasField("completion") else None,
                prompt=content_from_proto(sample.prompt) if sample.HasField("prompt") else None,
                reference=reference,
                completion_ids=tuple(sample.completion_ids) if sample.completion_ids else None,
                input_error=error,
            )
        )
    return out


def result_to_proto(index: int, result: ScoreResult) -> pb.ScoreResult:
    message = pb.ScoreResult(
        index=index,
        outcome=OUTCOME_TO_PROTO[result.outcome],
        reason=result.reason,
        latency_ms=result.latency_s * 1000.0,
    )
    if result.score is not None:
        score = result.score
        if math.isfinite(score):
            message.score = score
        else:
            message.outcome = pb.OUTCOME_ERROR
            message.reason = f"verifier produced a non-finite score ({score})"
    if result.components:
        message.components.update(result.components)
    if result.details:
        message.details_json = json.dumps(result.details, default=str, ensure_ascii=False)
    return message


def results_to_proto(results: Sequence[ScoreResult]) -> list[pb.ScoreResult]:
    return [result_to_proto(index, result) for index, result in enumerate(results)]


def spec_from_proto(spec: pb.VerifierSpec, field: str = "spec") -> VerifierSpec:
    if not spec.kind:
        raise InvalidArgument(f"{field}.kind", "is required")
    config: Any = {}
    if spec.config_json:
        try:
            config = json.loads(spec.config_json)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgument(f"{field}.config_json", f"is not valid JSON: {exc}") from None
        if not isinstance(config, dict):
            raise InvalidArgument(f"{field}.config_json", "must be a JSON object")
    return VerifierSpec(name=spec.name, kind=spec.kind, config=config, description=spec.description)


def spec_to_proto(spec: VerifierSpec) -> pb.VerifierSpec:
    return pb.VerifierSpec(
        name=spec.name, kind=spec.kind, config_json=json.dumps(dict(spec.config)), description=spec.description
    )


def record_to_proto(record: VerifierRecord) -> pb.VerifierInfo:
    return pb.VerifierInfo(
        spec=spec_to_proto(record.spec),
        version=record.version,
        created_at_unix_s=record.created_at_unix_s,
        builtin=record.builtin,
    )


# -- sessions ---------------------------------------------------------------------------------

CELL_STATUS_TO_PROTO = {
    "ok": pb.CELL_STATUS_OK,
    "error": pb.CELL_STATUS_ERROR,
    "timeout": pb.CELL_STATUS_TIMEOUT,
    "lost": pb.CELL_STATUS_LOST,
}


_LIMIT_FIELDS = tuple(field.name for field in dataclasses.fields(LimitsRequest))
"""Session limits, named alike in ``pb.SessionLimits`` and ``LimitsRequest``."""


def limits_from_proto(limits: pb.SessionLimits) -> LimitsRequest:
    values: dict[str, Any] = {name: getattr(limits, name) for name in _LIMIT_FIELDS}
    for name, value in values.items():
        if value < 0 or not math.isfinite(value):
            raise InvalidArgument(f"limits.{name}", f"must be a non-negative number, got {value}")
    return LimitsRequest(**values)


def capabilities_to_proto(
    info: ServerCapabilities, max_samples: int, max_message_bytes: int, offer: SessionOffer | None
) -> pb.Capabilities:
    return pb.Capabilities(
        server_version=info.server_version,
        kinds=info.kinds,
        languages=info.languages,
        sandbox_backends=info.sandbox_backends,
        judge_backends=info.judge_backends,
        max_samples_per_request=max_samples,
        max_message_bytes=max_message_bytes,
        builtin_verifiers=info.builtin_verifiers,
        sandbox_python_packages=info.sandbox_python_packages,
        sessions=offer_to_proto(offer) if offer is not None else None,
    )


def offer_to_proto(offer: SessionOffer) -> pb.SessionCapabilities:
    return pb.SessionCapabilities(
        languages=offer.languages,
        max_sessions=offer.max_sessions,
        max_session_trees=offer.max_trees,
        max_sessions_per_client=offer.max_sessions_per_client,
        max_fork=offer.max_fork,
        max_limits=pb.SessionLimits(**dataclasses.asdict(offer.ceilings)),
    )


def cell_to_proto(result: CellResult) -> pb.CellResult:
    return pb.CellResult(
        status=CELL_STATUS_TO_PROTO[result.status.value],
        stdout=result.stdout.decode("utf-8", "replace"),
        stderr=result.stderr.decode("utf-8", "replace"),
        error=result.error,
        result=result.result,
        stdout_truncated=result.stdout_truncated,
        stderr_truncated=result.stderr_truncated,
        wall_s=result.wall_time_s,
        cpu_s=result.cpu_time_s,
        session_lost=result.session_lost,
    )


def session_to_proto(info: SessionInfo) -> pb.SessionInfo:
    limits = info.limits
    message = pb.SessionInfo(
        session_id=info.session_id,
        language=info.language,
        parent_id=info.parent_id,
        replica_id=info.replica_id,
        client_id=info.client_id,
        created_at_unix_s=info.created_at_unix_s,
        idle_expires_at_unix_s=info.idle_expires_at_unix_s,
        lifetime_ends_at_unix_s=info.lifetime_ends_at_unix_s,
        cells_run=info.cells_run,
        limits=pb.SessionLimits(
            cell_wall_time_s=limits.cell_wall_time_s,
            cell_cpu_time_s=limits.cell_cpu_time_s,
            memory_bytes=limits.memory_bytes,
            processes=limits.processes,
            disk_bytes=limits.disk_bytes,
            output_bytes=limits.output_bytes,
            idle_ttl_s=info.idle_ttl_s,
            max_lifetime_s=info.max_lifetime_s,
        ),
    )
    if info.setup_result is not None:
        message.setup_result.CopyFrom(cell_to_proto(info.setup_result))
    return message


def reference_from_json(text: str, field: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        reference = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(field, f"is not valid JSON: {exc}") from None
    if not isinstance(reference, dict):
        raise InvalidArgument(field, "must be a JSON object")
    return reference
